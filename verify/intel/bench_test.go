package intel

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/internal/testvectors/dcapvectors"
)

// verifyBenchVector is a TDX v4 quote (UpToDate) with its complete
// collateral.
func verifyBenchVector(b *testing.B) ([]byte, *pcs.Collateral, time.Time) {
	b.Helper()
	q := read(b, filepath.Join(vectorDir, "dcap-qvl/tdx_quote"))
	c, err := pcs.ParseDCAPQVLJSON(read(b, filepath.Join(vectorDir, "dcap-qvl/tdx_quote_collateral.json")))
	if err != nil {
		b.Fatal(err)
	}
	return q, c, time.Date(2025, 7, 19, 10, 0, 34, 0, time.UTC)
}

// BenchmarkVerify measures a full verification with the collateral in
// memory. "warm" is a quote from a platform and quoting enclave the
// verifier has seen (the common case for a server); "cold" uses a fresh
// verifier each time, so every chain, QE report and collateral signature is
// checked; "parse+warm" includes parsing the quote bytes.
func BenchmarkVerify(b *testing.B) {
	raw, coll, now := verifyBenchVector(b)
	q, err := quote.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	opt := Options{Now: now, Collateral: coll}
	b.Run("warm", func(b *testing.B) {
		v := NewVerifier(nil)
		if _, err := v.Verify(ctx, q, opt); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, q, opt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse+warm", func(b *testing.B) {
		v := NewVerifier(nil)
		if _, err := v.VerifyBytes(ctx, raw, opt); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.VerifyBytes(ctx, raw, opt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := NewVerifier(nil).Verify(ctx, q, opt); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkP256Verify is the cost floor of a quote verification: one ECDSA
// P-256 verification of the quote signature with its attestation key, over
// a precomputed SHA-256 digest. The quote is dcap-qvl's NEAR TDX v4 quote,
// the one tests/differential's BenchmarkCompareGoTDXGuest verifies.
func BenchmarkP256Verify(b *testing.B) {
	raw := dcapvectors.Quote(b, filepath.Join(vectorDir, "dcap-qvl/near_tdx_quote.hex"), "hex")
	q, err := quote.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, q.Signature.AttestationKey[:]...))
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256(q.SignedData())
	sigR := new(big.Int).SetBytes(q.Signature.QuoteSignature[:32])
	sigS := new(big.Int).SetBytes(q.Signature.QuoteSignature[32:])
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.Verify(key, digest[:], sigR, sigS) {
			b.Fatal("quote signature does not verify")
		}
	}
}
