package pcs

import (
	"encoding/hex"
	"fmt"
)

// CheckPCK reports whether the TCB Info is for the platform of a PCK
// certificate: FMSPC and PCE-ID must be equal (QVL step 4.1.2.4.10),
// otherwise ErrTCBInfoMismatch.
func (t *TCBInfo) CheckPCK(e *PCKExtensions) error {
	if e.FMSPC != t.FMSPC || e.PCEID != t.PCEID {
		return fmt.Errorf("pcs: TCB Info FMSPC %x PCE-ID %x, PCK certificate FMSPC %x PCE-ID %x: %w",
			t.FMSPC, t.PCEID, e.FMSPC, e.PCEID, ErrTCBInfoMismatch)
	}
	return nil
}

// MatchSGX returns the TCB level of an SGX platform as QVL's checkTcbLevel
// does: walking the levels in QVL's order (highest first, see TCBLevels), the
// first level whose 16 SGX component SVNs are all <= the PCK certificate's
// and whose PCESVN is <= the PCK certificate's. compSVN and pcesvn come from
// the PCK certificate's SGX extensions (PCKExtensions.TCB), not the quote.
//
// The level's TCBStatus is the platform status; converge it with the QE
// status using ConvergeStatus. No matching level gives ErrNoTCBLevel. The
// TCB Info must be an SGX one (the caller checks that its id fits the quote's
// TEE type, QVL step 4.1.2.4.9).
func (t *TCBInfo) MatchSGX(compSVN [16]uint8, pcesvn uint16) (*TCBLevel, error) {
	if t.ID != TCBInfoIDSGX {
		return nil, fmt.Errorf("pcs: MatchSGX: TCB Info id is %q, want %q", t.ID, TCBInfoIDSGX)
	}
	for i := range t.TCBLevels {
		if sgxMatches(&t.TCBLevels[i], &compSVN, pcesvn) {
			return &t.TCBLevels[i], nil
		}
	}
	return nil, fmt.Errorf("pcs: TCB Info FMSPC %s: SGX components %x PCESVN %d: %w",
		hex.EncodeToString(t.FMSPC[:]), compSVN[:], pcesvn, ErrNoTCBLevel)
}

func sgxMatches(l *TCBLevel, comp *[16]uint8, pcesvn uint16) bool {
	for i, c := range l.TCB.SGXComponents {
		if uint32(comp[i]) < c.SVN {
			return false
		}
	}
	return uint32(pcesvn) >= l.TCB.PCESVN
}

// tdxMatches compares TEE_TCB_SVN with the level's TDX components from index
// start (QVL isTdxTcbHigherOrEqual).
func tdxMatches(l *TCBLevel, tee *[16]byte, start int) bool {
	if l.TCB.TDXComponents == nil {
		return false
	}
	for i := start; i < 16; i++ {
		if uint32(tee[i]) < l.TCB.TDXComponents[i].SVN {
			return false
		}
	}
	return true
}

// TDXTCBResult is the outcome of TCBInfo.MatchTDX.
type TDXTCBResult struct {
	// SGXLevel is the first level whose SGX components and PCESVN the PCK
	// certificate reaches (QVL's sgxTcbLevel; its status feeds the TD
	// relaunch check).
	SGXLevel *TCBLevel
	// TDXLevel is the first of those levels whose TDX components
	// TEE_TCB_SVN also reaches: the platform's TCB level.
	TDXLevel *TCBLevel

	// ModuleIdentity is the identity "TDX_%02X" of TEE_TCB_SVN[1] and
	// ModuleLevel its first level with isvsvn <= TEE_TCB_SVN[0]. Both are
	// nil when TEE_TCB_SVN[1] is 0 (the module status is then UpToDate).
	ModuleIdentity *TDXModuleIdentity
	ModuleLevel    *TDXModuleTCBLevel
	// ModuleStatus is ModuleLevel's status, or UpToDate.
	ModuleStatus Status

	// Module is what the TD report's MRSIGNERSEAM and SEAMATTRIBUTES must
	// match (QVL step 4.1.2.4.11): ModuleIdentity's values when there is
	// one, otherwise the TCB Info's tdxModule. See TDXModule.Check.
	Module TDXModule

	// Status is TDXLevel's status converged with ModuleStatus (QVL
	// convergeTcbStatusWithTdxModuleStatus). Apply RelaunchStatus for TDX
	// 1.5 reports, then ConvergeStatus with the QE status.
	Status Status
}

// MatchTDX evaluates a TDX platform as QVL does (quote versions 4 and 5):
//
//   - If TEE_TCB_SVN[1] (the TDX module major version) is not 0, the TCB Info
//     must have the module identity "TDX_%02X" of it, else
//     ErrTDXModuleMismatch. Bytes 0 and 1 of TEE_TCB_SVN are then judged by
//     that identity and skipped in the level comparison.
//   - Walking the levels in QVL's order, the first level the PCK
//     certificate's SGX components and PCESVN reach is SGXLevel; the first
//     such level whose TDX components (from index 0, or 2 as above) are all
//     <= TEE_TCB_SVN is TDXLevel. Either missing gives ErrNoTCBLevel.
//   - The module identity's first level (highest isvsvn first) with
//     isvsvn <= TEE_TCB_SVN[0] gives the module status, which must be
//     UpToDate, OutOfDate or Revoked (else ErrUnrecognizedStatus); none gives
//     ErrNoTCBLevel.
//   - Status = TDXLevel status converged with the module status: module
//     OutOfDate turns UpToDate/SWHardeningNeeded into OutOfDate and
//     ConfigurationNeeded/ConfigurationAndSWHardeningNeeded into
//     OutOfDateConfigurationNeeded; module Revoked gives Revoked.
func (t *TCBInfo) MatchTDX(compSVN [16]uint8, pcesvn uint16, teeTCBSVN [16]byte) (*TDXTCBResult, error) {
	if t.ID != TCBInfoIDTDX || t.TDXModule == nil {
		return nil, fmt.Errorf("pcs: MatchTDX: TCB Info id is %q, want %q", t.ID, TCBInfoIDTDX)
	}
	res := &TDXTCBResult{Module: *t.TDXModule, ModuleStatus: StatusUpToDate}
	ver := teeTCBSVN[1]
	start := 0
	if ver > 0 {
		start = 2
		res.ModuleIdentity = t.moduleIdentity(ver)
		if res.ModuleIdentity == nil {
			return nil, fmt.Errorf("pcs: TCB Info FMSPC %s: TEE_TCB_SVN[1] = %d needs module identity TDX_%02X: %w",
				hex.EncodeToString(t.FMSPC[:]), ver, ver, ErrTDXModuleMismatch)
		}
		res.Module = res.ModuleIdentity.TDXModule
	}

	for i := range t.TCBLevels {
		l := &t.TCBLevels[i]
		if !sgxMatches(l, &compSVN, pcesvn) {
			continue
		}
		if res.SGXLevel == nil {
			res.SGXLevel = l
		}
		if tdxMatches(l, &teeTCBSVN, start) {
			res.TDXLevel = l
			break
		}
	}
	if res.SGXLevel == nil {
		return nil, fmt.Errorf("pcs: TCB Info FMSPC %s: SGX components %x PCESVN %d: %w",
			hex.EncodeToString(t.FMSPC[:]), compSVN[:], pcesvn, ErrNoTCBLevel)
	}
	if res.TDXLevel == nil {
		return nil, fmt.Errorf("pcs: TCB Info FMSPC %s: TEE_TCB_SVN %x (compared from byte %d): %w",
			hex.EncodeToString(t.FMSPC[:]), teeTCBSVN[:], start, ErrNoTCBLevel)
	}

	if res.ModuleIdentity != nil {
		for i := range res.ModuleIdentity.TCBLevels {
			if res.ModuleIdentity.TCBLevels[i].TCB.ISVSVN <= uint16(teeTCBSVN[0]) {
				res.ModuleLevel = &res.ModuleIdentity.TCBLevels[i]
				break
			}
		}
		if res.ModuleLevel == nil {
			return nil, fmt.Errorf("pcs: TDX module identity %s: TEE_TCB_SVN[0] = %d is below every level: %w",
				res.ModuleIdentity.ID, teeTCBSVN[0], ErrNoTCBLevel)
		}
		res.ModuleStatus = res.ModuleLevel.TCBStatus
		if !statusIn(res.ModuleStatus, moduleStatuses) {
			return nil, fmt.Errorf("pcs: TDX module identity %s level isvsvn %d: status %q is not valid for a module: %w",
				res.ModuleIdentity.ID, res.ModuleLevel.TCB.ISVSVN, res.ModuleStatus, ErrUnrecognizedStatus)
		}
	}
	res.Status = convergeWithModule(res.TDXLevel.TCBStatus, res.ModuleStatus)
	return res, nil
}

// RelaunchStatus applies QVL's TD relaunch check (checkForRelaunch) for TDX
// 1.5 TD reports, which carry TEE_TCB_SVN2, the SVNs of the newest module the
// platform has loaded. It returns TDRelaunchAdvised (or
// TDRelaunchAdvisedConfigurationNeeded when the SGX or TDX status is a
// configuration-needed one) when all of these hold, and r.Status otherwise:
//
//   - qe is "" (no QE identity evaluated) or UpToDate;
//   - the SGX level's status is UpToDate, SWHardeningNeeded,
//     ConfigurationNeeded or ConfigurationAndSWHardeningNeeded;
//   - r.Status is OutOfDate or OutOfDateConfigurationNeeded, and the module
//     status is OutOfDate;
//   - TEE_TCB_SVN2 reaches the newest (first) TCB level: if TEE_TCB_SVN2[1]
//     is 0, bytes 0 and 2 against its TDX components 0 and 2; otherwise byte
//     0 against the newest level of module identity TDX_%02X(TEE_TCB_SVN2[1])
//     (missing: ErrTDXModuleMismatch) and byte 2 against TDX component 2.
//
// Apply ConvergeStatus with the QE status to the result.
func (t *TCBInfo) RelaunchStatus(r *TDXTCBResult, teeTCBSVN2 [16]byte, qe Status) (Status, error) {
	if r == nil || r.SGXLevel == nil || r.TDXLevel == nil {
		return "", fmt.Errorf("pcs: RelaunchStatus: incomplete TDX result")
	}
	if qe != "" && qe != StatusUpToDate {
		return r.Status, nil
	}
	switch r.SGXLevel.TCBStatus {
	case StatusUpToDate, StatusSWHardeningNeeded, StatusConfigurationNeeded, StatusConfigurationAndSWHardeningNeeded:
	default:
		return r.Status, nil
	}
	if (r.Status != StatusOutOfDate && r.Status != StatusOutOfDateConfigurationNeeded) || r.ModuleStatus != StatusOutOfDate {
		return r.Status, nil
	}
	if len(t.TCBLevels) == 0 || t.TCBLevels[0].TCB.TDXComponents == nil {
		return "", fmt.Errorf("pcs: RelaunchStatus: TCB Info is not a TDX one")
	}
	latest := &t.TCBLevels[0]
	need0 := latest.TCB.TDXComponents[0].SVN
	if v := teeTCBSVN2[1]; v != 0 {
		id := t.moduleIdentity(v)
		if id == nil || len(id.TCBLevels) == 0 {
			return "", fmt.Errorf("pcs: TEE_TCB_SVN2[1] = %d needs module identity TDX_%02X: %w", v, v, ErrTDXModuleMismatch)
		}
		need0 = uint32(id.TCBLevels[0].TCB.ISVSVN)
	}
	if uint32(teeTCBSVN2[0]) < need0 || uint32(teeTCBSVN2[2]) < latest.TCB.TDXComponents[2].SVN {
		return r.Status, nil
	}
	if r.SGXLevel.TCBStatus.configurationNeeded() || r.Status.configurationNeeded() {
		return StatusTDRelaunchAdvisedConfigurationNeeded, nil
	}
	return StatusTDRelaunchAdvised, nil
}

// Check compares a TD report's MRSIGNERSEAM and SEAMATTRIBUTES with the
// expected module identity: MRSIGNERSEAM must equal MRSigner, and
// SEAMATTRIBUTES masked with AttributesMask must equal Attributes (the rule
// of go-tdx-guest and dcap-qvl). QVL at the pinned commit instead requires
// SEAMATTRIBUTES to be all zero and equal to Attributes without the mask;
// with Intel's collateral (attributes 0, mask all ones) both rules agree.
// Mismatches are *IdentityMismatchError (ErrIdentityMismatch).
func (m TDXModule) Check(mrSignerSeam [48]byte, seamAttributes [8]byte) error {
	if mrSignerSeam != m.MRSigner {
		return &IdentityMismatchError{Identity: "TDX module", Field: "MRSIGNERSEAM",
			Want: hex.EncodeToString(m.MRSigner[:]), Got: hex.EncodeToString(mrSignerSeam[:])}
	}
	got := and(seamAttributes[:], m.AttributesMask[:])
	if string(got) != string(m.Attributes[:]) {
		return &IdentityMismatchError{Identity: "TDX module", Field: "SEAMATTRIBUTES",
			Want: hex.EncodeToString(m.Attributes[:]), Got: hex.EncodeToString(got), Mask: hex.EncodeToString(m.AttributesMask[:])}
	}
	return nil
}
