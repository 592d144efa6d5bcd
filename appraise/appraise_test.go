package appraise

import (
	"context"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/intel"
)

// Real vectors and the results EXPECTED.json records for them.
var vectors = testvectors.Dir() + "/"

type vector struct {
	quote, collateral string
	at                time.Time
}

var (
	// TDX v4, UpToDate, not debug.
	tdxUpToDate = vector{"dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json", time.Date(2025, 7, 19, 10, 0, 34, 0, time.UTC)}
	// SGX v3, ConfigurationAndSWHardeningNeeded with INTEL-SA-00289 and INTEL-SA-00615.
	sgxConfigNeeded = vector{"dcap-qvl/sgx_quote", "dcap-qvl/sgx_quote_collateral.json", time.Date(2025, 7, 19, 10, 1, 17, 0, time.UTC)}
)

var verifier = intel.NewVerifier(nil)

func verifyVector(t *testing.T, v vector, at time.Time) (*intel.Result, error) {
	t.Helper()
	b, err := os.ReadFile(vectors + v.collateral)
	if err != nil {
		t.Fatal(err)
	}
	coll, err := pcs.ParseDCAPQVLJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	qb, err := os.ReadFile(vectors + v.quote)
	if err != nil {
		t.Fatal(err)
	}
	q, err := quote.Parse(qb)
	if err != nil {
		t.Fatal(err)
	}
	return verifier.Verify(context.Background(), q, intel.Options{Now: at, Collateral: coll})
}

func reasonFor(a *Appraisal, check string) *Reason {
	for i := range a.Reasons {
		if a.Reasons[i].Check == check {
			return &a.Reasons[i]
		}
	}
	return nil
}

var okBinding = &evidence.Binding{Status: evidence.BindingOK, Rule: evidence.RuleClaimsSHA256}

// A genuine, up-to-date TEE running unknown code is not affirmed: the
// default policy has no reference values, so any workload (an attacker's
// own enclave included) would pass.
func TestDefaultPolicyWarnsWithoutReferenceValues(t *testing.T) {
	res, err := verifyVector(t, tdxUpToDate, tdxUpToDate.at)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Policy{{}, {TDX: &TDXReference{}}, {TDX: &TDXReference{TDAttributes: []string{"0000001000000000"}}}} {
		a := p.AppraiseIntel(res, err, okBinding)
		r := reasonFor(a, "reference_values")
		if a.Status != Warning || a.ReferenceValuesChecked || r == nil || r.State != checks.NotRun || r.Category != checks.Executables ||
			r.Expected != "reference values for tdx" || r.Actual != "none" || a.PolicyID != DefaultPolicyID {
			t.Fatalf("%+v: got %+v", p.TDX, a)
		}
	}
	// accept_any_measurement affirms, but still says that nothing was
	// compared, so the EAR claims nothing about the executables.
	a := (&Policy{AcceptAnyMeasurement: true}).AppraiseIntel(res, err, okBinding)
	r := reasonFor(a, "reference_values")
	if a.Status != Affirming || len(a.Reasons) != 1 || r == nil || r.State != checks.NotRun || r.Status != Affirming || a.ReferenceValuesChecked {
		t.Fatalf("accept_any_measurement: got %+v", a)
	}
	if sub := a.Submodule(nil); sub.Status != "affirming" || sub.TrustVector.Executables != 0 || sub.TrustVector.Hardware != 2 {
		t.Fatalf("accept_any_measurement EAR: want affirming with executables absent, got %s %+v", sub.Status, sub.TrustVector)
	}
	if len(a.Notes) == 0 || !strings.Contains(a.Notes[0], "accept_any_measurement") {
		t.Errorf("the appraisal must say no reference values were checked: %+v", a)
	}
}

func TestTCBStatusPolicy(t *testing.T) {
	res, err := verifyVector(t, sgxConfigNeeded, sgxConfigNeeded.at)
	if err != nil {
		t.Fatal(err)
	}
	// Default: only UpToDate.
	a := (&Policy{}).AppraiseIntel(res, err, okBinding)
	r := reasonFor(a, "tcb_status")
	if a.Status != Contraindicated || r == nil || r.Expected != "UpToDate" || r.Actual != "ConfigurationAndSWHardeningNeeded" {
		t.Fatalf("default policy: %+v", a)
	}
	// Accepting the status gives a warning, not an affirmation.
	p := &Policy{AcceptedTCBStatuses: []string{"UpToDate", "ConfigurationAndSWHardeningNeeded"}}
	if a = p.AppraiseIntel(res, err, okBinding); a.Status != Warning {
		t.Fatalf("accepted status: want warning, got %+v", a)
	}
	// An advisory allow-list that misses one of the level's advisories refuses.
	p.AcceptedAdvisoryIDs = []string{"INTEL-SA-00289"}
	a = p.AppraiseIntel(res, err, okBinding)
	if r := reasonFor(a, "advisory_ids"); a.Status != Contraindicated || r == nil || r.Actual != "INTEL-SA-00615" {
		t.Fatalf("advisory allow-list: %+v", a)
	}
	p.AcceptedAdvisoryIDs = append(p.AcceptedAdvisoryIDs, "INTEL-SA-00615")
	if a = p.AppraiseIntel(res, err, okBinding); a.Status != Warning {
		t.Fatalf("all advisories accepted: %+v", a)
	}
	// Minimum TCB date and evaluation data number.
	p.MinTCBDate = "2025-01-01"
	if a = p.AppraiseIntel(res, err, okBinding); reasonFor(a, "tcb_date") == nil || a.Status != Contraindicated {
		t.Fatalf("min_tcb_date: %+v", a)
	}
	p.MinTCBDate, p.MinTCBEvaluationDataNumber = "", 1000
	if a = p.AppraiseIntel(res, err, okBinding); reasonFor(a, "tcb_evaluation_data_number") == nil {
		t.Fatalf("min evaluation data number: %+v", a)
	}
}

func TestExpiredCollateral(t *testing.T) {
	// A day after the QE Identity's next update.
	late := tdxUpToDate.at.Add(24 * time.Hour)
	res, err := verifyVector(t, tdxUpToDate, late)
	if err == nil {
		t.Fatal("expired collateral verified without error")
	}
	a := (&Policy{}).AppraiseIntel(res, err, okBinding)
	if a.Status != Contraindicated || reasonFor(a, intel.CheckQEIDValidity) == nil {
		t.Fatalf("default: %+v", a)
	}
	a = (&Policy{AllowExpiredCollateral: true}).AppraiseIntel(res, err, okBinding)
	if a.Status != Warning {
		t.Fatalf("allow_expired_collateral: want warning, got %+v", a)
	}
}

func TestKeyBindingPolicy(t *testing.T) {
	res, err := verifyVector(t, tdxUpToDate, tdxUpToDate.at)
	absent := &evidence.Binding{Status: evidence.BindingAbsent, Detail: "no claims"}
	mismatch := &evidence.Binding{Status: evidence.BindingMismatch, Rule: evidence.RuleClaimsSHA256, Detail: "report_data differs"}
	for _, tc := range []struct {
		p    Policy
		b    *evidence.Binding
		want Status
	}{
		{Policy{}, absent, Contraindicated},
		{Policy{AllowUnboundKey: true}, absent, Warning},
		{Policy{}, mismatch, Contraindicated},
		{Policy{AllowUnboundKey: true}, mismatch, Contraindicated},
	} {
		a := tc.p.AppraiseIntel(res, err, tc.b)
		if a.Status != tc.want || reasonFor(a, "key_binding") == nil {
			t.Errorf("binding %s, allow=%v: want %s, got %+v", tc.b.Status, tc.p.AllowUnboundKey, tc.want, a)
		}
	}
	if a := (&Policy{AcceptAnyMeasurement: true}).AppraiseIntel(res, err, nil); a.Status != Affirming || !strings.Contains(strings.Join(a.Notes, " "), "not bound") {
		t.Errorf("raw evidence: %+v", a)
	}
}

func TestReferenceValues(t *testing.T) {
	res, err := verifyVector(t, tdxUpToDate, tdxUpToDate.at)
	td := res.Quote.TD
	mrtd := hex.EncodeToString(td.MRTD[:])
	good := &Policy{TDX: &TDXReference{MRTD: []string{strings.Repeat("00", 48), strings.ToUpper(mrtd)}, RTMR0: []string{hex.EncodeToString(td.RTMR[0][:])}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	a := good.AppraiseIntel(res, err, okBinding)
	if a.Status != Affirming || !a.ReferenceValuesChecked {
		t.Fatalf("matching reference values: %+v", a)
	}
	bad := &Policy{TDX: &TDXReference{MRTD: []string{strings.Repeat("ab", 48)}}}
	a = bad.AppraiseIntel(res, err, okBinding)
	r := reasonFor(a, "tdx.mrtd")
	if a.Status != Contraindicated || r == nil || r.Actual != mrtd || r.Expected != strings.Repeat("ab", 48) {
		t.Fatalf("wrong mrtd: %+v", a)
	}
	// Reference values only for SGX do not let TDX evidence through.
	sgxOnly := &Policy{SGX: &SGXReference{MRSigner: []string{strings.Repeat("11", 32)}}}
	if a = sgxOnly.AppraiseIntel(res, err, okBinding); a.Status != Contraindicated || reasonFor(a, "tee") == nil || reasonFor(a, "tee").Actual != "tdx" {
		t.Fatalf("sgx-only policy on tdx evidence: %+v", a)
	}
}

// A section for another TEE that pins nothing must not switch off the
// refusal of TEEs the policy has no section for, nor claim reference values
// were checked.
func TestSectionWithoutValuesStillRefusesOtherTEEs(t *testing.T) {
	res, err := verifyVector(t, tdxUpToDate, tdxUpToDate.at)
	for _, in := range []string{`{"sgx":{}}`, `{"sev_snp":{"allow_no_crl":true}}`, `{"cca":{"lifecycle":["secured"]}}`, `{"sgx":{"isv_prod_id":[1]}}`} {
		p, perr := ReadPolicy(strings.NewReader(in))
		if perr != nil {
			t.Fatal(perr)
		}
		a := p.AppraiseIntel(res, err, okBinding)
		if r := reasonFor(a, "tee"); a.Status != Contraindicated || r == nil || a.ReferenceValuesChecked {
			t.Errorf("%s on TDX evidence: %+v", in, a)
		}
	}
}

func TestSEPTVEDisableRequired(t *testing.T) {
	res, err := verifyVector(t, tdxUpToDate, tdxUpToDate.at)
	if !res.Quote.TD.SEPTVEDisabled() {
		t.Fatal("vector is expected to have SEPT_VE_DISABLE set")
	}
	// The same verified result for a TD whose SEPT_VE_DISABLE is clear.
	q := *res.Quote
	td := *q.TD
	td.TDAttributes[3] &^= 0x10 // bit 28, little-endian
	q.TD = &td
	cleared := *res
	cleared.Quote = &q
	ref := &TDXReference{MRTD: []string{hex.EncodeToString(td.MRTD[:])}}
	a := (&Policy{TDX: ref}).AppraiseIntel(&cleared, err, okBinding)
	if r := reasonFor(a, "tdx.sept_ve_disable"); a.Status != Contraindicated || r == nil || r.Expected != "1" || r.Actual != "0" || !strings.Contains(r.Message, "tdx.allow_sept_ve") {
		t.Fatalf("SEPT_VE_DISABLE clear: %+v", a)
	}
	ref.AllowSEPTVE = true
	if a := (&Policy{TDX: ref}).AppraiseIntel(&cleared, err, okBinding); a.Status != Affirming {
		t.Fatalf("tdx.allow_sept_ve: %+v", a)
	}
}

// A result in which checks did not run must not be affirmed, whatever the
// policy.
func TestNothingRanIsRefused(t *testing.T) {
	res, err := verifyVector(t, tdxUpToDate, tdxUpToDate.at)
	if err != nil {
		t.Fatal(err)
	}
	lax := &Policy{AcceptAnyMeasurement: true, AllowExpiredCollateral: true, AllowUnboundKey: true, AllowDebug: true}
	empty := &intel.Result{Quote: res.Quote, TCB: res.TCB, TrustAnchor: res.TrustAnchor}
	a := lax.AppraiseIntel(empty, nil, okBinding)
	if a.Status != Contraindicated {
		t.Fatalf("no check ran: %+v", a)
	}
	for _, name := range []string{intel.CheckQuoteSignature, intel.CheckPCKChain, intel.CheckTCBLevel, intel.CheckTDXModule} {
		if r := reasonFor(a, name); r == nil || r.State != checks.NotRun || r.Status != Contraindicated {
			t.Errorf("%s: want a not-run reason, got %+v", name, r)
		}
	}
	// Half a verification: drop the collateral checks from a real result.
	partial := *res
	partial.Checks = slices.DeleteFunc(slices.Clone(res.Checks), func(c checks.Check) bool { return c.Name == intel.CheckPCKCRL || c.Name == intel.CheckRevocation })
	if a := lax.AppraiseIntel(&partial, nil, okBinding); a.Status != Contraindicated || reasonFor(a, intel.CheckRevocation) == nil {
		t.Fatalf("revocation not looked up: %+v", a)
	}
	for _, a := range []*Appraisal{lax.AppraiseIntel(nil, nil, nil), lax.AppraiseIntel(&intel.Result{}, nil, nil)} {
		if r := reasonFor(a, "verification"); a.Status != Contraindicated || r == nil || r.State != checks.NotRun {
			t.Errorf("nil input: %+v", a)
		}
	}
}

func TestSGXReferenceValues(t *testing.T) {
	res, err := verifyVector(t, sgxConfigNeeded, sgxConfigNeeded.at)
	b := res.Quote.SGX
	minSVN := b.ISVSVN + 1
	p := &Policy{
		AcceptedTCBStatuses: []string{"ConfigurationAndSWHardeningNeeded"},
		SGX:                 &SGXReference{MREnclave: []string{hex.EncodeToString(b.MREnclave[:])}, ISVProdID: []uint16{b.ISVProdID + 1}, MinISVSVN: &minSVN},
	}
	a := p.AppraiseIntel(res, err, okBinding)
	if reasonFor(a, "sgx.mrenclave") != nil || reasonFor(a, "sgx.isv_prod_id") == nil || reasonFor(a, "sgx.isv_svn") == nil || a.Status != Contraindicated {
		t.Fatalf("got %+v", a)
	}
}

func TestDebugRefused(t *testing.T) {
	// trustee-dcap/tdx_quote_4.dat is a debug TD (TD_ATTRIBUTES.DEBUG set);
	// without collateral only the debug and collateral reasons matter here.
	qb, err := os.ReadFile(vectors + "trustee-dcap/tdx_quote_4.dat")
	if err != nil {
		t.Fatal(err)
	}
	res, verr := verifier.VerifyBytes(context.Background(), qb, intel.Options{Now: time.Date(2023, 2, 7, 9, 2, 55, 0, time.UTC)})
	if !res.Quote.Debug() {
		t.Fatal("vector is expected to be a debug TD")
	}
	if a := (&Policy{}).AppraiseIntel(res, verr, okBinding); reasonFor(a, "debug") == nil || reasonFor(a, "debug").Status != Contraindicated {
		t.Fatalf("default: %+v", a)
	}
	if a := (&Policy{AllowDebug: true}).AppraiseIntel(res, verr, okBinding); reasonFor(a, "debug").Status != Warning || a.Status != Contraindicated {
		t.Fatalf("allow_debug still needs collateral: %+v", a)
	}
}

func TestReadPolicy(t *testing.T) {
	p, err := ReadPolicy(strings.NewReader(`{"id":"prod","accepted_tcb_statuses":["UpToDate","SWHardeningNeeded"],"min_tcb_date":"2024-03-13","sgx":{"mrsigner":["` + strings.Repeat("ab", 32) + `"],"min_isv_svn":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "prod" || *p.SGX.MinISVSVN != 2 || len(p.AcceptedTCBStatuses) != 2 {
		t.Fatalf("got %+v", p)
	}
	for name, in := range map[string]string{
		"unknown field":   `{"allow_debugg":true}`,
		"revoked":         `{"accepted_tcb_statuses":["Revoked"]}`,
		"bad status":      `{"accepted_tcb_statuses":["Fine"]}`,
		"short mrenclave": `{"sgx":{"mrenclave":["abcd"]}}`,
		"bad hex":         `{"tdx":{"mrtd":["zz"]}}`,
		"bad date":        `{"min_tcb_date":"last year"}`,
		"snp short":       `{"sev_snp":{"measurement":["abcd"]}}`,
		"snp key":         `{"sev_snp":{"signing_keys":["ask"]}}`,
		"cca hex":         `{"cca":{"realm_initial_measurement":["xyz"]}}`,
		"trailing":        `{} {}`,
		"not json":        `id: x`,
		// encoding/json alone would match these case-insensitively and
		// let the last duplicate win, silently weakening the policy.
		"other case":     `{"allow_debug":false,"ALLOW_DEBUG":true}`,
		"duplicate":      `{"allow_debug":false,"allow_debug":true}`,
		"nested case":    `{"sgx":{"MRENCLAVE":["` + strings.Repeat("ab", 32) + `"]}}`,
		"nested dup":     `{"tdx":{"allow_sept_ve":false,"allow_sept_ve":true}}`,
		"vmpl and max":   `{"sev_snp":{"vmpl":[0],"max_vmpl":1}}`,
		"vmpl too large": `{"sev_snp":{"max_vmpl":4}}`,
	} {
		if _, err := ReadPolicy(strings.NewReader(in)); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestFirstRejectionAndSummary(t *testing.T) {
	warn := Reason{Check: "tcb.status", Message: "out of date", Status: Warning}
	bad := Reason{Check: "debug", Message: "debug enabled", Status: Contraindicated}
	for _, tc := range []struct {
		name    string
		status  Status
		reasons []Reason
		first   *Reason
		summary string
	}{
		{"rejection first", Contraindicated, []Reason{warn, bad}, &bad, "debug: debug enabled"},
		{"no rejection", Warning, []Reason{warn}, &warn, "tcb.status: out of date"},
		{"no reason", Contraindicated, nil, nil, "contraindicated"},
	} {
		got := FirstRejection(tc.reasons)
		if (got == nil) != (tc.first == nil) || (got != nil && got.Check != tc.first.Check) {
			t.Errorf("%s: FirstRejection = %+v, want %+v", tc.name, got, tc.first)
		}
		if s := RejectionSummary(tc.status, tc.reasons); s != tc.summary {
			t.Errorf("%s: RejectionSummary = %q, want %q", tc.name, s, tc.summary)
		}
	}
}
