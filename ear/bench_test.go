package ear

import (
	"crypto/elliptic"
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
