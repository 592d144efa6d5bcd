package intel

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/quote"
)

// TestFlippedBytes flips one byte in each region of a real TDX v4 quote
// and checks that verification fails at the check guarding that region.
func TestFlippedBytes(t *testing.T) {
	raw := read(t, filepath.Join(vectorDir, "dcap-qvl/tdx_quote"))
	coll, err := pcs.ParseDCAPQVLJSON(read(t, filepath.Join(vectorDir, "dcap-qvl/tdx_quote_collateral.json")))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 7, 19, 10, 0, 34, 0, time.UTC)
	v := NewVerifier(nil)
	ctx := context.Background()
	if _, err := v.VerifyBytes(ctx, raw, Options{Now: now, Collateral: coll}); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	// Offsets for a v4 quote: header 0..48, TD body 48..632, signature
	// data length 632..636, then quote signature (64), attestation key
	// (64), certification data header (6), QE report (384), QE report
	// signature (64), QE auth data (2 + n), nested certification data.
	const sig = 636
	const qeReport = sig + 64 + 64 + 6
	for _, tc := range []struct {
		name  string
		off   int
		check string
		class error
	}{
		{"header user data", 30, CheckQuoteSignature, ErrSignature},
		{"TD body mrtd", 48 + 136, CheckQuoteSignature, ErrSignature},
		{"TD body report data", 48 + 520, CheckQuoteSignature, ErrSignature},
		{"quote signature", sig + 5, CheckQuoteSignature, ErrSignature},
		{"attestation key", sig + 64 + 7, CheckQEReportBinding, ErrSignature},
		{"QE report", qeReport + 100, CheckQEReportSig, ErrSignature},
		{"QE report data", qeReport + 320 + 3, CheckQEReportSig, ErrSignature},
		{"QE report signature", qeReport + 384 + 9, CheckQEReportSig, ErrSignature},
		{"QE auth data", qeReport + 384 + 64 + 2 + 4, CheckQEReportBinding, ErrSignature},
	} {
		b := bytes.Clone(raw)
		b[tc.off] ^= 0x01
		r, err := v.VerifyBytes(ctx, b, Options{Now: now, Collateral: coll})
		if err == nil {
			t.Errorf("%s: flipped byte at %d verified", tc.name, tc.off)
			continue
		}
		if !errors.Is(err, tc.class) {
			t.Errorf("%s: want %v, got %v", tc.name, tc.class, err)
		}
		if f := r.Failed(); len(f) == 0 || f[0].Name != tc.check {
			t.Errorf("%s: want failed check %s, got %v", tc.name, tc.check, f)
		}
	}
	// A flipped byte inside the PCK certificate's signature breaks the chain.
	q, _ := quote.Parse(raw)
	pemChain, _ := q.Signature.Certification.PCKChainPEM()
	i := bytes.Index(raw, pemChain[200:260])
	b := bytes.Clone(raw)
	b[i+10] ^= 0x01 // a base64 character stays base64 (or breaks the PEM)
	if _, err := v.VerifyBytes(ctx, b, Options{Now: now, Collateral: coll}); !errors.Is(err, ErrChain) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrMalformed) {
		t.Errorf("tampered PCK certificate: got %v", err)
	}
}

// TestTimeBoundaries pins the verification time just outside the valid
// window EXPECTED.json computed for the vector.
func TestTimeBoundaries(t *testing.T) {
	raw := read(t, filepath.Join(vectorDir, "dcap-qvl/tdx_quote"))
	coll, err := pcs.ParseDCAPQVLJSON(read(t, filepath.Join(vectorDir, "dcap-qvl/tdx_quote_collateral.json")))
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2025, 6, 19, 10, 32, 27, 0, time.UTC)
	until := time.Date(2025, 7, 19, 10, 0, 35, 0, time.UTC)
	v := NewVerifier(nil)
	for _, tc := range []struct {
		at time.Time
		ok bool
	}{
		{from, true}, {until, true},
		{from.Add(-time.Second), false}, {until.Add(time.Second), false},
		{time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		_, err := v.VerifyBytes(context.Background(), raw, Options{Now: tc.at, Collateral: coll})
		if (err == nil) != tc.ok {
			t.Errorf("at %s: want ok=%v, got %v", tc.at.Format(time.RFC3339), tc.ok, err)
		}
		if !tc.ok && !errors.Is(err, ErrValidity) {
			t.Errorf("at %s: want ErrValidity, got %v", tc.at.Format(time.RFC3339), err)
		}
	}
}

// TestCollateralForAnotherPlatform uses the SGX collateral on a TDX quote
// and the other TDX platform's collateral (different FMSPC).
func TestCollateralForAnotherPlatform(t *testing.T) {
	raw := read(t, filepath.Join(vectorDir, "dcap-qvl/tdx_quote"))
	v := NewVerifier(nil)
	for _, tc := range []struct {
		file string
		at   time.Time
	}{
		{"dcap-qvl/sgx_quote_collateral.json", time.Date(2025, 7, 19, 10, 0, 34, 0, time.UTC)},
		{"dcap-qvl/near_tdx_quote_collateral.json", time.Date(2025, 9, 2, 8, 41, 59, 0, time.UTC)},
	} {
		coll, err := pcs.ParseDCAPQVLJSON(read(t, filepath.Join(vectorDir, tc.file)))
		if err != nil {
			t.Fatal(err)
		}
		r, err := v.VerifyBytes(context.Background(), raw, Options{Now: tc.at, Collateral: coll})
		if !errors.Is(err, ErrMismatch) && !errors.Is(err, ErrValidity) {
			t.Errorf("%s: want a mismatch, got %v", tc.file, err)
		}
		if r.TCB != nil && r.TCB.Status != "" {
			t.Errorf("%s: TCB evaluated against the wrong collateral: %s", tc.file, r.TCB.Status)
		}
	}
}
