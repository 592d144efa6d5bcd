package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratls/ratls/evidence/quote"
)

const (
	simTestSeed = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	simTestAt   = "2025-06-01T12:00:00Z"
)

// runSimCLI runs "ratls sim ARGS" and returns the exit code run would
// return, standard output and standard error.
func runSimCLI(t *testing.T, args ...string) (int, []byte, string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newSimCommand()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.Execute()
	code := exitOK
	if err != nil {
		errb.WriteString(err.Error())
		code = exitInput
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return code, out.Bytes(), errb.String()
}

func simInitDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sim")
	code, out, stderr := runSimCLI(t, "init", "--seed", simTestSeed, "--at", simTestAt, dir)
	if code != exitOK {
		t.Fatalf("sim init: exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"Created a simulated TEE in " + dir,
		`"ratls Simulated SGX Root CA"`,
		"valid until 2026-06-01T12:00:00Z",
		"WARNING: simulated evidence proves nothing",
		"ratls verify --trust-root " + filepath.Join(dir, "root.pem") + " --collateral " + filepath.Join(dir, "tdx") + " cert.pem",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("sim init output lacks %q:\n%s", want, out)
		}
	}
	return dir
}

func TestSimInit(t *testing.T) {
	dir := simInitDir(t)
	for _, name := range []string{"sim.json", "root.pem", "sgx/tcb_info.json", "tdx/qe_identity.json", "tdx/pck_crl.der"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("sim init did not write %s: %v", name, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "sim.json")); !bytes.Contains(b, []byte(`"seed": "`+simTestSeed+`"`)) {
		t.Errorf("sim.json does not hold the seed:\n%s", b)
	}
	// Same seed and time elsewhere: the same root.
	other := filepath.Join(t.TempDir(), "again")
	if code, _, stderr := runSimCLI(t, "init", "--seed", simTestSeed, "--at", simTestAt, other); code != exitOK {
		t.Fatal(stderr)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "root.pem"))
	b, _ := os.ReadFile(filepath.Join(other, "root.pem"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("the same --seed and --at give different roots")
	}
}

func TestSimInitErrors(t *testing.T) {
	dir := simInitDir(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"existing", []string{"init", dir}, "already exists"},
		{"short seed", []string{"init", "--seed", "00", filepath.Join(t.TempDir(), "x")}, "--seed: want 64 hex digits"},
		{"non-hex seed", []string{"init", "--seed", strings.Repeat("g", 64), filepath.Join(t.TempDir(), "x")}, "--seed: want 64 hex digits"},
		{"bad time", []string{"init", "--at", "yesterday", filepath.Join(t.TempDir(), "x")}, "--at: want an RFC 3339 time"},
		{"bad validity", []string{"init", "--validity", "-1h", filepath.Join(t.TempDir(), "x")}, "--validity: want more than 0"},
		{"no directory", []string{"init"}, "accepts 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runSimCLI(t, tc.args...)
			if code != exitInput || !strings.Contains(stderr, tc.want) {
				t.Errorf("want exit 2 with %q, got exit %d: %s", tc.want, code, stderr)
			}
		})
	}
}

func TestSimQuote(t *testing.T) {
	dir := simInitDir(t)
	out := filepath.Join(t.TempDir(), "quote.bin")
	code, stdout, stderr := runSimCLI(t, "quote", "--dir", dir, "--tee", "tdx", "--report-data", "c0ffee", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(string(stdout), "simulated TDX quote to "+out) || !strings.Contains(stderr, "proves nothing") {
		t.Errorf("output: %s / %s", stdout, stderr)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	q, err := quote.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var want [64]byte
	copy(want[:], []byte{0xc0, 0xff, 0xee})
	if !q.IsTDX() || q.Header.Version != 4 || q.ReportData() != want {
		t.Errorf("quote: TDX %v, version %d, report data %x", q.IsTDX(), q.Header.Version, q.ReportData())
	}

	// "ratls verify" accepts it with the simulation's root and collateral.
	code, vout, verr := runCLI(t, "verify", "--trust-root", filepath.Join(dir, "root.pem"), "--collateral", filepath.Join(dir, "tdx"),
		"--offline", "--at", simTestAt, out)
	if code != exitOK {
		t.Errorf("ratls verify of a simulated quote: exit %d\n%s\n%s", code, vout, verr)
	}
	// Without the simulation root it is rejected.
	if code, _, _ := runCLI(t, "verify", "--collateral", filepath.Join(dir, "tdx"), "--offline", "--at", simTestAt, out); code != exitRejected {
		t.Errorf("ratls verify without the simulation root: want exit 1, got %d", code)
	}

	// Standard output that is not a terminal gets the raw quote; --hex
	// forces hex. The same inputs give the same quote.
	code, stdout, _ = runSimCLI(t, "quote", "--dir", dir, "--tee", "tdx", "--report-data", "c0ffee")
	if code != exitOK || !bytes.Equal(stdout, raw) {
		t.Errorf("raw output: exit %d, %d bytes, equal to --out: %v", code, len(stdout), bytes.Equal(stdout, raw))
	}
	code, stdout, _ = runSimCLI(t, "quote", "--dir", dir, "--tee", "tdx", "--report-data", "c0ffee", "--hex")
	if code != exitOK || string(stdout) != hex.EncodeToString(raw)+"\n" {
		t.Errorf("--hex output: exit %d, %q", code, stdout)
	}

	// Measurements and debug.
	mrenclave := strings.Repeat("ab", 32)
	code, stdout, stderr = runSimCLI(t, "quote", "--dir", dir, "--tee", "sgx", "--report-data", "01", "--mrenclave", mrenclave, "--debug")
	if code != exitOK {
		t.Fatal(stderr)
	}
	q, err = quote.Parse(stdout)
	if err != nil {
		t.Fatal(err)
	}
	if q.IsTDX() || q.Header.Version != 3 || hex.EncodeToString(q.SGX.MREnclave[:]) != mrenclave || !q.Debug() {
		t.Errorf("SGX quote: version %d, MRENCLAVE %x, debug %v", q.Header.Version, q.SGX.MREnclave, q.Debug())
	}
	mrtd := strings.Repeat("cd", 48)
	code, stdout, stderr = runSimCLI(t, "quote", "--dir", dir, "--tee", "tdx", "--report-data", "01", "--mrtd", mrtd)
	if code != exitOK {
		t.Fatal(stderr)
	}
	if q, err = quote.Parse(stdout); err != nil || hex.EncodeToString(q.TD.MRTD[:]) != mrtd || q.Debug() {
		t.Errorf("TDX quote: %v, MRTD %x", err, q.TD.MRTD)
	}
}

func TestSimQuoteErrors(t *testing.T) {
	dir := simInitDir(t)
	base := []string{"quote", "--dir", dir}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad tee", []string{"--tee", "snp", "--report-data", "00"}, `--tee: want sgx or tdx, got "snp"`},
		{"non-hex report data", []string{"--tee", "sgx", "--report-data", "xyz"}, "--report-data: want hex digits"},
		{"long report data", []string{"--tee", "sgx", "--report-data", strings.Repeat("00", 65)}, "--report-data: want 1 to 64 bytes, got 65"},
		{"empty report data", []string{"--tee", "sgx", "--report-data", ""}, "--report-data: want 1 to 64 bytes, got 0"},
		{"no report data", []string{"--tee", "sgx"}, `"report-data" not set`},
		{"short mrenclave", []string{"--tee", "sgx", "--report-data", "00", "--mrenclave", "00"}, "--mrenclave: want 32 bytes (64 hex digits), got 1 bytes"},
		{"mrtd for sgx", []string{"--tee", "sgx", "--report-data", "00", "--mrtd", strings.Repeat("00", 48)}, "--mrtd is a TDX measurement"},
		{"mrsigner for tdx", []string{"--tee", "tdx", "--report-data", "00", "--mrsigner", strings.Repeat("00", 32)}, "SGX measurements"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runSimCLI(t, append(base, tc.args...)...)
			if code != exitInput || !strings.Contains(stderr, tc.want) {
				t.Errorf("want exit 2 with %q, got exit %d: %s", tc.want, code, stderr)
			}
		})
	}
	code, _, stderr := runSimCLI(t, "quote", "--dir", filepath.Join(t.TempDir(), "none"), "--tee", "sgx", "--report-data", "00")
	if code != exitInput || !strings.Contains(stderr, "sim.json") {
		t.Errorf("missing directory: want exit 2 naming sim.json, got %d: %s", code, stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "sim.json"), []byte(`{"version":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runSimCLI(t, "quote", "--dir", dir, "--tee", "sgx", "--report-data", "00")
	if code != exitInput || !strings.Contains(stderr, "seed") {
		t.Errorf("broken sim.json: want exit 2 naming the seed, got %d: %s", code, stderr)
	}
}
