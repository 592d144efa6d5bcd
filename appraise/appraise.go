package appraise

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/intel"
)

// Status is an appraisal outcome, in the EAR (draft-ietf-rats-ear) tiers.
type Status = ear.Status

// Outcomes, from best to worst.
const (
	Affirming       = ear.StatusAffirming       // verified and acceptable
	Warning         = ear.StatusWarning         // acceptable only because the policy allows a known weakness
	Contraindicated = ear.StatusContraindicated // not acceptable
)

// Reason explains why an appraisal is not affirming: the check, its
// category (the EAR trust-vector claim it speaks for), whether it failed
// or could not run, the expected and actual values.
type Reason = ear.Reason

// Appraisal is the outcome of applying a policy to verified evidence.
type Appraisal struct {
	Status   Status   `json:"status"`
	PolicyID string   `json:"policy_id"`
	Reasons  []Reason `json:"reasons"`
	// ReferenceValuesChecked is true when the evidence's measurements were
	// compared with reference values for its TEE. When false, nothing says
	// this is the workload you expect: the appraisal is at best a warning
	// (unless the policy sets accept_any_measurement).
	ReferenceValuesChecked bool     `json:"reference_values_checked"`
	Notes                  []string `json:"notes,omitempty"`
}

// NewAppraisal starts an affirming appraisal under the named policy; Add
// lowers it. Callers must add a reason for every check that did not pass.
func NewAppraisal(policyID string) *Appraisal {
	return &Appraisal{Status: Affirming, PolicyID: policyID, Reasons: []Reason{}}
}

// Add records a reason; the outcome becomes the worse of the current one
// and the reason's.
func (a *Appraisal) Add(r Reason) {
	if r.State == "" {
		r.State = checks.Failed
	}
	a.Reasons = append(a.Reasons, r)
	a.Status = a.Status.Worse(r.Status)
}

// Reject records a failed check that makes the evidence unacceptable.
func (a *Appraisal) Reject(check string, c checks.Category, expected, actual, message string) {
	a.Add(Reason{Check: check, Category: c, State: checks.Failed, Expected: expected, Actual: actual, Message: message, Status: Contraindicated})
}

// Warn records a weakness the policy explicitly accepts.
func (a *Appraisal) Warn(check string, c checks.Category, expected, actual, message string) {
	a.Add(Reason{Check: check, Category: c, State: checks.Failed, Expected: expected, Actual: actual, Message: message, Status: Warning})
}

// Submodule returns the appraisal as an EAR submodule, its trust vector
// derived from the reasons' categories; measurements become
// ear.veraison.annotated-evidence.
func (a *Appraisal) Submodule(measurements map[string]any) *ear.Appraisal {
	return ear.FromReasons(a.Status, a.PolicyID, a.Reasons, measurements)
}

// Policy checks, named in reasons.
const (
	CheckVerification     = "verification"
	CheckTrustAnchor      = "trust_anchor"
	CheckTCBStatus        = "tcb_status"
	CheckAdvisoryIDs      = "advisory_ids"
	CheckTCBEvaluationNum = "tcb_evaluation_data_number"
	CheckTCBDate          = "tcb_date"
	CheckDebug            = "debug"
	CheckKeyBinding       = "key_binding"
	CheckReferenceValues  = "reference_values"
	CheckTEE              = "tee"
	CheckSEPTVE           = "tdx.sept_ve_disable"
)

// requiredIntel are the checks a quote verification must have run: a
// result without one of them proves less than it seems.
var requiredIntel = []string{
	intel.CheckQuoteFormat, intel.CheckPCKChain, intel.CheckQEReportSig, intel.CheckQEReportBinding, intel.CheckQuoteSignature,
	intel.CheckCollateral, intel.CheckRootCRL, intel.CheckPCKCRL, intel.CheckRevocation, intel.CheckTCBInfoSignature,
	intel.CheckTCBInfoValidity, intel.CheckTCBInfoMatch, intel.CheckQEIDSignature, intel.CheckQEIDValidity, intel.CheckQEIDMatch,
	intel.CheckTCBLevel,
}

// collateralValidityChecks are the checks AllowExpiredCollateral may
// excuse, and only when they failed for expiry (intel.ErrValidity).
var collateralValidityChecks = []string{
	intel.CheckTCBInfoValidity, intel.CheckQEIDValidity, intel.CheckPCKCRL, intel.CheckRootCRL,
}

// verificationReasons records a reason per failed check and per required
// check that did not run; excuse may downgrade a failure to a warning,
// naming the policy switch.
func (a *Appraisal) verificationReasons(list checks.List, required []string, verr error, excuse func(checks.Check) string) {
	for _, c := range list.Failed() {
		st, msg := Contraindicated, c.Detail
		if switchName := excuse(c); switchName != "" && c.State == checks.Failed {
			st, msg = Warning, msg+" (accepted: "+switchName+")"
		}
		a.Add(Reason{Check: c.Name, Category: c.Category, State: c.State, Expected: "pass", Actual: string(c.State), Message: msg, Status: st})
	}
	for _, name := range required {
		if _, ran := list.Get(name); !ran {
			cat, _ := checks.CategoryOf(name)
			a.Add(Reason{Check: name, Category: cat, State: checks.NotRun, Expected: "pass", Actual: string(checks.NotRun),
				Message: "a required check did not run", Status: Contraindicated})
		}
	}
	if verr != nil && len(list.Failed()) == 0 {
		a.Reject(CheckVerification, checks.Hardware, "no error", "error", verr.Error())
	}
}

// noResult records that there is nothing to appraise.
func noResult(a *Appraisal, verr error) *Appraisal {
	msg := "no verification result"
	if verr != nil {
		msg += ": " + verr.Error()
	}
	a.Add(Reason{Check: CheckVerification, Category: checks.Hardware, State: checks.NotRun, Expected: "a verification result", Actual: "none",
		Message: msg, Status: Contraindicated})
	return a
}

// AppraiseIntel appraises the verification of an SGX or TDX quote. verr is
// the error Verify returned with res; binding is the key binding of the
// certificate the quote came in, or nil for a bare quote.
func (p *Policy) AppraiseIntel(res *intel.Result, verr error, binding *evidence.Binding) *Appraisal {
	a := NewAppraisal(p.Name())
	if res == nil || res.Quote == nil {
		return noResult(a, verr)
	}
	required := requiredIntel
	if res.Quote.IsTDX() {
		required = append(slices.Clip(required), intel.CheckTDXModule)
	}
	a.verificationReasons(res.Checks, required, verr, func(c checks.Check) string {
		if p.AllowExpiredCollateral && errors.Is(c.Err(), intel.ErrValidity) && slices.Contains(collateralValidityChecks, c.Name) {
			return "allow_expired_collateral"
		}
		return ""
	})
	if res.TrustAnchor != nil && res.TrustAnchor.Simulated {
		a.Warn(CheckTrustAnchor, checks.Hardware, "hardware root", "simulated",
			"SIMULATED TEE: the evidence comes from ratls's simulator, trusted only because its root was configured; it proves nothing about hardware")
	}
	p.appraiseTCB(a, res)
	if res.Quote.Debug() {
		p.debugReason(a)
	}
	p.appraiseBinding(a, binding)
	if res.Quote.IsTDX() {
		p.appraiseTDX(a, res.Quote.TD)
	} else {
		p.appraiseSGX(a, res)
	}
	return a
}

// debugReason refuses a debuggable TEE unless allow_debug is set.
func (p *Policy) debugReason(a *Appraisal) {
	if p.AllowDebug {
		a.Warn(CheckDebug, checks.RuntimeOpaque, "false", "true", "debug TEE accepted by allow_debug: its memory is not confidential")
		return
	}
	a.Reject(CheckDebug, checks.RuntimeOpaque, "false", "true", "the TEE runs in debug mode: the host can read and change its memory (set allow_debug to accept)")
}

func (p *Policy) appraiseTCB(a *Appraisal, res *intel.Result) {
	t := res.TCB
	accepted := p.acceptedStatuses()
	if t == nil || t.Status == "" {
		// Always a reason of its own: a TCB that was not evaluated is
		// never accepted, whatever else failed.
		a.Add(Reason{Check: CheckTCBStatus, Category: checks.Configuration, State: checks.NotRun, Expected: strings.Join(accepted, "|"),
			Actual: "not evaluated", Message: "the TCB status was not evaluated", Status: Contraindicated})
		return
	}
	switch {
	case !slices.Contains(accepted, string(t.Status)):
		a.Reject(CheckTCBStatus, checks.Configuration, strings.Join(accepted, "|"), string(t.Status),
			fmt.Sprintf("TCB status %s is not accepted (advisories %v); accepted_tcb_statuses lists the statuses to accept", t.Status, t.AdvisoryIDs))
	case t.Status != pcs.StatusUpToDate:
		a.Warn(CheckTCBStatus, checks.Configuration, string(pcs.StatusUpToDate), string(t.Status),
			fmt.Sprintf("TCB status %s accepted by accepted_tcb_statuses (advisories %v)", t.Status, t.AdvisoryIDs))
	}
	if len(p.AcceptedAdvisoryIDs) > 0 {
		for _, id := range slices.Concat(t.AdvisoryIDs, t.QEAdvisoryIDs, t.ModuleAdvisoryIDs) {
			if !slices.Contains(p.AcceptedAdvisoryIDs, id) {
				a.Reject(CheckAdvisoryIDs, checks.Configuration, strings.Join(p.AcceptedAdvisoryIDs, "|"), id,
					fmt.Sprintf("advisory %s applies to this platform and is not in accepted_advisory_ids", id))
			}
		}
	}
	if p.MinTCBEvaluationDataNumber > 0 && t.EvaluationDataNumber < p.MinTCBEvaluationDataNumber {
		a.Reject(CheckTCBEvaluationNum, checks.Configuration, fmt.Sprintf(">= %d", p.MinTCBEvaluationDataNumber), fmt.Sprint(t.EvaluationDataNumber),
			"the collateral predates the TCB recovery min_tcb_evaluation_data_number requires")
	}
	if p.MinTCBDate != "" {
		min, _ := parseDate(p.MinTCBDate) // validated
		if t.Date.Before(min) {
			a.Reject(CheckTCBDate, checks.Configuration, ">= "+min.Format("2006-01-02"), t.Date.Format("2006-01-02"),
				"the platform's TCB level is older than min_tcb_date")
		}
	}
}

func (p *Policy) appraiseBinding(a *Appraisal, b *evidence.Binding) {
	if b == nil {
		a.Notes = append(a.Notes, "raw evidence: it is not bound to any key or connection")
		return
	}
	switch b.Status {
	case evidence.BindingOK:
	case evidence.BindingAbsent:
		if p.AllowUnboundKey {
			a.Warn(CheckKeyBinding, checks.InstanceIdentity, string(evidence.BindingOK), string(b.Status),
				"the evidence does not bind the certificate key; accepted by allow_unbound_key: "+b.Detail)
			return
		}
		a.Add(Reason{Check: CheckKeyBinding, Category: checks.InstanceIdentity, State: checks.NotRun, Expected: string(evidence.BindingOK), Actual: string(b.Status),
			Message: "the evidence does not bind the certificate key: anyone could present it (set allow_unbound_key to accept): " + b.Detail, Status: Contraindicated})
	default:
		a.Reject(CheckKeyBinding, checks.InstanceIdentity, string(evidence.BindingOK), string(b.Status), b.Detail)
	}
}

func (p *Policy) appraiseSGX(a *Appraisal, res *intel.Result) {
	b := res.Quote.SGX
	ref := p.SGX
	if !p.referenceValues(a, "sgx", ref.hasValues(), ref != nil) {
		return
	}
	checkHex(a, "sgx.mrenclave", ref.MREnclave, b.MREnclave[:])
	checkHex(a, "sgx.mrsigner", ref.MRSigner, b.MRSigner[:])
	if len(ref.ISVProdID) > 0 && !slices.Contains(ref.ISVProdID, b.ISVProdID) {
		a.Reject("sgx.isv_prod_id", checks.Executables, fmt.Sprint(ref.ISVProdID), fmt.Sprint(b.ISVProdID), "enclave product ID is not in sgx.isv_prod_id")
	}
	if ref.MinISVSVN != nil && b.ISVSVN < *ref.MinISVSVN {
		a.Reject("sgx.isv_svn", checks.Executables, fmt.Sprintf(">= %d", *ref.MinISVSVN), fmt.Sprint(b.ISVSVN), "enclave security version below sgx.min_isv_svn")
	}
}

func (p *Policy) appraiseTDX(a *Appraisal, td *quote.TDReportBody) {
	if !td.SEPTVEDisabled() && (p.TDX == nil || !p.TDX.AllowSEPTVE) {
		a.Reject(CheckSEPTVE, checks.Configuration, "1", "0",
			"the TD's SEPT_VE_DISABLE attribute is clear: the host can inject #VE exceptions on private memory (set tdx.allow_sept_ve to accept)")
	}
	if !p.referenceValues(a, "tdx", p.TDX.hasValues(), p.TDX != nil) {
		return
	}
	actual := map[string][]byte{
		"mrtd": td.MRTD[:], "rtmr0": td.RTMR[0][:], "rtmr1": td.RTMR[1][:], "rtmr2": td.RTMR[2][:], "rtmr3": td.RTMR[3][:],
		"mrseam": td.MRSEAM[:], "td_attributes": td.TDAttributes[:], "xfam": td.XFAM[:],
		"mr_config_id": td.MRConfigID[:], "mr_owner": td.MROwner[:],
	}
	for _, f := range p.TDX.fields() {
		checkHex(a, "tdx."+f.name, f.want, actual[f.name])
	}
}

// referenceValues decides what an appraisal may conclude about the
// workload. A policy with sections for other TEEs only refuses this one. A
// policy without reference values for this TEE cannot affirm it: the
// appraisal is a warning that says so, unless accept_any_measurement is
// set. It reports whether the section's constraints are to be checked.
func (p *Policy) referenceValues(a *Appraisal, section string, hasValues, hasSection bool) bool {
	if !hasSection && p.hasSection() {
		a.Add(Reason{Check: CheckTEE, Category: checks.Executables, State: checks.Failed, Expected: "a TEE the policy has a section for", Actual: section,
			Message: fmt.Sprintf("the policy has no %q section: it was written for other TEEs, and refuses this one", section), Status: Contraindicated})
		return false
	}
	if hasValues {
		a.ReferenceValuesChecked = true
		return true
	}
	if p.AcceptAnyMeasurement {
		// Accepted, but still said: the EAR then claims nothing about the
		// executables (absent), so no relying party reads an approval
		// into it.
		a.Notes = append(a.Notes, "no reference values were checked: accept_any_measurement accepts any "+section+" workload")
		a.Add(Reason{Check: CheckReferenceValues, Category: checks.Executables, State: checks.NotRun, Expected: "reference values for " + section, Actual: "none",
			Message: "no reference values were checked; accept_any_measurement accepts any " + section + " workload", Status: Affirming})
	} else {
		a.Add(Reason{Check: CheckReferenceValues, Category: checks.Executables, State: checks.NotRun, Expected: "reference values for " + section, Actual: "none",
			Message: fmt.Sprintf("no reference values were checked: any %s workload would pass (add measurements to the policy's %q section, or set accept_any_measurement)", section, section),
			Status:  Warning})
	}
	return hasSection
}

func checkHex(a *Appraisal, name string, want []string, actual []byte) {
	checkHexAs(a, name, checks.Executables, want, actual)
}

// checkHexAs is checkHex for a value that speaks for category c.
func checkHexAs(a *Appraisal, name string, c checks.Category, want []string, actual []byte) {
	if len(want) == 0 {
		return
	}
	got := hex.EncodeToString(actual)
	if !matchHex(want, got) {
		a.Reject(name, c, strings.Join(want, "|"), got, name+" is not one of the reference values")
	}
}

// FirstRejection returns the first reason that alone rejects the evidence
// (contraindicated), else the first reason, or nil when there is none: the
// one to show when a single line must say why.
func FirstRejection(rs []Reason) *Reason {
	for i := range rs {
		if rs[i].Status == Contraindicated {
			return &rs[i]
		}
	}
	if len(rs) > 0 {
		return &rs[0]
	}
	return nil
}

// RejectionSummary is the one line that says why evidence was rejected:
// "check: message" of FirstRejection(rs), or status when there is no
// reason.
func RejectionSummary(status Status, rs []Reason) string {
	if r := FirstRejection(rs); r != nil {
		return r.Check + ": " + r.Message
	}
	return string(status)
}
