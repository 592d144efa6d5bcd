package ear

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ratls/ratls/verify/checks"
)

func TestFromReasons(t *testing.T) {
	fail := func(c checks.Category, st Status) Reason {
		return Reason{Check: "x", Category: c, State: checks.Failed, Message: "m", Status: st}
	}
	notRun := func(c checks.Category, st Status) Reason {
		return Reason{Check: "x", Category: c, State: checks.NotRun, Message: "m", Status: st}
	}
	genuine := TrustVector{InstanceIdentity: 2, Hardware: 2, Configuration: 2, RuntimeOpaque: 2, Executables: 2}
	with := func(f func(*TrustVector)) TrustVector { tv := genuine; f(&tv); return tv }
	tests := []struct {
		name       string
		status     Status
		reasons    []Reason
		want       TrustVector
		wantStatus Status
	}{
		{"affirming", StatusAffirming, nil, genuine, StatusAffirming},
		{"no reference values: executables absent", StatusWarning, []Reason{notRun(checks.Executables, StatusWarning)},
			with(func(tv *TrustVector) { tv.Executables = 0 }), StatusWarning},
		{"signature failed: nothing affirmed", StatusContraindicated, []Reason{fail(checks.Hardware, StatusContraindicated)},
			TrustVector{InstanceIdentity: 97, Hardware: 97}, StatusContraindicated},
		{"collateral missing: hardware absent, nothing affirmed", StatusContraindicated, []Reason{notRun(checks.Hardware, StatusContraindicated)},
			TrustVector{}, StatusContraindicated},
		{"nonce replayed: instance untrustworthy, nothing else affirmed", StatusContraindicated, []Reason{fail(checks.InstanceIdentity, StatusContraindicated)},
			TrustVector{InstanceIdentity: 96}, StatusContraindicated},
		{"expired collateral excused", StatusWarning, []Reason{fail(checks.Hardware, StatusWarning)},
			with(func(tv *TrustVector) { tv.Hardware = 32 }), StatusWarning},
		{"TCB out of date accepted", StatusWarning, []Reason{fail(checks.Configuration, StatusWarning)},
			with(func(tv *TrustVector) { tv.Configuration = 32 }), StatusWarning},
		{"TCB revoked", StatusContraindicated, []Reason{fail(checks.Configuration, StatusContraindicated)},
			with(func(tv *TrustVector) { tv.Configuration = 96 }), StatusContraindicated},
		{"debug refused", StatusContraindicated, []Reason{fail(checks.RuntimeOpaque, StatusContraindicated)},
			with(func(tv *TrustVector) { tv.RuntimeOpaque = 96 }), StatusContraindicated},
		{"debug allowed", StatusWarning, []Reason{fail(checks.RuntimeOpaque, StatusWarning)},
			with(func(tv *TrustVector) { tv.RuntimeOpaque = 32 }), StatusWarning},
		{"measurement mismatch", StatusContraindicated, []Reason{fail(checks.Executables, StatusContraindicated)},
			with(func(tv *TrustVector) { tv.Executables = 96 }), StatusContraindicated},
		{"unbound key allowed", StatusWarning, []Reason{fail(checks.InstanceIdentity, StatusWarning)},
			with(func(tv *TrustVector) { tv.InstanceIdentity = 32 }), StatusWarning},
		{"sourced data", StatusContraindicated, []Reason{fail(checks.SourcedData, StatusContraindicated)},
			with(func(tv *TrustVector) { tv.SourcedData = 96 }), StatusContraindicated},
		{"worst claim wins", StatusContraindicated, []Reason{
			fail(checks.Hardware, StatusContraindicated), fail(checks.Configuration, StatusWarning)},
			TrustVector{InstanceIdentity: 97, Hardware: 97, Configuration: 32}, StatusContraindicated},
		{"inconsistent input fails closed", StatusAffirming, []Reason{fail(checks.RuntimeOpaque, StatusContraindicated)},
			with(func(tv *TrustVector) { tv.RuntimeOpaque = 96 }), StatusContraindicated},
		{"unclassified reason lowers configuration", StatusWarning, []Reason{fail("", StatusWarning)},
			with(func(tv *TrustVector) { tv.Configuration = 32 }), StatusWarning},
		{"unknown outcome", Status("?"), nil, genuine, StatusContraindicated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]any{"mrtd": "00"}
			got := FromReasons(tc.status, "pol", tc.reasons, m)
			if *got.TrustVector != tc.want {
				t.Errorf("vector = %+v, want %+v", *got.TrustVector, tc.want)
			}
			if got.Status != tc.wantStatus {
				t.Errorf("status = %s, want %s", got.Status, tc.wantStatus)
			}
			if got.PolicyID != "pol" || got.AnnotatedEvidence["mrtd"] != "00" || len(got.Reasons) != len(tc.reasons) {
				t.Errorf("appraisal = %+v", got)
			}
			if err := got.validate(); err != nil {
				t.Errorf("result does not validate: %v", err)
			}
		})
	}
}

// The reasons are also in ear.veraison.policy-claims, where Veraison's
// tools show them: "problem" says why a contraindicated result is, as
// Veraison's verifier writes it, and "reasons" lists every reason.
func TestFromReasonsPolicyClaims(t *testing.T) {
	rs := []Reason{
		{Check: "tcb_status", Category: checks.Configuration, State: checks.Failed, Expected: "UpToDate", Actual: "OutOfDate", Message: "TCB out of date accepted", Status: StatusWarning},
		{Check: "nonce", Category: checks.InstanceIdentity, State: checks.Failed, Expected: "0102", Actual: "0304", Message: "replayed", Status: StatusContraindicated},
	}
	a := FromReasons(StatusContraindicated, "pol", rs, nil)
	want := map[string]any{
		"problem": "nonce: replayed (expected 0102, actual 0304)",
		"reasons": []any{
			"warning tcb_status: TCB out of date accepted (expected UpToDate, actual OutOfDate)",
			"contraindicated nonce: replayed (expected 0102, actual 0304)",
		},
	}
	if !reflect.DeepEqual(a.PolicyClaims, want) {
		t.Errorf("policy claims:\n got %#v\nwant %#v", a.PolicyClaims, want)
	}
	// A warning has reasons but no problem; an affirmation neither.
	if w := FromReasons(StatusWarning, "pol", rs[:1], nil); w.PolicyClaims["problem"] != nil || len(w.PolicyClaims["reasons"].([]any)) != 1 {
		t.Errorf("warning: policy claims %#v", w.PolicyClaims)
	}
	if ok := FromReasons(StatusAffirming, "pol", nil, nil); ok.PolicyClaims != nil {
		t.Errorf("affirming: policy claims %#v, want none", ok.PolicyClaims)
	}

	// They are signed and read back under Veraison's claim name.
	e := &EAR{IssuedAt: 1, VerifierID: VerifierID{Build: "b", Developer: "d"}, Submods: map[string]*Appraisal{"tdx": a}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"ear.veraison.policy-claims":{"problem":"nonce: replayed (expected 0102, actual 0304)","reasons":[`) {
		t.Errorf("JSON: %s", b)
	}
	var back EAR
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Submods["tdx"].PolicyClaims, want) {
		t.Errorf("read back: %#v", back.Submods["tdx"].PolicyClaims)
	}
	b = []byte(strings.Replace(string(b), `"ear.veraison.policy-claims":{`, `"ear.veraison.policy-claims":["x"],"x":{`, 1))
	if err := json.Unmarshal(b, &back); err == nil {
		t.Error("policy-claims that are not an object: want an error")
	}
}
