package main

import (
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/ratls/ratls/evidence/cca"
	"github.com/ratls/ratls/internal/testvectors"
)

// amdCertDir lays out the go-sev-guest vector's VCEK chain as --amd-certs
// expects it.
func amdCertDir(t *testing.T) string {
	t.Helper()
	src := testvectors.Path("snp-go-sev-guest") + "/"
	dir := t.TempDir()
	copyFile(t, src+"vcek.testcer.der", filepath.Join(dir, "vcek.der"))
	chain, err := os.ReadFile(src + "milan_cert_chain.pem")
	if err != nil {
		t.Fatal(err)
	}
	ask, rest := pem.Decode(chain)
	ark, _ := pem.Decode(rest)
	os.WriteFile(filepath.Join(dir, "ask.pem"), pem.EncodeToMemory(ask), 0o600)
	os.WriteFile(filepath.Join(dir, "ark.pem"), pem.EncodeToMemory(ark), 0o600)
	return dir
}

func TestVerifySNP(t *testing.T) {
	report := testvectors.Path("snp-go-sev-guest/attestation.bin")
	args := []string{"--amd-certs", amdCertDir(t), "--at", "2022-09-25T00:55:28Z", report}
	// A debug guest, no CRL offline: rejected by the default policy.
	r := runVerifyJSON(t, 1, args...)
	reasons := map[string]bool{}
	for _, rs := range r.Verification.Reasons {
		reasons[rs.Check] = true
	}
	if !reasons["crl"] || !reasons["debug"] {
		t.Errorf("reasons: %+v", r.Verification.Reasons)
	}
	for _, c := range r.Verification.Checks {
		if c.Name != "crl" && !c.OK {
			t.Errorf("check %s failed", c.Name)
		}
	}
	// Allowed explicitly: a warning, exit 0.
	policy := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(policy, []byte(`{"allow_debug":true,"sev_snp":{"allow_no_crl":true}}`), 0o600)
	if r = runVerifyJSON(t, 0, append([]string{"--policy", policy}, args...)...); r.Verification.Status != "warning" {
		t.Errorf("status %s", r.Verification.Status)
	}
	// Without certificates and offline: rejected, naming the certificates.
	r = runVerifyJSON(t, 1, "--offline", "--at", "2022-09-25T00:55:28Z", report)
	found := false
	for _, rs := range r.Verification.Reasons {
		found = found || rs.Check == "amd.certificates"
	}
	if !found {
		t.Errorf("no amd.certificates reason: %+v", r.Verification.Reasons)
	}
}

func TestVerifyCCA(t *testing.T) {
	dir := testvectors.Path("cca-tfm") + "/"
	r := runVerifyJSON(t, 0, "--offline", "--cca-cpak", dir+"cca_platform_CPAK.pub.pem", dir+"cca_example_token.cbor")
	if r.Verification.Status != "warning" {
		t.Errorf("status %s, want warning: no reference values", r.Verification.Status)
	}
	any := writePolicy(t, `{"accept_any_measurement":true}`)
	r = runVerifyJSON(t, 0, "--policy", any, "--offline", "--cca-cpak", dir+"cca_platform_CPAK.pub.pem", dir+"cca_example_token.cbor")
	if r.Verification.Status != "affirming" {
		t.Errorf("accept_any_measurement: status %s", r.Verification.Status)
	}
	// The same key in Veraison's JWK form (ccatoken's testRMMCPAK).
	jwk := testvectors.Path("cca-veraison/go/testRMMCPAK.pub.jwk.json")
	if r = runVerifyJSON(t, 0, "--policy", any, "--offline", "--cca-cpak", jwk, dir+"cca_example_token.cbor"); r.Verification.Status != "affirming" {
		t.Errorf("JWK CPAK: status %s", r.Verification.Status)
	}
	// Keys in the policy, by instance ID, come first: the token's own
	// instance with another key is refused whatever --cca-cpak says.
	other := `{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`
	pinned := writePolicy(t, `{"accept_any_measurement":true,"cca":{"platform_keys":[{"instance_id":"`+ccaInstanceID(t, dir+"cca_example_token.cbor")+`","jwk":`+other+`}]}}`)
	runVerifyJSON(t, 1, "--policy", pinned, "--offline", "--cca-cpak", jwk, dir+"cca_example_token.cbor")
	// Without the platform key: rejected.
	runVerifyJSON(t, 1, "--offline", dir+"cca_example_token.cbor")
	// A token whose realm key is not bound to the platform (rust bug 33): rejected.
	bad := testvectors.Path("cca-veraison/rust/bug-33-repro.cbor")
	if _, err := os.Stat(bad); err == nil {
		if code, _, _ := runCLI(t, "verify", "--offline", "--cca-cpak", dir+"cca_platform_CPAK.pub.pem", bad); code != 1 {
			t.Errorf("bug-33 token: exit %d, want 1", code)
		}
	}
}

// ccaInstanceID reads the platform instance ID of a token, in hex.
func ccaInstanceID(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cca.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(tok.Platform.Claims.InstanceID)
}
