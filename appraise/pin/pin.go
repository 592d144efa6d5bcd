// Package pin writes a policy that pins what a known-good machine's
// evidence shows — its measurements, and for confidential VMs the facts of
// its event log and its vTPM PCRs — with an explanation of every value.
//
// A policy is strict JSON: keys are exact and there are no comments (a
// comment convention would be a key the strict reader must refuse). So the
// explanation is a separate Markdown document, written beside the policy:
// a person reads both, checks the values against what they built and
// deployed, and commits both. Nothing here is trusted on first use: the
// values are copied from evidence this package does not verify (run
// "ratls verify --policy FILE EVIDENCE" before committing), except that an
// event log must replay to the registers of the report it came with.
package pin

import (
	"crypto/sha256"
	"encoding/hex"

	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/eventlog"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/verify/measuredboot"
)

// Note explains one pinned value.
type Note struct {
	Key   string // the policy key, e.g. measured_boot.kernel
	Value string
	What  string // what it is and where it comes from
}

// Result is a pinned policy and its explanation.
type Result struct {
	Policy *appraise.Policy
	Notes  []Note
	// Warnings are things the reviewer must know (values left unpinned).
	Warnings []string
}

// FromEvidence pins the evidence item's measurements. raw is the evidence
// as read (for the policy's ID).
func FromEvidence(item *evidence.Item, raw []byte) (*Result, error) {
	sum := sha256.Sum256(raw)
	r := &Result{Policy: &appraise.Policy{ID: "pinned-" + hex.EncodeToString(sum[:6])}}
	switch {
	case item.Quote != nil && item.Quote.TD != nil:
		td := item.Quote.TD
		r.pinTDX(td, "the TD quote")
		if item.EventLog != nil {
			if err := r.pinLog(item.EventLog, measuredboot.TDX(td.RTMR)); err != nil {
				return nil, err
			}
		} else {
			r.pinRTMRs(td)
		}
	case item.Quote != nil:
		s := item.Quote.SGX
		r.Policy.SGX = &appraise.SGXReference{MREnclave: []string{hex.EncodeToString(s.MREnclave[:])}, MRSigner: []string{hex.EncodeToString(s.MRSigner[:])}}
		r.note("sgx.mrenclave", hex.EncodeToString(s.MREnclave[:]), "MRENCLAVE: the enclave's code and initial data; changes with every build")
		r.note("sgx.mrsigner", hex.EncodeToString(s.MRSigner[:]), "MRSIGNER: the hash of the enclave signing key")
	case item.SNP != nil:
		r.pinSNP(item)
	case item.Azure != nil:
		if err := r.pinAzure(item); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("pin: %s %s evidence: only SGX and TDX quotes, SEV-SNP reports and Azure vTPM evidence can be pinned", item.TEE, item.Kind)
	}
	return r, nil
}

func (r *Result) note(key, value, what string) { r.Notes = append(r.Notes, Note{key, value, what}) }

func (r *Result) pinTDX(td *quote.TDReportBody, from string) {
	v := hex.EncodeToString(td.MRTD[:])
	r.Policy.TDX = &appraise.TDXReference{MRTD: []string{v}}
	r.note("tdx.mrtd", v, "MRTD of "+from+": the TD's initial firmware (TDVF/OVMF or td-shim) and its memory; changes when the firmware image does")
}

func (r *Result) pinRTMRs(td *quote.TDReportBody) {
	for i := 0; i < 3; i++ {
		v := hex.EncodeToString(td.RTMR[i][:])
		switch i {
		case 0:
			r.Policy.TDX.RTMR0 = []string{v}
		case 1:
			r.Policy.TDX.RTMR1 = []string{v}
		case 2:
			r.Policy.TDX.RTMR2 = []string{v}
		}
		r.note(fmt.Sprintf("tdx.rtmr%d", i), v, []string{
			"RTMR0: firmware configuration (TD HOB, ACPI tables, UEFI variables, secure-boot databases)",
			"RTMR1: the OS loader and kernel (boot applications)",
			"RTMR2: the kernel command line, initrd and OS-loader configuration",
		}[i]+". No event log came with the evidence, so the registers are pinned as values: they change with every kernel or configuration update")
	}
	r.Warnings = append(r.Warnings, "RTMR3 is not pinned: it holds runtime measurements, which differ between runs")
}

func (r *Result) pinSNP(item *evidence.Item) {
	rep := item.SNP
	if item.Azure != nil {
		rep = item.Azure.HCL.SNP
	}
	m := hex.EncodeToString(rep.Measurement[:])
	t := rep.ReportedTCB
	r.Policy.SNP = &appraise.SNPReference{Measurement: []string{m},
		MinTCB: &appraise.SNPTCB{Bootloader: t.BootloaderSPL(), TEE: t.TEESPL(), SNP: t.SNPSPL(), Microcode: t.MicrocodeSPL()}}
	what := "MEASUREMENT: the guest's launch digest (its initial firmware and memory)"
	if item.Azure != nil {
		what = "MEASUREMENT of the Azure paravisor (HCL) firmware, which provides the vTPM: pin it, or anyone able to launch another paravisor could fake the vTPM; it changes when Azure updates the paravisor"
	}
	r.note("sev_snp.measurement", m, what)
	r.note("sev_snp.min_tcb", fmt.Sprintf("bootloader %d, tee %d, snp %d, microcode %d", t.BootloaderSPL(), t.TEESPL(), t.SNPSPL(), t.MicrocodeSPL()),
		"the REPORTED_TCB of this report as the minimum: older firmware or microcode is refused; raise it as AMD publishes fixes")
	if hd := rep.HostData; hd != [32]byte{} {
		r.Policy.SNP.HostData = []string{hex.EncodeToString(hd[:])}
		r.note("sev_snp.host_data", hex.EncodeToString(hd[:]), "HOST_DATA the host gave at launch")
	}
}

func (r *Result) pinAzure(item *evidence.Item) error {
	ev := item.Azure
	if ev.TDQuote != nil {
		r.pinTDX(ev.TDQuote.TD, "the TD quote (the Azure paravisor's firmware, which provides the vTPM)")
	} else {
		r.pinSNP(item)
	}
	pcrs := map[string][]string{}
	pinned := []int{0, 1, 2, 3, 4, 5, 6, 7}
	if ev.EventLog == nil {
		pinned = append(pinned, 8, 9)
	}
	what := map[int]string{
		0: "firmware code (UEFI)", 1: "firmware configuration", 2: "option ROM code", 3: "option ROM configuration",
		4: "boot applications (shim, GRUB, the EFI-stub kernel)", 5: "GPT and boot configuration", 6: "platform events",
		7: "secure-boot policy: SecureBoot, PK, KEK, db, dbx and the certificates that verified the boot applications",
		8: "GRUB commands and the kernel command line", 9: "files GRUB read (kernel, initrd, configuration)",
	}
	for _, i := range pinned {
		v := ev.Quote.PCRValue(i)
		if v == nil {
			continue
		}
		k := strconv.Itoa(i)
		pcrs[k] = []string{hex.EncodeToString(v)}
		r.note("vtpm.pcrs["+k+"]", hex.EncodeToString(v), "PCR "+k+": "+what[i])
	}
	r.Policy.VTPM = &appraise.VTPMReference{PCRs: pcrs}
	r.Warnings = append(r.Warnings, "PCR 10 (IMA) and PCRs 11-23 are not pinned: they vary between boots or hold nothing")
	if ev.EventLog != nil {
		selected := make(map[int][]byte, len(ev.Quote.Selected))
		for i, idx := range ev.Quote.Selected {
			selected[idx] = ev.Quote.PCRs[i]
		}
		return r.pinLog(ev.EventLog, measuredboot.PCRSet(eventlog.SHA256, selected))
	}
	return nil
}

// pinLog pins the facts of an event log that replays to bank.
func (r *Result) pinLog(log []byte, bank measuredboot.Bank) error {
	l, err := eventlog.Parse(log)
	if err != nil {
		return fmt.Errorf("pin: event log: %w", err)
	}
	res, err := measuredboot.Verify(l, nil, bank)
	if err != nil {
		return fmt.Errorf("pin: %w (refusing to pin a log that is not what the machine measured)", err)
	}
	f := res.Facts()
	m := &appraise.MeasuredBootReference{}
	alg := f.Algorithm
	for _, c := range f.Firmware {
		m.Firmware = append(m.Firmware, c.Digest)
		r.note("measured_boot.firmware", c.Digest, fmt.Sprintf("%s digest of firmware %s (%s)", alg, c.Source, c.Register))
	}
	for _, c := range f.Bootloaders {
		m.Bootloaders = append(m.Bootloaders, c.Digest)
		r.note("measured_boot.bootloaders", c.Digest, fmt.Sprintf("%s Authenticode digest of the boot application %s (%s)", alg, c.Source, c.Register))
	}
	if c := f.Kernel; c != nil {
		m.Kernel = []string{c.Digest}
		r.note("measured_boot.kernel", c.Digest, fmt.Sprintf("%s digest of the kernel, from %s (%s); changes with every kernel update", alg, c.Source, c.Register))
	} else {
		r.Warnings = append(r.Warnings, "the log establishes no kernel: measured_boot.kernel is not pinned")
	}
	if c := f.Initrd; c != nil {
		m.Initrd = []string{c.Digest}
		r.note("measured_boot.initrd", c.Digest, fmt.Sprintf("%s digest of the initrd, from %s (%s)", alg, c.Source, c.Register))
	}
	if c := f.Cmdline; c != nil {
		if c.Text != "" {
			m.Cmdline = []string{c.Text}
			r.note("measured_boot.cmdline", c.Text, "the kernel command line, exactly, as "+c.Source+" measured it; replace by cmdline_pattern to allow variations")
		} else {
			m.CmdlineDigest = []string{c.Digest}
			r.note("measured_boot.cmdline_digest", c.Digest, "the measurement of the kernel command line by "+c.Source+" (the log does not carry its text)")
		}
	}
	if sb := f.SecureBoot; sb != nil && sb.Enabled {
		m.RequireSecureBoot = true
		r.note("measured_boot.require_secure_boot", "true", "UEFI secure boot was enabled (SecureBoot variable = 1)")
	} else {
		r.Warnings = append(r.Warnings, "secure boot was not enabled (or not measured): require_secure_boot is not set")
	}
	for _, e := range f.Runtime {
		ref := appraise.RuntimeEventReference{Domain: e.Domain, Operation: e.Operation, ContentPattern: regexp.QuoteMeta(e.Content)}
		m.RuntimeEvents = append(m.RuntimeEvents, ref)
		r.note("measured_boot.runtime_events", e.Domain+" "+e.Operation+" "+e.Content, "a runtime event ("+e.Register+"): only listed events are allowed; loosen content_pattern for events whose content varies")
	}
	r.Policy.MeasuredBoot = m
	return nil
}

// Markdown renders the explanation for a reviewer.
func (r *Result) Markdown(policyFile, source string, raw []byte) string {
	sum := sha256.Sum256(raw)
	var b strings.Builder
	fmt.Fprintf(&b, "# Policy `%s`: what each value pins\n\n", r.Policy.ID)
	fmt.Fprintf(&b, "Written by `ratls policy init` from `%s` (SHA-256 `%x`). The values are copied\n", source, sum)
	b.WriteString("from that evidence **without verifying it**: check that it comes from the machine you\n")
	b.WriteString("built, that each value below is what you expect, and that\n")
	fmt.Fprintf(&b, "`ratls verify --policy %s %s` accepts it, before you commit both files.\n\n", policyFile, source)
	b.WriteString("| key | value | what it is |\n|---|---|---|\n")
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", n.Key, strings.ReplaceAll(n.Value, "|", `\|`), strings.ReplaceAll(n.What, "|", `\|`))
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\nNot pinned:\n\n")
		for _, w := range r.Warnings {
			b.WriteString("- " + w + "\n")
		}
	}
	return b.String()
}
