package appraise

import (
	"slices"
	"strings"
	"testing"

	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/measuredboot"
)

const (
	kernelA = "a2ccae1e7d6c668ca325bb09c882d8ce44d26d714ba6f58d2e8083fe291a704646afe24a2368bca3341728d78ec80a80"
	kernelB = "ea83db0b0d01cb82ad2f12b64b0b6b0f6e1e5e2dd96b6b7bcd0e8a0b1b40e0b7a6b3f0f5d1f0e1e2d3c4b5a697887766"
	shim    = "4637fb5cd30847e5f09ae24f8a50ce1611c4d21afd0ecb69c8ec40bc82dc11bc48abda1f8044fe340bfb70b29606eb47"
)

func reasonsOf(a *Appraisal, check string) []Reason {
	var out []Reason
	for _, r := range a.Reasons {
		if r.Check == check || strings.HasPrefix(r.Check, check+"[") {
			out = append(out, r)
		}
	}
	return out
}

func TestMeasuredBootPolicyValidation(t *testing.T) {
	for _, doc := range []string{
		`{"measured_boot":{"kernel":["zz"]}}`,
		`{"measured_boot":{"kernel":["abcd"]}}`,
		`{"measured_boot":{"cmdline_pattern":"("}}`,
		`{"measured_boot":{"runtime_events":[{"domain":"d"}]}}`,
		`{"measured_boot":{"runtime_events":[{"domain":"d","operation":"o","content_pattern":"["}]}}`,
		`{"measured_boot":{"kernal":["` + kernelA + `"]}}`,
		`{"vtpm":{"pcrs":{"24":["` + strings.Repeat("00", 32) + `"]}}}`,
		`{"vtpm":{"pcrs":{"07":["` + strings.Repeat("00", 32) + `"]}}}`,
		`{"vtpm":{"pcrs":{"7":["` + strings.Repeat("00", 48) + `"]}}}`,
	} {
		if _, err := ReadPolicy(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: accepted", doc)
		}
	}
	if _, err := ReadPolicy(strings.NewReader(`{"measured_boot":{"kernel":["` + kernelA + `"],"cmdline_pattern":".*ro( .*)?","require_secure_boot":true},"vtpm":{"pcrs":{"7":["` + strings.Repeat("ab", 32) + `"]}}}`)); err != nil {
		t.Error(err)
	}
}

// A policy on boot facts fails for each fact not established: no event
// log, a refused log, or a log that does not measure it.
func TestMeasuredBootFailsClosed(t *testing.T) {
	p := &Policy{MeasuredBoot: &MeasuredBootReference{
		Kernel: []string{kernelA}, Initrd: []string{kernelA}, Bootloaders: []string{shim}, Cmdline: []string{"ro"}, CmdlinePattern: "ro",
		RequireSecureBoot: true, RuntimeEvents: []RuntimeEventReference{{Domain: "d", Operation: "o"}},
	}, VTPM: &VTPMReference{PCRs: map[string][]string{"7": {strings.Repeat("00", 32)}}}}
	a := NewAppraisal(p.Name())
	p.AppraiseMeasuredBoot(a, nil, "no event log came with the evidence")
	p.AppraisePCRs(a, nil)
	if a.Status != Contraindicated || len(a.Reasons) != 8 {
		t.Fatalf("%d reasons: %+v", len(a.Reasons), a.Reasons)
	}
	for _, r := range a.Reasons {
		if r.State != checks.NotRun || r.Status != Contraindicated || (r.Check != CheckVTPMPCRs+"[7]" && !strings.Contains(r.Message, "no event log")) {
			t.Errorf("%+v", r)
		}
	}
	// A log that measures none of it.
	a = NewAppraisal(p.Name())
	p.AppraiseMeasuredBoot(a, &measuredboot.Facts{}, "")
	for _, check := range []string{CheckBootKernel, CheckBootInitrd, CheckBootBootloaders, CheckBootCmdline, CheckBootCmdlinePatt, CheckBootSecureBoot} {
		if rs := reasonsOf(a, check); len(rs) != 1 || rs[0].State != checks.Failed || rs[0].Status != Contraindicated {
			t.Errorf("%s: %+v", check, rs)
		}
	}
	if rs := reasonsOf(a, CheckBootRuntime); len(rs) != 0 {
		t.Errorf("no runtime events is within the allow-list: %+v", rs)
	}
}

func TestMeasuredBootPolicy(t *testing.T) {
	facts := &measuredboot.Facts{
		Kernel:      &measuredboot.Component{Source: "EV_EFI_BOOT_SERVICES_APPLICATION File(kernel)", Digest: kernelA},
		Bootloaders: []measuredboot.Component{{Digest: shim}},
		Cmdline:     &measuredboot.Component{Digest: kernelB, Text: "root=/dev/vda1 ro console=hvc0"},
		SecureBoot:  &measuredboot.SecureBoot{Enabled: true},
		Runtime:     []measuredboot.RuntimeEvent{{Domain: "example.com/app", Operation: "start", Content: "v1.2"}},
	}
	good := &MeasuredBootReference{
		Kernel: []string{strings.ToUpper(kernelA)}, Bootloaders: []string{shim}, CmdlinePattern: `.* ro( .*)?`, Cmdline: []string{"root=/dev/vda1 ro console=hvc0"},
		CmdlineDigest: []string{kernelB}, RequireSecureBoot: true, RuntimeEvents: []RuntimeEventReference{{Domain: "example.com/app", Operation: "start", ContentPattern: `v1\.[0-9]+`}},
	}
	a := NewAppraisal("")
	(&Policy{MeasuredBoot: good}).AppraiseMeasuredBoot(a, facts, "")
	if len(a.Reasons) != 0 {
		t.Fatalf("%+v", a.Reasons)
	}
	for _, c := range []struct {
		check string
		ref   MeasuredBootReference
		facts func(f measuredboot.Facts) *measuredboot.Facts
	}{
		{CheckBootKernel, MeasuredBootReference{Kernel: []string{kernelB}}, nil},
		// The pattern must match the whole command line.
		{CheckBootCmdlinePatt, MeasuredBootReference{CmdlinePattern: "ro"}, nil},
		{CheckBootCmdline, MeasuredBootReference{Cmdline: []string{"root=/dev/vda1 rw console=hvc0"}}, nil},
		{CheckBootCmdline, MeasuredBootReference{Cmdline: []string{"root=/dev/vda1 ro console=hvc0"}}, func(f measuredboot.Facts) *measuredboot.Facts {
			f.Cmdline = &measuredboot.Component{Digest: kernelB} // digest only
			return &f
		}},
		{CheckBootSecureBoot, MeasuredBootReference{RequireSecureBoot: true}, func(f measuredboot.Facts) *measuredboot.Facts {
			f.SecureBoot = &measuredboot.SecureBoot{}
			return &f
		}},
		{CheckBootBootloaders, MeasuredBootReference{Bootloaders: []string{shim}}, func(f measuredboot.Facts) *measuredboot.Facts {
			f.Bootloaders = append(f.Bootloaders, measuredboot.Component{Digest: kernelA, Source: "grub"})
			return &f
		}},
		{CheckBootRuntime, MeasuredBootReference{RuntimeEvents: []RuntimeEventReference{{Domain: "example.com/app", Operation: "start", ContentPattern: "v2.*"}}}, nil},
	} {
		f := facts
		if c.facts != nil {
			f = c.facts(*facts)
		}
		a := NewAppraisal("")
		ref := c.ref
		(&Policy{MeasuredBoot: &ref}).AppraiseMeasuredBoot(a, f, "")
		if rs := reasonsOf(a, c.check); len(rs) != 1 || rs[0].Status != Contraindicated || a.Status != Contraindicated {
			t.Errorf("%s: %+v", c.check, a.Reasons)
		} else if c.check == CheckBootSecureBoot && rs[0].Category != checks.Configuration {
			t.Errorf("secure boot category %s", rs[0].Category)
		}
	}
}

func TestVTPMPolicy(t *testing.T) {
	pcr7 := make([]byte, 32)
	pcr7[0] = 0xAB
	p := &Policy{VTPM: &VTPMReference{PCRs: map[string][]string{"7": {"ab" + strings.Repeat("00", 31)}, "11": {strings.Repeat("00", 32)}}}}
	a := NewAppraisal("")
	p.AppraisePCRs(a, map[int][]byte{7: pcr7, 11: make([]byte, 32)})
	if len(a.Reasons) != 0 {
		t.Fatalf("%+v", a.Reasons)
	}
	a = NewAppraisal("")
	p.AppraisePCRs(a, map[int][]byte{7: make([]byte, 32)})
	if rs := reasonsOf(a, CheckVTPMPCRs); len(rs) != 2 || rs[0].Check != "vtpm.pcrs[7]" || rs[1].Actual != "not quoted" {
		t.Errorf("%+v", a.Reasons)
	}
}

// A policy built in Go is not necessarily validated: a pattern that does
// not compile refuses, it does not panic, and allows no runtime event.
func TestMeasuredBootBadPatternRefuses(t *testing.T) {
	facts := &measuredboot.Facts{
		Cmdline: &measuredboot.Component{Digest: kernelB, Text: "ro"},
		Runtime: []measuredboot.RuntimeEvent{{Domain: "d", Operation: "o", Content: "("}},
	}
	p := &Policy{MeasuredBoot: &MeasuredBootReference{CmdlinePattern: "(", RuntimeEvents: []RuntimeEventReference{{Domain: "d", Operation: "o", ContentPattern: "("}}}}
	a := NewAppraisal("")
	p.AppraiseMeasuredBoot(a, facts, "")
	var got []string
	for _, r := range a.Reasons {
		if r.Status == Contraindicated {
			got = append(got, r.Check)
		}
	}
	if !slices.Contains(got, CheckBootCmdlinePatt) || !slices.Contains(got, CheckBootRuntime) {
		t.Fatalf("want %s and %s refused, got %+v", CheckBootCmdlinePatt, CheckBootRuntime, a.Reasons)
	}
}
