package ratls

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/exportedauth"
)

// pipePair runs one TLS handshake over an in-memory pipe and returns both
// ends; close closes the pipe (close_notify would block on it).
func pipePair(b *testing.B, server, client *tls.Config) (c, s *tls.Conn, close func()) {
	c1, c2 := net.Pipe()
	s = tls.Server(c1, server)
	done := make(chan error, 1)
	go func() { done <- s.Handshake() }()
	c = tls.Client(c2, client)
	if err := c.Handshake(); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return c, s, func() { c1.Close(); c2.Close() }
}

// BenchmarkPostHandshake measures, in one run, a plain TLS 1.3 handshake,
// the unit costs the post-handshake budget is stated in (one evidence
// verification with a warm verifier, one ECDSA P-256 / ES256 signature
// verification), and attested connections:
//
//   - background-check, passport: each iteration runs the handshake, the
//     relying party's request, the attesting side's authenticator (quote,
//     signature; for passport the verification service's work too) and the
//     relying party's verification, one after the other. rp-ns/op is the
//     relying party's share: the handshake, its request and its
//     verification (RFC 9261 checks, then the evidence or the EAR, and the
//     binding).
//   - e2e-background-check, e2e-passport: both sides running the framed
//     exchange concurrently, for information (the passport hook verifies the
//     evidence and signs the EAR in process, as a service would).
func BenchmarkPostHandshake(b *testing.B) {
	t := &testing.T{}
	srv := newPHPlatform(t, true)
	svc := newFakeService(t, srv.opts)
	pv := srv.verifier()
	ctx := context.Background()
	serverCfg := PostHandshakeServerConfig(srv.iss)
	plainServer, plainClient := plainConfigs(b)

	b.Run("plain-handshake", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _, done := pipePair(b, plainServer, plainClient)
			done()
		}
	})

	// One piece of channel evidence, verified again and again (warm).
	leaf, err := srv.iss.Certificate(ctx)
	if err != nil {
		b.Fatal(err)
	}
	claims, _ := evidence.NewClaims(leaf.Leaf.RawSubjectPublicKeyInfo, evidence.SHA256, make([]byte, 32))
	var rd [64]byte
	h := sha256.Sum256(claims)
	copy(rd[:], h[:])
	ev, _ := srv.tp.Attest(ctx, rd)
	tagged, _ := evidence.EncodeTagged(ev.Tag, ev.Data, claims)
	item, err := evidence.ParseTagged(tagged)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("evidence-verification", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v := VerifyEvidence(ctx, item, srv.opts); !v.Accepted() {
				b.Fatal(v.Appraisal.Reasons)
			}
		}
	})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("one signature"))
	sig, _ := ecdsa.SignASN1(rand.Reader, key, digest[:])
	b.Run("es256-verify", func(b *testing.B) {
		for b.Loop() {
			if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
				b.Fatal("signature")
			}
		}
	})

	relyingParty := func(passport PassportFunc) func(b *testing.B) {
		return func(b *testing.B) {
			var rp time.Duration // the relying party's share of each iteration
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				c, s, done := pipePair(b, serverCfg, PostHandshakeClientConfig())
				cs := c.ConnectionState()
				sess, err := exportedauth.NewSession(&cs)
				if err != nil {
					b.Fatal(err)
				}
				req, err := attestationRequest(exportedauth.Client)
				if err != nil {
					b.Fatal(err)
				}
				rp += time.Since(start)
				ss := s.ConnectionState()
				ssess, _ := exportedauth.NewSession(&ss)
				auth, err := srv.iss.attestedAuthenticator(ctx, &ss, ssess, exportedauth.Server, req, passport, true)
				if err != nil {
					b.Fatal(err)
				}
				start = time.Now()
				v, err := pv.verifyAttestedAuthenticator(ctx, &cs, sess, exportedauth.Server, req, auth, svc.keys)
				if err != nil || !v.Accepted() {
					b.Fatal(err)
				}
				rp += time.Since(start)
				done()
			}
			b.ReportMetric(float64(rp.Nanoseconds())/float64(b.N), "rp-ns/op")
		}
	}
	b.Run("background-check", relyingParty(nil))
	b.Run("passport", relyingParty(svc.passport))

	endToEnd := func(ph *PostHandshake) func(b *testing.B) {
		return func(b *testing.B) {
			client := &PostHandshake{Peers: pv, PassportKeys: svc.keys}
			b.ReportAllocs()
			for b.Loop() {
				c, s, done := pipePair(b, serverCfg, PostHandshakeClientConfig())
				errc := make(chan error, 1)
				go func() { _, err := ph.Server(ctx, s); errc <- err }()
				if _, err := client.Client(ctx, c); err != nil {
					b.Fatal(err)
				}
				if err := <-errc; err != nil {
					b.Fatal(err)
				}
				done()
			}
		}
	}
	b.Run("e2e-background-check", endToEnd(&PostHandshake{Issuer: srv.iss}))
	b.Run("e2e-passport", endToEnd(&PostHandshake{Issuer: srv.iss, Passport: svc.passport}))
}
