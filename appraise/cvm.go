package appraise

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/internal/lru"
	azureverify "github.com/ratls/ratls/verify/azure"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/measuredboot"
)

// AppraiseAzure appraises the verification of an Azure vTPM confidential
// VM: its hardware report as SEV-SNP or TDX evidence (every rule of the
// sev_snp and tdx sections applies), and every check of the vTPM chain,
// which no policy switch excuses.
func (p *Policy) AppraiseAzure(res *azureverify.Result, verr error, binding *evidence.Binding) *Appraisal {
	var a *Appraisal
	switch {
	case res == nil:
		return noResult(NewAppraisal(p.Name()), verr)
	case res.SNP != nil:
		a = p.AppraiseSNP(res.SNP, res.HardwareErr, binding)
		// The HCL (paravisor) that holds the vTPM requests its report at
		// VMPL 0; a policy widening the VMPL for SVSM guests does not
		// extend to it.
		if r := res.SNP.Report; r != nil && r.VMPL != 0 {
			a.Reject("azure.vmpl", checks.Configuration, "0", fmt.Sprint(r.VMPL),
				"the HCL report of an Azure vTPM CVM comes from VMPL 0; this one does not")
		}
	case res.TDX != nil:
		a = p.AppraiseIntel(res.TDX, res.HardwareErr, binding)
	default:
		a = NewAppraisal(p.Name())
	}
	list := res.Checks
	if res.SNP != nil || res.TDX != nil {
		// The hardware report's own checks were appraised above.
		list = withoutCheck(list, azureverify.CheckHardwareReport)
	}
	required := azureverify.Required
	if res.SNP != nil || res.TDX != nil {
		required = withoutName(required, azureverify.CheckHardwareReport)
	}
	a.verificationReasons(list, required, nil, func(checks.Check) string { return "" })
	return a
}

func withoutCheck(l checks.List, name string) checks.List {
	var out checks.List
	for _, c := range l {
		if c.Name != name {
			out = append(out, c)
		}
	}
	return out
}

func withoutName(names []string, name string) []string {
	var out []string
	for _, n := range names {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}

// MeasuredBootReference holds reference values on the facts of the event
// log that came with the evidence (docs/cvm.md). Every field set must be
// established by a log that replayed to the signed registers: evidence
// without a log, or whose log was refused, fails each of them.
type MeasuredBootReference struct {
	// Firmware lists accepted firmware digests: every measured firmware
	// component must be one of them, and there must be one.
	Firmware []string `json:"firmware,omitempty"`
	// Bootloaders lists accepted boot application digests (shim, GRUB):
	// every one started before the kernel must be listed, and there must
	// be one.
	Bootloaders []string `json:"bootloaders,omitempty"`
	// Kernel and Initrd list accepted digests.
	Kernel []string `json:"kernel,omitempty"`
	Initrd []string `json:"initrd,omitempty"`
	// Cmdline lists accepted kernel command lines, exactly; the log must
	// prove the text (a loader's measurement of it).
	Cmdline []string `json:"cmdline,omitempty"`
	// CmdlineDigest lists accepted digests of the command line's
	// measurement (the loader's, or the Linux EFI stub's LoadOptions).
	CmdlineDigest []string `json:"cmdline_digest,omitempty"`
	// CmdlinePattern is an RE2 expression the whole command line must
	// match, e.g. "(.* )?lockdown=confidentiality( .*)?".
	CmdlinePattern string `json:"cmdline_pattern,omitempty"`
	// RequireSecureBoot: the log must establish that UEFI secure boot was
	// enabled.
	RequireSecureBoot bool `json:"require_secure_boot,omitempty"`
	// RuntimeEvents lists the runtime events allowed: every event of the
	// runtime log must match one. Empty: not constrained.
	RuntimeEvents []RuntimeEventReference `json:"runtime_events,omitempty"`
}

// RuntimeEventReference matches runtime events (AAEL entries).
type RuntimeEventReference struct {
	Domain    string `json:"domain"`
	Operation string `json:"operation"`
	// ContentPattern is an RE2 expression the whole content must match;
	// empty matches any content.
	ContentPattern string `json:"content_pattern,omitempty"`
}

// VTPMReference holds reference values on a vTPM's PCRs (Azure CVMs).
type VTPMReference struct {
	// PCRs maps a PCR index ("0".."23") to accepted SHA-256 values.
	PCRs map[string][]string `json:"pcrs,omitempty"`
}

func (m *MeasuredBootReference) hasValues() bool {
	return m != nil && len(m.Firmware)+len(m.Bootloaders)+len(m.Kernel)+len(m.Initrd)+len(m.Cmdline)+len(m.CmdlineDigest)+len(m.RuntimeEvents) > 0 ||
		m != nil && (m.CmdlinePattern != "" || m.RequireSecureBoot)
}

func (v *VTPMReference) hasValues() bool { return v != nil && len(v.PCRs) > 0 }

// Policy checks on measured boot, named in reasons after their keys.
const (
	CheckBootFirmware      = "measured_boot.firmware"
	CheckBootBootloaders   = "measured_boot.bootloaders"
	CheckBootKernel        = "measured_boot.kernel"
	CheckBootInitrd        = "measured_boot.initrd"
	CheckBootCmdline       = "measured_boot.cmdline"
	CheckBootCmdlineDigest = "measured_boot.cmdline_digest"
	CheckBootCmdlinePatt   = "measured_boot.cmdline_pattern"
	CheckBootSecureBoot    = "measured_boot.require_secure_boot"
	CheckBootRuntime       = "measured_boot.runtime_events"
	CheckVTPMPCRs          = "vtpm.pcrs"
)

// validateCVM checks the measured_boot and vtpm sections.
func (p *Policy) validateCVM() error {
	if m := p.MeasuredBoot; m != nil {
		for name, vals := range map[string][]string{"firmware": m.Firmware, "bootloaders": m.Bootloaders, "kernel": m.Kernel, "initrd": m.Initrd, "cmdline_digest": m.CmdlineDigest} {
			for _, v := range vals {
				if b, err := hex.DecodeString(v); err != nil || (len(b) != 20 && len(b) != 32 && len(b) != 48 && len(b) != 64) {
					return fmt.Errorf("policy: measured_boot.%s: %q is not a digest in hex (20, 32, 48 or 64 bytes)", name, v)
				}
			}
		}
		if m.CmdlinePattern != "" {
			if _, err := regexp.Compile(m.CmdlinePattern); err != nil {
				return fmt.Errorf("policy: measured_boot.cmdline_pattern: %v", err)
			}
		}
		for i, r := range m.RuntimeEvents {
			if r.Domain == "" || r.Operation == "" {
				return fmt.Errorf("policy: measured_boot.runtime_events[%d]: domain and operation are required", i)
			}
			if _, err := regexp.Compile(r.ContentPattern); err != nil {
				return fmt.Errorf("policy: measured_boot.runtime_events[%d].content_pattern: %v", i, err)
			}
		}
	}
	if v := p.VTPM; v != nil {
		for k, vals := range v.PCRs {
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i > 23 || strconv.Itoa(i) != k {
				return fmt.Errorf("policy: vtpm.pcrs: %q is not a PCR index (0-23)", k)
			}
			for _, val := range vals {
				if b, err := hex.DecodeString(val); err != nil || len(b) != 32 {
					return fmt.Errorf("policy: vtpm.pcrs[%s]: %q is not 32 bytes of hex (a SHA-256 PCR)", k, val)
				}
			}
		}
	}
	return nil
}

// AppraiseMeasuredBoot applies the measured_boot section to the facts of
// a replayed event log; facts is nil when there is none, and why says why
// (no log came, or it was refused). Every field the policy sets fails when
// the fact it needs is not established.
func (p *Policy) AppraiseMeasuredBoot(a *Appraisal, facts *measuredboot.Facts, why string) {
	m := p.MeasuredBoot
	if !m.hasValues() {
		return
	}
	notRun := func(check, expected, what string) {
		a.Add(Reason{Check: check, Category: categoryOf(check), State: checks.NotRun, Expected: expected, Actual: "not established",
			Message: what + " could not be established: " + why, Status: Contraindicated})
	}
	reject := func(check, expected, actual, msg string) { a.Reject(check, categoryOf(check), expected, actual, msg) }
	component := func(check string, want []string, c *measuredboot.Component, what string) {
		if len(want) == 0 {
			return
		}
		switch {
		case facts == nil:
			notRun(check, strings.Join(want, "|"), what)
		case c == nil:
			reject(check, strings.Join(want, "|"), "none measured", "the event log establishes no "+what)
		case !matchHex(want, c.Digest):
			reject(check, strings.Join(want, "|"), c.Digest, what+" ("+c.Source+") is not one of "+check)
		}
	}
	all := func(check string, want []string, cs []measuredboot.Component, what string) {
		if len(want) == 0 {
			return
		}
		switch {
		case facts == nil:
			notRun(check, strings.Join(want, "|"), what)
		case len(cs) == 0:
			reject(check, "at least one of "+strings.Join(want, "|"), "none measured", "the event log establishes no "+what)
		default:
			for _, c := range cs {
				if !matchHex(want, c.Digest) {
					reject(check, strings.Join(want, "|"), c.Digest, what+" "+c.Source+" is not one of "+check)
				}
			}
		}
	}
	var f measuredboot.Facts
	if facts != nil {
		f = *facts
	}
	all(CheckBootFirmware, m.Firmware, f.Firmware, "firmware component")
	all(CheckBootBootloaders, m.Bootloaders, f.Bootloaders, "bootloader")
	component(CheckBootKernel, m.Kernel, f.Kernel, "kernel")
	component(CheckBootInitrd, m.Initrd, f.Initrd, "initrd")
	if len(m.CmdlineDigest) > 0 {
		switch {
		case facts == nil:
			notRun(CheckBootCmdlineDigest, strings.Join(m.CmdlineDigest, "|"), "the kernel command line")
		case f.Cmdline == nil:
			reject(CheckBootCmdlineDigest, strings.Join(m.CmdlineDigest, "|"), "none measured", "the event log establishes no kernel command line")
		case !matchHex(m.CmdlineDigest, f.Cmdline.Digest) && (f.LoadOptions == nil || !matchHex(m.CmdlineDigest, f.LoadOptions.Digest)):
			reject(CheckBootCmdlineDigest, strings.Join(m.CmdlineDigest, "|"), f.Cmdline.Digest, "the kernel command line's measurement is not one of measured_boot.cmdline_digest")
		}
	}
	text := func(check, expected string, ok func(string) bool) {
		switch {
		case facts == nil:
			notRun(check, expected, "the kernel command line")
		case f.Cmdline == nil || f.Cmdline.Text == "":
			reject(check, expected, "not in the log", "the event log does not prove the kernel command line's text (only its digest): use measured_boot.cmdline_digest")
		case !ok(f.Cmdline.Text):
			reject(check, expected, f.Cmdline.Text, "the kernel command line does not satisfy "+check)
		}
	}
	if len(m.Cmdline) > 0 {
		text(CheckBootCmdline, strings.Join(m.Cmdline, " | "), func(s string) bool { return slices.Contains(m.Cmdline, s) })
	}
	if m.CmdlinePattern != "" {
		re, err := wholeMatch(m.CmdlinePattern)
		if err != nil {
			// A policy built in Go need not have been validated.
			reject(CheckBootCmdlinePatt, "a valid regular expression", m.CmdlinePattern, "measured_boot.cmdline_pattern: "+err.Error())
		} else {
			text(CheckBootCmdlinePatt, m.CmdlinePattern, re.MatchString)
		}
	}
	if m.RequireSecureBoot {
		switch {
		case facts == nil:
			notRun(CheckBootSecureBoot, "enabled", "the secure-boot state")
		case f.SecureBoot == nil:
			reject(CheckBootSecureBoot, "enabled", "not established", "the event log does not establish the secure-boot state")
		case !f.SecureBoot.Enabled:
			reject(CheckBootSecureBoot, "enabled", "disabled", "UEFI secure boot was disabled")
		}
	}
	if len(m.RuntimeEvents) > 0 {
		if facts == nil {
			notRun(CheckBootRuntime, "only the listed runtime events", "the runtime events")
			return
		}
		for _, e := range f.Runtime {
			if !m.allows(e) {
				reject(CheckBootRuntime, "an event listed in measured_boot.runtime_events", e.Domain+" "+e.Operation+" "+e.Content,
					fmt.Sprintf("runtime event %d (%s) is not allowed", e.Event, e.Register))
			}
		}
	}
}

// allows reports whether a runtime event is one the policy lists. A
// pattern that does not compile allows nothing.
func (m *MeasuredBootReference) allows(e measuredboot.RuntimeEvent) bool {
	for _, r := range m.RuntimeEvents {
		if r.Domain != e.Domain || r.Operation != e.Operation {
			continue
		}
		if re, err := wholeMatch(r.ContentPattern); err == nil && re.MatchString(e.Content) {
			return true
		}
	}
	return false
}

// patterns holds the compiled whole-string forms of the policies'
// patterns: a policy is appraised many times, its patterns compiled once.
var patterns = lru.NewEntries[string, *regexp.Regexp](1024)

// wholeMatch compiles pattern to match whole strings only.
func wholeMatch(pattern string) (*regexp.Regexp, error) {
	if re, ok := patterns.Get(pattern); ok {
		return re, nil
	}
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if err != nil {
		return nil, err
	}
	patterns.Add(pattern, re, 0)
	return re, nil
}

// AppraisePCRs applies the vtpm section to the PCRs a vTPM quote vouches
// for; pcrs is nil when there are none (not vTPM evidence, or the chain to
// them did not verify).
func (p *Policy) AppraisePCRs(a *Appraisal, pcrs map[int][]byte) {
	v := p.VTPM
	if !v.hasValues() {
		return
	}
	var indices []int
	for k := range v.PCRs {
		i, _ := strconv.Atoi(k) // Validate made sure it is one
		indices = append(indices, i)
	}
	slices.Sort(indices)
	for _, i := range indices {
		k := strconv.Itoa(i)
		check := CheckVTPMPCRs + "[" + k + "]"
		got, ok := pcrs[i]
		switch {
		case pcrs == nil:
			a.Add(Reason{Check: check, Category: checks.Executables, State: checks.NotRun, Expected: strings.Join(v.PCRs[k], "|"), Actual: "not established",
				Message: "no PCR values a vTPM quote vouches for", Status: Contraindicated})
		case !ok:
			a.Reject(check, checks.Executables, strings.Join(v.PCRs[k], "|"), "not quoted", "the vTPM quote does not cover PCR "+k)
		case !matchHex(v.PCRs[k], hex.EncodeToString(got)):
			a.Reject(check, checks.Executables, strings.Join(v.PCRs[k], "|"), hex.EncodeToString(got), "PCR "+k+" is not one of vtpm.pcrs["+k+"]")
		}
	}
}

// categoryOf is the trust-vector claim of a measured-boot check: the
// secure-boot state is configuration, the rest the code that runs.
func categoryOf(check string) checks.Category {
	if check == CheckBootSecureBoot {
		return checks.Configuration
	}
	return checks.Executables
}
