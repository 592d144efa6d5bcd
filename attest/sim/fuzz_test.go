package sim

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParseState checks that parseState never panics, that what it accepts
// satisfies the documented limits, and that it round-trips through
// encodeState.
func FuzzParseState(f *testing.F) {
	good, err := encodeState([32]byte(testSeed), testNow, DefaultValidity)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1,"seed":"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f","now":"2025-06-01T14:00:00+02:00"}`))
	f.Add([]byte(`{"version":1,"seed":"00","now":"2025-06-01T12:00:00Z","validity":"1h"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		seed, now, validity, err := parseState(b)
		if err != nil {
			return
		}
		if validity <= 0 || validity > MaxValidity {
			t.Fatalf("accepted validity %v", validity)
		}
		if now.Location() != time.UTC || now.Nanosecond() != 0 || checkNow(now) != nil {
			t.Fatalf("accepted reference time %v", now)
		}
		enc, err := encodeState(seed, now, validity)
		if err != nil {
			t.Fatal(err)
		}
		seed2, now2, validity2, err := parseState(enc)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", enc, err)
		}
		if seed2 != seed || !now2.Equal(now) || validity2 != validity {
			t.Fatalf("round trip: %x %v %v, then %x %v %v", seed, now, validity, seed2, now2, validity2)
		}
		enc2, _ := encodeState(seed2, now2, validity2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %q then %q", enc, enc2)
		}
	})
}
