package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls/attest/rtmr"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/eventlog"
	"github.com/ratls/ratls/verify/measuredboot"
)

type rtmrFlags struct {
	sysfs, log, ccel, register string
	domain, operation, content string
	quote, out                 string
}

func newRTMRCommand() *cobra.Command {
	var f rtmrFlags
	cmd := &cobra.Command{
		Use:   "rtmr",
		Short: "Extend a confidential VM's runtime measurement registers and keep their event log",
		Long: `Rtmr runs inside a TDX confidential VM (Linux 6.16+, whose tdx_guest driver
exposes the measurement registers in ` + rtmr.DefaultRoot + `).

  list      show the registers, and whether the CC event log (firmware log
            plus runtime log) replays to RTMR0..3
  extend    record an application event "DOMAIN OPERATION CONTENT": append
            it to the runtime event log, then extend the register (RTMR3 by
            default) with its SHA-384
  eventlog  write the CC event log a verifier replays: the firmware's CCEL
            followed by the runtime events
  evidence  wrap a TDX quote ("ratls attest --attester tsm --out FILE") and
            that event log as Trustee's TDX evidence JSON, which "ratls
            verify", "ratls inspect" and the verifier service accept

The runtime log holds TCG_PCR_EVENT2 records (EV_IPL, register index 4 =
RTMR3) whose data is the entry and whose digest its SHA-384; see
docs/cvm.md. Extending needs root.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.sysfs, "sysfs", rtmr.DefaultRoot, "measurement-register directory")
	pf.StringVar(&f.log, "log", rtmr.DefaultLog, "runtime event log")
	pf.StringVar(&f.ccel, "ccel", rtmr.DefaultCCEL, "the firmware's CC event log (\"\" for none)")

	list := &cobra.Command{Use: "list", Short: "Show the registers and whether the event log replays to them", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRTMRList(cmd.OutOrStdout(), &f) }}
	extend := &cobra.Command{Use: "extend --domain DOMAIN --operation OPERATION --content CONTENT", Short: "Record an application event in the log and a runtime register", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRTMRExtend(cmd.OutOrStdout(), &f) }}
	xf := extend.Flags()
	xf.StringVar(&f.register, "register", "rtmr3", "register to extend")
	xf.StringVar(&f.domain, "domain", "", "event domain, a URI without white space (required)")
	xf.StringVar(&f.operation, "operation", "", "operation, without white space (required)")
	xf.StringVar(&f.content, "content", "", "content, one line")
	el := &cobra.Command{Use: "eventlog [--out FILE]", Short: "Write the CC event log with the runtime events", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRTMREventLog(cmd.OutOrStdout(), &f) }}
	el.Flags().StringVar(&f.out, "out", "", "write here instead of standard output")
	ev := &cobra.Command{Use: "evidence --quote FILE [--out FILE]", Short: "Wrap a TDX quote and the event log as Trustee TDX evidence JSON", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRTMREvidence(cmd.OutOrStdout(), &f) }}
	ev.Flags().StringVar(&f.quote, "quote", "", "the TDX quote (required)")
	ev.Flags().StringVar(&f.out, "out", "", "write here instead of standard output")
	cmd.AddCommand(list, extend, el, ev)
	return cmd
}

func runRTMRExtend(w io.Writer, f *rtmrFlags) error {
	if f.domain == "" || f.operation == "" {
		return inputErr("--domain and --operation are required")
	}
	x, err := rtmr.NewExtender(rtmr.Dir(f.sysfs), f.register, f.log)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	e, err := x.Extend(f.domain, f.operation, f.content)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	fmt.Fprintf(w, "Extended %s with %s (%q), logged in %s\n", e.Register, hex.EncodeToString(e.Digest), e.Entry, f.log)
	return nil
}

// readOptional reads a file, nil when path is "" or the file does not
// exist.
func readOptional(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func combinedLog(f *rtmrFlags) ([]byte, error) {
	ccel, err := readOptional(f.ccel)
	if err != nil {
		return nil, err
	}
	runtime, err := readOptional(f.log)
	if err != nil {
		return nil, err
	}
	return rtmr.EventLog(ccel, runtime)
}

func runRTMRList(w io.Writer, f *rtmrFlags) error {
	fs := rtmr.Dir(f.sysfs)
	regs, err := rtmr.Registers(fs)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	p := &printer{w: w}
	var bank [4][48]byte
	haveRTMRs := 0
	for i := range regs {
		r := &regs[i]
		v, err := fs.Read(r.File)
		if err != nil {
			p.line(0, r.File, "unreadable: "+err.Error())
			continue
		}
		mode := "read-only"
		if r.Writable {
			mode = "writable"
		}
		p.line(0, r.File, hex.EncodeToString(v)+" ("+mode+")")
		if idx := r.Index(); idx > 0 && r.Alg == eventlog.SHA384 && len(v) == 48 {
			copy(bank[idx-1][:], v)
			haveRTMRs++
		}
	}
	log, err := combinedLog(f)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	if log == nil || haveRTMRs != 4 {
		p.line(0, "event log", "none to replay")
		return nil
	}
	l, err := eventlog.Parse(log)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	if _, err := measuredboot.Verify(l, nil, measuredboot.TDX(bank)); err != nil {
		p.line(0, "event log", fmt.Sprintf("%d events, does NOT replay: %v", len(l.Events), err))
		return &exitError{code: exitRejected, err: errors.New("the event log does not replay to the registers")}
	}
	p.line(0, "event log", fmt.Sprintf("%d events, replays to RTMR0..3", len(l.Events)))
	return nil
}

func writeOut(w io.Writer, path string, b []byte) error {
	if path == "" {
		_, err := w.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func runRTMREventLog(w io.Writer, f *rtmrFlags) error {
	log, err := combinedLog(f)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	if log == nil {
		return inputErr("neither %s nor %s exists", f.ccel, f.log)
	}
	return writeOut(w, f.out, log)
}

func runRTMREvidence(w io.Writer, f *rtmrFlags) error {
	if f.quote == "" {
		return inputErr("--quote is required")
	}
	q, err := os.ReadFile(f.quote)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	log, err := combinedLog(f)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	return writeOut(w, f.out, append(evidence.TrusteeTDX(q, log), '\n'))
}
