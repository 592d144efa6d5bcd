package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/collateral/pcs"
)

// --extract writes the evidence as the TEE produced it; the file is again
// something inspect and verify read.
func TestInspectExtract(t *testing.T) {
	cert := certDir + "rats-rs_demo-sgx-cert.pem"
	out := filepath.Join(t.TempDir(), "quote.bin")
	code, stdout, stderr := runCLI(t, "inspect", "--extract", "quote", cert, out)
	if code != exitOK || stdout != "" || stderr != "wrote the quote (4734 bytes) to "+out+"\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, text, _ := runCLI(t, "inspect", out)
	if code != exitOK || !strings.Contains(text, "sgx (intel-quote, 4734 bytes)") || !strings.Contains(text, "488615372ec6d4b5a27dd7673697113808653b749615b8a58f62e71df0660e85") {
		t.Errorf("inspect of the extracted quote: exit %d\n%s", code, text)
	}
	// To standard output, nothing else on it.
	code, stdout, _ = runCLI(t, "inspect", "--extract", "claims", cert, "-")
	if code != exitOK || !strings.HasPrefix(stdout, "\xa1\x6bpubkey-hash") {
		t.Errorf("claims to stdout: exit %d, %q", code, stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect", "--extract", "token", cert, out}, "carries no token (it carries intel-quote): use --extract quote"},
		{[]string{"inspect", "--extract", "quote", cert}, "accepts 2 arg(s), received 1"},
		{[]string{"inspect", "--extract", "quote", vec + "zkdcap/intel_root_ca_crl.der", out}, "carries no quote (it is collateral, not evidence)"},
	} {
		if code, _, stderr := runCLI(t, tc.args...); code != exitInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// Collateral documents are described as such, in words.
func TestInspectCollateralText(t *testing.T) {
	code, out, stderr := runCLI(t, "inspect", vec+"intel-qvl-sample-testroot/sgx")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"(collateral)", "\nTCB Info\n", "  fmspc:           00707f000000", "\nQE Identity\n", "\nPCK CRL\n", "  ca:              processor",
		"\nRoot CA CRL\n", "ignored:", "qveIdentity.json: QVE identity", "the collateral is described, not trusted"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, _, stderr = runCLI(t, "inspect", "/dev/null")
	if code != exitInput || !strings.Contains(stderr, "empty input") {
		t.Errorf("empty file: exit %d %q", code, stderr)
	}
	random := filepath.Join(t.TempDir(), "random")
	os.WriteFile(random, bytes.Repeat([]byte{0xd9, 0x01}, 600), 0o644)
	code, _, stderr = runCLI(t, "inspect", random)
	if code != exitInput || !strings.Contains(stderr, random+": not a certificate, quote, report, token, CMW or collateral document (1200 bytes starting d901d901d901d901)") {
		t.Errorf("random bytes: exit %d %q", code, stderr)
	}
}

// connect --save-chain writes what the server presented, also when the
// server is refused, and the file inspects as that certificate.
func TestConnectSaveChain(t *testing.T) {
	dir := newSimDir(t)
	srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--tee", "sgx", "--echo")
	chain := filepath.Join(t.TempDir(), "chain.pem")
	// Not trusting the simulation's root: refused, and still saved.
	code, _, stderr := runBounded(t, "connect", "--offline", "--save-chain", chain, srv.addr)
	if code != exitRejected {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(chain)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pcs.ParsePEMChain(b)
	if err != nil || len(certs) == 0 {
		t.Fatalf("saved chain: %v", err)
	}
	code, out, _ := runCLI(t, "inspect", chain)
	if code != exitOK || !strings.Contains(out, "sgx (intel-quote") || !strings.Contains(out, "key binding:     ok") {
		t.Errorf("inspect of the saved chain: exit %d\n%s", code, out)
	}
	// Accepted: the same certificate verifies offline from the file.
	code, _, stderr = runBounded(t, "connect", "--offline", "--trust-root", filepath.Join(dir, sim.RootFile), "--policy", filepath.Join(dir, sim.PolicyFile), "--save-chain", chain, srv.addr)
	if code != exitOK {
		t.Fatalf("accepted: exit %d %s", code, stderr)
	}
}
