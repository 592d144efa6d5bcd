package ear

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
)

func BenchmarkUnmarshalJSON(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var e EAR
		if err := e.UnmarshalJSON([]byte(draftExample)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k, keys := newKey(b, elliptic.P256())
	tok, err := testEAR().Sign(k)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(tok, keys, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign is the cost of signing one EAR (ES256), as the verification
// service does for every appraisal: claims JSON, then one ECDSA signature.
func BenchmarkSign(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSigner(key)
	if err != nil {
		b.Fatal(err)
	}
	e := &EAR{IssuedAt: 1700000000, VerifierID: VerifierID{Build: "ratls", Developer: "https://github.com/ratls/ratls"},
		Submods: map[string]*Appraisal{"sgx": {Status: StatusAffirming, TrustVector: &TrustVector{InstanceIdentity: 2, Hardware: 2}, PolicyID: "default@1"}}}
	for b.Loop() {
		if _, err := s.Sign(e); err != nil {
			b.Fatal(err)
		}
	}
}
