// Command ratls inspects, verifies and serves attested TLS (RA-TLS).
//
// Run "ratls help" for the commands. Exit codes: 0 success, 1 the evidence
// was rejected (verification commands), 2 unusable input or usage error.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "devel"

// defaultTimeout bounds network operations unless a flag says otherwise.
const defaultTimeout = 10 * time.Second

// Exit codes shared by all commands.
const (
	exitOK       = 0
	exitRejected = 1
	exitInput    = 2
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "ratls:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitInput // flag and argument errors
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "ratls",
		Short: "Remote attestation over TLS: inspect and verify RA-TLS certificates and TEE evidence",
		Long: `ratls reads, verifies and serves attested TLS (RA-TLS).

An RA-TLS certificate carries evidence from a trusted execution environment
(Intel SGX or TDX, AMD SEV-SNP, Arm CCA) that binds the certificate's key.
ratls understands the Interoperable RA-TLS format (Gramine, rats-tls, the
Intel SGX SDK) and the older formats still found in the wild.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newDemoCommand(),
		newInspectCommand(),
		newVerifyCommand(),
		newServeCommand(),
		newConnectCommand(),
		newCollateralCommand(),
		newSimCommand(),
		newAttestCommand(),
		newRTMRCommand(),
		newPolicyCommand(),
		newEARCommand(),
		newVerifierCommand(),
		newLoadtestCommand(),
		newVersionCommand(),
	)
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the ratls version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "ratls", version)
			return nil
		},
	}
}
