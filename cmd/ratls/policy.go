package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/appraise/pin"
	"github.com/ratls/ratls/inspect"
)

func newPolicyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Write appraisal policies"}
	var from, out string
	initCmd := &cobra.Command{
		Use:   "init --from EVIDENCE [--out FILE]",
		Short: "Write a policy pinning what a known-good machine's evidence shows",
		Long: `Init reads evidence (any form "ratls inspect" reads: a quote, a report, Trustee's
TDX or Azure vTPM evidence JSON, an RA-TLS certificate) and writes a policy
that pins its measurements: MRTD or the SEV-SNP measurement and TCB, and for
confidential VMs the facts of the event log (firmware, bootloaders, kernel,
initrd, command line, secure boot, runtime events) and the vTPM's PCRs.

A policy is strict JSON without comments, so every value is explained in a
second file, FILE.md (standard error without --out). Nothing is trusted on
first use: the evidence is not verified here (an event log must replay to its
report, nothing more). Review both files, run "ratls verify --policy FILE
EVIDENCE", and commit them.

Exit status: 0 when written, 2 when the evidence is unreadable or cannot be
pinned.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPolicyInit(cmd.OutOrStdout(), cmd.ErrOrStderr(), from, out)
		},
	}
	initCmd.Flags().StringVar(&from, "from", "", "the evidence of a known-good machine (required)")
	initCmd.Flags().StringVar(&out, "out", "", "write the policy here and its explanation to FILE.md")
	cmd.AddCommand(initCmd)
	return cmd
}

func runPolicyInit(stdout, stderr io.Writer, from, out string) error {
	if from == "" {
		return inputErr("--from is required")
	}
	raw, err := os.ReadFile(from)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	rep, err := inspect.File(from)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	if len(rep.Items) == 0 {
		return inputErr("%s: no evidence", from)
	}
	res, err := pin.FromEvidence(rep.Items[0], raw)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	b, err := json.MarshalIndent(res.Policy, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	// What is written must be what the strict reader accepts.
	if _, err := appraise.ReadPolicy(bytes.NewReader(b)); err != nil {
		return fmt.Errorf("the pinned policy does not read back: %w", err)
	}
	if out == "" {
		fmt.Fprint(stderr, res.Markdown("POLICY.json", from, raw))
		_, err := stdout.Write(b)
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return &exitError{code: exitInput, err: err}
	}
	if err := os.WriteFile(out+".md", []byte(res.Markdown(out, from, raw)), 0o644); err != nil {
		return &exitError{code: exitInput, err: err}
	}
	fmt.Fprintf(stdout, "Wrote %s (%d values pinned) and its explanation %s.md: review both before committing them\n", out, len(res.Notes), out)
	return nil
}
