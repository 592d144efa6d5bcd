package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/detect"
	"github.com/ratls/ratls/attest/gramine"
	"github.com/ratls/ratls/attest/sevguest"
	"github.com/ratls/ratls/attest/tsm"
	"github.com/ratls/ratls/evidence"
)

type attestFlags struct {
	detect     bool
	asJSON     bool
	attester   string
	reportData string
	out        string
	hexOut     bool
	vmpl       uint
	timeout    time.Duration
}

// detectTEEInterfaces and openTEEAttester are variables so tests can run
// the command without TEE hardware.
var (
	detectTEEInterfaces = detect.Detect
	openTEEAttester     = openAttestAttester
)

func newAttestCommand() *cobra.Command {
	var f attestFlags
	cmd := &cobra.Command{
		Use:   "attest (--detect [--json] | --attester tsm|gramine|sevguest --report-data HEX [--out FILE])",
		Short: "Find this machine's TEE interfaces, or produce raw evidence inside a TEE",
		Long: `Attest has two uses.

With --detect it reports which TEE attestation interfaces this machine offers
(configfs-tsm, /dev/sev-guest, /dev/tdx_guest, Gramine's /dev/attestation,
the SGX driver) and which attester to use. When configfs-tsm is present and
ratls runs as root, it creates and removes one report entry to learn which
TEE serves it.

With --attester it runs inside the TEE and produces raw evidence whose report
data is HEX (up to 64 bytes, padded with zeros to 64):

  tsm       Linux configfs-tsm (/sys/kernel/config/tsm/report, Linux 6.7+)
            in an Intel TDX, AMD SEV-SNP or Arm CCA (Linux 6.13+) guest.
            Produces a TDX DCAP quote, an SEV-SNP report or a CCA token. TDX
            quotes need the host's quote generation service. Needs root.
  gramine   inside a Gramine SGX enclave (gramine-sgx) whose manifest sets
            sgx.remote_attestation = "dcap", with the host's AESM service and
            DCAP quote provider configured. Produces an SGX DCAP quote.
  sevguest  the SEV-SNP guest device /dev/sev-guest (Linux 5.19+), for
            kernels without configfs-tsm. Produces an SEV-SNP report. Needs
            root.

--vmpl sets the SEV-SNP VMPL recorded in the report (tsm on sev_guest, and
sevguest); under an SVSM it must be at least the guest's own VMPL.

The evidence is written to --out, or to standard output: in hex when that is
a terminal or with --hex, raw otherwise. "ratls inspect FILE" shows it.

Exit status: 0 on success, 2 when the input is unusable or no evidence could
be produced (--detect always exits 0).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAttest(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.detect, "detect", false, "report the TEE interfaces of this machine and the attester to use")
	fl.BoolVar(&f.asJSON, "json", false, "with --detect: print JSON")
	fl.StringVar(&f.attester, "attester", "", "tsm, gramine or sevguest")
	fl.StringVar(&f.reportData, "report-data", "", "report data, up to 64 bytes in hex (required with --attester)")
	fl.StringVar(&f.out, "out", "", "write the raw evidence to this file")
	fl.BoolVar(&f.hexOut, "hex", false, "write hex to standard output even when it is not a terminal")
	fl.UintVar(&f.vmpl, "vmpl", 0, "SEV-SNP VMPL to put in the report, 0-3 (tsm on SEV-SNP, sevguest)")
	fl.DurationVar(&f.timeout, "timeout", time.Minute, "give up producing evidence after this long")
	return cmd
}

func runAttest(cmd *cobra.Command, f *attestFlags) error {
	if f.detect {
		if f.attester != "" || f.reportData != "" || f.out != "" || f.hexOut || cmd.Flags().Changed("vmpl") {
			return inputErr("--detect takes no --attester, --report-data, --out, --hex or --vmpl")
		}
		return runAttestDetect(cmd.OutOrStdout(), f.asJSON)
	}
	if f.asJSON {
		return inputErr("--json applies only to --detect")
	}
	if f.attester == "" {
		return inputErr("give --detect, or --attester with --report-data")
	}
	if f.reportData == "" {
		return inputErr("--report-data is required with --attester")
	}
	rd, err := decodeHexFlag("--report-data", f.reportData, 1, 64)
	if err != nil {
		return err
	}
	var reportData [64]byte
	copy(reportData[:], rd)

	var vmpl *uint
	if cmd.Flags().Changed("vmpl") {
		vmpl = &f.vmpl
	}
	att, err := openTEEAttester(f.attester, vmpl)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	ctx, cancel := context.WithTimeout(cmdContext(cmd), f.timeout)
	defer cancel()
	ev, err := att.Attest(ctx, reportData)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	return writeAttestEvidence(cmd, f, ev)
}

// openAttestAttester builds the named hardware attester.
func openAttestAttester(name string, vmpl *uint) (ratls.Attester, error) {
	switch name {
	case detect.AttesterTSM:
		return tsm.New(tsm.Options{Privilege: vmpl})
	case detect.AttesterGramine:
		if vmpl != nil {
			return nil, fmt.Errorf("--vmpl is an SEV-SNP setting; it does not apply to --attester gramine")
		}
		return gramine.New(gramine.Options{})
	case detect.AttesterSEVGuest:
		o := sevguest.Options{}
		if vmpl != nil {
			o.VMPL = *vmpl
		}
		return sevguest.New(o)
	}
	return nil, fmt.Errorf("--attester: want tsm, gramine or sevguest, got %q (run \"ratls attest --detect\" to see what this machine offers)", name)
}

func writeAttestEvidence(cmd *cobra.Command, f *attestFlags, ev *evidence.Evidence) error {
	w := cmd.OutOrStdout()
	what := fmt.Sprintf("%d-byte evidence (CBOR tag %d)", len(ev.Data), ev.Tag)
	if info, ok := evidence.LookupTag(ev.Tag); ok {
		what = fmt.Sprintf("%d-byte %s (CBOR tag %d, %s)", len(ev.Data), info.Kind, ev.Tag, info.Name)
	}
	switch {
	case f.out != "":
		if err := os.WriteFile(f.out, ev.Data, 0o644); err != nil {
			return &exitError{code: exitInput, err: err}
		}
		fmt.Fprintf(w, "Wrote a %s to %s\n", what, f.out)
	case f.hexOut || isTerminal(w):
		fmt.Fprintln(w, hex.EncodeToString(ev.Data))
		fmt.Fprintf(cmd.ErrOrStderr(), "ratls: %s, in hex (use --out FILE or redirect for the raw bytes)\n", what)
	default:
		if _, err := w.Write(ev.Data); err != nil {
			return err
		}
	}
	return nil
}

// attestDetectJSON is the --detect --json output.
type attestDetectJSON struct {
	Interfaces []detect.Interface `json:"interfaces"`
	// Recommended is the --attester to use, or "" when none applies.
	Recommended string `json:"recommended_attester"`
}

func runAttestDetect(w io.Writer, asJSON bool) error {
	ifaces := detectTEEInterfaces()
	rec := detect.Recommend(ifaces)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(attestDetectJSON{Interfaces: ifaces, Recommended: rec})
	}
	p := &printer{w: w}
	fmt.Fprintln(w, "TEE attestation interfaces on this machine")
	for _, i := range ifaces {
		p.section(i.Name)
		p.line(1, "path", i.Path)
		avail := "no"
		if i.Available {
			avail = "yes"
		}
		p.line(1, "available", avail)
		if i.Attester != "" {
			p.line(1, "attester", i.Attester)
		}
		p.line(1, "detail", i.Detail)
	}
	p.section("Recommendation")
	if rec == "" {
		p.line(1, "attester", "none: no interface here can produce evidence that ratls can use")
	} else {
		p.line(1, "attester", fmt.Sprintf("%s (ratls attest --attester %s --report-data HEX)", rec, rec))
	}
	return nil
}
