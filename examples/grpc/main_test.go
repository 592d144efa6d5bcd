package main

import (
	"bytes"
	"context"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/verify/intel"
)

// Measurements of the simulated TDs in these tests (arbitrary values).
const (
	serverMRTD = "aefeadd15a11e7cf8e095457e761aca22083ea5d3e7c792de79d367bac9df3711faadee3462a1808957b3dea52809a23"
	clientMRTD = "430bf29202e45fa1bc99f36c51ee781f911e9f0a1a1f3fa54b8ddc6c5c24f906df12d023530cf81c87becb980bcd8ad0"
	otherMRTD  = "74111dea18883dd5a8c6e78456de0919e9cb11150e90abf44e26e1b106450f19a878d0b979eaecaf7fc6c5491bafabd1"
)

func td(t *testing.T, mrtd string) sim.TDXMeasurements {
	t.Helper()
	var m sim.TDXMeasurements
	b, err := hex.DecodeString(mrtd)
	if err != nil || len(b) != len(m.MRTD) {
		t.Fatalf("bad MRTD constant %q", mrtd)
	}
	copy(m.MRTD[:], b)
	return m
}

// expectMRTD is a policy that accepts a TD with this MRTD only.
func expectMRTD(mrtd string) *appraise.Policy {
	return &appraise.Policy{ID: "test", TDX: &appraise.TDXReference{MRTD: []string{mrtd}}}
}

func newPlatform(t *testing.T) *simPlatform {
	t.Helper()
	p, err := newSimPlatform()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newIssuer(t *testing.T, p *simPlatform, mrtd string, opts *ratls.IssuerOptions) (*ratls.Issuer, *sim.Attester) {
	t.Helper()
	iss, att, err := p.issuer("test "+mrtd[:8], td(t, mrtd), opts)
	if err != nil {
		t.Fatal(err)
	}
	return iss, att
}

func startServer(t *testing.T, creds credentials.TransportCredentials, opts ...grpc.ServerOption) string {
	t.Helper()
	addr, stop, err := serve(creds, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr
}

// check calls the health service over a new client connection and returns
// the peer the call went to.
func check(t *testing.T, addr string, creds credentials.TransportCredentials) (*peer.Peer, error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var p peer.Peer
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Peer(&p))
	if err != nil {
		return nil, err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health status: want SERVING, got %s", resp.GetStatus())
	}
	return &p, nil
}

// wantAttested checks a verification of a simulated TD with MRTD mrtd.
func wantAttested(t *testing.T, who string, v *ratls.Verification, mrtd string) {
	t.Helper()
	if v == nil {
		t.Fatalf("%s: no verification", who)
	}
	// Simulated evidence is accepted with a warning, never affirmed.
	if v.Appraisal.Status != appraise.Warning || !v.Accepted() {
		t.Fatalf("%s: appraisal: want accepted warning, got %s %+v", who, v.Appraisal.Status, v.Appraisal.Reasons)
	}
	if !hasReason(v, "trust_anchor", appraise.Warning) {
		t.Errorf("%s: no trust_anchor warning for simulated evidence: %+v", who, v.Appraisal.Reasons)
	}
	r, _ := v.Result.(*intel.Result)
	if r == nil || r.TEE != "tdx" || r.Quote == nil || r.Quote.TD == nil {
		t.Fatalf("%s: want a verified TDX quote, got %+v", who, v.Result)
	}
	if got := hex.EncodeToString(r.Quote.TD.MRTD[:]); got != mrtd {
		t.Errorf("%s: MRTD: want %s, got %s", who, mrtd, got)
	}
	if v.Binding == nil || v.Binding.Status != evidence.BindingOK {
		t.Errorf("%s: key binding: want ok, got %+v", who, v.Binding)
	}
}

func hasReason(v *ratls.Verification, check string, st appraise.Status) bool {
	for _, r := range v.Appraisal.Reasons {
		if r.Check == check && r.Status == st {
			return true
		}
	}
	return false
}

// recorder is a server interceptor that keeps the last call's peer and
// client verification.
type recorder struct {
	mu     sync.Mutex
	calls  int
	peer   *peer.Peer
	client *ratls.Verification
}

func (r *recorder) intercept(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	p, _ := peer.FromContext(ctx)
	r.mu.Lock()
	r.calls++
	r.peer, r.client = p, clientVerification(ctx)
	r.mu.Unlock()
	return handler(ctx, req)
}

func (r *recorder) last() (int, *peer.Peer, *ratls.Verification) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, r.peer, r.client
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	// The simulator's documented default MRTD: SHA-384("ratls simulated TD").
	defaultMRTD := sha512.Sum384([]byte("ratls simulated TD"))
	for _, want := range []string{
		"health check: SERVING",
		"server attestation: warning",
		"tee:   tdx, TCB status UpToDate",
		"mrtd:  " + hex.EncodeToString(defaultMRTD[:]),
		"key binding: ok",
		"warning trust_anchor: SIMULATED TEE",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// Server-only attestation: the client verifies the server; the server sees
// an ordinary TLS client.
func TestServerAttestation(t *testing.T) {
	p := newPlatform(t)
	iss, _ := newIssuer(t, p, serverMRTD, nil)
	var rec recorder
	addr := startServer(t, credentials.NewTLS(ratls.ServerConfig(iss, nil)), grpc.UnaryInterceptor(rec.intercept))

	pv := p.verifier(expectMRTD(serverMRTD))
	cfg := ratls.ClientConfig(pv, nil)
	if len(cfg.NextProtos) != 0 {
		t.Fatalf("ratls.ClientConfig NextProtos: want none, got %q", cfg.NextProtos)
	}
	got, err := check(t, addr, credentials.NewTLS(cfg))
	if err != nil {
		t.Fatal(err)
	}
	state, ok := tlsState(got)
	if !ok {
		t.Fatalf("client peer AuthInfo: want TLS, got %T", got.AuthInfo)
	}
	// credentials.NewTLS offered "h2" although the configuration had none.
	if state.NegotiatedProtocol != "h2" {
		t.Errorf("ALPN: want h2, got %q", state.NegotiatedProtocol)
	}
	wantAttested(t, "server", peerVerification(got, pv), serverMRTD)

	calls, sp, client := rec.last()
	if calls != 1 {
		t.Fatalf("server calls: want 1, got %d", calls)
	}
	sstate, ok := tlsState(sp)
	if !ok {
		t.Fatalf("server peer AuthInfo: want TLS, got %T", sp.AuthInfo)
	}
	if len(sstate.PeerCertificates) != 0 || client != nil {
		t.Errorf("server-only mode: the server saw a client certificate (%d) or verification (%v)", len(sstate.PeerCertificates), client)
	}
}

// A client expecting other code refuses the server, and the call's error
// says why.
func TestPolicyMismatch(t *testing.T) {
	p := newPlatform(t)
	iss, _ := newIssuer(t, p, serverMRTD, nil)
	var rec recorder
	addr := startServer(t, credentials.NewTLS(ratls.ServerConfig(iss, nil)), grpc.UnaryInterceptor(rec.intercept))

	pv := p.verifier(expectMRTD(otherMRTD))
	_, err := check(t, addr, credentials.NewTLS(ratls.ClientConfig(pv, nil)))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("call: want code Unavailable, got %v", err)
	}
	for _, want := range []string{
		"ratls: peer attestation rejected",
		"tdx.mrtd",
		"not one of the reference values",
		"expected " + otherMRTD,
		"actual " + serverMRTD,
	} {
		if !strings.Contains(status.Convert(err).Message(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if calls, _, _ := rec.last(); calls != 0 {
		t.Errorf("the server handled %d calls from a client that refused it", calls)
	}
}

// Mutual attestation: each side verifies the other, and the server's
// interceptor gives handlers the client's verification.
func TestMutualAttestation(t *testing.T) {
	p := newPlatform(t)
	serverIss, _ := newIssuer(t, p, serverMRTD, nil)
	clientIss, _ := newIssuer(t, p, clientMRTD, nil)
	strangerIss, _ := newIssuer(t, p, otherMRTD, nil)

	clients := p.verifier(expectMRTD(clientMRTD))
	var rejected []*ratls.Verification
	var mu sync.Mutex
	clients.OnVerified = func(v *ratls.Verification) {
		if !v.Accepted() {
			mu.Lock()
			rejected = append(rejected, v)
			mu.Unlock()
		}
	}
	var rec recorder
	addr := startServer(t, credentials.NewTLS(ratls.ServerConfig(serverIss, clients)),
		grpc.ChainUnaryInterceptor(attestedClients(clients), rec.intercept))

	pv := p.verifier(expectMRTD(serverMRTD))
	got, err := check(t, addr, credentials.NewTLS(ratls.ClientConfig(pv, clientIss)))
	if err != nil {
		t.Fatal(err)
	}
	wantAttested(t, "server", peerVerification(got, pv), serverMRTD)
	calls, _, client := rec.last()
	if calls != 1 {
		t.Fatalf("server calls: want 1, got %d", calls)
	}
	wantAttested(t, "client", client, clientMRTD)

	// In TLS 1.3 the server refuses a client certificate after the client
	// has finished its handshake, so the client's error text varies (an
	// alert or a broken pipe); the code does not.
	t.Run("unattested client", func(t *testing.T) {
		_, err := check(t, addr, credentials.NewTLS(ratls.ClientConfig(pv, nil)))
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("call: want code Unavailable, got %v", err)
		}
	})
	t.Run("client with other measurements", func(t *testing.T) {
		_, err := check(t, addr, credentials.NewTLS(ratls.ClientConfig(pv, strangerIss)))
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("call: want code Unavailable, got %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(rejected) == 0 || !hasReason(rejected[len(rejected)-1], "tdx.mrtd", appraise.Contraindicated) {
			t.Errorf("server: want a tdx.mrtd rejection, got %d rejections", len(rejected))
		}
	})
	if calls, _, _ := rec.last(); calls != 1 {
		t.Errorf("server calls: want 1 (refused clients make none), got %d", calls)
	}
}

// The interceptor refuses a call whose connection has no verification (for
// example a server configured without a client verifier).
func TestAttestedClientsRefusesUnverified(t *testing.T) {
	p := newPlatform(t)
	ctx := peer.NewContext(context.Background(), &peer.Peer{AuthInfo: credentials.TLSInfo{}})
	called := false
	_, err := attestedClients(p.verifier(nil))(ctx, nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) {
		called = true
		return nil, nil
	})
	if status.Code(err) != codes.Unauthenticated || called {
		t.Fatalf("want Unauthenticated without calling the handler, got %v (handler called: %v)", err, called)
	}
}

// Nonce mode: every connection gets a certificate issued for its own nonce.
func TestNonceMode(t *testing.T) {
	p := newPlatform(t)
	serverIss, att := newIssuer(t, p, serverMRTD, &ratls.IssuerOptions{AllowNonce: true})
	clientIss, _ := newIssuer(t, p, clientMRTD, nil)
	clients := p.verifier(expectMRTD(clientMRTD))
	var rec recorder
	addrs := map[string]string{
		"server only": startServer(t, credentials.NewTLS(ratls.ServerConfig(serverIss, nil)), grpc.UnaryInterceptor(rec.intercept)),
		"mutual": startServer(t, credentials.NewTLS(ratls.ServerConfig(serverIss, clients)),
			grpc.ChainUnaryInterceptor(attestedClients(clients), rec.intercept)),
	}
	for _, tc := range []struct {
		name string
		iss  *ratls.Issuer
	}{{"server only", nil}, {"mutual", clientIss}} {
		t.Run(tc.name, func(t *testing.T) {
			creds := newFreshCredentials(p.verifyOptions(expectMRTD(serverMRTD)), tc.iss)
			var nonces [][]byte
			for range 2 {
				quotes := att.Calls()
				got, err := check(t, addrs[tc.name], creds)
				if err != nil {
					t.Fatal(err)
				}
				info, ok := got.AuthInfo.(attestedInfo)
				if !ok {
					t.Fatalf("AuthInfo: want attestedInfo, got %T", got.AuthInfo)
				}
				v := info.Verification
				wantAttested(t, "server", v, serverMRTD)
				if peerVerification(got, nil) != v {
					t.Error("peerVerification does not return the connection's verification")
				}
				sent, ok := ratls.NonceFromServerName(info.State.ServerName)
				if !ok || len(sent) != ratls.NonceSize {
					t.Fatalf("server name %q carries no nonce", info.State.ServerName)
				}
				if v.Item.Claims == nil || !bytes.Equal(v.Item.Claims.Nonce, sent) {
					t.Fatalf("certificate nonce: want %x, got %+v", sent, v.Item.Claims)
				}
				if att.Calls() != quotes+1 {
					t.Errorf("quotes for one nonce-mode connection: want 1, got %d", att.Calls()-quotes)
				}
				for _, n := range nonces {
					if bytes.Equal(n, sent) {
						t.Errorf("nonce %x reused", n)
					}
				}
				nonces = append(nonces, sent)
				if _, _, client := rec.last(); (client != nil) != (tc.iss != nil) {
					t.Errorf("server saw client verification %v, want one: %v", client != nil, tc.iss != nil)
				}
			}
		})
	}

	// A server that does not issue per-nonce certificates is refused: its
	// certificate lacks the connection's nonce.
	t.Run("server without nonce mode", func(t *testing.T) {
		plainIss, _ := newIssuer(t, p, serverMRTD, nil)
		addr := startServer(t, credentials.NewTLS(ratls.ServerConfig(plainIss, nil)))
		_, err := check(t, addr, newFreshCredentials(p.verifyOptions(expectMRTD(serverMRTD)), nil))
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "does not carry this connection's nonce") {
			t.Fatalf("want Unavailable naming the nonce, got %v", err)
		}
	})
}

// PeerVerifier.DialFresh as a gRPC dialer does not work: the attested
// handshake succeeds, but without ALPN "h2", so gRPC's TLS server drops the
// connection. This is why the example has freshCredentials.
func TestDialFreshAsDialerFails(t *testing.T) {
	p := newPlatform(t)
	iss, _ := newIssuer(t, p, serverMRTD, &ratls.IssuerOptions{AllowNonce: true})
	addr := startServer(t, credentials.NewTLS(ratls.ServerConfig(iss, nil)))
	pv := p.verifier(expectMRTD(serverMRTD))
	var mu sync.Mutex
	var dialed []tls.ConnectionState
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			c, err := pv.DialFresh(ctx, "tcp", addr)
			if err == nil {
				mu.Lock()
				dialed = append(dialed, c.(*tls.Conn).ConnectionState())
				mu.Unlock()
			}
			return c, err
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("want Unavailable, got %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialed) == 0 {
		t.Fatal("DialFresh made no attested connection")
	}
	if np := dialed[0].NegotiatedProtocol; np != "" {
		t.Errorf("ALPN of a DialFresh connection: want none, got %q", np)
	}
}
