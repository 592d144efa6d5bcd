package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratls/ratls/internal/testvectors"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

var certDir = testvectors.Path("ratls-certs") + "/"

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// checkGolden compares got with testdata/golden/name. Golden files were
// reviewed by hand against the vectors' EXPECTED.json; the tests below also
// assert the key facts independently.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; diff it with go test -update and git diff", name)
	}
}

type jsonReport struct {
	Source      string `json:"source"`
	Certificate *struct {
		Subject        string `json:"subject"`
		PublicKey      string `json:"public_key"`
		SelfSigned     bool   `json:"self_signed"`
		SignatureValid bool   `json:"signature_valid"`
	} `json:"certificate"`
	Evidence []struct {
		Format       string                 `json:"format"`
		OID          string                 `json:"oid"`
		CBORTag      *uint64                `json:"cbor_tag"`
		TEE          string                 `json:"tee"`
		Kind         string                 `json:"kind"`
		Quote        *struct{ Version int } `json:"quote"`
		Measurements map[string]any         `json:"measurements"`
		ReportData   string                 `json:"report_data"`
		Claims       *struct {
			PubKeyHashAlg string `json:"pubkey_hash_alg"`
			PubKeyHash    string `json:"pubkey_hash"`
		} `json:"claims"`
		KeyBinding  string `json:"key_binding"`
		BindingRule string `json:"binding_rule"`
	} `json:"evidence"`
	Endorsements *struct{ Empty bool } `json:"endorsements"`
}

func decode(t *testing.T, s string) *jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, s)
	}
	return &r
}

// Expected values below come from testdata/ratls-certs/EXPECTED.json.
func TestInspectInteropCertificateJSON(t *testing.T) {
	code, out, stderr := runCLI(t, "inspect", "--json", certDir+"rats-rs_demo-sgx-cert.pem")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checkGolden(t, "rats-rs_demo-sgx-cert.json", out)
	r := decode(t, out)
	if r.Source != "certificate" || r.Certificate.Subject != "CN=rats-rs,O=Inclavare Containers" || !r.Certificate.SelfSigned || !r.Certificate.SignatureValid {
		t.Errorf("certificate: %+v", r.Certificate)
	}
	if len(r.Evidence) != 1 {
		t.Fatalf("evidence items: %d", len(r.Evidence))
	}
	e := r.Evidence[0]
	if e.Format != "interop" || e.OID != "2.23.133.5.4.9" || e.CBORTag == nil || *e.CBORTag != 60000 || e.TEE != "sgx" || e.Quote.Version != 3 {
		t.Errorf("evidence: %+v", e)
	}
	if e.Measurements["mrenclave"] != "488615372ec6d4b5a27dd7673697113808653b749615b8a58f62e71df0660e85" ||
		e.Measurements["mrsigner"] != "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e" || e.Measurements["debug"] != true {
		t.Errorf("measurements: %v", e.Measurements)
	}
	if e.Claims.PubKeyHashAlg != "sha-256" || e.Claims.PubKeyHash != "8d5e52bb08b179b25505ec4097756d2a01f91697c225d7a2c87726fc522ca4ca" {
		t.Errorf("claims: %+v", e.Claims)
	}
	if e.KeyBinding != "ok" || e.BindingRule != "claims-sha256" {
		t.Errorf("binding: %s/%s", e.KeyBinding, e.BindingRule)
	}
	if r.Endorsements == nil || !r.Endorsements.Empty {
		t.Errorf("endorsements: %+v", r.Endorsements)
	}
}

func TestInspectLegacyCertificateJSON(t *testing.T) {
	code, out, stderr := runCLI(t, "inspect", "--json", certDir+"rats-tls_legacy-sample.pem")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checkGolden(t, "rats-tls_legacy-sample.json", out)
	e := decode(t, out).Evidence[0]
	if e.Format != "gramine-legacy" || e.OID != "1.2.840.113741.1337.6" || e.KeyBinding != "ok" || e.BindingRule != "pkcs1-sha256" {
		t.Errorf("evidence: %+v", e)
	}
	if e.Measurements["mrenclave"] != "144e81488fc3d59ddbe69b03bd939a3b938d85b6a7c9897e2b09808ade956574" {
		t.Errorf("mrenclave: %v", e.Measurements["mrenclave"])
	}
}

func TestInspectText(t *testing.T) {
	code, out, _ := runCLI(t, "inspect", certDir+"rats-rs_demo-sgx-cert.pem")
	if code != 0 {
		t.Fatal(code)
	}
	checkGolden(t, "rats-rs_demo-sgx-cert.txt", out)
	for _, want := range []string{"Certificate", "Evidence 1", "interop, extension 2.23.133.5.4.9, CBOR tag 60000", "mrenclave:", "key binding:", "ok (claims-sha256)", "not trusted"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q", want)
		}
	}
}

// Raw evidence in hex and base64 is decoded before parsing.
func TestInspectRawEvidenceEncodings(t *testing.T) {
	raw, err := os.ReadFile(testvectors.Path("dcap-qvl/tdx_quote"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{
		"quote.bin": raw,
		"quote.hex": []byte(strings.ToUpper(encodeHex(raw)) + "\n"),
		"quote.b64": []byte(encodeBase64(raw)),
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, stderr := runCLI(t, "inspect", "--json", p)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		r := decode(t, out)
		if r.Source != "evidence" || r.Evidence[0].TEE != "tdx" || r.Evidence[0].Format != "raw" || r.Evidence[0].KeyBinding != "not-applicable" {
			t.Errorf("%s: %+v", name, r.Evidence[0])
		}
	}
}

func TestInspectBadInput(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("this is not evidence"), 0o644)
	trunc := filepath.Join(dir, "trunc.pem")
	pemBytes, _ := os.ReadFile(certDir + "rats-rs_demo-sgx-cert.pem")
	os.WriteFile(trunc, pemBytes[:len(pemBytes)/2], 0o644)
	for _, args := range [][]string{
		{"inspect", junk},
		{"inspect", trunc},
		{"inspect", filepath.Join(dir, "missing")},
		{"inspect"},
		{"inspect", "--no-such-flag", junk},
	} {
		code, out, stderr := runCLI(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if out != "" || strings.Count(strings.TrimSpace(stderr), "\n") > 0 && !strings.Contains(stderr, "Usage") {
			t.Errorf("%v: want a one-line reason on stderr, got stdout %q stderr %q", args, out, stderr)
		}
		if !strings.HasPrefix(stderr, "ratls: ") {
			t.Errorf("%v: stderr %q", args, stderr)
		}
	}
}

// inspect host:port captures the certificate and aborts the handshake.
func TestInspectAddress(t *testing.T) {
	srvCert := newServerCert(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{srvCert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c.(*tls.Conn).HandshakeContext(context.Background())
				c.Close()
			}()
		}
	}()
	code, out, stderr := runCLI(t, "inspect", "--json", ln.Addr().String())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := decode(t, out)
	if r.Certificate == nil || r.Certificate.Subject != "CN=ratls-test-server" || len(r.Evidence) != 0 {
		t.Errorf("report: %+v", r)
	}
	// Nothing listens here: a clear error, exit 2.
	l2, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l2.Addr().String()
	l2.Close()
	if code, _, _ := runCLI(t, "inspect", addr); code != 2 {
		t.Errorf("closed port: exit %d", code)
	}
}
