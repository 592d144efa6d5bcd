package ear

import (
	"slices"

	"github.com/ratls/ratls/verify/checks"
)

// AR4SI claim values FromReasons emits (docs/formats.md, AR4SI "Specific
// Claims").
const (
	TrustworthyInstance   int8 = 2  // instance-identity: recognized, not compromised
	UntrustworthyInstance int8 = 96 // instance-identity: recognized but untrustworthy key
	UnrecognizedInstance  int8 = 97 // instance-identity: not recognized
	ApprovedConfig        int8 = 2  // configuration: approved
	VulnerableConfig      int8 = 32 // configuration: known vulnerabilities
	UnsupportableConfig   int8 = 96 // configuration: unsupportable
	ApprovedRuntime       int8 = 2  // executables: approved boot and run-time
	OutdatedRuntime       int8 = 32 // executables: recognized but known bugs
	UnrecognizedRuntime   int8 = 33 // executables: unrecognized run-time
	ContraindicatedRun    int8 = 96 // executables: contraindicated run-time
	GenuineHardware       int8 = 2  // hardware: genuine
	VulnerableHardware    int8 = 32 // hardware: genuine but known vulnerabilities
	UnrecognizedHardware  int8 = 97 // hardware: unrecognized
	EncryptedMemory       int8 = 2  // runtime-opaque: encrypted memory
	IsolatedMemory        int8 = 32 // runtime-opaque: isolated memory
	VisibleMemory         int8 = 96 // runtime-opaque: visible
)

// Reason explains why an appraisal is not affirming: the ratls.reasons
// extension claim of a submodule.
type Reason struct {
	// Check names what was compared: a verification check (e.g.
	// "quote.signature"), a policy rule ("tcb_status", "debug",
	// "key_binding") or a reference value ("sgx.mrenclave").
	Check string `json:"check"`
	// Category is the trust-vector claim the check speaks for.
	Category checks.Category `json:"category"`
	// State tells a check that failed (the value is invalid) from one
	// that could not run (the value is absent).
	State    checks.State `json:"state"`
	Expected string       `json:"expected,omitempty"`
	Actual   string       `json:"actual,omitempty"`
	Message  string       `json:"message"`
	// Status is the outcome this reason alone leads to.
	Status Status `json:"status"`
}

// failureValue is the claim value a failed check of category c sets: the
// category's contraindicated value, or its warning value when the policy
// accepted the failure. Categories without a specific value use the
// generic ones of their tier (96, 32).
func failureValue(c checks.Category, contraindicated bool) int8 {
	if contraindicated {
		switch c {
		case checks.Hardware:
			return UnrecognizedHardware
		case checks.InstanceIdentity:
			return UntrustworthyInstance
		case checks.Executables:
			return ContraindicatedRun
		case checks.RuntimeOpaque:
			return VisibleMemory
		default:
			return UnsupportableConfig
		}
	}
	switch c {
	case checks.Hardware:
		return VulnerableHardware
	case checks.Executables:
		return UnrecognizedRuntime
	case checks.RuntimeOpaque:
		return IsolatedMemory
	default:
		return VulnerableConfig
	}
}

// claim returns the field of tv for category c, nil for an unknown one.
func (tv *TrustVector) claim(c checks.Category) *int8 {
	if i := slices.Index(checks.Categories, c); i >= 0 {
		return tv.claims()[i]
	}
	return nil
}

// FromReasons builds a submodule from an appraisal's outcome and reasons.
// The trust vector is derived from the reasons' categories and states, never
// from check names:
//
//   - Unless a hardware or instance-identity reason is contraindicated,
//     the evidence was shown to come from genuine hardware and to be this
//     instance's: instance-identity, hardware, configuration,
//     runtime-opaque and executables start at 2 (affirmed). Otherwise no
//     claim is affirmed.
//   - A failed check lowers its category's claim: contraindicated to 96
//     (97 for hardware, which also makes instance-identity 97), accepted
//     with a warning to 32 (33 for executables).
//   - A check that did not run makes its category's claim absent (0),
//     even when the policy accepts that (an affirming reason): nothing is
//     claimed about what was not examined, and the status says whether
//     that is acceptable.
//
// A claim only ever gets worse. The status is the given one, and never
// better than the vector's worst claim, as the draft requires; an unknown
// status is contraindicated.
//
// The reasons are also put in ear.veraison.policy-claims, where Veraison's
// tools (arc, its integration checks) look: "reasons" lists them, one line
// each, and "problem" says why a contraindicated result is, as Veraison's
// verifier does.
func FromReasons(status Status, policyID string, reasons []Reason, measurements map[string]any) *Appraisal {
	tv := &TrustVector{}
	genuine := true
	for _, r := range reasons {
		if r.Status == StatusContraindicated && (r.Category == checks.Hardware || r.Category == checks.InstanceIdentity) {
			genuine = false
		}
	}
	if genuine {
		tv.InstanceIdentity, tv.Hardware, tv.Configuration, tv.RuntimeOpaque, tv.Executables =
			TrustworthyInstance, GenuineHardware, ApprovedConfig, EncryptedMemory, ApprovedRuntime
	}
	for _, r := range reasons {
		if r.State != checks.NotRun && (r.Status == StatusAffirming || r.Status == StatusNone) {
			continue
		}
		c := tv.claim(r.Category)
		if c == nil {
			c = &tv.Configuration // an unclassified reason: fail closed on configuration
		}
		switch {
		case r.State == checks.NotRun:
			if TierOf(*c) == StatusAffirming {
				*c = NoClaim
			}
		default:
			lower(c, failureValue(r.Category, r.Status == StatusContraindicated))
			if r.Category == checks.Hardware && r.Status == StatusContraindicated {
				lower(&tv.InstanceIdentity, UnrecognizedInstance)
			}
		}
	}
	switch status {
	case StatusAffirming, StatusWarning, StatusContraindicated:
	default:
		status = StatusContraindicated
	}
	status = status.Worse(tv.Status())
	return &Appraisal{
		Status:            status,
		TrustVector:       tv,
		PolicyID:          policyID,
		AnnotatedEvidence: measurements,
		PolicyClaims:      policyClaims(status, reasons),
		Reasons:           slices.Clone(reasons),
	}
}

// policyClaims lists the reasons for ear.veraison.policy-claims; nil when
// there are none.
func policyClaims(status Status, reasons []Reason) map[string]any {
	if len(reasons) == 0 {
		return nil
	}
	lines := make([]any, len(reasons))
	for i, r := range reasons {
		lines[i] = string(r.Status) + " " + r.line()
	}
	claims := map[string]any{"reasons": lines}
	if status == StatusContraindicated {
		i := slices.IndexFunc(reasons, func(r Reason) bool { return r.Status == StatusContraindicated })
		if i < 0 {
			i = 0 // contraindicated by the trust vector alone
		}
		claims["problem"] = reasons[i].line()
	}
	return claims
}

// line is "check: message (expected E, actual A)".
func (r Reason) line() string {
	s := r.Check + ": " + r.Message
	if r.Expected != "" || r.Actual != "" {
		s += " (expected " + r.Expected + ", actual " + r.Actual + ")"
	}
	return s
}

// lower sets *claim to v if v is in a worse tier (or the same tier with a
// larger magnitude, e.g. 99 over 97).
func lower(claim *int8, v int8) {
	cur, next := TierOf(*claim).Code(), TierOf(v).Code()
	if next > cur || (next == cur && abs(v) > abs(*claim)) {
		*claim = v
	}
}

func abs(v int8) int { return max(int(v), -int(v)) }
