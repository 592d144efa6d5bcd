package arm

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestPlatformCache checks that a verified platform token is not verified
// again, that the cache is keyed by the key too, and that it stays bounded.
func TestPlatformCache(t *testing.T) {
	ctx := context.Background()
	v := NewVerifier(nil)

	// testGoodCCAToken and testGoodLegacyCCAToken carry the same platform
	// token (PROVENANCE.md) in the two collection forms.
	cmw := vectorByID(t, "veraison-go-testGoodCCAToken")
	legacy := vectorByID(t, "veraison-go-testGoodLegacyCCAToken")
	key := loadKey(t, cmw.dir, cmw.PlatformKey)
	r, err := v.VerifyBytes(ctx, cmw.raw, Options{CPAK: key})
	if err != nil || r.PlatformCached {
		t.Fatalf("first verification: cached=%v err=%v", r.PlatformCached, err)
	}
	r, err = v.VerifyBytes(ctx, legacy.raw, Options{CPAK: key})
	if err != nil || !r.PlatformCached {
		t.Fatalf("same platform token again: cached=%v err=%v", r.PlatformCached, err)
	}

	// A key that did not sign the token gets no help from the cache.
	wrong := offCurve(t, key)
	if _, err := v.VerifyBytes(ctx, cmw.raw, Options{CPAK: wrong}); !errors.Is(err, ErrKey) {
		t.Errorf("off-curve key: %v", err)
	}
	other := loadKey(t, "cca-veraison", "go/testRMMCPAK.pub.jwk.json")
	if _, err := v.VerifyBytes(ctx, cmw.raw, Options{CPAK: other}); !errors.Is(err, ErrSignature) {
		t.Errorf("another key after a cached success: %v", err)
	}

	// Failures are not cached.
	if v.platforms.Len() != 1 {
		t.Errorf("cache holds %d entries, want 1", v.platforms.Len())
	}

	small := NewVerifier(&Config{CacheSize: 2})
	n := 0
	for _, vec := range loadVectors(t) {
		_, err := small.VerifyBytes(ctx, vec.raw, Options{CPAK: loadKey(t, vec.dir, vec.PlatformKey), AllowPlatformOnly: true})
		if err == nil {
			n++
		}
		if small.platforms.Len() > 2 {
			t.Fatalf("cache holds %d entries, limit 2", small.platforms.Len())
		}
	}
	if n != 13 {
		t.Errorf("%d vectors verified with a small cache, want 13", n)
	}
}

// TestConcurrent verifies tokens from several goroutines on one verifier
// with a small cache, for the race detector.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	vecs := loadVectors(t)
	keys := make([]any, len(vecs))
	for i, vec := range vecs {
		keys[i] = loadKey(t, vec.dir, vec.PlatformKey)
	}
	v := NewVerifier(&Config{CacheSize: 3})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 3 * len(vecs) {
				j := (g + i) % len(vecs)
				vec := vecs[j]
				_, err := v.VerifyBytes(ctx, vec.raw, Options{CPAK: keys[j], AllowPlatformOnly: true})
				if negative := vec.Computed.BindingOK != nil && !*vec.Computed.BindingOK; (err != nil) != negative {
					t.Errorf("%s: %v", vec.ID, err)
				}
			}
		})
	}
	wg.Wait()
}
