package appraise

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/intel"
)

// Status is an appraisal outcome, in the EAR (draft-ietf-rats-ear) tiers.
type Status string

// Outcomes, from best to worst.
const (
	Affirming       Status = "affirming"       // verified and acceptable
	Warning         Status = "warning"         // acceptable only because the policy allows a known weakness
	Contraindicated Status = "contraindicated" // not acceptable
)

func worse(a, b Status) Status {
	rank := map[Status]int{Affirming: 0, Warning: 1, Contraindicated: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Reason explains why an appraisal is not affirming.
type Reason struct {
	// Check names what was compared: a verification check (e.g.
	// "quote.signature"), "tcb_status", "debug", "key_binding", or a
	// reference value (e.g. "sgx.mrenclave").
	Check    string `json:"check"`
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	Message  string `json:"message"`
	// Status is the outcome this reason alone leads to.
	Status Status `json:"status"`
}

// Appraisal is the outcome of applying a policy to verified evidence.
type Appraisal struct {
	Status   Status   `json:"status"`
	PolicyID string   `json:"policy_id"`
	Reasons  []Reason `json:"reasons"`
	// ReferenceValuesChecked is false when the policy had no reference
	// values for this TEE: genuineness, TCB and debug were still appraised,
	// but nothing says this is the workload you expect.
	ReferenceValuesChecked bool     `json:"reference_values_checked"`
	Notes                  []string `json:"notes,omitempty"`
}

// NewAppraisal starts an affirming appraisal under the named policy; Add
// lowers it.
func NewAppraisal(policyID string) *Appraisal {
	return &Appraisal{Status: Affirming, PolicyID: policyID, Reasons: []Reason{}}
}

// Add records a reason; the outcome becomes the worse of the current one
// and the reason's.
func (a *Appraisal) Add(r Reason) {
	a.Reasons = append(a.Reasons, r)
	a.Status = worse(a.Status, r.Status)
}

// collateralValidityChecks are the checks AllowExpiredCollateral may excuse.
var collateralValidityChecks = []string{
	intel.CheckTCBInfoValidity, intel.CheckQEIDValidity, intel.CheckPCKCRL, intel.CheckRootCRL,
}

// AppraiseIntel appraises the verification of an SGX or TDX quote. verr is
// the error Verify returned with res; binding is the key binding of the
// certificate the quote came in, or nil for a bare quote.
func (p *Policy) AppraiseIntel(res *intel.Result, verr error, binding *evidence.Binding) *Appraisal {
	a := NewAppraisal(p.Name())
	if res == nil {
		a.Add(Reason{Check: "verification", Message: fmt.Sprintf("no verification result: %v", verr), Status: Contraindicated})
		return a
	}
	a.verificationReasons(res.Failed(), verr, func(c checks.Check) string {
		if p.AllowExpiredCollateral && errors.Is(c.Err(), intel.ErrValidity) && slices.Contains(collateralValidityChecks, c.Name) {
			return "allow_expired_collateral"
		}
		return ""
	})
	if res.Quote == nil {
		return a
	}
	if res.TrustAnchor != nil && res.TrustAnchor.Simulated {
		a.Add(Reason{Check: "trust_anchor", Expected: "hardware root", Actual: "simulated",
			Message: "SIMULATED TEE: the evidence comes from ratls's simulator, trusted only because its root was configured; it proves nothing about hardware", Status: Warning})
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
		a.Add(Reason{Check: "debug", Expected: "false", Actual: "true", Message: "debug TEE accepted by allow_debug: its memory is not confidential", Status: Warning})
		return
	}
	a.Add(Reason{Check: "debug", Expected: "false", Actual: "true", Message: "the TEE runs in debug mode: the host can read and change its memory (set allow_debug to accept)", Status: Contraindicated})
}

func (p *Policy) appraiseTCB(a *Appraisal, res *intel.Result) {
	t := res.TCB
	if t == nil || t.Status == "" {
		if len(res.Failed()) == 0 {
			a.Add(Reason{Check: "tcb_status", Expected: strings.Join(p.acceptedStatuses(), "|"), Actual: "not evaluated", Message: "the TCB status was not evaluated", Status: Contraindicated})
		}
		return
	}
	accepted := p.acceptedStatuses()
	switch {
	case !slices.Contains(accepted, string(t.Status)):
		a.Add(Reason{Check: "tcb_status", Expected: strings.Join(accepted, "|"), Actual: string(t.Status),
			Message: fmt.Sprintf("TCB status %s is not accepted (advisories %v)", t.Status, t.AdvisoryIDs), Status: Contraindicated})
	case t.Status != pcs.StatusUpToDate:
		a.Add(Reason{Check: "tcb_status", Expected: string(pcs.StatusUpToDate), Actual: string(t.Status),
			Message: fmt.Sprintf("TCB status %s accepted by policy (advisories %v)", t.Status, t.AdvisoryIDs), Status: Warning})
	}
	if len(p.AcceptedAdvisoryIDs) > 0 {
		for _, id := range slices.Concat(t.AdvisoryIDs, t.QEAdvisoryIDs, t.ModuleAdvisoryIDs) {
			if !slices.Contains(p.AcceptedAdvisoryIDs, id) {
				a.Add(Reason{Check: "advisory_ids", Expected: strings.Join(p.AcceptedAdvisoryIDs, "|"), Actual: id,
					Message: fmt.Sprintf("advisory %s applies to this platform and is not in accepted_advisory_ids", id), Status: Contraindicated})
			}
		}
	}
	if min := p.MinTCBEvaluationDataNumber; min > 0 && t.EvaluationDataNumber < min {
		a.Add(Reason{Check: "tcb_evaluation_data_number", Expected: fmt.Sprintf(">= %d", min), Actual: fmt.Sprint(t.EvaluationDataNumber),
			Message: "collateral predates the required TCB recovery", Status: Contraindicated})
	}
	if p.MinTCBDate != "" {
		min, _ := parseDate(p.MinTCBDate) // validated
		if t.Date.Before(min) {
			a.Add(Reason{Check: "tcb_date", Expected: ">= " + min.Format("2006-01-02"), Actual: t.Date.Format("2006-01-02"),
				Message: "the platform's TCB level is older than min_tcb_date", Status: Contraindicated})
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
		st, msg := Contraindicated, "the evidence does not bind the certificate key: anyone could present it (set allow_unbound_key to accept)"
		if p.AllowUnboundKey {
			st, msg = Warning, "the evidence does not bind the certificate key; accepted by allow_unbound_key"
		}
		a.Add(Reason{Check: "key_binding", Expected: string(evidence.BindingOK), Actual: string(b.Status), Message: msg + ": " + b.Detail, Status: st})
	default:
		a.Add(Reason{Check: "key_binding", Expected: string(evidence.BindingOK), Actual: string(b.Status), Message: b.Detail, Status: Contraindicated})
	}
}

func (p *Policy) appraiseSGX(a *Appraisal, res *intel.Result) {
	if p.SGX == nil {
		p.noReference(a, "sgx")
		return
	}
	b := res.Quote.SGX
	ref := p.SGX
	a.ReferenceValuesChecked = p.hasReferenceValues()
	checkHex(a, "sgx.mrenclave", ref.MREnclave, b.MREnclave[:])
	checkHex(a, "sgx.mrsigner", ref.MRSigner, b.MRSigner[:])
	if len(ref.ISVProdID) > 0 && !slices.Contains(ref.ISVProdID, b.ISVProdID) {
		a.Add(Reason{Check: "sgx.isv_prod_id", Expected: fmt.Sprint(ref.ISVProdID), Actual: fmt.Sprint(b.ISVProdID), Message: "enclave product ID not accepted", Status: Contraindicated})
	}
	if ref.MinISVSVN != nil && b.ISVSVN < *ref.MinISVSVN {
		a.Add(Reason{Check: "sgx.isv_svn", Expected: fmt.Sprintf(">= %d", *ref.MinISVSVN), Actual: fmt.Sprint(b.ISVSVN), Message: "enclave security version below the minimum", Status: Contraindicated})
	}
}

func (p *Policy) appraiseTDX(a *Appraisal, td *quote.TDReportBody) {
	if p.TDX == nil {
		p.noReference(a, "tdx")
		return
	}
	a.ReferenceValuesChecked = p.hasReferenceValues()
	actual := map[string][]byte{
		"mrtd": td.MRTD[:], "rtmr0": td.RTMR[0][:], "rtmr1": td.RTMR[1][:], "rtmr2": td.RTMR[2][:], "rtmr3": td.RTMR[3][:],
		"mrseam": td.MRSEAM[:], "td_attributes": td.TDAttributes[:], "xfam": td.XFAM[:],
		"mr_config_id": td.MRConfigID[:], "mr_owner": td.MROwner[:],
	}
	for _, f := range p.TDX.fields() {
		checkHex(a, "tdx."+f.name, f.want, actual[f.name])
	}
}

func (p *Policy) noReference(a *Appraisal, tee string) {
	if p.hasReferenceValues() {
		a.Add(Reason{Check: tee, Expected: "reference values for " + tee, Actual: "none", Message: "the policy has reference values, but none for " + tee + " evidence", Status: Contraindicated})
		return
	}
	a.Notes = append(a.Notes, "no reference values were checked: compare the measurements with what you expect")
}

func checkHex(a *Appraisal, name string, want []string, actual []byte) {
	if len(want) == 0 {
		return
	}
	got := hex.EncodeToString(actual)
	if !matchHex(want, got) {
		a.Add(Reason{Check: name, Expected: strings.Join(want, "|"), Actual: got, Message: name + " is not one of the reference values", Status: Contraindicated})
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
