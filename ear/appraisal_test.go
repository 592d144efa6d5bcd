package ear

import (
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
