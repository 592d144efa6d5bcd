package ratls

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/tee"
)

// phPlatform is an attested endpoint for post-handshake tests: a test-PKI
// platform, its Issuer, and the verifier options a peer uses for it.
type phPlatform struct {
	tp   *testPlatform
	att  *countingAttester
	iss  *Issuer
	opts *VerifyOptions
}

func newPHPlatform(t *testing.T, tdx bool) *phPlatform {
	t.Helper()
	att, iss := newAttestedServer(t, tdx)
	opts := att.options()
	// Post-handshake evidence carries no collateral: the verifier has it.
	dcapOf(opts).Collateral = staticCollateral(t, att.testPlatform)
	return &phPlatform{tp: att.testPlatform, att: att, iss: iss, opts: opts}
}

func (p *phPlatform) verifier() *PeerVerifier { return NewPeerVerifier(p.opts) }

type serverResult struct {
	v   *ChannelVerification
	err error
}

// servePH serves cfg on loopback; each connection runs exchange (nil:
// ph.Server) and, when it succeeds, echoes. Results go to the channel.
func servePH(t *testing.T, cfg *tls.Config, exchange func(context.Context, *tls.Conn) (*ChannelVerification, error)) (string, chan serverResult) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	results := make(chan serverResult, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				v, err := exchange(context.Background(), c.(*tls.Conn))
				results <- serverResult{v, err}
				if err == nil {
					io.Copy(c, c)
				}
			}()
		}
	}()
	return ln.Addr().String(), results
}

func pingPong(t *testing.T, conn net.Conn) {
	t.Helper()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q %v", buf, err)
	}
}

// expectBinder recomputes the binder from the draft's formula, with the
// standard library only, and checks the evidence's claims name it and the
// key's SHA-256.
func expectBinder(t *testing.T, cs tls.ConnectionState, context []byte, v *ChannelVerification) {
	t.Helper()
	ekm, err := cs.ExportKeyingMaterial("EXPORTER-cmw-attestation", context, 32)
	if err != nil {
		t.Fatal(err)
	}
	spki := v.Verification.Certificate.RawSubjectPublicKeyInfo
	want := sha256.Sum256(append(append([]byte{}, spki...), ekm...))
	if !bytes.Equal(v.Binder, want[:]) {
		t.Fatalf("binder: got %x, want SHA-256(SPKI || exporter) %x", v.Binder, want)
	}
	if v.Model == ModelBackgroundCheck {
		c := v.Verification.Item.Claims
		keyHash := sha256.Sum256(spki)
		if !bytes.Equal(c.Nonce, want[:]) || c.PubKeyHashAlg != evidence.SHA256 || !bytes.Equal(c.PubKeyHash, keyHash[:]) {
			t.Fatalf("claims: nonce %x, pubkey-hash %s:%x", c.Nonce, c.PubKeyHashAlg, c.PubKeyHash)
		}
	}
}

func TestPostHandshakeBackgroundCheck(t *testing.T) {
	srv := newPHPlatform(t, true)
	addr, results := servePH(t, PostHandshakeServerConfig(srv.iss), (&PostHandshake{Issuer: srv.iss}).Server)
	client := &PostHandshake{Peers: srv.verifier()}
	conn, v, err := client.Dial(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pingPong(t, conn)
	if r := <-results; r.err != nil || r.v != nil {
		t.Fatalf("server: %v %v", r.v, r.err)
	}
	if v.Model != ModelBackgroundCheck || !v.Accepted() || v.Verification.Appraisal.Status != appraise.Affirming || intelOf(v.Verification).TEE != "tdx" {
		t.Fatalf("verification: %+v %+v", v, v.Verification.Appraisal)
	}
	if !v.Verification.Certificate.Equal(conn.ConnectionState().PeerCertificates[0]) {
		t.Fatal("the attested key is not the handshake's")
	}
	expectBinder(t, conn.ConnectionState(), v.Context, v)
	if s := conn.ConnectionState(); s.DidResume {
		t.Fatal("post-handshake connections must not resume")
	}
}

func TestPostHandshakeMutual(t *testing.T) {
	srv, cli := newPHPlatform(t, true), newPHPlatform(t, false)
	addr, results := servePH(t, PostHandshakeServerConfig(srv.iss), (&PostHandshake{Issuer: srv.iss, Peers: cli.verifier()}).Server)
	client := &PostHandshake{Issuer: cli.iss, Peers: srv.verifier()}
	conn, v, err := client.Dial(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pingPong(t, conn)
	r := <-results
	if r.err != nil || r.v == nil || !r.v.Accepted() || intelOf(r.v.Verification).TEE != "sgx" {
		t.Fatalf("server's verification of the client: %+v %v", r.v, r.err)
	}
	if !v.Accepted() || intelOf(v.Verification).TEE != "tdx" {
		t.Fatalf("client's verification of the server: %+v", v)
	}
	// Each side's evidence came from a quote made for this connection.
	if srv.att.calls.Load() < 2 || cli.att.calls.Load() < 2 {
		t.Fatalf("quotes: server %d, client %d (want one per certificate plus one per connection)", srv.att.calls.Load(), cli.att.calls.Load())
	}

	// A server that demands the client's attestation refuses a client that
	// has none, and says why.
	_, _, err = (&PostHandshake{Peers: srv.verifier()}).Dial(context.Background(), "tcp", addr)
	var refused *PeerRefusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "declined to attest") {
		t.Fatalf("client without attestation: %v", err)
	}
	if r := <-results; r.err == nil {
		t.Fatal("the server accepted a client without attestation")
	}
}

// fakeService is a verification service for the passport model: it
// verifies the evidence with opts and the session nonce and signs an EAR.
type fakeService struct {
	opts   *VerifyOptions
	signer *ear.Signer
	keys   *ear.JWKSet
	// mutate, when set, changes the EAR before it is signed.
	mutate func(*ear.EAR)
}

func newFakeService(t *testing.T, opts *VerifyOptions) *fakeService {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ear.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeService{opts: opts, signer: s, keys: &ear.JWKSet{Keys: []ear.JWK{ear.NewJWK(&key.PublicKey)}}}
}

func (f *fakeService) passport(ctx context.Context, mediaType string, ev, nonce []byte) ([]byte, error) {
	if mediaType != MediaTypeEvidence {
		return nil, fmt.Errorf("media type %q", mediaType)
	}
	items, err := evidence.ParseRaw(ev)
	if err != nil {
		return nil, err
	}
	o := *f.opts
	o.Nonce = nonce
	v := VerifyEvidence(ctx, items[0], &o)
	e := &ear.EAR{IssuedAt: f.opts.Now.Unix(), VerifierID: ear.VerifierID{Build: "test", Developer: "ratls"},
		Nonce: base64.RawURLEncoding.EncodeToString(nonce), Submods: map[string]*ear.Appraisal{string(items[0].TEE): v.Appraisal.Submodule(nil)}}
	if f.mutate != nil {
		f.mutate(e)
	}
	return f.signer.Sign(e)
}

func TestPostHandshakePassport(t *testing.T) {
	srv, cli := newPHPlatform(t, true), newPHPlatform(t, false)
	svc := newFakeService(t, srv.opts)
	cliSvc := newFakeService(t, cli.opts)
	keys := &ear.JWKSet{Keys: append(append([]ear.JWK{}, svc.keys.Keys...), cliSvc.keys.Keys...)}

	// One-sided: the server sends an EAR, the client checks it.
	addr, results := servePH(t, PostHandshakeServerConfig(srv.iss), (&PostHandshake{Issuer: srv.iss, Passport: svc.passport}).Server)
	conn, v, err := (&PostHandshake{Peers: srv.verifier(), PassportKeys: keys}).Dial(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pingPong(t, conn)
	conn.Close()
	<-results
	if v.Model != ModelPassport || !v.Accepted() || v.EAR == nil || v.Verification.Appraisal.Status != appraise.Affirming {
		t.Fatalf("passport: %+v", v)
	}
	expectBinder(t, conn.ConnectionState(), v.Context, v)
	if v.EAR.Nonce != base64.RawURLEncoding.EncodeToString(v.Binder) {
		t.Fatalf("EAR nonce %q, binder %x", v.EAR.Nonce, v.Binder)
	}

	// Mutual: both send EARs.
	addr, results = servePH(t, PostHandshakeServerConfig(srv.iss), (&PostHandshake{Issuer: srv.iss, Passport: svc.passport, Peers: cli.verifier(), PassportKeys: keys}).Server)
	conn, v, err = (&PostHandshake{Issuer: cli.iss, Passport: cliSvc.passport, Peers: srv.verifier(), PassportKeys: keys}).Dial(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pingPong(t, conn)
	conn.Close()
	r := <-results
	if r.err != nil || r.v.Model != ModelPassport || !r.v.Accepted() || !v.Accepted() {
		t.Fatalf("mutual passport: server %+v %v, client %+v", r.v, r.err, v)
	}
}

// A verifier without collateral uses the collateral the server's RA-TLS
// certificate carries (its endorsements extension) when the authenticator
// is for that certificate (HTTP binding); without either, the evidence is
// refused for want of collateral. The light certificate of the framed
// exchange carries none.
func TestPostHandshakeCollateralFromCertificate(t *testing.T) {
	srv := newPHPlatform(t, true)
	noCollateral := *srv.opts
	dcapOf(&noCollateral).Collateral = nil
	addr := serveHTTP(t, srv.iss, (&PostHandshake{Issuer: srv.iss}).Handler(nil))
	if _, err := (&PostHandshake{Peers: NewPeerVerifier(&noCollateral)}).DialHTTP(context.Background(), "tcp", addr); err != nil {
		t.Fatalf("collateral from the certificate: %v", err)
	}
	bare := NewIssuer(srv.att, &IssuerOptions{Certificate: CertificateOptions{Now: func() time.Time { return srv.tp.pki.Now }}})
	addr = serveHTTP(t, bare, (&PostHandshake{Issuer: bare}).Handler(nil))
	_, err := (&PostHandshake{Peers: NewPeerVerifier(&noCollateral)}).DialHTTP(context.Background(), "tcp", addr)
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Verification.Accepted() || reasonOf(pe.Verification, "collateral.present") == nil {
		t.Fatalf("no collateral anywhere: %v", err)
	}
	if _, err := (&PostHandshake{Peers: srv.verifier()}).DialHTTP(context.Background(), "tcp", addr); err != nil {
		t.Fatalf("the verifier's own collateral: %v", err)
	}
	// Framed mode: the light certificate carries no collateral.
	framed, _ := servePH(t, PostHandshakeServerConfig(srv.iss), (&PostHandshake{Issuer: srv.iss}).Server)
	if _, err := dialPH(t, framed, NewPeerVerifier(&noCollateral)); !errors.As(err, &pe) {
		t.Fatalf("framed without collateral: %v", err)
	}
}

// The framed exchange presents and attests a light certificate: the
// Issuer's key without evidence or collateral.
func TestPostHandshakeLightCertificate(t *testing.T) {
	srv := newPHPlatform(t, true)
	addr, _ := servePH(t, PostHandshakeServerConfig(srv.iss), (&PostHandshake{Issuer: srv.iss}).Server)
	conn, v, err := (&PostHandshake{Peers: srv.verifier()}).Dial(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	full, err := srv.iss.Certificate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	light := v.Verification.Certificate
	if !bytes.Equal(light.RawSubjectPublicKeyInfo, full.Leaf.RawSubjectPublicKeyInfo) || len(light.Raw) >= len(full.Leaf.Raw)/4 {
		t.Fatalf("light certificate: %d bytes (RA-TLS certificate %d), same key %v", len(light.Raw), len(full.Leaf.Raw),
			bytes.Equal(light.RawSubjectPublicKeyInfo, full.Leaf.RawSubjectPublicKeyInfo))
	}
	if ce, err := evidence.FromCertificate(light); err == nil && tee.Preferred(ce) != nil {
		t.Fatal("the light certificate carries evidence")
	}
}
