package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/verify/intel"
)

var ccaVectors = testvectors.Path("cca-tfm") + "/"

// Messages name the flags that fix what they report, never Go fields; the
// settings they name exist on the command line and in the service.
func TestMessagesNameFlags(t *testing.T) {
	qvl := vec + "intel-qvl-sample-testroot/sgx/"
	code, out, _ := runCLI(t, "verify", "--offline", "--at", "2019-09-05T08:47:08Z", qvl+"quote.dat")
	if code != exitRejected || !strings.Contains(out, "want 5 (PCK certificate chain), got 1 (PPID cleartext): give the PCK certificate chain with --pck-chain") {
		t.Errorf("PPID quote without a chain: exit %d\n%s", code, out)
	}

	token, cpak := ccaVectors+"cca_platform_token.cbor", ccaVectors+"cca_platform_CPAK.pub.pem"
	check := func(args ...string) map[string]string {
		t.Helper()
		_, out, _ := runCLI(t, append([]string{"verify", "--json", "--offline"}, args...)...)
		var r struct {
			Verification struct {
				Checks []struct{ Name, Detail string } `json:"checks"`
			} `json:"verification"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		got := map[string]string{}
		for _, c := range r.Verification.Checks {
			got[c.Name] = c.Detail
		}
		return got
	}
	got := check("--cca-cpak", cpak, token)
	if d := got["token.format"]; d != "platform token only: want a realm token too (--cca-allow-platform-only accepts platform-only tokens)" {
		t.Errorf("platform-only token: %q", d)
	}
	got = check("--cca-cpak", cpak, "--cca-allow-platform-only", token)
	if d := got["token.format"]; d != "platform token only (no realm token), accepted with --cca-allow-platform-only" {
		t.Errorf("with --cca-allow-platform-only: %q", d)
	}
	got = check(ccaVectors + "cca_token.cbor")
	if d := got["platform.key"]; !strings.Contains(d, "give it with --cca-cpak") {
		t.Errorf("no CPAK: %q", d)
	}
	for name, d := range got {
		if strings.Contains(d, "Options.") {
			t.Errorf("%s names a Go field: %q", name, d)
		}
	}

	// The service takes both settings too (flags, RATLS_VERIFIER_*, --config).
	serve := newVerifierServeCommand()
	for _, name := range []string{"pck-chain", "cca-allow-platform-only", "cca-cpak"} {
		if serve.Flags().Lookup(name) == nil {
			t.Errorf("verifier serve has no --%s", name)
		}
	}
}

// The service verifies quotes that carry only a PPID with the chain its
// --pck-chain names. (The sample's PCK certificate expired in 2026, so the
// chain may fail for that; what matters is that it is no longer missing.)
func TestVerifierPCKChain(t *testing.T) {
	qvl, _ := filepath.Abs(vec + "intel-qvl-sample-testroot/sgx/")
	quote, err := os.ReadFile(filepath.Join(qvl, "quote.dat"))
	if err != nil {
		t.Fatal(err)
	}
	chainReason := func(args ...string) string {
		t.Helper()
		p := startVerifier(t, append([]string{"--db", "sqlite:" + filepath.Join(t.TempDir(), "db"), "--key", filepath.Join(t.TempDir(), "key.pem"),
			"--offline", "--collateral", qvl, "--trust-root", filepath.Join(qvl, "trustedRootCaCert.pem")}, args...)...)
		req, _ := json.Marshal(api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: quote})
		resp, err := http.Post(p.base+api.PathAttest, api.JSONMedia, bytes.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Reasons []appraise.Reason `json:"reasons"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		for _, r := range body.Reasons {
			if r.Check == intel.CheckPCKChain {
				return r.Message
			}
		}
		return ""
	}
	const missing = "want 5 (PCK certificate chain), got 1 (PPID cleartext): give the PCK certificate chain with --pck-chain"
	if m := chainReason(); !strings.Contains(m, missing) {
		t.Errorf("without --pck-chain: %q", m)
	}
	if m := chainReason("--pck-chain", filepath.Join(qvl, "_fullchain.pem")); strings.Contains(m, "certification data type") {
		t.Errorf("with --pck-chain: %q", m)
	}
}

// A test root named like Intel's is flagged in words, as the JSON output
// flags it with "intel": false.
func TestTrustAnchorWords(t *testing.T) {
	qvl := vec + "intel-qvl-sample-testroot/sgx/"
	_, out, _ := runCLI(t, "verify", "--collateral", qvl, "--trust-root", qvl+"trustedRootCaCert.pem", "--pck-chain", qvl+"_fullchain.pem",
		"--at", "2019-09-05T08:47:08Z", qvl+"quote.dat")
	if !strings.Contains(out, "trust anchor:    Intel SGX Root CA (NOT Intel's root: a root given with --trust-root whose name imitates Intel's; key SHA-256 ") {
		t.Errorf("test root:\n%s", out)
	}
	_, out, _ = runCLI(t, "verify", "--collateral", vec+"dcap-qvl/tdx_quote_collateral.json", "--at", "2025-07-19T10:00:34Z", vec+"dcap-qvl/tdx_quote")
	if !strings.Contains(out, "trust anchor:    Intel SGX Root CA (Intel's genuine root, key SHA-256 a0af031289f5d5d4132f9186068a7fc13628633ba235777472e29b6b6c67a49e)") {
		t.Errorf("Intel's root:\n%s", out)
	}
}

// No message shows an empty value: what is unknown is left out.
func TestNoEmptyValues(t *testing.T) {
	for _, tc := range []struct {
		r    appraise.Reason
		want string
	}{
		{appraise.Reason{Message: "m", Expected: "UpToDate", Actual: "OutOfDate"}, "m [expected UpToDate, actual OutOfDate]"},
		{appraise.Reason{Message: "m", Expected: "UpToDate"}, "m [expected UpToDate]"},
		{appraise.Reason{Message: "m", Actual: "none"}, "m [actual none]"},
		{appraise.Reason{Message: "m"}, "m"},
	} {
		if got := reasonLine(tc.r); got != tc.want {
			t.Errorf("reasonLine(%+v) = %q, want %q", tc.r, got, tc.want)
		}
	}
	for _, tc := range []struct {
		status, date string
		adv          []string
		want         string
	}{
		{"UpToDate", "2024-03-13T00:00:00Z", nil, "UpToDate (level of 2024-03-13, no advisories)"},
		{"OutOfDate", "", []string{"INTEL-SA-00837"}, "OutOfDate (advisories INTEL-SA-00837)"},
		{"OutOfDate", "", nil, "OutOfDate (no advisories)"},
	} {
		if got := tcbStatusLine(tc.status, tc.date, tc.adv); got != tc.want {
			t.Errorf("tcbStatusLine(%q, %q, %v) = %q, want %q", tc.status, tc.date, tc.adv, got, tc.want)
		}
	}
}

// A network failure is said once: the URL once, no Go-internal wrapping
// ("Get \"…\""), no resolver address.
func TestNetworkErrorsSaidOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "--verifier", "http://" + addr, vec + "dcap-qvl/tdx_quote"}, "ratls: ratls service http://" + addr + ": POST /v1/attest: connection refused\n"},
		{[]string{"inspect", addr}, "ratls: " + addr + ": connection refused\n"},
		{[]string{"connect", "--offline", addr}, "ratls: " + addr + ": connection refused\n"},
		{[]string{"collateral", "fetch", "--pccs", "http://" + addr, "--out", t.TempDir(), "--tee", "tdx", "--fmspc", "B0C06F000000"},
			"ratls: pcs: GET http://" + addr + "/*: connection refused\n"},
	} {
		code, _, stderr := runBounded(t, tc.args...)
		// The collateral requests run concurrently: any may fail first.
		prefix, suffix, wild := strings.Cut(tc.want, "*")
		match := stderr == tc.want || wild && strings.HasPrefix(stderr, prefix) && strings.HasSuffix(stderr, suffix) &&
			strings.Count(stderr, "\n") == 1 && strings.Count(stderr, addr) == 1
		if code != exitInput || !match {
			t.Errorf("%v: exit %d, stderr %q; want 2, %q", tc.args, code, stderr, tc.want)
		}
	}
}
