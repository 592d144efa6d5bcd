package amd

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha512"
	"crypto/x509"
	"testing"
)

// BenchmarkVerifySNP measures verifying the real go-sev-guest Milan report
// with its VCEK, ASK and ARK in memory. "warm" is a report from a chip the
// verifier has seen (the chain is cached, so the cost should be the report
// signature); "cold" uses a fresh verifier each time, so the RSA-PSS chain
// is verified too; "parse+warm" includes parsing the report bytes.
func BenchmarkVerifySNP(b *testing.B) {
	vec := vectors(b)[0]
	rep := parse(b, vec.raw)
	ctx := context.Background()
	opt := Options{Now: vec.now, Certs: append([]*x509.Certificate{vec.vcek}, vec.chain...)}
	check := func(b *testing.B, r *Result, err error) {
		if !isOnly(err, ErrNoCRL) || len(r.Checks) != 7 {
			b.Fatal(err)
		}
	}
	b.Run("warm", func(b *testing.B) {
		v := NewVerifier(nil)
		r, err := v.Verify(ctx, rep, opt)
		check(b, r, err)
		b.ReportAllocs()
		for b.Loop() {
			r, err := v.Verify(ctx, rep, opt)
			check(b, r, err)
		}
	})
	b.Run("parse+warm", func(b *testing.B) {
		v := NewVerifier(nil)
		r, err := v.VerifyBytes(ctx, vec.raw, opt)
		check(b, r, err)
		b.ReportAllocs()
		for b.Loop() {
			r, err := v.VerifyBytes(ctx, vec.raw, opt)
			check(b, r, err)
		}
	})
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := NewVerifier(nil).Verify(ctx, rep, opt)
			check(b, r, err)
		}
	})
}

// BenchmarkP384Verify is the floor for BenchmarkVerifySNP/warm: one ECDSA
// P-384 verification of the same report signature, with the digest and the
// DER signature computed beforehand.
func BenchmarkP384Verify(b *testing.B) {
	vec := vectors(b)[0]
	rep := parse(b, vec.raw)
	key := vec.vcek.PublicKey.(*ecdsa.PublicKey)
	digest := sha512.Sum384(rep.SignedData())
	sig, err := rep.SignatureDER()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(key, digest[:], sig) {
			b.Fatal("signature does not verify")
		}
	}
}
