package main

import (
	"encoding/json"
	"time"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls/inspect"
)

func newInspectCommand() *cobra.Command {
	var (
		asJSON  bool
		sni     string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "inspect [--json] SOURCE",
		Short: "Show what an RA-TLS certificate or a piece of TEE evidence contains",
		Long: `Inspect parses SOURCE and shows the certificate, every evidence item it
carries, the measurements, the claims and whether the evidence binds the
certificate's key. It verifies no signatures beyond the certificate's own:
use "ratls verify" to decide whether to trust it.

SOURCE is one of:
  - a certificate file: PEM or DER, a chain with the leaf first;
  - a raw evidence file: DCAP quote, SGX report, TDREPORT, SEV-SNP report,
    Arm CCA token, tagged-CBOR RA-TLS evidence or a CMW; binary, hex or base64;
  - host:port: a TLS server whose certificate is captured (the handshake is
    aborted once the certificate arrives; nothing is sent).

Exit status: 0 when parsed, 2 when the input is unreadable.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := inspect.Source(cmd.Context(), args[0], &inspect.Options{SNI: sni, Timeout: timeout})
			if err != nil {
				return &exitError{code: exitInput, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			writeReport(out, r)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON (fields documented in docs/cli.md)")
	cmd.Flags().StringVar(&sni, "sni", "", "server name to send when SOURCE is host:port")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "connection timeout when SOURCE is host:port")
	return cmd
}
