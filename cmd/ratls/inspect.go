package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls/inspect"
)

func newInspectCommand() *cobra.Command {
	var (
		asJSON  bool
		sni     string
		timeout time.Duration
		extract string
	)
	cmd := &cobra.Command{
		Use:   "inspect [--json] SOURCE | inspect --extract quote|report|token|claims SOURCE FILE",
		Short: "Show what an RA-TLS certificate, TEE evidence or collateral contains",
		Long: `Inspect parses SOURCE and shows the certificate (every X.509 field, as
openssl x509 -text does, and the SGX extensions of PCK certificates), every
evidence item it carries, the measurements, the claims and whether the
evidence binds the certificate's key. It verifies no signatures beyond the
certificates' own: use "ratls verify" to decide whether to trust it.

SOURCE is one of:
  - a certificate file: PEM or DER, a chain with the leaf first;
  - a raw evidence file: DCAP quote, SGX report, TDREPORT, SEV-SNP report,
    Arm CCA token, tagged-CBOR RA-TLS evidence or a CMW; binary, hex or base64;
  - collateral: a TCB Info, QE Identity, CRL, dcap-qvl or PCCS collateral
    file, or a directory of them;
  - host:port: a TLS server whose certificate is captured (the handshake is
    aborted once the certificate arrives; nothing is sent).

--extract writes one piece of the evidence to FILE ("-" for standard
output), as the TEE produced it: the DCAP quote, the SEV-SNP report (or
TDREPORT, SGX report), the Arm CCA token, or the claims buffer whose hash
the report data holds. Those files are again SOURCEs for inspect and
verify, and inputs for other tools.

Exit status: 0 when parsed, 2 when the input is unreadable.`,
		Example: `  ratls inspect cert.pem
  ratls inspect --json example.com:443
  ratls inspect --extract quote cert.pem quote.bin
  ratls inspect coll/`,
		Args: func(cmd *cobra.Command, args []string) error {
			if extract != "" {
				return cobra.ExactArgs(2)(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := inspect.Source(cmd.Context(), args[0], &inspect.Options{SNI: sni, Timeout: timeout})
			if err != nil {
				return &exitError{code: exitInput, err: err}
			}
			if extract != "" {
				return runExtract(cmd, r, extract, args[0], args[1])
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
	cmd.Flags().StringVar(&extract, "extract", "", "write this part of the evidence to FILE: "+strings.Join(inspect.ExtractKinds, ", "))
	return cmd
}

// runExtract writes one part of the evidence of source to file.
func runExtract(cmd *cobra.Command, r *inspect.Report, kind, source, file string) error {
	b, err := inspect.Extract(r, kind, source)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	if file == "-" {
		_, err := cmd.Root().OutOrStdout().Write(b) // the data, whatever -o and -q say
		return err
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return &exitError{code: exitInput, err: err}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote the %s (%d bytes) to %s\n", kind, len(b), file)
	return nil
}
