package intel

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/quote"
)

// benchVector is a TDX v4 quote (UpToDate) with its complete collateral.
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
