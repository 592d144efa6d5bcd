package dcaptest_test

import (
	"bytes"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ratls/ratls/internal/dcapsim"
	"github.com/ratls/ratls/testing/dcaptest"
)

// The re-exported values are copies; they must match what the PKI uses.
func TestValuesMatchPKI(t *testing.T) {
	if dcaptest.IntelQEVendorID != dcapsim.IntelQEVendorID ||
		dcaptest.IntelQEMRSigner != dcapsim.IntelQEMRSigner ||
		dcaptest.IntelTDQEMRSigner != dcapsim.IntelTDQEMRSigner ||
		dcaptest.IntelQEAttributes != dcapsim.IntelQEAttributes ||
		dcaptest.IntelQEAttributesMask != dcapsim.IntelQEAttributesMask ||
		dcaptest.IntelTDXModule != dcapsim.IntelTDXModule ||
		dcaptest.IntelTDXSGXComponentLabels != dcapsim.IntelTDXSGXComponentLabels ||
		dcaptest.IntelTDXComponentLabels != dcapsim.IntelTDXComponentLabels ||
		!slices.Equal(dcaptest.OIDSGXExtensions, dcapsim.OIDSGXExtensions) {
		t.Fatal("a re-exported value differs from the PKI's")
	}
}

// The same seed gives the same PKI and quotes through either package.
func TestSameOutput(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	a, err := dcaptest.New(dcaptest.Options{Now: now, Rand: mrand.NewChaCha8([32]byte{1})})
	if err != nil {
		t.Fatal(err)
	}
	b, err := dcapsim.New(dcapsim.Options{Now: now, Rand: mrand.NewChaCha8([32]byte{1})})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.RootPEM(), b.RootPEM()) {
		t.Fatal("root certificates differ")
	}
	pa, err := a.DefaultPlatform(true)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.DefaultPlatform(true)
	if err != nil {
		t.Fatal(err)
	}
	qa, err := pa.NewQuote([64]byte{7})
	if err != nil {
		t.Fatal(err)
	}
	qb, err := pb.NewQuote([64]byte{7})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(qa, qb) {
		t.Fatal("quotes differ")
	}
}
