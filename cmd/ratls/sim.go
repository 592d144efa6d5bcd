package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls/attest/sim"
)

// simWarning is printed wherever simulated material is produced.
const simWarning = "WARNING: simulated evidence proves nothing about hardware: anyone with sim.json can make any quote. Trust root.pem only in development."

func newSimCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulated SGX/TDX for development: a test root, collateral and quotes (no hardware protection)",
		Long: `Sim manages a simulated Intel TEE so that the whole RA-TLS path can be
exercised without SGX or TDX hardware. A simulation is a directory made by
"ratls sim init": a seed from which every simulated key is derived
(sim.json), the simulation root CA (root.pem) and the matching collateral
(sgx/ and tdx/). "ratls sim quote" produces correctly signed quotes under it,
and "ratls verify --trust-root DIR/root.pem --collateral DIR/tdx" verifies
them.

` + simWarning,
	}
	cmd.AddCommand(newSimInitCommand(), newSimQuoteCommand())
	return cmd
}

func newSimInitCommand() *cobra.Command {
	var seedHex, at string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "init [flags] DIR",
		Short: "Create a simulated TEE in DIR: sim.json, root.pem and collateral in sgx/ and tdx/",
		Long: `Init creates DIR (mode 0700) and writes:

  sim.json   the seed and reference time the simulation is derived from (0600)
  root.pem   the simulation root CA, to pass to verifiers with --trust-root
  sgx/       collateral of the simulated SGX platform, for --collateral
  tdx/       collateral of the simulated TDX platform, for --collateral

Quotes evaluate to TCB status UpToDate; the collateral is valid from a day
before the reference time (--at, default now) until --validity after it. The
same --seed and --at always give the same root and collateral. Init refuses to
overwrite an existing sim.json.

` + simWarning,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSimInit(cmd.OutOrStdout(), args[0], seedHex, at, validity)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&seedHex, "seed", "", "seed, 64 hex digits (default: random)")
	fl.StringVar(&at, "at", "", "reference time, RFC 3339 (default: now)")
	fl.DurationVar(&validity, "validity", sim.DefaultValidity, "how long after the reference time the collateral is valid")
	return cmd
}

func runSimInit(w io.Writer, dir, seedHex, at string, validity time.Duration) error {
	opts := sim.InitOptions{Validity: validity}
	if seedHex != "" {
		seed, err := hex.DecodeString(seedHex)
		if err != nil || len(seed) != sim.SeedSize {
			return inputErr("--seed: want %d hex digits, got %q", 2*sim.SeedSize, seedHex)
		}
		opts.Seed = seed
	}
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return inputErr("--at: want an RFC 3339 time such as 2025-07-19T10:00:00Z: %v", err)
		}
		opts.Now = t
	}
	if validity <= 0 || validity > sim.MaxValidity {
		return inputErr("--validity: want more than 0 and at most %v, got %v", sim.MaxValidity, validity)
	}
	if err := sim.Init(dir, opts); err != nil {
		return &exitError{code: exitInput, err: err}
	}
	s, err := sim.Load(dir)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	spki := sha256.Sum256(s.Root().RawSubjectPublicKeyInfo)
	until := s.Now().Add(s.Validity()).Format(time.RFC3339)
	fmt.Fprintf(w, "Created a simulated TEE in %s\n", dir)
	fmt.Fprintf(w, "  %-9s  seed and reference time %s (keep it private: every simulated key derives from it)\n", sim.StateFile, s.Now().Format(time.RFC3339))
	fmt.Fprintf(w, "  %-9s  %q, key SHA-256 %x\n", sim.RootFile, s.Root().Subject.CommonName, spki)
	fmt.Fprintf(w, "  %-9s  SGX collateral, valid until %s\n", "sgx/", until)
	fmt.Fprintf(w, "  %-9s  TDX collateral, valid until %s\n", "tdx/", until)
	fmt.Fprintln(w)
	fmt.Fprintln(w, simWarning)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Make a quote and verify it:")
	fmt.Fprintf(w, "  ratls sim quote --dir %s --tee tdx --report-data 00 --out quote.bin\n", dir)
	fmt.Fprintf(w, "  ratls verify --trust-root %s --collateral %s quote.bin\n", filepath.Join(dir, sim.RootFile), filepath.Join(dir, "tdx"))
	fmt.Fprintln(w, "Verify an RA-TLS certificate made with the simulated attester (attest/sim):")
	fmt.Fprintf(w, "  ratls verify --trust-root %s --collateral %s cert.pem\n", filepath.Join(dir, sim.RootFile), filepath.Join(dir, "tdx"))
	return nil
}

type simQuoteFlags struct {
	dir, tee, reportData, out string
	hexOut, debug             bool
	mrenclave, mrsigner, mrtd string
}

func newSimQuoteCommand() *cobra.Command {
	var f simQuoteFlags
	cmd := &cobra.Command{
		Use:   "quote --dir DIR --tee sgx|tdx --report-data HEX [flags]",
		Short: "Produce a simulated SGX (v3) or TDX (v4) quote",
		Long: `Quote produces a correctly signed quote of the simulation in --dir: an SGX
version 3 or TDX version 4 quote with the given report data (up to 64 bytes
in hex, padded with zeros) and measurements (defaults: MRENCLAVE
SHA-256("ratls simulated enclave"), MRSIGNER SHA-256("ratls simulated enclave
signer"), MRTD SHA-384("ratls simulated TD")).

The quote is written to --out, or to standard output: in hex when that is a
terminal or with --hex, raw otherwise.

` + simWarning,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSimQuote(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", "", "simulation directory made by ratls sim init (required)")
	fl.StringVar(&f.tee, "tee", "", "sgx or tdx (required)")
	fl.StringVar(&f.reportData, "report-data", "", "report data, up to 64 bytes in hex (required)")
	fl.StringVar(&f.out, "out", "", "write the raw quote to this file")
	fl.BoolVar(&f.hexOut, "hex", false, "write hex to standard output even when it is not a terminal")
	fl.BoolVar(&f.debug, "debug", false, "mark the enclave or TD as debug")
	fl.StringVar(&f.mrenclave, "mrenclave", "", "SGX MRENCLAVE, 32 bytes in hex")
	fl.StringVar(&f.mrsigner, "mrsigner", "", "SGX MRSIGNER, 32 bytes in hex")
	fl.StringVar(&f.mrtd, "mrtd", "", "TDX MRTD, 48 bytes in hex")
	for _, name := range []string{"dir", "tee", "report-data"} {
		_ = cmd.MarkFlagRequired(name) // cannot fail: the flags exist
	}
	return cmd
}

func runSimQuote(cmd *cobra.Command, f *simQuoteFlags) error {
	if f.tee != sim.TEESGX && f.tee != sim.TEETDX {
		return inputErr("--tee: want sgx or tdx, got %q", f.tee)
	}
	rd, err := decodeHexFlag("--report-data", f.reportData, 1, 64)
	if err != nil {
		return err
	}
	var reportData [64]byte
	copy(reportData[:], rd)
	m, err := f.measurements()
	if err != nil {
		return err
	}
	s, err := sim.Load(f.dir)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	att, err := s.Attester(f.tee, m)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ev, err := att.Attest(ctx, reportData)
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "ratls: simulated quote; it proves nothing about hardware")
	w := cmd.OutOrStdout()
	switch {
	case f.out != "":
		if err := os.WriteFile(f.out, ev.Data, 0o644); err != nil {
			return &exitError{code: exitInput, err: err}
		}
		fmt.Fprintf(w, "Wrote a %d-byte simulated %s quote to %s\n", len(ev.Data), strings.ToUpper(f.tee), f.out)
	case f.hexOut || isTerminal(w):
		fmt.Fprintln(w, hex.EncodeToString(ev.Data))
	default:
		if _, err := w.Write(ev.Data); err != nil {
			return err
		}
	}
	return nil
}

// measurements turns the measurement flags into sim.Measurements; a flag of
// the other TEE is an error rather than silently ignored.
func (f *simQuoteFlags) measurements() (sim.Measurements, error) {
	var m sim.Measurements
	if f.tee == sim.TEETDX && (f.mrenclave != "" || f.mrsigner != "") {
		return m, inputErr("--mrenclave and --mrsigner are SGX measurements; use --mrtd with --tee tdx")
	}
	if f.tee == sim.TEESGX && f.mrtd != "" {
		return m, inputErr("--mrtd is a TDX measurement; use --mrenclave and --mrsigner with --tee sgx")
	}
	m.SGX.Debug, m.TDX.Debug = f.debug, f.debug
	for _, fl := range []struct {
		name, value string
		dst         []byte
	}{
		{"--mrenclave", f.mrenclave, m.SGX.MREnclave[:]},
		{"--mrsigner", f.mrsigner, m.SGX.MRSigner[:]},
		{"--mrtd", f.mrtd, m.TDX.MRTD[:]},
	} {
		if fl.value == "" {
			continue
		}
		b, err := decodeHexFlag(fl.name, fl.value, len(fl.dst), len(fl.dst))
		if err != nil {
			return m, err
		}
		copy(fl.dst, b)
	}
	return m, nil
}

// decodeHexFlag decodes a hex flag value of min to max bytes.
func decodeHexFlag(name, value string, minLen, maxLen int) ([]byte, error) {
	b, err := hex.DecodeString(value)
	if err != nil {
		return nil, inputErr("%s: want hex digits: %v", name, err)
	}
	if len(b) < minLen || len(b) > maxLen {
		if minLen == maxLen {
			return nil, inputErr("%s: want %d bytes (%d hex digits), got %d bytes", name, maxLen, 2*maxLen, len(b))
		}
		return nil, inputErr("%s: want %d to %d bytes, got %d", name, minLen, maxLen, len(b))
	}
	return b, nil
}
