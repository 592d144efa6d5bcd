package explore

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
)

var qvl = testvectors.Path("dcap-qvl") + "/"

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The dcap-qvl TDX vector, verified at its pinned time: the values are those
// of its EXPECTED.json.
func tdxConfig(t *testing.T) *Config {
	t.Helper()
	c, err := pcs.ParseDCAPQVLJSON(read(t, qvl+"tdx_quote_collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 7, 19, 10, 0, 34, 0, time.UTC)
	return &Config{Verify: ratls.VerifyOptions{TEE: []tee.Options{&dcap.Options{Collateral: pcs.Static{C: c}}}}, Now: func() time.Time { return at }}
}

func findNode(nodes []*Node, name string) *Node {
	for _, n := range nodes {
		if n.Name == name {
			return n
		}
		if f := findNode(n.Children, name); f != nil {
			return f
		}
	}
	return nil
}

func TestAnalyzeQuote(t *testing.T) {
	a := tdxConfig(t).Analyze(context.Background(), "tdx_quote", read(t, qvl+"tdx_quote"))
	if a.Error != "" || a.Kind != "evidence" || a.Verification == nil {
		t.Fatalf("analysis: %+v", a)
	}
	v := a.Verification
	if v.Status != "warning" || v.TCBStatus != "UpToDate" || v.TEE != "Intel SGX/TDX" || !strings.Contains(v.TrustAnchor, "Intel's genuine root") {
		t.Errorf("verification: %+v", v)
	}
	states := map[string]string{}
	for _, c := range v.Checks {
		states[c.Name] = string(c.State)
	}
	if states["quote.signature"] != "passed" || states["tcb_info.signature"] != "passed" || len(v.Checks) < 10 {
		t.Errorf("checks: %v", states)
	}
	if len(v.Reasons) != 1 || v.Reasons[0].Check != "reference_values" || v.Reasons[0].Actual != "none" {
		t.Errorf("reasons: %+v", v.Reasons)
	}
	if n := findNode(a.Tree, "mrtd"); n == nil || n.Explain == "" || len(n.Value) != 96 {
		t.Errorf("tree: mrtd %+v", n)
	}
	if n := findNode(a.Tree, "fmspc"); n == nil || n.Value != "b0c06f000000" || !strings.Contains(n.Explain, "Family-Model-Stepping") {
		t.Errorf("tree: the PCK certificate's FMSPC %+v", n)
	}
}

func TestAnalyzeOthers(t *testing.T) {
	cfg := tdxConfig(t)
	a := cfg.Analyze(context.Background(), "tcb.json", read(t, testvectors.Path("zkdcap/tcbinfov3_00806f050000.json")))
	if a.Kind != "collateral" || a.Verification != nil || findNode(a.Tree, "tcb_levels") == nil {
		t.Errorf("collateral: %+v", a)
	}
	a = cfg.Analyze(context.Background(), "junk", bytes.Repeat([]byte{7}, 40))
	if !strings.HasPrefix(a.Error, "not a certificate, quote, report, token, CMW or collateral document") {
		t.Errorf("junk: %q", a.Error)
	}
}

// An EAR: its signature checked with the configured keys, its trust
// vector shown with what each value means; decoded but marked when it
// cannot be checked.
func TestAnalyzeEAR(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := ear.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := signer.Sign(&ear.EAR{IssuedAt: now.Unix(), VerifierID: ear.VerifierID{Build: "ratls test", Developer: "ratls"},
		Submods: map[string]*ear.Appraisal{"tdx": {Status: ear.StatusWarning, PolicyID: "p1",
			TrustVector: &ear.TrustVector{InstanceIdentity: 2, Hardware: 2, Executables: 33, Configuration: 2}}}})
	if err != nil {
		t.Fatal(err)
	}
	keys := &ear.JWKSet{Keys: []ear.JWK{ear.NewJWK(&key.PublicKey)}}
	cfg := &Config{Keys: func(context.Context) (*ear.JWKSet, error) { return keys, nil }}

	a := cfg.Analyze(context.Background(), "ear.jwt", tok)
	if a.Kind != "ear" || a.EAR == nil || a.EAR.Signature != "verified" || a.EAR.KeyID != keys.Keys[0].Kid {
		t.Fatalf("EAR: %+v %+v", a, a.EAR)
	}
	sub := a.EAR.Submods["tdx"]
	if sub == nil || sub.Status != ear.StatusWarning || sub.PolicyID != "p1" {
		t.Fatalf("submod: %+v", sub)
	}
	want := map[string]string{"instance-identity": "affirming", "executables": "warning", "file-system": "no claim"}
	for _, c := range sub.TrustVector {
		if m, ok := want[c.Claim]; ok && c.Meaning != m {
			t.Errorf("%s = %d means %q, want %q", c.Claim, c.Value, c.Meaning, m)
		}
	}
	if n := findNode(a.Tree, "ear.status"); n == nil || n.Value != "warning" {
		t.Errorf("tree: %+v", n)
	}

	// Tampered: the payload changed, the signature no longer verifies.
	parts := bytes.Split(tok, []byte("."))
	other, _ := signer.Sign(&ear.EAR{IssuedAt: now.Unix(), VerifierID: ear.VerifierID{Build: "x", Developer: "y"},
		Submods: map[string]*ear.Appraisal{"tdx": {Status: ear.StatusAffirming}}})
	forged := bytes.Join([][]byte{parts[0], bytes.Split(other, []byte("."))[1], parts[2]}, []byte("."))
	if a := cfg.Analyze(context.Background(), "forged", forged); a.EAR == nil || a.EAR.Signature != "invalid" {
		t.Errorf("forged EAR: %+v", a.EAR)
	}
	// No keys here: decoded, not verified.
	if a := (&Config{}).Analyze(context.Background(), "ear", tok); a.EAR.Signature != "not verified" || a.EAR.Submods["tdx"] == nil {
		t.Errorf("without keys: %+v", a.EAR)
	}
}

// The page loads nothing from elsewhere and may talk to its own origin
// only; the analysis endpoint answers JSON.
func TestHandler(t *testing.T) {
	srv := httptest.NewServer(tdxConfig(t).Handler())
	defer srv.Close()
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//|url\(\s*['"]?(https?:)?//|fetch\(\s*['"]https?:`)
	for _, path := range []string{"/", "/explore/app.js", "/explore/app.css"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "connect-src 'self'") ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("%s: %d, CSP %q", path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s refers to another origin: %s", path, m)
		}
	}
	body, _ := json.Marshal(Request{Name: "tdx_quote", Data: read(t, qvl+"tdx_quote")})
	resp, err := http.Post(srv.URL+PathAnalyze, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a Analysis
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || a.Verification == nil || a.Verification.TCBStatus != "UpToDate" {
		t.Errorf("POST %s: %v %+v", PathAnalyze, err, a)
	}
	resp, _ = http.Post(srv.URL+PathAnalyze, "application/json", strings.NewReader(`{"name":"x","data":""}`))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("empty input: %d", resp.StatusCode)
	}
}
