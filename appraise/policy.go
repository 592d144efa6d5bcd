// Package appraise decides whether verified evidence is acceptable: it holds
// reference values and acceptance rules (a Policy) and turns a verifier's
// result into an outcome in the EAR vocabulary (affirming, warning,
// contraindicated) with reasons that name the check, the expected value and
// the actual value.
//
// Package ratls appraises every verification with a policy (its
// VerifyOptions.Policy; a PeerVerifier, the verification service and the
// CLI take one too), so most programs only load a Policy (LoadPolicy,
// ReadPolicy; docs/policy.md lists every key) and read the resulting
// Appraisal from a ratls.Verification. The Appraise methods are for callers
// that run verify/intel, verify/amd or verify/arm themselves.
//
// Defaults are strict: only the UpToDate TCB status is accepted, debug TEEs
// are refused, a certificate's evidence must bind its key, collateral must
// be valid at the verification time, and evidence is affirmed only when
// its measurements match reference values. Each relaxation is a named
// policy field that excuses exactly one condition.
package appraise

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/cca"
	"github.com/ratls/ratls/internal/strictjson"
)

// Policy is an appraisal policy. The zero value is the strict default.
// It is read from JSON (see docs/policy.md); unknown fields are errors.
type Policy struct {
	// ID names the policy in results; default "ratls-default".
	ID string `json:"id,omitempty"`

	// AcceptedTCBStatuses lists the Intel TCB statuses that are acceptable
	// (Intel's names: UpToDate, SWHardeningNeeded, ConfigurationNeeded,
	// ConfigurationAndSWHardeningNeeded, OutOfDate,
	// OutOfDateConfigurationNeeded, TDRelaunchAdvised,
	// TDRelaunchAdvisedConfigurationNeeded). Empty means [UpToDate].
	// Revoked and TCBLevelNotSupported can never be accepted. Accepted
	// statuses other than UpToDate give a warning, not an affirmation.
	AcceptedTCBStatuses []string `json:"accepted_tcb_statuses,omitempty"`
	// AcceptedAdvisoryIDs, when non-empty, lists the Intel security
	// advisories (INTEL-SA-xxxxx) the workload is known to mitigate: a TCB
	// level whose advisories are not all listed is refused even if its
	// status is accepted.
	AcceptedAdvisoryIDs []string `json:"accepted_advisory_ids,omitempty"`
	// MinTCBEvaluationDataNumber refuses collateral older than this TCB
	// evaluation data number (Intel's TCB recovery counter).
	MinTCBEvaluationDataNumber uint32 `json:"min_tcb_evaluation_data_number,omitempty"`
	// MinTCBDate refuses platforms whose matched TCB level is older than
	// this date (RFC 3339 or YYYY-MM-DD).
	MinTCBDate string `json:"min_tcb_date,omitempty"`

	// AllowDebug accepts debuggable TEEs, whose memory the host can read.
	// Never set it in production.
	AllowDebug bool `json:"allow_debug,omitempty"`
	// AllowUnboundKey accepts a certificate whose evidence does not bind its
	// public key (key binding absent). A binding mismatch is never accepted.
	AllowUnboundKey bool `json:"allow_unbound_key,omitempty"`
	// AllowExpiredCollateral accepts, with a warning, collateral (TCB Info,
	// QE Identity, CRLs) past its next update: useful offline, weaker
	// against revocations. It excuses the expiry alone: the TCB is still
	// evaluated, the quoting enclave still matched and revocations still
	// looked up on the collateral at hand.
	AllowExpiredCollateral bool `json:"allow_expired_collateral,omitempty"`
	// AcceptAnyMeasurement affirms evidence of a TEE for which the policy
	// has no reference values, whatever code it runs. Without it such
	// evidence is at best a warning, and a TLS peer is refused.
	AcceptAnyMeasurement bool `json:"accept_any_measurement,omitempty"`

	// SGX and TDX reference values. Each field lists accepted values; an
	// empty list does not constrain. Hex values are case-insensitive.
	SGX *SGXReference `json:"sgx,omitempty"`
	TDX *TDXReference `json:"tdx,omitempty"`
	// SNP and CCA hold reference values and rules for AMD SEV-SNP guests
	// and Arm CCA realms.
	SNP *SNPReference `json:"sev_snp,omitempty"`
	CCA *CCAReference `json:"cca,omitempty"`

	// MeasuredBoot holds reference values on the facts of the evidence's
	// event log (kernel, command line, secure boot...), and VTPM on a
	// vTPM's PCRs; see docs/cvm.md.
	MeasuredBoot *MeasuredBootReference `json:"measured_boot,omitempty"`
	VTPM         *VTPMReference         `json:"vtpm,omitempty"`

	// Sections are the sections of TEE families outside this package, by
	// key, as RegisterSection registered them; each family decodes its own.
	Sections map[string]json.RawMessage `json:"-"`
}

// SGXReference holds reference values for SGX enclaves.
type SGXReference struct {
	MREnclave []string `json:"mrenclave,omitempty"`
	MRSigner  []string `json:"mrsigner,omitempty"`
	ISVProdID []uint16 `json:"isv_prod_id,omitempty"`
	// MinISVSVN is the lowest acceptable enclave security version.
	MinISVSVN *uint16 `json:"min_isv_svn,omitempty"`
}

// TDXReference holds reference values and rules for TDX trust domains.
type TDXReference struct {
	// AllowSEPTVE accepts a TD whose SEPT_VE_DISABLE attribute is clear:
	// the host can then inject #VE exceptions on private memory accesses,
	// which a guest kernel must handle safely.
	AllowSEPTVE bool `json:"allow_sept_ve,omitempty"`

	MRTD         []string `json:"mrtd,omitempty"`
	RTMR0        []string `json:"rtmr0,omitempty"`
	RTMR1        []string `json:"rtmr1,omitempty"`
	RTMR2        []string `json:"rtmr2,omitempty"`
	RTMR3        []string `json:"rtmr3,omitempty"`
	MRSEAM       []string `json:"mrseam,omitempty"`
	TDAttributes []string `json:"td_attributes,omitempty"`
	XFAM         []string `json:"xfam,omitempty"`
	MRConfigID   []string `json:"mr_config_id,omitempty"`
	MROwner      []string `json:"mr_owner,omitempty"`
}

// maxPlatformConfig bounds a cca.platform_config value, in bytes.
const maxPlatformConfig = 4096

// DefaultPolicyID names the built-in strict policy.
const DefaultPolicyID = "ratls-default"

// MaxPolicySize bounds a policy file.
const MaxPolicySize = 1 << 20

// ReadPolicy decodes a JSON policy strictly and validates it. Keys are
// case-sensitive; unknown and duplicate keys are errors, so a typo or a
// second spelling cannot silently weaken a policy.
func ReadPolicy(r io.Reader) (*Policy, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxPolicySize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxPolicySize {
		return nil, fmt.Errorf("policy: larger than %d bytes", MaxPolicySize)
	}
	b, extra, err := splitSections(b)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var p Policy
	if err := strictjson.Decode(b, &p); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p.Sections = extra
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// LoadPolicy reads a policy file.
func LoadPolicy(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := ReadPolicy(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

var acceptableStatuses = []pcs.Status{
	pcs.StatusUpToDate, pcs.StatusSWHardeningNeeded, pcs.StatusConfigurationNeeded,
	pcs.StatusConfigurationAndSWHardeningNeeded, pcs.StatusOutOfDate, pcs.StatusOutOfDateConfigurationNeeded,
	pcs.StatusTDRelaunchAdvised, pcs.StatusTDRelaunchAdvisedConfigurationNeeded,
}

// Validate checks that every field holds a value the appraisal can use.
func (p *Policy) Validate() error {
	for _, s := range p.AcceptedTCBStatuses {
		if !slices.Contains(acceptableStatuses, pcs.Status(s)) {
			return fmt.Errorf("policy: accepted_tcb_statuses: %q is not an acceptable Intel TCB status (want one of %v; Revoked is never acceptable)", s, acceptableStatuses)
		}
	}
	if p.MinTCBDate != "" {
		if _, err := parseDate(p.MinTCBDate); err != nil {
			return fmt.Errorf("policy: min_tcb_date: %w", err)
		}
	}
	check := func(field string, vals []string, size int) error {
		for _, v := range vals {
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != size {
				return fmt.Errorf("policy: %s: %q is not %d bytes of hex", field, v, size)
			}
		}
		return nil
	}
	if s := p.SGX; s != nil {
		for _, f := range []struct {
			name string
			vals []string
			size int
		}{{"sgx.mrenclave", s.MREnclave, 32}, {"sgx.mrsigner", s.MRSigner, 32}} {
			if err := check(f.name, f.vals, f.size); err != nil {
				return err
			}
		}
	}
	if t := p.TDX; t != nil {
		for _, f := range t.fields() {
			if err := check("tdx."+f.name, f.want, f.size); err != nil {
				return err
			}
		}
	}
	if s := p.SNP; s != nil {
		for _, f := range []refField{{"measurement", s.Measurement, 48}, {"host_data", s.HostData, 32}, {"id_key_digest", s.IDKeyDigest, 48},
			{"author_key_digest", s.AuthorKeyDigest, 48}, {"family_id", s.FamilyID, 16}, {"image_id", s.ImageID, 16}} {
			if err := check("sev_snp."+f.name, f.want, f.size); err != nil {
				return err
			}
		}
		for _, k := range s.SigningKeys {
			if k != "vcek" && k != "vlek" {
				return fmt.Errorf("policy: sev_snp.signing_keys: %q is not vcek or vlek", k)
			}
		}
		if len(s.VMPL) > 0 && s.MaxVMPL != nil {
			return fmt.Errorf("policy: sev_snp: set vmpl (a list) or max_vmpl (a bound), not both")
		}
		for _, v := range s.VMPL {
			if v > 3 {
				return fmt.Errorf("policy: sev_snp.vmpl: %d is not a VM privilege level (0-3)", v)
			}
		}
		if s.MaxVMPL != nil && *s.MaxVMPL > 3 {
			return fmt.Errorf("policy: sev_snp.max_vmpl: %d is not a VM privilege level (0-3)", *s.MaxVMPL)
		}
	}
	if err := p.validateCVM(); err != nil {
		return err
	}
	if c := p.CCA; c != nil {
		sw := make([]string, 0, 2*len(c.PlatformSWComponents))
		for _, comp := range c.PlatformSWComponents {
			sw = append(sw, comp.Measurement)
			if comp.SignerID != "" {
				sw = append(sw, comp.SignerID)
			}
		}
		for name, vals := range map[string][]string{"realm_initial_measurement": c.RealmInitialMeasurement, "realm_personalization_value": c.RealmPersonalizationValue,
			"rem0": c.REM0, "rem1": c.REM1, "rem2": c.REM2, "rem3": c.REM3, "platform_sw_components": sw} {
			for _, v := range vals {
				if b, err := hex.DecodeString(v); err != nil || (len(b) != 32 && len(b) != 48 && len(b) != 64) {
					return fmt.Errorf("policy: cca.%s: %q is not 32, 48 or 64 bytes of hex", name, v)
				}
			}
		}
		for _, v := range c.PlatformConfig {
			if b, err := hex.DecodeString(v); err != nil || len(b) == 0 || len(b) > maxPlatformConfig {
				return fmt.Errorf("policy: cca.platform_config: %q is not 1 to %d bytes of hex", v, maxPlatformConfig)
			}
		}
		if err := check("cca.platform_implementation_id", c.PlatformImplementationID, cca.ImplementationIDSize); err != nil {
			return err
		}
		if err := c.validateKeys(); err != nil {
			return err
		}
	}
	return nil
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", s)
}

// Name returns the policy ID, or DefaultPolicyID when it has none.
func (p *Policy) Name() string {
	if p.ID == "" {
		return DefaultPolicyID
	}
	return p.ID
}

func (p *Policy) acceptedStatuses() []string {
	if len(p.AcceptedTCBStatuses) == 0 {
		return []string{string(pcs.StatusUpToDate)}
	}
	return p.AcceptedTCBStatuses
}

// hasSection reports whether the policy has a section for any TEE: such a
// policy is written for particular TEEs and refuses the others.
func (p *Policy) hasSection() bool {
	return p.SGX != nil || p.TDX != nil || p.SNP != nil || p.CCA != nil || len(p.Sections) > 0
}

// hasValues reports whether the section pins the code an enclave runs:
// MRENCLAVE or MRSIGNER. A product ID or a minimum SVN alone does not: any
// enclave can claim them.
func (s *SGXReference) hasValues() bool {
	return s != nil && len(s.MREnclave)+len(s.MRSigner) > 0
}

// hasValues reports whether the section pins the code a TD runs: MRTD, an
// RTMR, MRCONFIGID or MROWNER. MRSEAM, the attributes and XFAM describe the
// platform and configuration, not the workload.
func (t *TDXReference) hasValues() bool {
	return t != nil && len(t.MRTD)+len(t.RTMR0)+len(t.RTMR1)+len(t.RTMR2)+len(t.RTMR3)+len(t.MRConfigID)+len(t.MROwner) > 0
}

type refField struct {
	name string
	want []string
	size int
}

func (t *TDXReference) fields() []refField {
	return []refField{
		{"mrtd", t.MRTD, 48}, {"rtmr0", t.RTMR0, 48}, {"rtmr1", t.RTMR1, 48}, {"rtmr2", t.RTMR2, 48},
		{"rtmr3", t.RTMR3, 48}, {"mrseam", t.MRSEAM, 48}, {"td_attributes", t.TDAttributes, 8},
		{"xfam", t.XFAM, 8}, {"mr_config_id", t.MRConfigID, 48}, {"mr_owner", t.MROwner, 48},
	}
}

// matchHex reports whether actual (hex) is one of want (hex, any case).
func matchHex(want []string, actual string) bool {
	for _, w := range want {
		if strings.EqualFold(w, actual) {
			return true
		}
	}
	return false
}
