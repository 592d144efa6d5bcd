package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ratls/ratls/inspect"
	"github.com/ratls/ratls/verify/measuredboot"
)

// writeEventLog prints an event log's replay and facts; the events
// themselves are in the JSON output.
func writeEventLog(p *printer, l *inspect.EventLog) {
	if l == nil {
		return
	}
	p.line(1, "event log", fmt.Sprintf("%d bytes, %d events, %s (not verified)", l.Size, l.Events, strings.Join(l.Algorithms, ", ")))
	if l.Error != "" {
		p.line(2, "error", l.Error)
		return
	}
	names := make([]string, 0, len(l.Replay))
	for n := range l.Replay {
		names = append(names, n)
	}
	sortRegisters(names)
	for _, n := range names {
		p.line(2, "replay "+n, l.Replay[n])
	}
	if l.ReplaysToReport {
		p.line(2, "replays to report", "yes")
	} else {
		p.line(2, "replays to report", "NO: "+strings.Join(l.Mismatches, ", ")+" differ (verification refuses this log)")
	}
	writeFacts(p, 2, l.Facts)
}

// sortRegisters orders RTMR2 before RTMR10 and PCR9 before PCR10.
func sortRegisters(names []string) {
	sort.Slice(names, func(i, j int) bool {
		if len(names[i]) != len(names[j]) {
			return len(names[i]) < len(names[j])
		}
		return names[i] < names[j]
	})
}

func writeFacts(p *printer, indent int, f *measuredboot.Facts) {
	if f == nil {
		return
	}
	comp := func(name string, c *measuredboot.Component) {
		if c == nil {
			return
		}
		p.line(indent, name, c.Digest+" ("+c.Source+", "+c.Register+")")
		if c.Text != "" {
			p.line(indent+1, "text", c.Text)
		}
	}
	for i := range f.Firmware {
		comp("firmware", &f.Firmware[i])
	}
	for i := range f.Bootloaders {
		comp("bootloader", &f.Bootloaders[i])
	}
	comp("kernel", f.Kernel)
	comp("initrd", f.Initrd)
	comp("cmdline", f.Cmdline)
	if sb := f.SecureBoot; sb != nil {
		p.line(indent, "secure boot", map[bool]string{true: "enabled", false: "disabled"}[sb.Enabled])
	} else {
		p.line(indent, "secure boot", "not established by the log")
	}
	for _, r := range f.Runtime {
		p.line(indent, "runtime event", fmt.Sprintf("%s %s %s (%s)", r.Domain, r.Operation, r.Content, r.Register))
	}
}

// writeAzure prints the vTPM part of Azure CVM evidence.
func writeAzure(p *printer, a *inspect.AzureVTPM) {
	if a == nil {
		return
	}
	p.line(1, "azure vTPM", fmt.Sprintf("Trustee evidence version %d, HCL report version %d, %s hardware report", a.Version, a.HCLVersion, a.HardwareReport))
	if a.TDQuote != nil {
		q := a.TDQuote
		p.line(2, "TD quote", fmt.Sprintf("version %d, attestation key type %d, %d PCK chain certificates", q.Version, q.AttKeyType, len(q.PCKChain)))
	}
	bound := "NO (the report data is not its hash)"
	if a.RuntimeDataBound {
		bound = "yes"
	}
	p.line(2, "runtime data", fmt.Sprintf("%d bytes, SHA-256 %s, bound by the report data: %s", a.RuntimeDataSize, a.RuntimeDataSHA256, bound))
	if a.AttestationError != "" {
		p.line(2, "attestation key", "ERROR: "+a.AttestationError)
	} else {
		p.line(2, "attestation key", "SHA-256 "+a.AttestationKey)
	}
	c := a.VMConfiguration
	p.line(2, "VM", fmt.Sprintf("id %s, secure boot %v, TPM %v, console %v", c.VMUniqueID, c.SecureBoot, c.TPMEnabled, c.ConsoleEnabled))
	p.line(2, "tpm quote", "")
	p.fields(3, a.TPMQuote)
	p.line(3, "digest matches", fmt.Sprint(a.PCRDigestMatches))
}
