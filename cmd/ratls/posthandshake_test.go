package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/service"
)

// channelOutput is what these tests read of connect --json in
// post-handshake mode.
type channelOutput struct {
	connectJSON
	Attestation struct {
		Mode     string `json:"mode"`
		Model    string `json:"model"`
		Binder   string `json:"binder"`
		Accepted bool   `json:"accepted"`
		EAR      *struct {
			Nonce string `json:"eat_nonce"`
		} `json:"ear"`
	} `json:"attestation"`
}

func decodeChannel(t *testing.T, out string) *channelOutput {
	t.Helper()
	var r channelOutput
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, out)
	}
	return &r
}

func TestServeConnectPostHandshake(t *testing.T) {
	dir := newSimDir(t)
	root, policy := filepath.Join(dir, sim.RootFile), filepath.Join(dir, sim.PolicyFile)
	srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--tee", "tdx", "--echo", "--attest", "post-handshake")
	verify := []string{"--offline", "--trust-root", root, "--policy", policy, "--collateral", filepath.Join(dir, "tdx")}
	connect := func(extra ...string) (int, string, string) {
		return runBounded(t, append(append([]string{"connect"}, verify...), extra...)...)
	}

	code, out, stderr := connect("--attest", "post-handshake", "--json", srv.addr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	r := decodeChannel(t, out)
	checkSimulatedWarning(t, &r.connectJSON)
	a := r.Attestation
	if a.Mode != "post-handshake" || a.Model != ratls.ModelBackgroundCheck || !a.Accepted || len(a.Binder) != 64 {
		t.Fatalf("attestation %+v", a)
	}
	// The evidence shown is the connection's: its nonce claim is the binder.
	if len(r.Evidence) != 1 || r.Evidence[0].Claims == nil || r.Evidence[0].Claims.Nonce != a.Binder || r.Evidence[0].Measurements["mrtd"] != simDefaultMRTD {
		t.Fatalf("evidence %+v, binder %s", r.Evidence, a.Binder)
	}
	code, out, _ = connect("--attest", "post-handshake", srv.addr)
	if code != exitOK || !strings.Contains(out, "Model:") || !strings.Contains(out, "background-check") || !strings.Contains(out, "Result: WARNING") {
		t.Errorf("text: exit %d\n%s", code, out)
	}
	// The relay through connect --relay works once attested.
	var stdout strings.Builder
	cmd := newRootCommand(&stdout, &strings.Builder{})
	cmd.SetArgs(append(append([]string{"connect"}, verify...), "--attest", "post-handshake", "--relay", srv.addr))
	cmd.SetIn(strings.NewReader("attested echo"))
	if err := cmd.Execute(); err != nil || !strings.HasSuffix(stdout.String(), "attested echo") {
		t.Errorf("--relay: %v, output ends %q", err, stdout.String()[max(0, stdout.Len()-40):])
	}

	// A certificate-mode server cannot satisfy a client that demands
	// post-handshake attestation.
	certMode := startServe(t, "--attester", "sim", "--sim-dir", dir, "--tee", "tdx", "--echo")
	if code, _, stderr := connect("--attest", "post-handshake", certMode.addr); code != exitRejected || !strings.Contains(stderr, "reflected request") {
		t.Errorf("downgrade to certificate mode: exit %d, %q; want 1", code, stderr)
	}
	// Evidence the policy refuses is reported like in certificate mode.
	wrong := writePolicy(t, `{"id":"other-td","tdx":{"mrtd":["`+strings.Repeat("00", 48)+`"]}}`)
	code, out, stderr = runBounded(t, "connect", "--offline", "--trust-root", root, "--policy", wrong, "--collateral", filepath.Join(dir, "tdx"), "--attest", "post-handshake", "--json", srv.addr)
	if code != exitRejected || !strings.Contains(stderr, "server rejected: tdx.mrtd") {
		t.Fatalf("wrong reference values: exit %d, %q", code, stderr)
	}
	if r := decodeChannel(t, out); r.Attestation.Accepted || r.reason("tdx.mrtd") == nil {
		t.Errorf("refusal report %+v", r.Attestation)
	}

	for _, args := range [][]string{
		{"connect", "--attest", "sometimes", srv.addr},
		{"connect", "--nonce", "--attest", "post-handshake", srv.addr},
		{"connect", "--trust-verifier", "http://127.0.0.1:1", srv.addr},
		{"serve", "--attester", "sim", "--echo", "--attest", "maybe"},
		{"serve", "--attester", "sim", "--echo", "--attest", "post-handshake", "--nonce"},
		{"serve", "--attester", "sim", "--echo", "--passport", "http://127.0.0.1:1"},
		{"serve", "--attester", "sim", "--upstream", "http://127.0.0.1:1", "--attest", "post-handshake", "--mutual"},
	} {
		if code, _, stderr := runBounded(t, args...); code != exitInput || !strings.HasPrefix(stderr, "ratls: ") {
			t.Errorf("%v: exit %d, %q; want 2", args, code, stderr)
		}
	}
}

func TestServeConnectPostHandshakeMutual(t *testing.T) {
	dir := newSimDir(t)
	root, policy := filepath.Join(dir, sim.RootFile), filepath.Join(dir, sim.PolicyFile)
	srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--tee", "tdx", "--echo", "--attest", "post-handshake",
		"--mutual", "--policy", policy, "--offline", "--trust-root", root, "--collateral", filepath.Join(dir, "sgx"))
	args := []string{"connect", "--offline", "--trust-root", root, "--policy", policy, "--collateral", filepath.Join(dir, "tdx"), "--attest", "post-handshake"}
	code, out, stderr := runBounded(t, append(args, "--attester", "sim", "--sim-dir", dir, "--tee", "sgx", "--json", srv.addr)...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if r := decodeChannel(t, out); !r.Attestation.Accepted {
		t.Fatalf("%+v", r.Attestation)
	}
	waitFor(t, "serve logs the client's attestation", func() bool { return strings.Contains(srv.stderr.String(), "client attested") })
	// Without an attester the client is refused, and told why.
	code, _, stderr = runBounded(t, append(args, srv.addr)...)
	if code != exitRejected || !strings.Contains(stderr, "the peer refused") || !strings.Contains(stderr, "declined to attest") {
		t.Errorf("client without attestation: exit %d, %q; want 1", code, stderr)
	}
}

// Passport model: serve gets an EAR for each connection from a
// verification service; connect checks it with the service's keys.
func TestServeConnectPassport(t *testing.T) {
	rs := startRemoteService(t, func(c *service.Config) { c.Verify.Policy = sim.ReferencePolicy(sim.Measurements{}) }, nil)
	s := remoteSim(t)
	dir := filepath.Join(t.TempDir(), "sim")
	if err := sim.Init(dir, sim.InitOptions{Seed: func() []byte { b := s.Seed(); return b[:] }(), Now: s.Now(), Validity: 30 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envVerifierToken, rs.admin.Token)
	srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--tee", "tdx", "--echo", "--attest", "post-handshake", "--passport", rs.url)
	args := []string{"connect", "--offline", "--trust-root", filepath.Join(dir, sim.RootFile), "--policy", filepath.Join(dir, sim.PolicyFile), "--attest", "post-handshake"}
	code, out, stderr := runBounded(t, append(args, "--trust-verifier", rs.url, "--json", srv.addr)...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	r := decodeChannel(t, out)
	if a := r.Attestation; a.Model != ratls.ModelPassport || !a.Accepted || a.EAR == nil || a.EAR.Nonce == "" {
		t.Fatalf("attestation %+v", a)
	}
	// Without the service's keys the EAR is refused.
	if code, _, stderr := runBounded(t, append(args, srv.addr)...); code != exitRejected || !strings.Contains(stderr, ratls.CheckPassport) {
		t.Errorf("EAR without keys: exit %d, %q; want 1 naming %s", code, stderr, ratls.CheckPassport)
	}
}

// serve --attest post-handshake with an HTTP upstream: attesting HTTPS
// clients use the well-known endpoint on their connection, certificate-mode
// HTTPS clients are proxied as before.
func TestServePostHandshakeHTTP(t *testing.T) {
	dir := newSimDir(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "backend "+r.URL.Path) }))
	defer backend.Close()
	srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--tee", "tdx", "--upstream", backend.URL, "--attest", "post-handshake")

	// The verifier has no collateral: the RA-TLS certificate carries it.
	ph := &ratls.PostHandshake{Peers: simVerifier(t, dir)}
	attested := &http.Client{Transport: &http.Transport{DialTLSContext: ph.DialHTTP}}
	certMode := &http.Client{Transport: &http.Transport{TLSClientConfig: ratls.ClientConfig(simVerifier(t, dir), nil)}}
	for name, c := range map[string]*http.Client{"post-handshake": attested, "certificate": certMode} {
		defer c.CloseIdleConnections() // serve waits for open connections when it stops
		resp, err := c.Get("https://" + srv.addr + "/hello")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "backend /hello" {
			t.Errorf("%s: %q", name, b)
		}
	}
}
