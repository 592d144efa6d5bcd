// Command ratls inspects, verifies and serves attested TLS (RA-TLS).
//
// Run "ratls help" for the commands. Exit codes: 0 success, 1 the evidence
// was rejected (verification commands), 2 unusable input or usage error.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=..."; by
// default it is the module version Go recorded (see buildVersion).
var version = ""

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
	return runWith(context.Background(), args, nil, stdout, stderr)
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
		Version:       versionLine(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("{{.Version}}\n")
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
		newExploreCommand(),
		newLoadtestCommand(),
		newVersionCommand(),
	)
	return root
}

func newVersionCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the ratls version: module version, VCS revision, Go version",
		Long: `Version prints what "ratls --version" prints: the module version, the VCS
revision the binary was built from (with "modified" when the work tree had
changes) and the Go version.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				return writeJSONReport(cmd.OutOrStdout(), buildVersion())
			}
			fmt.Fprintln(cmd.OutOrStdout(), versionLine())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version as JSON")
	return cmd
}
