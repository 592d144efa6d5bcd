package ratls

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/evidence"
)

// countingAttester counts evidence generations.
type countingAttester struct {
	*testPlatform
	calls atomic.Int64
	gen   atomic.Uint64
}

func (c *countingAttester) Attest(ctx context.Context, rd [64]byte) (*evidence.Evidence, error) {
	c.calls.Add(1)
	return c.testPlatform.Attest(ctx, rd)
}

func (c *countingAttester) Generation() uint64 { return c.gen.Load() }

// serve runs an echo server on loopback with cfg until the test ends.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func echo(t *testing.T, addr string, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write([]byte("ping")); err != nil {
		conn.Close()
		return nil, err
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		conn.Close()
		return nil, errors.Join(err, errors.New("echo mismatch"))
	}
	return conn, nil
}

func newAttestedServer(t *testing.T, tdx bool) (*countingAttester, *Issuer) {
	t.Helper()
	tp := newTestPlatform(t, tdx)
	att := &countingAttester{testPlatform: tp}
	iss := NewIssuer(att, &IssuerOptions{Certificate: CertificateOptions{
		Endorsements: tp.endorsements(t),
		Now:          func() time.Time { return tp.pki.Now },
	}})
	return att, iss
}

func TestAttestedTLSServerOnly(t *testing.T) {
	att, iss := newAttestedServer(t, true)
	addr := serve(t, ServerConfig(iss, nil))

	var calls atomic.Int64
	pv := NewPeerVerifier(att.options())
	pv.OnVerified = func(*Verification) { calls.Add(1) }
	cfg := ClientConfig(pv, nil)
	conn, err := echo(t, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	v := pv.Verification(conn.ConnectionState())
	conn.Close()
	if v == nil || v.Appraisal.Status != appraise.Affirming || intelOf(v).TEE != "tdx" {
		t.Fatalf("verification: %+v", v)
	}
	// A second handshake with the same certificate reuses the result.
	conn, err = echo(t, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if calls.Load() != 1 {
		t.Errorf("verifications: want 1 (cached), got %d", calls.Load())
	}
	if att.calls.Load() != 1 {
		t.Errorf("quotes generated: want 1, got %d", att.calls.Load())
	}
}

func TestAttestedTLSPolicyRejection(t *testing.T) {
	att, iss := newAttestedServer(t, false)
	addr := serve(t, ServerConfig(iss, nil))
	opt := att.options()
	opt.Policy = &appraise.Policy{SGX: &appraise.SGXReference{MRSigner: []string{strings.Repeat("ab", 32)}}}
	_, err := echo(t, addr, ClientConfig(NewPeerVerifier(opt), nil))
	var pe *PeerError
	if err == nil || !errors.As(err, &pe) {
		t.Fatalf("want a PeerError, got %v", err)
	}
	if !strings.Contains(err.Error(), "sgx.mrsigner") || !strings.Contains(err.Error(), "expected "+strings.Repeat("ab", 32)) {
		t.Errorf("error does not explain the rejection: %v", err)
	}
	// The genuine Intel root alone refuses the test platform.
	_, err = echo(t, addr, ClientConfig(NewPeerVerifier(&VerifyOptions{Now: att.pki.Now}), nil))
	if err == nil || !strings.Contains(err.Error(), "pck.chain") {
		t.Errorf("genuine-root client: %v", err)
	}
}

// Plain TLS clients still connect to an RA-TLS server.
func TestPlainClientConnects(t *testing.T) {
	_, iss := newAttestedServer(t, false)
	addr := serve(t, ServerConfig(iss, nil))
	conn, err := echo(t, addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if len(conn.ConnectionState().PeerCertificates[0].Extensions) < 3 {
		t.Error("server certificate lacks the evidence extension")
	}
}

func TestMutualAttestation(t *testing.T) {
	serverAtt, serverIss := newAttestedServer(t, true)
	clientAtt, clientIss := newAttestedServer(t, false)
	clientVerifier := NewPeerVerifier(clientAtt.options()) // the server verifies clients of the client's platform
	addr := serve(t, ServerConfig(serverIss, clientVerifier))

	conn, err := echo(t, addr, ClientConfig(NewPeerVerifier(serverAtt.options()), clientIss))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	// A client without an RA-TLS certificate is refused.
	if _, err := echo(t, addr, ClientConfig(NewPeerVerifier(serverAtt.options()), nil)); err == nil {
		t.Error("client without a certificate was accepted")
	}
	// A client attesting on a platform the server does not trust is refused.
	_, strangerIss := newAttestedServer(t, false)
	if _, err := echo(t, addr, ClientConfig(NewPeerVerifier(serverAtt.options()), strangerIss)); err == nil {
		t.Error("client from an untrusted platform was accepted")
	}
}

func TestHTTPTransport(t *testing.T) {
	att, iss := newAttestedServer(t, true)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerConfig(iss, nil))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from the TEE") })}
	go srv.Serve(ln)
	defer srv.Close()
	pv := NewPeerVerifier(att.options())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: ClientConfig(pv, nil)}, Timeout: 10 * time.Second}
	resp, err := client.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from the TEE" || pv.Verification(*resp.TLS) == nil {
		t.Errorf("body %q, verification %v", body, pv.Verification(*resp.TLS))
	}
}

// Concurrent first handshakes share one quote generation.
func TestConcurrentHandshakesOneQuote(t *testing.T) {
	att, iss := newAttestedServer(t, false)
	addr := serve(t, ServerConfig(iss, nil))
	cfg := ClientConfig(NewPeerVerifier(att.options()), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := echo(t, addr, cfg)
			if err != nil {
				errs <- err
				return
			}
			conn.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := att.calls.Load(); n != 1 {
		t.Errorf("quotes generated: want 1, got %d", n)
	}
}

func TestIssuerRenewal(t *testing.T) {
	tp := newTestPlatform(t, false)
	att := &countingAttester{testPlatform: tp}
	now := tp.pki.Now
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	iss := NewIssuer(att, &IssuerOptions{Certificate: CertificateOptions{Now: clock, Validity: time.Hour}})
	ctx := context.Background()
	first, err := iss.Certificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := iss.Certificate(ctx); again != first {
		t.Error("certificate not cached")
	}
	// Past two thirds of its life it is renewed.
	mu.Lock()
	now = now.Add(50 * time.Minute)
	mu.Unlock()
	renewed, err := iss.Certificate(ctx)
	if err != nil || renewed == first || !renewed.Leaf.NotAfter.After(first.Leaf.NotAfter) {
		t.Fatalf("renewal: %v", err)
	}
	// New evidence (a changed generation) reissues at once.
	att.gen.Add(1)
	if next, _ := iss.Certificate(ctx); next == renewed {
		t.Error("certificate not reissued after the evidence changed")
	}
	if n := att.calls.Load(); n != 3 {
		t.Errorf("quotes: want 3, got %d", n)
	}
}
