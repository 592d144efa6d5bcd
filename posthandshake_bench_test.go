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

// BenchmarkPostHandshake checks the cost of an attested connection against
// its budget: for the relying party, a warm verifier's attested connection
// should cost at most a plain TLS 1.3 handshake plus one evidence
// verification plus one signature verification (background-check model),
// or plus one ES256 verification (passport model).
//
// "paired" measures every term in each iteration, one after the other, so
// that the load of a shared machine weighs on all of them alike: a plain
// handshake (ECDSA P-256 certificate verified against a CA), one warm
// evidence verification, one ECDSA P-256 (ES256) verification, and the
// relying party's share of an attested connection in each model (its
// handshake, its request, and its verification of the authenticator: RFC
// 9261 checks, the evidence or the EAR, the binding). The attesting
// side's work (quote, signature; for passport a verification service
// verifying the evidence and signing the EAR) runs between the timed
// parts. The metrics are per-iteration means, with the two ratios to the
// budget.
//
// e2e-background-check and e2e-passport run both sides of the framed
// exchange concurrently, for information.
func BenchmarkPostHandshake(b *testing.B) {
	t := &testing.T{}
	srv := newPHPlatform(t, true)
	svc := newFakeService(t, srv.opts)
	pv := srv.verifier()
	ctx := context.Background()
	serverCfg := PostHandshakeServerConfig(srv.iss)
	plainServer, plainClient := plainConfigs(b)

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
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("one signature"))
	sig, _ := ecdsa.SignASN1(rand.Reader, key, digest[:])

	// relyingParty returns the relying party's share of one attested
	// connection.
	relyingParty := func(b *testing.B, passport PassportFunc) time.Duration {
		start := time.Now()
		c, s, done := pipePair(b, serverCfg, PostHandshakeClientConfig())
		defer done()
		cs := c.ConnectionState()
		sess, err := exportedauth.NewSession(&cs)
		if err != nil {
			b.Fatal(err)
		}
		req, err := attestationRequest(exportedauth.Client)
		if err != nil {
			b.Fatal(err)
		}
		rp := time.Since(start)
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
		return rp + time.Since(start)
	}

	b.Run("paired", func(b *testing.B) {
		var plain, evidenceV, es256, background, passport time.Duration
		timed := func(d *time.Duration, f func()) {
			start := time.Now()
			f()
			*d += time.Since(start)
		}
		for b.Loop() {
			timed(&plain, func() { _, _, done := pipePair(b, plainServer, plainClient); done() })
			timed(&evidenceV, func() {
				if v := VerifyEvidence(ctx, item, srv.opts); !v.Accepted() {
					b.Fatal(v.Appraisal.Reasons)
				}
			})
			timed(&es256, func() {
				if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
					b.Fatal("signature")
				}
			})
			background += relyingParty(b, nil)
			passport += relyingParty(b, svc.passport)
		}
		per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
		b.ReportMetric(per(plain), "plain-ns/op")
		b.ReportMetric(per(evidenceV), "evidence-ns/op")
		b.ReportMetric(per(es256), "es256-ns/op")
		b.ReportMetric(per(background), "background-rp-ns/op")
		b.ReportMetric(per(passport), "passport-rp-ns/op")
		b.ReportMetric(per(background)/(per(plain)+per(evidenceV)+per(es256)), "background/budget")
		b.ReportMetric(per(passport)/(per(plain)+per(es256)), "passport/budget")
	})

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
