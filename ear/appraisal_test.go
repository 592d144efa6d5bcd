package ear

import (
	"testing"

	"github.com/ratls/ratls/appraise"
)

func TestFromAppraisal(t *testing.T) {
	r := func(check string, st appraise.Status) appraise.Reason {
		return appraise.Reason{Check: check, Message: "m", Status: st}
	}
	genuine := TrustVector{InstanceIdentity: 2, Hardware: 2, Configuration: 2, RuntimeOpaque: 2}
	with := func(f func(*TrustVector)) TrustVector { tv := genuine; f(&tv); return tv }
	tests := []struct {
		name       string
		status     appraise.Status
		refChecked bool
		reasons    []appraise.Reason
		want       TrustVector
		wantStatus Status
	}{
		{"affirming with reference values", appraise.Affirming, true, nil,
			with(func(tv *TrustVector) { tv.Executables = 2 }), StatusAffirming},
		{"affirming without reference values", appraise.Affirming, false, nil, genuine, StatusAffirming},
		{"quote signature failed", appraise.Contraindicated, true, []appraise.Reason{r("quote.signature", appraise.Contraindicated)},
			TrustVector{InstanceIdentity: 99, Hardware: 97}, StatusContraindicated},
		{"chain failed", appraise.Contraindicated, false, []appraise.Reason{r("pck.chain", appraise.Contraindicated)},
			TrustVector{InstanceIdentity: 97, Hardware: 97}, StatusContraindicated},
		{"no verification result", appraise.Contraindicated, false, []appraise.Reason{r("verification", appraise.Contraindicated)},
			TrustVector{InstanceIdentity: 97, Hardware: 97}, StatusContraindicated},
		{"expired collateral excused", appraise.Warning, false, []appraise.Reason{r("tcb_info.validity", appraise.Warning)},
			with(func(tv *TrustVector) { tv.Hardware = 32 }), StatusWarning},
		{"simulated trust anchor", appraise.Warning, false, []appraise.Reason{r("trust_anchor", appraise.Warning)},
			with(func(tv *TrustVector) { tv.Hardware = 32 }), StatusWarning},
		{"TCB out of date accepted", appraise.Warning, true, []appraise.Reason{r("tcb_status", appraise.Warning)},
			with(func(tv *TrustVector) { tv.Configuration = 32; tv.Executables = 2 }), StatusWarning},
		{"TCB revoked", appraise.Contraindicated, true, []appraise.Reason{r("tcb_status", appraise.Contraindicated)},
			with(func(tv *TrustVector) { tv.Configuration = 96; tv.Executables = 2 }), StatusContraindicated},
		{"SNP TCB component", appraise.Contraindicated, false, []appraise.Reason{r("sev_snp.tcb.microcode", appraise.Contraindicated)},
			with(func(tv *TrustVector) { tv.Configuration = 96 }), StatusContraindicated},
		{"debug refused", appraise.Contraindicated, false, []appraise.Reason{r("debug", appraise.Contraindicated)},
			with(func(tv *TrustVector) { tv.RuntimeOpaque = 96 }), StatusContraindicated},
		{"debug allowed", appraise.Warning, false, []appraise.Reason{r("debug", appraise.Warning)},
			with(func(tv *TrustVector) { tv.RuntimeOpaque = 32 }), StatusWarning},
		{"measurement mismatch", appraise.Contraindicated, true, []appraise.Reason{r("tdx.mrtd", appraise.Contraindicated)},
			with(func(tv *TrustVector) { tv.Executables = 33 }), StatusContraindicated},
		{"no reference values for tee", appraise.Contraindicated, false, []appraise.Reason{r("tdx", appraise.Contraindicated)},
			with(func(tv *TrustVector) { tv.Executables = 33 }), StatusContraindicated},
		{"svn below minimum", appraise.Contraindicated, true, []appraise.Reason{r("sgx.isv_svn", appraise.Contraindicated)},
			with(func(tv *TrustVector) { tv.Executables = 96 }), StatusContraindicated},
		{"unbound key refused", appraise.Contraindicated, false, []appraise.Reason{r("key_binding", appraise.Contraindicated)},
			with(func(tv *TrustVector) { tv.InstanceIdentity = 96 }), StatusContraindicated},
		{"unbound key allowed", appraise.Warning, false, []appraise.Reason{r("key_binding", appraise.Warning)},
			with(func(tv *TrustVector) { tv.InstanceIdentity = 32 }), StatusWarning},
		{"VMPL", appraise.Contraindicated, false, []appraise.Reason{r("sev_snp.vmpl", appraise.Contraindicated)},
			with(func(tv *TrustVector) { tv.Configuration = 96 }), StatusContraindicated},
		{"worst claim wins", appraise.Contraindicated, false, []appraise.Reason{
			r("pck.chain", appraise.Contraindicated), r("quote.signature", appraise.Contraindicated), r("tcb_status", appraise.Warning)},
			TrustVector{InstanceIdentity: 99, Hardware: 97, Configuration: 32}, StatusContraindicated},
		{"inconsistent input fails closed", appraise.Affirming, false, []appraise.Reason{r("debug", appraise.Contraindicated)},
			with(func(tv *TrustVector) { tv.RuntimeOpaque = 96 }), StatusContraindicated},
		{"unknown outcome", appraise.Status("?"), false, nil, genuine, StatusContraindicated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &appraise.Appraisal{Status: tc.status, PolicyID: "pol", Reasons: tc.reasons, ReferenceValuesChecked: tc.refChecked}
			m := map[string]any{"mrtd": "00"}
			got := FromAppraisal(a, "tdx", m)
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
