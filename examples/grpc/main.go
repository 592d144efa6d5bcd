// Command grpc shows ratls's attested TLS as gRPC transport credentials.
//
// It starts a gRPC server on 127.0.0.1 whose TLS certificate carries a quote
// from a simulated Intel TDX trust domain, connects a client that accepts the
// server only if the quote verifies and the measurements equal its reference
// values, calls the standard health service, and prints what the client
// learned about the server from the connection's TLS state.
//
// The example is a module of its own; run it from its directory:
//
//	cd examples/grpc && go run .
//
// The same credentials work with generated services: only the transport
// changes, never the service code.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/verify/intel"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run starts an attested gRPC server, calls it through a verifying client
// and prints the server's attested identity.
func run(w io.Writer) error {
	platform, err := newSimPlatform()
	if err != nil {
		return err
	}
	// The server: a simulated TD whose RA-TLS certificate the Issuer keeps
	// current. ratls.ServerConfig already offers ALPN "h2", which gRPC needs.
	measurements := sim.TDXMeasurements{} // the simulator's default MRTD
	serverIss, att, err := platform.issuer("grpc example server", measurements, nil)
	if err != nil {
		return err
	}
	addr, stop, err := serve(credentials.NewTLS(ratls.ServerConfig(serverIss, nil)))
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(w, "attested gRPC server on %s\n", addr)

	// The client: it accepts the server only if its quote verifies and its
	// measurements are the reference values. credentials.NewTLS adds the
	// ALPN protocol "h2" to the configuration's (empty) list itself.
	pv := platform.verifier(referencePolicy(att.Measurements().TDX))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(ratls.ClientConfig(pv, nil))))
	if err != nil {
		return err
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var p peer.Peer
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Peer(&p))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "health check: %s\n", resp.GetStatus())

	v := peerVerification(&p, pv)
	if v == nil {
		return errors.New("no verification recorded for the server's certificate")
	}
	describe(w, v)
	return nil
}

// simPlatform is a simulated TDX platform and what a verifier needs to trust
// it. On real hardware the attester comes from attest/tsm and verifiers
// trust Intel's root; nothing else in the example changes.
type simPlatform struct {
	sim *sim.Sim
	// intel verifies quotes against the simulator's root. Shared by all
	// verifiers, so collateral is parsed and checked once.
	intel *intel.Verifier
}

func newSimPlatform() (*simPlatform, error) {
	s, err := sim.New(sim.InitOptions{})
	if err != nil {
		return nil, err
	}
	return &simPlatform{sim: s, intel: intel.NewVerifier(&intel.Config{ExtraRoots: []*x509.Certificate{s.Root()}})}, nil
}

// issuer returns an Issuer of RA-TLS certificates for a simulated TD with
// measurements m (zero MRTD: the simulator's default). The certificates
// carry the platform's collateral, so verifiers need no network. opts may
// be nil.
func (p *simPlatform) issuer(name string, m sim.TDXMeasurements, opts *ratls.IssuerOptions) (*ratls.Issuer, *sim.Attester, error) {
	att, err := p.sim.Attester(sim.TEETDX, sim.Measurements{TDX: m})
	if err != nil {
		return nil, nil, err
	}
	coll, err := p.sim.Collateral(sim.TEETDX)
	if err != nil {
		return nil, nil, err
	}
	var o ratls.IssuerOptions
	if opts != nil {
		o = *opts
	}
	o.Certificate.Subject = pkix.Name{CommonName: name}
	o.Certificate.Endorsements = ratls.EndorsementsFromCollateral(coll)
	return ratls.NewIssuer(att, &o), att, nil
}

// verifyOptions returns verification options that trust the simulator and
// appraise with policy.
func (p *simPlatform) verifyOptions(policy *appraise.Policy) *ratls.VerifyOptions {
	return &ratls.VerifyOptions{Policy: policy, TEE: []tee.Options{&dcap.Options{Verifier: p.intel}}}
}

// verifier returns a PeerVerifier that trusts the simulator and appraises
// with policy.
func (p *simPlatform) verifier(policy *appraise.Policy) *ratls.PeerVerifier {
	return ratls.NewPeerVerifier(p.verifyOptions(policy))
}

// referencePolicy accepts exactly the TD measurements m.
func referencePolicy(m sim.TDXMeasurements) *appraise.Policy {
	return &appraise.Policy{ID: "grpc-example", TDX: &appraise.TDXReference{
		MRTD:  []string{hex.EncodeToString(m.MRTD[:])},
		RTMR0: []string{hex.EncodeToString(m.RTMR[0][:])},
	}}
}

// serve starts a gRPC server with the health service on a loopback port and
// returns its address and a function that stops it.
func serve(creds credentials.TransportCredentials, opts ...grpc.ServerOption) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := grpc.NewServer(append([]grpc.ServerOption{grpc.Creds(creds)}, opts...)...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	return ln.Addr().String(), srv.Stop, nil
}

// peerVerification returns the attestation verification of a gRPC peer
// whose TLS handshake pv checked, or nil. This works on both sides: a
// client passes the peer from grpc.Peer, a server the one from
// peer.FromContext.
func peerVerification(p *peer.Peer, pv *ratls.PeerVerifier) *ratls.Verification {
	if p == nil {
		return nil
	}
	switch info := p.AuthInfo.(type) {
	case credentials.TLSInfo:
		return pv.Verification(info.State)
	case attestedInfo:
		return info.Verification
	}
	return nil
}

// clientVerificationKey is the context key of the client's verification.
type clientVerificationKey struct{}

// clientVerification returns the verification the attestedClients
// interceptor attached to a call's context, or nil.
func clientVerification(ctx context.Context) *ratls.Verification {
	v, _ := ctx.Value(clientVerificationKey{}).(*ratls.Verification)
	return v
}

// attestedClients is a server interceptor for mutual attestation (the
// server's TLS configuration is ratls.ServerConfig(iss, clients)): it hands
// each call's handler the client's verification through the context, for
// authorization by measurement. The handshake already refused unattested
// clients; a call whose verification is no longer cached is refused too.
func attestedClients(clients *ratls.PeerVerifier) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		p, _ := peer.FromContext(ctx)
		v := peerVerification(p, clients)
		if v == nil || !v.Accepted() {
			return nil, status.Error(codes.Unauthenticated, "client attestation not found")
		}
		return handler(context.WithValue(ctx, clientVerificationKey{}, v), req)
	}
}

// freshCredentials are client transport credentials for nonce mode: every
// connection gets a new nonce, and the server (an Issuer with AllowNonce)
// must answer with a certificate issued for it, so a replayed certificate
// is refused.
//
// credentials.NewTLS cannot do this on its own: it reuses one configuration
// (one nonce) for every connection, and it replaces the configuration's
// server name, which carries the nonce, with the target's host name. Nor
// can grpc.WithContextDialer with PeerVerifier.DialFresh: gRPC would then
// see a plain connection, without ALPN "h2" or the peer's TLS state.
type freshCredentials struct {
	opts *ratls.VerifyOptions
	iss  *ratls.Issuer // non-nil: present a client certificate too
}

// newFreshCredentials returns nonce-mode client credentials that verify
// servers with opts; with iss non-nil the client attests itself too.
func newFreshCredentials(opts *ratls.VerifyOptions, iss *ratls.Issuer) credentials.TransportCredentials {
	return &freshCredentials{opts: opts, iss: iss}
}

// attestedInfo is the AuthInfo of a connection made with freshCredentials:
// the TLS state and the server's verification for this connection.
type attestedInfo struct {
	credentials.TLSInfo
	Verification *ratls.Verification
}

func (c *freshCredentials) ClientHandshake(ctx context.Context, _ string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	// A verifier per connection, to capture this connection's result:
	// fresh verifications are never cached, so PeerVerifier.Verification
	// cannot find them later.
	var got *ratls.Verification
	pv := ratls.NewPeerVerifier(c.opts)
	pv.OnVerified = func(v *ratls.Verification) { got = v }
	cfg, err := pv.FreshClientConfig(c.iss)
	if err != nil {
		return nil, nil, err
	}
	// The nonce server name goes in as the authority, which gRPC's TLS
	// credentials use as the server name.
	conn, info, err := credentials.NewTLS(cfg).ClientHandshake(ctx, cfg.ServerName, raw)
	if err != nil {
		return nil, nil, err
	}
	tlsInfo, ok := info.(credentials.TLSInfo)
	if !ok || got == nil {
		conn.Close()
		return nil, nil, errors.New("nonce mode: the handshake left no verification")
	}
	return conn, attestedInfo{TLSInfo: tlsInfo, Verification: got}, nil
}

func (c *freshCredentials) ServerHandshake(net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("nonce mode: these credentials are for clients; servers use credentials.NewTLS(ratls.ServerConfig(...))")
}

func (c *freshCredentials) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls"}
}

func (c *freshCredentials) Clone() credentials.TransportCredentials {
	return &freshCredentials{opts: c.opts, iss: c.iss}
}

// OverrideServerName does nothing: gRPC no longer calls it, and the server
// name carries the nonce.
func (c *freshCredentials) OverrideServerName(string) error { return nil }

// describe prints what a verification proved about a peer.
func describe(w io.Writer, v *ratls.Verification) {
	a := v.Appraisal
	fmt.Fprintf(w, "server attestation: %s (policy %s)\n", a.Status, a.PolicyID)
	if r, _ := v.Result.(*intel.Result); r != nil && r.Quote != nil && r.Quote.TD != nil {
		td := r.Quote.TD
		fmt.Fprintf(w, "  tee:   %s, TCB status %s\n", r.TEE, tcbStatus(r))
		fmt.Fprintf(w, "  mrtd:  %x\n", td.MRTD)
		for i, m := range td.RTMR {
			fmt.Fprintf(w, "  rtmr%d: %x\n", i, m)
		}
	}
	if v.Binding != nil {
		fmt.Fprintf(w, "  key binding: %s (the quote commits to this connection's TLS key)\n", v.Binding.Status)
	}
	for _, r := range a.Reasons {
		if r.Status != appraise.Affirming {
			fmt.Fprintf(w, "  %s %s: %s\n", r.Status, r.Check, r.Message)
		}
	}
}

func tcbStatus(r *intel.Result) string {
	if r.TCB == nil {
		return "unknown"
	}
	return string(r.TCB.Status)
}

// tlsState returns the TLS state of a gRPC peer's connection.
func tlsState(p *peer.Peer) (tls.ConnectionState, bool) {
	switch info := p.AuthInfo.(type) {
	case credentials.TLSInfo:
		return info.State, true
	case attestedInfo:
		return info.State, true
	}
	return tls.ConnectionState{}, false
}
