package main

// End-to-end tests: the commands run against each other on 127.0.0.1 with
// the simulated TEE. Nothing reaches the network beyond loopback: every
// verifying command runs with --offline or gets its collateral from the
// certificate's endorsements.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/verify/intel"
)

// e2eTimeout bounds every wait in these tests.
const e2eTimeout = 10 * time.Second

// simDefaultMRTD is the simulator's default MRTD: SHA-384("ratls simulated
// TD"), as "ratls sim quote --help" documents it.
var simDefaultMRTD = func() string {
	h := sha512.Sum384([]byte("ratls simulated TD"))
	return hex.EncodeToString(h[:])
}()

// syncBuffer is a bytes.Buffer safe for a command writing from one goroutine
// while the test reads from another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runContext runs the CLI like run, but under ctx so that long-running
// commands (serve) can be stopped.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, nil, stdout, stderr)
}

// runBounded runs the CLI with a deadline, so that a command that should
// have failed but serves instead cannot hang the test.
func runBounded(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	var out, errb syncBuffer
	code := runContext(ctx, args, &out, &errb)
	if ctx.Err() != nil {
		t.Errorf("%v: still running after %v", args, e2eTimeout)
	}
	return code, out.String(), errb.String()
}

// newSimDir runs "ratls sim init" in a fresh directory. The reference time
// is now, so the simulated collateral is valid for live handshakes.
func newSimDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sim")
	if code, out, stderr := runCLI(t, "sim", "init", dir); code != exitOK {
		t.Fatalf("sim init: exit %d\n%s\n%s", code, out, stderr)
	}
	return dir
}

// simCRLEndsInZero reports whether a DER CRL of the simulation's
// collateral for tee ends in a zero byte.
func simCRLEndsInZero(t *testing.T, dir, tee string) bool {
	t.Helper()
	for _, name := range []string{"pck_crl.der", "root_ca_crl.der"} {
		b, err := os.ReadFile(filepath.Join(dir, tee, name))
		if err != nil || len(b) == 0 {
			t.Fatalf("simulation %s: %s: %v", dir, name, err)
		}
		if b[len(b)-1] == 0 {
			return true
		}
	}
	return false
}

// simVerifier returns a peer verifier that trusts the simulation's root and
// nothing else, with the simulated TEE's reference values.
func simVerifier(t *testing.T, dir string) *ratls.PeerVerifier {
	t.Helper()
	s, err := sim.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	v := intel.NewVerifier(&intel.Config{ExtraRoots: []*x509.Certificate{s.Root()}, WithoutIntelRoot: true})
	return ratls.NewPeerVerifier(&ratls.VerifyOptions{Policy: sim.ReferencePolicy(sim.Measurements{}), TEE: []tee.Options{&dcap.Options{Verifier: v}}})
}

// server is a "ratls serve" running in the test process.
type server struct {
	addr   string
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int

	once sync.Once
	code int
	err  error
}

var listenRE = regexp.MustCompile(`msg="serving attested TLS" listen=(\S+)`)

// startServe runs "ratls serve --listen 127.0.0.1:0 ARGS" until the test
// ends and returns once it accepts connections. The port is read from the
// log line, so no port is guessed.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	argv := append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)
	go func() { s.done <- runContext(ctx, argv, io.Discard, s.stderr) }()
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
	})
	deadline := time.Now().Add(e2eTimeout)
	for {
		if m := listenRE.FindStringSubmatch(s.stderr.String()); m != nil {
			s.addr = m[1]
			return s
		}
		select {
		case code := <-s.done:
			s.done <- code // for stop
			t.Fatalf("serve %v exited with %d before listening:\n%s", args, code, s.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve %v is not listening after %v:\n%s", args, e2eTimeout, s.stderr.String())
		}
	}
}

// stop cancels serve's context and checks that it returns with exit
// status 0 once its open connections end (at most shutdownGrace later).
func (s *server) stop() error {
	s.once.Do(func() {
		s.cancel()
		select {
		case s.code = <-s.done:
			if s.code != exitOK {
				s.err = fmt.Errorf("serve exited with %d after cancellation:\n%s", s.code, s.stderr.String())
			}
		case <-time.After(shutdownGrace + 5*time.Second):
			s.err = fmt.Errorf("serve did not return within %v of cancellation:\n%s", shutdownGrace+5*time.Second, s.stderr.String())
		}
	})
	return s.err
}

// connectJSON holds the fields of "ratls connect --json" and "ratls verify
// --json" that these tests check.
type connectJSON struct {
	Source   string `json:"source"`
	Input    string `json:"input"`
	Evidence []struct {
		TEE          string         `json:"tee"`
		Measurements map[string]any `json:"measurements"`
		KeyBinding   string         `json:"key_binding"`
		Claims       *struct {
			Nonce string `json:"nonce"`
		} `json:"claims"`
	} `json:"evidence"`
	Verification struct {
		Status      string `json:"status"`
		TCBStatus   string `json:"tcb_status"`
		KeyBinding  string `json:"key_binding"`
		TrustAnchor *struct {
			Intel     bool `json:"intel"`
			Simulated bool `json:"simulated"`
		} `json:"trust_anchor"`
		Reasons []struct {
			Check    string `json:"check"`
			Expected string `json:"expected"`
			Actual   string `json:"actual"`
			Status   string `json:"status"`
		} `json:"reasons"`
		ReferenceValuesChecked bool `json:"reference_values_checked"`
	} `json:"verification"`
}

func decodeConnect(t *testing.T, out string) *connectJSON {
	t.Helper()
	var r connectJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, out)
	}
	return &r
}

// reason returns the reason for check, or nil.
func (r *connectJSON) reason(check string) *struct {
	Check    string `json:"check"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	Status   string `json:"status"`
} {
	for i := range r.Verification.Reasons {
		if r.Verification.Reasons[i].Check == check {
			return &r.Verification.Reasons[i]
		}
	}
	return nil
}

// checkSimulatedWarning asserts the outcome every accepted simulated TDX
// peer has: a warning (the root is simulated), UpToDate, key bound.
func checkSimulatedWarning(t *testing.T, r *connectJSON) {
	t.Helper()
	v := r.Verification
	if v.Status != "warning" || v.TCBStatus != "UpToDate" || v.KeyBinding != "ok" {
		t.Errorf("status %q, tcb_status %q, key_binding %q; want warning, UpToDate, ok", v.Status, v.TCBStatus, v.KeyBinding)
	}
	if v.TrustAnchor == nil || !v.TrustAnchor.Simulated || v.TrustAnchor.Intel {
		t.Errorf("trust_anchor %+v: want simulated, not Intel", v.TrustAnchor)
	}
	if rs := r.reason("trust_anchor"); rs == nil || rs.Status != "warning" || rs.Actual != "simulated" {
		t.Errorf("trust_anchor reason: %+v", rs)
	}
}

func writePolicy(t *testing.T, policy string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(path, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDemo(t *testing.T) {
	for _, tc := range []struct {
		tee, measurement, wrongCheck string
	}{
		{"tdx", "tdx.mrtd", "tdx.mrtd"},
		{"sgx", "sgx.mrenclave", "sgx.mrenclave"},
	} {
		t.Run(tc.tee, func(t *testing.T) {
			args := []string{"demo"}
			if tc.tee != "tdx" {
				args = append(args, "--tee", tc.tee)
			}
			code, out, stderr := runBounded(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
			}
			for _, want := range []string{
				"Simulated " + strings.ToUpper(tc.tee) + " TEE created",
				`Handshake accepted; sent "hello, attested world", the server echoed "hello, attested world"`,
				"TEE:             " + tc.tee,
				"key binding:     ok",
				"TCB status:      UpToDate",
				"SIMULATED TEE",
				"Result: WARNING",
				"What this proved",
				"A client expecting different code refuses the same server:",
				"peer attestation rejected: " + tc.wrongCheck + ": " + tc.measurement + " is not one of the reference values",
				// The three bindings, and a relay only post-handshake mode refuses.
				"==> Nonce mode: ",
				"==> Post-handshake mode (" + ratls.ExpatRevision + ")",
				"result warning; the server echoed \"bound to this connection\"",
				"certificate mode ACCEPTS the relayed connection",
				"post-handshake mode REFUSES it: ratls: the server's authenticator: exportedauth: CertificateVerify",
				// The verification service appraises the same TEE.
				"==> Verification service on http://127.0.0.1:",
				"to the session -> status complete, an EAR of",
				"EAR signature verified with the key from /v1/keys",
				`"` + tc.tee + `": {`,
				`"ear.status": "warning"`,
				"The service says warning",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("demo output lacks %q", want)
				}
			}
			if tc.tee == "tdx" && !strings.Contains(out, "actual "+simDefaultMRTD) {
				t.Errorf("the rejection does not show the actual MRTD %s", simDefaultMRTD)
			}
			if strings.Contains(out, "Result: CONTRAINDICATED") {
				t.Error("the accepted handshake is reported as contraindicated")
			}
		})
	}
	if code, _, stderr := runBounded(t, "demo", "--tee", "snp"); code != exitInput || !strings.Contains(stderr, "--tee") {
		t.Errorf("demo --tee snp: exit %d, %q; want 2 naming --tee", code, stderr)
	}
}

func TestServeConnect(t *testing.T) {
	dir := newSimDir(t)
	root := filepath.Join(dir, sim.RootFile)
	srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--tee", "tdx", "--echo")
	nonceSrv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--tee", "tdx", "--echo", "--nonce")

	t.Run("accepted", func(t *testing.T) {
		code, out, stderr := runBounded(t, "connect", "--offline", "--trust-root", root, "--policy", filepath.Join(dir, sim.PolicyFile), "--json", srv.addr)
		if code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
		}
		r := decodeConnect(t, out)
		checkSimulatedWarning(t, r)
		if r.Input != srv.addr || len(r.Evidence) != 1 || r.Evidence[0].TEE != "tdx" || r.Evidence[0].Measurements["mrtd"] != simDefaultMRTD {
			t.Errorf("input %q, evidence %+v", r.Input, r.Evidence)
		}
		// Text output says the same.
		code, out, _ = runBounded(t, "connect", "--offline", "--trust-root", root, "--policy", filepath.Join(dir, sim.PolicyFile), srv.addr)
		if code != exitOK || !strings.Contains(out, "Result: WARNING") || !strings.Contains(out, "key binding:     ok") {
			t.Errorf("text: exit %d\n%s", code, out)
		}
	})

	t.Run("untrusted root", func(t *testing.T) {
		code, out, stderr := runBounded(t, "connect", "--offline", "--json", srv.addr)
		if code != exitRejected {
			t.Fatalf("exit %d, want 1\n%s\n%s", code, out, stderr)
		}
		if !strings.Contains(stderr, "server rejected: pck.chain") {
			t.Errorf("stderr does not name pck.chain: %q", stderr)
		}
		if r := decodeConnect(t, out); r.Verification.Status != "contraindicated" || r.reason("pck.chain") == nil {
			t.Errorf("verification %+v", r.Verification)
		}
	})

	t.Run("reference values", func(t *testing.T) {
		other := strings.Repeat("00", 48)
		wrong := writePolicy(t, `{"id":"other-td","tdx":{"mrtd":["`+other+`"]}}`)
		code, out, stderr := runBounded(t, "connect", "--offline", "--trust-root", root, "--policy", wrong, "--json", srv.addr)
		if code != exitRejected {
			t.Fatalf("exit %d, want 1\n%s\n%s", code, out, stderr)
		}
		if !strings.Contains(stderr, "server rejected: tdx.mrtd") {
			t.Errorf("stderr does not name tdx.mrtd: %q", stderr)
		}
		r := decodeConnect(t, out)
		rs := r.reason("tdx.mrtd")
		if rs == nil || rs.Expected != other || rs.Actual != simDefaultMRTD || rs.Status != "contraindicated" {
			t.Errorf("tdx.mrtd reason %+v; want expected %s, actual %s", rs, other, simDefaultMRTD)
		}
		// The text form shows expected and actual too.
		_, out, _ = runBounded(t, "connect", "--offline", "--trust-root", root, "--policy", wrong, srv.addr)
		if !strings.Contains(out, "[expected "+other+", actual "+simDefaultMRTD+"]") || !strings.Contains(out, "Result: CONTRAINDICATED") {
			t.Errorf("text output:\n%s", out)
		}
		// The right MRTD is accepted and counts as checked.
		right := writePolicy(t, `{"id":"this-td","tdx":{"mrtd":["`+simDefaultMRTD+`"]}}`)
		code, out, stderr = runBounded(t, "connect", "--offline", "--trust-root", root, "--policy", right, "--json", srv.addr)
		if code != exitOK {
			t.Fatalf("matching policy: exit %d\n%s", code, stderr)
		}
		if r := decodeConnect(t, out); !r.Verification.ReferenceValuesChecked || r.Verification.Status != "warning" {
			t.Errorf("matching policy: %+v", r.Verification)
		}
	})

	t.Run("nonce", func(t *testing.T) {
		// A server without --nonce answers with its cached certificate.
		code, out, stderr := runBounded(t, "connect", "--offline", "--trust-root", root, "--policy", filepath.Join(dir, sim.PolicyFile), "--nonce", "--json", srv.addr)
		if code != exitRejected || !strings.Contains(stderr, "server rejected: nonce") {
			t.Fatalf("server without --nonce: exit %d, stderr %q; want 1 naming nonce", code, stderr)
		}
		if rs := decodeConnect(t, out).reason("nonce"); rs == nil || rs.Actual != "absent" || len(rs.Expected) != 2*ratls.NonceSize {
			t.Errorf("nonce reason %+v", rs)
		}
		// A server with --nonce makes a certificate for this connection.
		code, out, stderr = runBounded(t, "connect", "--offline", "--trust-root", root, "--policy", filepath.Join(dir, sim.PolicyFile), "--nonce", "--json", nonceSrv.addr)
		if code != exitOK {
			t.Fatalf("server with --nonce: exit %d\n%s", code, stderr)
		}
		r := decodeConnect(t, out)
		checkSimulatedWarning(t, r)
		if len(r.Evidence) != 1 || r.Evidence[0].Claims == nil || len(r.Evidence[0].Claims.Nonce) != 2*ratls.NonceSize {
			t.Errorf("evidence of a fresh certificate: %+v", r.Evidence)
		}
		// Without --nonce the nonce server still serves its plain certificate.
		if code, _, stderr := runBounded(t, "connect", "--offline", "--trust-root", root, "--policy", filepath.Join(dir, sim.PolicyFile), nonceSrv.addr); code != exitOK {
			t.Errorf("plain connect to a --nonce server: exit %d, %s", code, stderr)
		}
	})

	t.Run("echo", func(t *testing.T) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: e2eTimeout}, "tcp", srv.addr, ratls.ClientConfig(simVerifier(t, dir), nil))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if reply, err := roundTrip(conn, "over attested TLS"); err != nil || reply != "over attested TLS" {
			t.Errorf("echo: %q, %v", reply, err)
		}
	})

	t.Run("inspect", func(t *testing.T) {
		code, out, stderr := runBounded(t, "inspect", srv.addr)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		for _, want := range []string{
			"Source:            " + srv.addr + " (certificate)",
			"Certificate", "self-signed, valid",
			"Evidence 1", "interop, extension 2.23.133.5.4.9, CBOR tag 60000",
			"TEE:             tdx", "quote:           version 4",
			"mrtd:          " + simDefaultMRTD,
			"key binding:     ok (claims-sha256)",
			"Endorsements", "not trusted",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("inspect output lacks %q", want)
			}
		}
	})

	t.Run("verify", func(t *testing.T) {
		code, out, stderr := runBounded(t, "verify", "--offline", "--trust-root", root, "--json", srv.addr)
		if code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
		}
		checkSimulatedWarning(t, decodeConnect(t, out))
		code, out, _ = runBounded(t, "verify", "--offline", "--trust-root", root, srv.addr)
		if code != exitOK || !strings.Contains(out, "Result: WARNING") {
			t.Errorf("text: exit %d\n%s", code, out)
		}
		if code, _, stderr := runBounded(t, "verify", "--offline", srv.addr); code != exitRejected || !strings.Contains(stderr, "pck.chain") {
			t.Errorf("verify without the root: exit %d, %q; want 1 naming pck.chain", code, stderr)
		}
	})

	t.Run("no server", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if code, _, stderr := runBounded(t, "connect", "--offline", "--trust-root", root, "--policy", filepath.Join(dir, sim.PolicyFile), addr); code != exitInput {
			t.Errorf("closed port: exit %d, %q; want 2", code, stderr)
		}
	})

	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{
			{"connect", "--offline"},
			{"connect", "--offline", "--update", "sometimes", srv.addr},
			{"connect", "--offline", "--trust-root", filepath.Join(dir, "missing.pem"), srv.addr},
			{"connect", "--offline", "--attester", "nope", srv.addr},
		} {
			if code, _, stderr := runBounded(t, args...); code != exitInput || !strings.HasPrefix(stderr, "ratls: ") {
				t.Errorf("%v: exit %d, %q; want 2", args, code, stderr)
			}
		}
	})
}

// Mutual attestation: serve --mutual accepts a connect --attester client
// and refuses one without an RA-TLS certificate.
func TestServeMutual(t *testing.T) {
	dir := newSimDir(t)
	root := filepath.Join(dir, sim.RootFile)
	srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--echo", "--mutual", "--policy", filepath.Join(dir, sim.PolicyFile), "--offline", "--trust-root", root)

	code, out, stderr := runBounded(t, "connect", "--offline", "--trust-root", root, "--policy", filepath.Join(dir, sim.PolicyFile), "--attester", "sim", "--sim-dir", dir, "--tee", "sgx", "--json", srv.addr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	checkSimulatedWarning(t, decodeConnect(t, out))

	// TLS 1.3: the client's handshake completes before the server judges
	// its certificate; the refusal arrives on the first read.
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: e2eTimeout}, "tcp", srv.addr, ratls.ClientConfig(simVerifier(t, dir), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if reply, err := roundTrip(conn, "let me in"); err == nil {
		t.Errorf("a client without an RA-TLS certificate got %q", reply)
	}
	waitFor(t, "serve logs the refused handshake", func() bool { return strings.Contains(srv.stderr.String(), `msg=handshake`) })
}

// Stopping serve lets open connections finish, then closes those still
// open after shutdownGrace: an idle client cannot keep it running.
func TestServeShutdown(t *testing.T) {
	dir := newSimDir(t)
	dial := func(t *testing.T, srv *server) *tls.Conn {
		t.Helper()
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: e2eTimeout}, "tcp", srv.addr, ratls.ClientConfig(simVerifier(t, dir), nil))
		if err != nil {
			t.Fatal(err)
		}
		if reply, err := roundTrip(conn, "still here"); err != nil || reply != "still here" {
			t.Fatalf("echo: %q, %v", reply, err)
		}
		return conn
	}

	t.Run("client finishes", func(t *testing.T) {
		srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--echo")
		conn := dial(t, srv)
		stopped := make(chan error, 1)
		start := time.Now()
		go func() { stopped <- srv.stop() }()
		// The open connection still works during the grace period.
		time.Sleep(100 * time.Millisecond)
		if reply, err := roundTrip(conn, "one more"); err != nil || reply != "one more" {
			t.Errorf("echo while stopping: %q, %v", reply, err)
		}
		conn.Close()
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d >= shutdownGrace {
			t.Errorf("serve took %v to stop after its last client left", d)
		}
		if !strings.Contains(srv.stderr.String(), "shutting down") {
			t.Errorf("no shutdown log:\n%s", srv.stderr.String())
		}
	})

	t.Run("idle client", func(t *testing.T) {
		if testing.Short() {
			t.Skipf("waits %v for the shutdown grace period", shutdownGrace)
		}
		srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--echo")
		conn := dial(t, srv)
		defer conn.Close()
		if err := srv.stop(); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(e2eTimeout))
		if n, err := conn.Read(make([]byte, 1)); err == nil {
			t.Errorf("the connection is still open after serve stopped (read %d bytes)", n)
		}
	})
}

func TestServeUpstream(t *testing.T) {
	dir := newSimDir(t)

	t.Run("http", func(t *testing.T) {
		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "upstream saw %s %s", r.Method, r.URL.Path)
		}))
		t.Cleanup(upstream.Close)
		srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--upstream", upstream.URL)

		for _, h2 := range []bool{false, true} {
			// With ForceAttemptHTTP2 the client offers h2 by ALPN, as
			// browsers and curl do.
			t.Run(fmt.Sprintf("offer h2 %v", h2), func(t *testing.T) {
				pv := simVerifier(t, dir)
				tr := &http.Transport{TLSClientConfig: ratls.ClientConfig(pv, nil), ForceAttemptHTTP2: h2}
				defer tr.CloseIdleConnections()
				client := &http.Client{Transport: tr, Timeout: e2eTimeout}
				resp, err := client.Get("https://" + srv.addr + "/some/path")
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || string(body) != "upstream saw GET /some/path" {
					t.Errorf("status %d, body %q, %v", resp.StatusCode, body, err)
				}
				v := pv.Verification(*resp.TLS)
				if r, _ := v.Result.(*intel.Result); !v.Accepted() || r == nil || r.TrustAnchor == nil || !r.TrustAnchor.Simulated {
					t.Errorf("verification of the front end: %+v", v)
				}
			})
		}
	})

	t.Run("tcp", func(t *testing.T) {
		addr := lineServer(t, func(line string) string { return "upstream: " + line })
		srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--upstream", "tcp://"+addr)
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: e2eTimeout}, "tcp", srv.addr, ratls.ClientConfig(simVerifier(t, dir), nil))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(e2eTimeout))
		r := bufio.NewReader(conn)
		for _, msg := range []string{"first", "second"} {
			fmt.Fprintln(conn, msg)
			line, err := r.ReadString('\n')
			if err != nil || line != "upstream: "+msg+"\n" {
				t.Fatalf("reply %q, %v", line, err)
			}
		}
		// The upstream closing ends the client's connection too.
		fmt.Fprintln(conn, "quit")
		if line, err := r.ReadString('\n'); err == nil {
			t.Errorf("after quit: read %q, want the connection closed", line)
		}
	})

	t.Run("tcp unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--upstream", "tcp://"+addr)
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: e2eTimeout}, "tcp", srv.addr, ratls.ClientConfig(simVerifier(t, dir), nil))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(e2eTimeout))
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Error("read data although the upstream is down")
		}
		waitFor(t, "serve logs the upstream error", func() bool { return strings.Contains(srv.stderr.String(), "msg=upstream") })
	})

	t.Run("tcp half-close", func(t *testing.T) {
		// A client that sends its request, shuts down its sending side
		// and waits for the answer (nc -N, "echo x | ratls connect
		// --relay", HTTP/1.0-style protocols) must get the answer.
		addr := replyAfterEOFServer(t)
		srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--upstream", "tcp://"+addr)
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: e2eTimeout}, "tcp", srv.addr, ratls.ClientConfig(simVerifier(t, dir), nil))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(e2eTimeout))
		io.WriteString(conn, "request")
		if err := conn.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		reply, err := io.ReadAll(conn)
		if err != nil || string(reply) != "answer to request" {
			t.Errorf("reply %q, %v", reply, err)
		}
	})
}

// waitFor polls cond until it holds, for at most e2eTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(e2eTimeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("timed out waiting until %s", what)
			return
		}
	}
}

// lineServer runs a TCP server on loopback that answers each line with
// answer(line) and closes the connection on "quit".
func lineServer(t *testing.T, answer func(string) string) string {
	t.Helper()
	return tcpServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil || line == "quit\n" {
				return
			}
			io.WriteString(c, answer(line))
		}
	})
}

// replyAfterEOFServer runs a TCP server on loopback that reads the whole
// request, then answers a little later (as a server doing work would).
func replyAfterEOFServer(t *testing.T) string {
	t.Helper()
	return tcpServer(t, func(c net.Conn) {
		req, err := io.ReadAll(c)
		if err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
		io.WriteString(c, "answer to "+string(req))
	})
}

// tcpServer serves each connection with handle until the test ends, and
// waits for the handlers before the test finishes.
func tcpServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(e2eTimeout))
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestServeBadFlags(t *testing.T) {
	dir := newSimDir(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no attester", []string{"--echo"}, `"attester" not set`},
		{"echo and upstream", []string{"--attester", "sim", "--echo", "--upstream", "http://127.0.0.1:1"}, "exactly one of --upstream or --echo"},
		{"neither echo nor upstream", []string{"--attester", "sim"}, "exactly one of --upstream or --echo"},
		{"bad upstream scheme", []string{"--attester", "sim", "--upstream", "ftp://127.0.0.1:21"}, `--upstream: want http://, https:// or tcp://, got "ftp://127.0.0.1:21"`},
		{"unparsable upstream", []string{"--attester", "sim", "--upstream", "http://[::1"}, "--upstream"},
		{"unknown attester", []string{"--attester", "sgx-magic", "--echo"}, `--attester: want sim, tsm, gramine or sevguest, got "sgx-magic"`},
		{"bad sim tee", []string{"--attester", "sim", "--tee", "snp", "--echo"}, "attester sim"},
		{"missing sim dir", []string{"--attester", "sim", "--sim-dir", filepath.Join(dir, "missing"), "--echo"}, "sim.json"},
		{"address in use", []string{"--attester", "sim", "--sim-dir", dir, "--echo", "--listen", busy.Addr().String()}, "address already in use"},
		{"unknown flag", []string{"--attester", "sim", "--echo", "--no-such-flag"}, "unknown flag"},
		{"arguments", []string{"--attester", "sim", "--echo", "extra"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each case listens on a free port if it gets that far, so a
			// case that is wrongly accepted fails instead of blocking.
			args := append([]string{"serve", "--listen", "127.0.0.1:0"}, tc.args...)
			code, _, stderr := runBounded(t, args...)
			if code != exitInput || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 with %q", code, stderr, tc.want)
			}
		})
	}
}

// "sim quote" for SGX, verified with "verify" and the simulation's SGX
// collateral (the TDX path is covered by TestSimQuote).
func TestSimQuoteVerifySGX(t *testing.T) {
	dir := newSimDir(t)
	quoteFile := filepath.Join(t.TempDir(), "sgx.quote")
	if code, out, stderr := runCLI(t, "sim", "quote", "--dir", dir, "--tee", "sgx", "--report-data", "0011", "--out", quoteFile); code != exitOK {
		t.Fatalf("sim quote: exit %d\n%s\n%s", code, out, stderr)
	}
	root := filepath.Join(dir, sim.RootFile)
	code, out, stderr := runBounded(t, "verify", "--json", "--offline", "--trust-root", root, "--collateral", filepath.Join(dir, "sgx"), quoteFile)
	if code != exitOK {
		t.Fatalf("verify: exit %d\n%s\n%s", code, out, stderr)
	}
	r := decodeConnect(t, out)
	v := r.Verification
	if r.Source != "evidence" || v.Status != "warning" || v.TCBStatus != "UpToDate" || v.KeyBinding != "not-applicable" ||
		v.TrustAnchor == nil || !v.TrustAnchor.Simulated {
		t.Errorf("source %q, verification %+v", r.Source, v)
	}
	// TDX collateral does not fit an SGX quote: rejected, not accepted.
	if code, _, stderr := runBounded(t, "verify", "--offline", "--trust-root", root, "--collateral", filepath.Join(dir, "tdx"), quoteFile); code != exitRejected {
		t.Errorf("verify with TDX collateral: exit %d, %s; want 1", code, stderr)
	}
	// Without collateral offline: rejected, and the reason says so.
	if code, _, stderr := runBounded(t, "verify", "--offline", "--trust-root", root, quoteFile); code != exitRejected || !strings.Contains(stderr, "collateral") {
		t.Errorf("verify without collateral: exit %d, %q; want 1 naming the collateral", code, stderr)
	}
}

// Collateral in a certificate's endorsements extension is used as is: a DER
// CRL whose last byte is zero (its signature's last byte, one CRL in 256)
// must not be cut short.
func TestEndorsedCRLEndingInZero(t *testing.T) {
	// This seed and time give a TDX root CA CRL whose last byte is zero.
	dir := filepath.Join(t.TempDir(), "sim")
	if code, _, stderr := runCLI(t, "sim", "init", "--seed", "4b227777d4dd1fc61c6f884f48641d02b4d121d3fd328cb08b5531fcacdabf8a", "--at", "2026-06-01T00:00:00Z", dir); code != exitOK {
		t.Fatalf("sim init: %s", stderr)
	}
	if !simCRLEndsInZero(t, dir, sim.TEETDX) {
		t.Fatal("the fixed simulation no longer has a CRL ending in a zero byte; pick another seed")
	}
	root := filepath.Join(dir, sim.RootFile)

	// The same collateral read from the directory verifies.
	quoteFile := filepath.Join(t.TempDir(), "tdx.quote")
	if code, _, stderr := runCLI(t, "sim", "quote", "--dir", dir, "--tee", "tdx", "--report-data", "01", "--out", quoteFile); code != exitOK {
		t.Fatalf("sim quote: exit %d, %s", code, stderr)
	}
	if code, out, stderr := runBounded(t, "verify", "--offline", "--trust-root", root, "--collateral", filepath.Join(dir, "tdx"), quoteFile); code != exitOK {
		t.Fatalf("verify with --collateral: exit %d\n%s\n%s", code, out, stderr)
	}

	// The same collateral in the certificate's endorsements must too.
	srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--tee", "tdx", "--echo")
	code, out, stderr := runBounded(t, "connect", "--offline", "--trust-root", root, "--policy", filepath.Join(dir, sim.PolicyFile), "--json", srv.addr)
	if code != exitOK {
		t.Fatalf("connect: exit %d\n%s\n%s", code, out, stderr)
	}
	checkSimulatedWarning(t, decodeConnect(t, out))
}
