package arm

import (
	"context"
	"strings"
	"testing"
)

// Messages name what a user of the command line or the service can set
// (--cca-cpak, --cca-allow-platform-only), never Go fields.
func TestMessagesInUsersWords(t *testing.T) {
	ctx := context.Background()
	v := NewVerifier(nil)
	var platformOnly, full *vector
	vecs := loadVectors(t)
	for i := range vecs {
		if vecs[i].Computed.OuterTag == 18 && platformOnly == nil {
			platformOnly = &vecs[i]
		}
		if vecs[i].Computed.OuterTag != 18 && full == nil {
			full = &vecs[i]
		}
	}
	key := loadKey(t, platformOnly.dir, platformOnly.PlatformKey)
	detail := func(r *Result, name string) string {
		c, ok := r.Checks.Get(name)
		if !ok {
			t.Fatalf("check %s did not run", name)
		}
		if strings.Contains(c.Detail, "Options.") {
			t.Errorf("%s names a Go field: %q", name, c.Detail)
		}
		return c.Detail
	}
	r, _ := v.VerifyBytes(ctx, platformOnly.raw, Options{CPAK: key})
	if d := detail(r, CheckTokenFormat); d != "platform token only: want a realm token too (--cca-allow-platform-only accepts platform-only tokens)" {
		t.Errorf("platform-only refused: %q", d)
	}
	r, _ = v.VerifyBytes(ctx, platformOnly.raw, Options{CPAK: key, AllowPlatformOnly: true})
	if d := detail(r, CheckTokenFormat); d != "platform token only (no realm token), accepted with --cca-allow-platform-only" {
		t.Errorf("platform-only accepted: %q", d)
	}
	if d := detail(r, CheckChallenge); d != "no challenge was expected (no nonce was given): freshness is not checked" {
		t.Errorf("no challenge: %q", d)
	}
	if d := detail(r, CheckPlatformKey); !strings.Contains(d, "key from the key given with --cca-cpak") {
		t.Errorf("key source: %q", d)
	}
	r, _ = v.VerifyBytes(ctx, full.raw, Options{})
	if d := detail(r, CheckPlatformKey); d != "no platform attestation key (CPAK) to verify the platform token with: give it with --cca-cpak (a PEM public key), or configure a key store" {
		t.Errorf("no key: %q", d)
	}
	r, _ = v.VerifyBytes(ctx, full.raw, Options{CPAK: loadKey(t, full.dir, full.PlatformKey), ExpectedChallenge: make([]byte, 65)})
	if d := detail(r, CheckChallenge); d != "expected challenge (nonce): want at most 64 bytes, got 65" {
		t.Errorf("long challenge: %q", d)
	}
}
