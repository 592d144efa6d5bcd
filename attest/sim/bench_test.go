package sim

import (
	"context"
	"testing"
)

func BenchmarkParseState(b *testing.B) {
	state, err := encodeState([32]byte(testSeed), testNow, DefaultValidity)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := parseState(state); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNew measures rebuilding a simulation from its seed, the work of
// Load.
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(InitOptions{Seed: testSeed, Now: testNow}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAttest(b *testing.B) {
	s := newTestSim(b)
	for _, tee := range []string{TEESGX, TEETDX} {
		b.Run(tee, func(b *testing.B) {
			att, err := s.Attester(tee, Measurements{})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := att.Attest(context.Background(), [64]byte{1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
