package intel

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/quote"
)

// evaluate runs the collateral checks and Intel's TCB evaluation, adding
// checks and facts to r. Every check either passes or fails with a reason;
// a check whose inputs are missing fails. Items are taken from the sources
// by the precedence rules (see collateralSources).
func (v *Verifier) evaluate(r *Result, chain *verifiedChain, src collateralSources, now time.Time) {
	s := selectCollateral(src, r, chain, now)
	if len(s.sources) == 0 {
		// Collateral must chain to the same root as the quote: a test
		// root's collateral never vouches for a genuine platform and vice
		// versa.
		r.Collateral = &CollateralInfo{Source: sourceName(s.foreign.src)}
		r.Checks.Fail(CheckCollateral, ErrCollateral, "collateral chains to %q, the PCK chain to %q: they must share the root", s.foreign.anchor.Subject.CommonName, chain.root.Subject.CommonName)
		return
	}
	c := s.used
	r.Collateral = &CollateralInfo{
		Source:    s.describe(),
		PCKCRL:    crlWindow(c.PCKCRL),
		RootCACRL: crlWindow(c.RootCACRL),
	}
	if c.TCBInfo != nil {
		r.Collateral.TCBInfo = Window{From: c.TCBInfo.IssueDate, Until: c.TCBInfo.NextUpdate}
	}
	if c.QEIdentity != nil {
		r.Collateral.QEIdentity = Window{From: c.QEIdentity.IssueDate, Until: c.QEIdentity.NextUpdate}
	}
	if s.tcb.tcbSigner != nil {
		r.Collateral.TCBSigner = s.tcb.tcbSigner.Subject.CommonName
	}
	if missing := c.Missing(); len(missing) > 0 {
		r.Checks.Fail(CheckCollateral, ErrNoCollateral, "collateral from %s lacks %v", r.Collateral.Source, missing)
	} else {
		r.Checks.Pass(CheckCollateral, "TCB Info, QE Identity, PCK CRL and root CA CRL from "+r.Collateral.Source)
	}
	for _, vc := range s.sources {
		if vc == s.tcb || vc == s.qe || vc == s.pckCRL || vc == s.rootCRL {
			r.Valid = r.Valid.Intersect(vc.signers)
		}
	}

	// Every check runs on the collateral at hand: stale collateral fails
	// its validity check (ErrValidity, which a policy may excuse) and is
	// still evaluated, so what it says about the platform applies. Only
	// collateral whose signature does not verify is not used.
	v.checkCRLs(r, chain, s, now)
	tcbUsable := checkSigned(r, CheckTCBInfoSignature, CheckTCBInfoValidity, "TCB Info", s.tcb.tcbInfoErr, s.tcb.tcbSigner, s, r.Collateral.TCBInfo, now)
	qeUsable := checkSigned(r, CheckQEIDSignature, CheckQEIDValidity, "QE Identity", s.qe.qeIDErr, s.qe.qeSigner, s, r.Collateral.QEIdentity, now)
	// Collateral from the attester must not undo what the verifier knows.
	if tcbUsable && s.fromPeer(s.tcb) {
		v.checkFloor(r, CheckTCBInfoFloor, "TCB Info", sourceName(s.tcb.src), tcbInfoFloorKey(chain.root, c.TCBInfo), c.TCBInfo.TCBEvaluationDataNumber)
	}
	if qeUsable && s.fromPeer(s.qe) {
		v.checkFloor(r, CheckQEIDFloor, "QE Identity", sourceName(s.qe.src), qeIdentityFloorKey(chain.root, c.QEIdentity), c.QEIdentity.TCBEvaluationDataNumber)
	}
	if !tcbUsable {
		return
	}
	// Without a usable QE Identity the platform is still evaluated, so the
	// result shows its status, but the failed checks above keep the
	// verification from succeeding.
	qi := c.QEIdentity
	if !qeUsable {
		qi = nil
	}
	evaluateTCB(r, chain, c.TCBInfo, qi)
}

func sourceName(c *pcs.Collateral) string {
	if c.Source == "" {
		return "the caller"
	}
	return c.Source
}

// checkCRLs checks the validity of the CRLs used and their signatures
// (already verified), and that neither the PCK CA nor the PCK certificate
// is revoked by any CRL that verified, from any source. A CRL past its next
// update still revokes what it lists.
func (v *Verifier) checkCRLs(r *Result, chain *verifiedChain, s *selection, now time.Time) {
	c := s.used
	w := crlWindow(c.RootCACRL)
	rootCRLValid := false
	switch err := s.rootCRL.rootCRLErr; {
	case err != nil:
		r.Checks.Fail(CheckRootCRL, errorClass(err), "%v", err)
	case !w.Contains(now):
		r.Checks.Fail(CheckRootCRL, ErrValidity, "%v", windowError("root CA CRL", w, now))
	default:
		rootCRLValid = true
		r.Valid = r.Valid.Intersect(w)
	}
	switch {
	case s.revokedByRoot(chain.ca):
		r.Checks.Fail(CheckRootCRL, ErrRevoked, "PCK CA %q (serial %x) is revoked by the root CA CRL", chain.ca.Subject.CommonName, chain.ca.SerialNumber)
	case rootCRLValid:
		r.Checks.Pass(CheckRootCRL, fmt.Sprintf("signed by the root, valid until %s; PCK CA not revoked", fmtTime(w.Until)))
	}

	w = crlWindow(c.PCKCRL)
	switch err := s.pckCRL.pckCRLErr; {
	case err != nil:
		r.Checks.Fail(CheckPCKCRL, errorClass(err), "%v", err)
	case !s.pckCRL.pckCRLFor(chain):
		r.Checks.Fail(CheckPCKCRL, ErrMismatch, "PCK CRL issued by %q, but the PCK certificate by %q (want the CRL of the %s CA)", c.PCKCRL.Issuer.CommonName, chain.leaf.Issuer.CommonName, chain.caType)
	case !w.Contains(now):
		r.Checks.Fail(CheckPCKCRL, ErrValidity, "%v", windowError("PCK CRL", w, now))
	default:
		r.Valid = r.Valid.Intersect(w)
		r.Checks.Pass(CheckPCKCRL, fmt.Sprintf("issued by %s, valid until %s", chain.ca.Subject.CommonName, fmtTime(w.Until)))
	}
	switch by, checked := s.pckRevokedBy(chain); {
	case by != nil:
		r.Checks.Fail(CheckRevocation, ErrRevoked, "PCK certificate serial %x is on the PCK CRL from %s", chain.leaf.SerialNumber, sourceName(by.src))
	case checked:
		r.Checks.Pass(CheckRevocation, "PCK certificate not on the PCK CRL")
	}
	// Unchecked, the failed pck_crl check above stands for it.
}

// checkSigned reports the signature and validity checks of a TCB Info or QE
// Identity. It returns whether the item may be used: its signature
// verified and its signer is not revoked. Expiry (of the item or of its
// signing certificate) fails a check but does not stop the item's use.
func checkSigned(r *Result, sigCheck, validityCheck, what string, sigErr error, signer *x509.Certificate, s *selection, w Window, now time.Time) bool {
	if sigErr == nil && signer == nil {
		sigErr = fmt.Errorf("%s has no verified signer", what)
	}
	if sigErr != nil {
		r.Checks.Fail(sigCheck, errorClass(sigErr), "%v", sigErr)
		return false
	}
	switch sw := (Window{From: signer.NotBefore, Until: signer.NotAfter}); {
	case s.revokedByRoot(signer):
		r.Checks.Fail(sigCheck, ErrRevoked, "%s signer %q is revoked by the root CA CRL", what, signer.Subject.CommonName)
		return false
	case !sw.Contains(now):
		r.Checks.Fail(sigCheck, ErrValidity, "%v", windowError(what+" signing certificate", sw, now))
	default:
		r.Checks.Pass(sigCheck, what+" signature verified")
	}
	if !w.Contains(now) {
		r.Checks.Fail(validityCheck, ErrValidity, "%v", windowError(what, w, now))
	} else {
		r.Valid = r.Valid.Intersect(w)
		r.Checks.Pass(validityCheck, fmt.Sprintf("issued %s, next update %s", fmtTime(w.From), fmtTime(w.Until)))
	}
	return true
}

// evaluateTCB matches the platform against the TCB Info and the QE against
// the QE Identity, and converges the statuses exactly as Intel's QVL.
func evaluateTCB(r *Result, chain *verifiedChain, ti *pcs.TCBInfo, qi *pcs.EnclaveIdentity) {
	q := r.Quote
	tdx := q.IsTDX()

	// TCB Info must be for this TEE and this platform (QVL 4.1.2.4.9-10).
	wantID := "SGX"
	if tdx {
		wantID = "TDX"
	}
	switch {
	case tiID(ti) != wantID:
		r.Checks.Fail(CheckTCBInfoMatch, ErrMismatch, "TCB Info id: want %q for a %s quote, got %q", wantID, r.TEE, tiID(ti))
		return
	case tdx && ti.Version < 3:
		r.Checks.Fail(CheckTCBInfoMatch, ErrMismatch, "TCB Info version: want 3 for TDX, got %d", ti.Version)
		return
	case ti.FMSPC != chain.pck.FMSPC:
		r.Checks.Fail(CheckTCBInfoMatch, ErrMismatch, "FMSPC: PCK certificate has %x, TCB Info is for %x", chain.pck.FMSPC, ti.FMSPC)
		return
	case ti.PCEID != chain.pck.PCEID:
		r.Checks.Fail(CheckTCBInfoMatch, ErrMismatch, "PCE ID: PCK certificate has %x, TCB Info is for %x", chain.pck.PCEID, ti.PCEID)
		return
	}
	r.Checks.Pass(CheckTCBInfoMatch, fmt.Sprintf("TCB Info id %s for FMSPC %x, PCE ID %x", wantID, ti.FMSPC, ti.PCEID))

	tcb := &TCB{EvaluationDataNumber: ti.TCBEvaluationDataNumber}
	r.TCB = tcb
	if qi != nil && !matchQE(r, qi, tcb) {
		return
	}

	var platform pcs.Status
	if tdx {
		var ok bool
		if platform, ok = matchTDX(r, chain, ti, q.TD, tcb); !ok {
			return
		}
	} else {
		lvl, err := ti.MatchSGX(chain.pck.TCB.CompSVN, chain.pck.TCB.PCESVN)
		if err != nil {
			failLevel(r, tcb, err, fmt.Sprintf("PCK TCB (components %v, PCESVN %d)", chain.pck.TCB.CompSVN, chain.pck.TCB.PCESVN))
			return
		}
		tcb.Level, platform = lvl, lvl.TCBStatus
	}
	tcb.PlatformStatus = platform
	tcb.Date, tcb.AdvisoryIDs = tcb.Level.TCBDate, nonNilStrings(tcb.Level.AdvisoryIDs)

	final, err := pcs.ConvergeStatus(platform, tcb.QEStatus)
	if err != nil {
		r.Checks.Fail(CheckTCBLevel, ErrCollateral, "%v", err)
		return
	}
	tcb.Status = final
	r.Checks.Pass(CheckTCBLevel, fmt.Sprintf("TCB level of %s matched: %s (platform %s, QE %s%s)", fmtDate(tcb.Date), final, platform, tcb.QEStatus, moduleNote(tcb)))
}

// matchQE checks the quoting enclave against the QE Identity (QVL
// 4.1.2.4.14-15, EnclaveReportVerifier) and records its TCB status.
func matchQE(r *Result, qi *pcs.EnclaveIdentity, tcb *TCB) bool {
	wantQE := "QE"
	if r.Quote.IsTDX() {
		wantQE = "TD_QE"
	}
	if qi.ID != wantQE {
		r.Checks.Fail(CheckQEIDMatch, ErrMismatch, "QE Identity id: want %q for a %s quote, got %q", wantQE, r.TEE, qi.ID)
		return false
	}
	tcb.EvaluationDataNumber = min(tcb.EvaluationDataNumber, qi.TCBEvaluationDataNumber)
	qer := &r.Quote.Signature.QEReport
	qeLevel, err := qi.MatchQE(pcs.EnclaveReport{MiscSelect: qer.MiscSelect, Attributes: qer.Attributes, MRSigner: qer.MRSigner, ISVProdID: qer.ISVProdID, ISVSVN: qer.ISVSVN})
	switch {
	case errors.Is(err, pcs.ErrNoTCBLevel):
		tcb.Status, tcb.QEStatus = TCBStatusNotSupported, TCBStatusNotSupported
		r.Checks.Fail(CheckQEIDMatch, ErrTCBUnsupported, "QE ISVSVN %d is below every level of the QE Identity: %v", qer.ISVSVN, err)
		return false
	case err != nil:
		r.Checks.Fail(CheckQEIDMatch, ErrMismatch, "%v", err)
		return false
	}
	tcb.QEStatus, tcb.QEDate, tcb.QEAdvisoryIDs = qeLevel.TCBStatus, qeLevel.TCBDate, qeLevel.AdvisoryIDs
	r.Checks.Pass(CheckQEIDMatch, fmt.Sprintf("quoting enclave matches %s identity (ISVPRODID %d, ISVSVN %d: %s)", qi.ID, qer.ISVProdID, qer.ISVSVN, qeLevel.TCBStatus))
	return true
}

func matchTDX(r *Result, chain *verifiedChain, ti *pcs.TCBInfo, td *quote.TDReportBody, tcb *TCB) (pcs.Status, bool) {
	res, err := ti.MatchTDX(chain.pck.TCB.CompSVN, chain.pck.TCB.PCESVN, td.TEETCBSVN)
	if err != nil {
		if errors.Is(err, pcs.ErrTDXModuleMismatch) {
			r.Checks.Fail(CheckTDXModule, ErrMismatch, "%v", err)
			return "", false
		}
		failLevel(r, tcb, err, fmt.Sprintf("PCK TCB (components %v, PCESVN %d) and TEE_TCB_SVN %x", chain.pck.TCB.CompSVN, chain.pck.TCB.PCESVN, td.TEETCBSVN))
		return "", false
	}
	if err := res.Module.Check(td.MRSignerSEAM, td.SEAMAttributes); err != nil {
		r.Checks.Fail(CheckTDXModule, ErrMismatch, "%v", err)
		return "", false
	}
	moduleDetail := "TDX module signer and attributes match the TCB Info's tdxModule"
	if res.ModuleIdentity != nil {
		moduleDetail = fmt.Sprintf("TDX module matches identity %s", res.ModuleIdentity.ID)
	}
	r.Checks.Pass(CheckTDXModule, moduleDetail)
	tcb.Level, tcb.ModuleStatus = res.TDXLevel, res.ModuleStatus
	if res.ModuleLevel != nil {
		tcb.ModuleAdvisoryIDs = res.ModuleLevel.AdvisoryIDs
	}
	status := res.Status
	if td.V15 {
		if status, err = ti.RelaunchStatus(res, td.TEETCBSVN2, tcb.QEStatus); err != nil {
			r.Checks.Fail(CheckTDXModule, ErrMismatch, "%v", err)
			return "", false
		}
	}
	return status, true
}

// failLevel records that no TCB level matched: Intel's library fails
// verification with TCB_NOT_SUPPORTED.
func failLevel(r *Result, tcb *TCB, err error, what string) {
	if errors.Is(err, pcs.ErrNoTCBLevel) {
		tcb.Status = TCBStatusNotSupported
		r.Checks.Fail(CheckTCBLevel, ErrTCBUnsupported, "%s is below every TCB level of the TCB Info: status %s", what, TCBStatusNotSupported)
		return
	}
	r.Checks.Fail(CheckTCBLevel, ErrCollateral, "%v", err)
}

func tiID(ti *pcs.TCBInfo) string {
	if ti.ID == "" {
		return "SGX" // version 2 TCB Info has no id and is SGX
	}
	return ti.ID
}

func moduleNote(t *TCB) string {
	if t.ModuleStatus == "" {
		return ""
	}
	return ", TDX module " + string(t.ModuleStatus)
}

func fmtDate(t time.Time) string { return t.UTC().Format("2006-01-02") }

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
