package main

import (
	"context"
	"os"
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ratls/ratls/inspect"
	"github.com/ratls/ratls/service/api"
)

// remoteInput reads the evidence for --verifier: detected from SOURCE, or
// with --media-type the file's bytes as they are (a configfs-tsm report,
// say, which ratls does not parse itself).
func (f *verifyFlags) remoteInput(ctx context.Context, source string) (*inspect.Report, string, []byte, error) {
	if f.mediaType != "" {
		if !slices.Contains(api.EvidenceMedia, f.mediaType) {
			return nil, "", nil, inputErr("--media-type: want one of %q, got %q", api.EvidenceMedia, f.mediaType)
		}
		b, err := os.ReadFile(source)
		if err != nil {
			return nil, "", nil, inputErr("%v", err)
		}
		return &inspect.Report{Source: inspect.SourceEvidence, Input: source}, f.mediaType, b, nil
	}
	report, err := inspect.Source(ctx, source, &inspect.Options{SNI: f.sni, Timeout: f.timeout})
	if err != nil {
		return nil, "", nil, &exitError{code: exitInput, err: err}
	}
	mt, body, err := remoteEvidence(source, report)
	return report, mt, body, err
}

// flagValues are the values shells complete for flags, by flag name; a
// command may narrow them (flagValuesOf).
var flagValues = map[string][]string{
	"tee":         {"sgx", "tdx"},
	"attester":    {"sim", "tsm", "gramine", "sevguest"},
	"update":      {"standard", "early"},
	"ca":          {"processor", "platform"},
	"amd-product": {"Milan", "Genoa", "Turin"},
	"signing-key": {"vcek", "vlek"},
	"extract":     inspect.ExtractKinds,
	"output":      outputFormats,
	"log-level":   {"debug", "info", "warn", "error"},
	"role":        {"read", "write", "admin"},
	"media-type":  api.EvidenceMedia,
}

// flagValuesOf is flagValues for one command's flag.
func flagValuesOf(cmd *cobra.Command, flag string) []string {
	if flag == "tee" && cmd.CommandPath() == "ratls collateral fetch" {
		return []string{"sgx", "tdx", teeSNP}
	}
	return flagValues[flag]
}

// Flags that name files (with the extensions shells offer first) and
// directories.
var (
	fileFlags = map[string][]string{
		"policy": {"json"}, "config": {"json"}, "trust-root": {"pem", "crt", "cer"}, "pck-chain": {"pem"},
		"cca-cpak": {"pem"}, "key": {"pem"}, "tls-cert": {"pem", "crt"}, "tls-key": {"pem", "key"},
		"save-chain": {"pem"}, "cpuprofile": {}, "jwks": {"json"}, "collateral": {},
	}
	dirFlags = []string{"sim-dir", "amd-certs", "cache-dir", "dir"}
)

// registerCompletions makes shells complete the values of every command's
// flags: fixed choices, files, directories. Arguments complete as files
// (cobra's default).
func registerCompletions(root *cobra.Command) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			name := fl.Name
			switch {
			case flagValuesOf(c, name) != nil:
				values := flagValuesOf(c, name)
				_ = c.RegisterFlagCompletionFunc(name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
					return values, cobra.ShellCompDirectiveNoFileComp
				})
			case fileFlags[name] != nil:
				_ = c.MarkFlagFilename(name, fileFlags[name]...)
			case slices.Contains(dirFlags, name):
				_ = c.MarkFlagDirname(name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
