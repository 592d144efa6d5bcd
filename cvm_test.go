package ratls

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/evidence"
)

// Replays of the OVMF and grub vectors (RTMR0..2; RTMR3 is zero), as
// EXPECTED.json gives them.
var (
	ovmfRTMRs = [3]string{
		"8566f998798db09443b244c62de9a3041fb02e2e6936c4396d784bba2e90177329ec5aba3bb484404f2ab9cc90abe193",
		"775b9f6bfe99f8a31396f0d0218e67ffa796d3b96ccf961cbb0deba48c79c00f082cda1a5567c1c16305f1fc210c13c6",
		"94eaf7a7bf398ed8d888c91057ae0261802e4f3df084213a76ca7f0b5055ac9d2241de43cd58d9e8b49c503bbf25f34a",
	}
)

// tdxWithLog is evidence of a test-PKI TD whose RTMRs are the given
// values, in Trustee's JSON form carrying log.
func tdxWithLog(t *testing.T, tp *testPlatform, rtmrs [3]string, log []byte) *evidence.Item {
	t.Helper()
	for i, r := range rtmrs {
		b, err := hex.DecodeString(r)
		if err != nil {
			t.Fatal(err)
		}
		copy(tp.pl.QuoteOptions.TD.RTMR[i][:], b)
	}
	q, err := tp.pl.NewQuote([64]byte{})
	if err != nil {
		t.Fatal(err)
	}
	items, err := evidence.ParseRaw(evidence.TrusteeTDX(q, log))
	if err != nil {
		t.Fatal(err)
	}
	return items[0]
}

// A TD quote with the CC event log of the same boot verifies, and the
// log's facts come with the verification; a log of another boot makes the
// whole evidence unacceptable.
func TestTDXEventLog(t *testing.T) {
	ovmf := readTestFile(t, "testdata/trustee-cvm/CCEL_data_ovmf")
	tp := newTestPlatform(t, true)
	item := tdxWithLog(t, tp, ovmfRTMRs, ovmf)
	opt := tp.options()
	dcapOf(opt).Collateral = staticCollateral(t, tp)
	v := VerifyEvidence(context.Background(), item, opt)
	if !v.Accepted() || v.MeasuredBoot == nil || reasonOf(v, CheckEventLog) != nil {
		t.Fatalf("%v %+v", v.Err, v.Appraisal)
	}
	if f := v.MeasuredBoot.Facts(); f.Kernel == nil || !strings.HasSuffix(f.Kernel.Source, "File(kernel)") {
		t.Errorf("facts: kernel %+v", f.Kernel)
	}

	grub := readTestFile(t, "testdata/trustee-cvm/CCEL_data_grub")
	for name, log := range map[string][]byte{
		"log of another VM":  grub,
		"truncated log":      ovmf[:1000],
		"log with one event": ovmf[:200],
	} {
		item := tdxWithLog(t, tp, ovmfRTMRs, log)
		v := VerifyEvidence(context.Background(), item, opt)
		r := reasonOf(v, CheckEventLog)
		if v.Accepted() || v.MeasuredBoot != nil || r == nil || r.Status != appraise.Contraindicated || len(v.Appraisal.Reasons) != 1 {
			t.Errorf("%s: accepted=%v reasons %+v", name, v.Accepted(), v.Appraisal.Reasons)
		}
	}
	// No log: nothing is replayed, nothing is claimed.
	item = tdxWithLog(t, tp, ovmfRTMRs, nil)
	if v := VerifyEvidence(context.Background(), item, opt); !v.Accepted() || v.MeasuredBoot != nil {
		t.Errorf("without a log: accepted=%v measured boot %v", v.Accepted(), v.MeasuredBoot)
	}
}

// Policies on boot facts: pinned values pass; another kernel, secure boot
// off, or no log at all are refused.
func TestTDXMeasuredBootPolicy(t *testing.T) {
	ovmf := readTestFile(t, "testdata/trustee-cvm/CCEL_data_ovmf")
	tp := newTestPlatform(t, true)
	opt := tp.options()
	dcapOf(opt).Collateral = staticCollateral(t, tp)
	withLog := tdxWithLog(t, tp, ovmfRTMRs, ovmf)
	// The kernel's digest as Trustee's reference parse gives it.
	kernel := "a2ccae1e7d6c668ca325bb09c882d8ce44d26d714ba6f58d2e8083fe291a704646afe24a2368bca3341728d78ec80a80"
	for _, c := range []struct {
		name   string
		ref    appraise.MeasuredBootReference
		item   *evidence.Item
		check  string
		accept bool
	}{
		{"pinned kernel", appraise.MeasuredBootReference{Kernel: []string{kernel}}, withLog, "", true},
		{"another kernel", appraise.MeasuredBootReference{Kernel: []string{strings.Repeat("ab", 48)}}, withLog, appraise.CheckBootKernel, false},
		{"secure boot required, log says off", appraise.MeasuredBootReference{RequireSecureBoot: true}, withLog, appraise.CheckBootSecureBoot, false},
		{"cmdline text required, log has its digest only", appraise.MeasuredBootReference{CmdlinePattern: ".*"}, withLog, appraise.CheckBootCmdlinePatt, false},
		{"no log", appraise.MeasuredBootReference{Kernel: []string{kernel}}, tdxWithLog(t, tp, ovmfRTMRs, nil), appraise.CheckBootKernel, false},
		{"refused log", appraise.MeasuredBootReference{Kernel: []string{kernel}}, tdxWithLog(t, tp, ovmfRTMRs, readTestFile(t, "testdata/trustee-cvm/CCEL_data_grub")), appraise.CheckBootKernel, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := *opt
			pol := *tp.policy()
			ref := c.ref
			pol.MeasuredBoot = &ref
			o.Policy = &pol
			v := VerifyEvidence(context.Background(), c.item, &o)
			if v.Accepted() != c.accept {
				t.Fatalf("accepted=%v: %+v", v.Accepted(), v.Appraisal.Reasons)
			}
			if c.check != "" {
				if r := reasonOf(v, c.check); r == nil || r.Status != appraise.Contraindicated {
					t.Errorf("no %s reason: %+v", c.check, v.Appraisal.Reasons)
				}
			}
		})
	}
}
