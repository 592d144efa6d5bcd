package arm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/ratls/ratls/evidence/cca"
	"github.com/ratls/ratls/verify/checks"
	cose "github.com/veraison/go-cose"
)

// offsetIn returns the offset of the first occurrence of part inside the
// region of raw that starts with region.
func offsetIn(t *testing.T, raw, region, part []byte) int {
	t.Helper()
	base := bytes.Index(raw, region)
	if base < 0 {
		t.Fatal("region not found in token")
	}
	off := bytes.Index(raw[base:base+len(region)], part)
	if off < 0 {
		t.Fatal("part not found in region")
	}
	return base + off
}

// TestFlippedBytes flips one byte in each signed or signing part of real
// tokens and checks that exactly the checks guarding that part fail, also
// on a verifier that has the unmodified platform token cached.
func TestFlippedBytes(t *testing.T) {
	ctx := context.Background()
	for _, id := range []string{"tfm-cca-example-token-cmw", "rust-cca-token-02", "veraison-go-testRMMLegacyEvidence"} {
		vec := vectorByID(t, id)
		key := loadKey(t, vec.dir, vec.PlatformKey)
		tok, err := cca.Parse(vec.raw)
		if err != nil {
			t.Fatal(err)
		}
		v := NewVerifier(nil)
		if _, err := v.VerifyBytes(ctx, vec.raw, Options{CPAK: key}); err != nil {
			t.Fatalf("%s: baseline: %v", id, err)
		}
		p, r := tok.Platform, tok.Realm
		for _, tc := range []struct {
			name   string
			off    int
			failed []string
			class  error
			mask   byte // XORed into the byte; 0 means 0x01
		}{
			{"platform payload: implementation id", offsetIn(t, vec.raw, p.Raw, p.Claims.ImplementationID) + 5, []string{CheckPlatformSignature}, ErrSignature, 0},
			{"platform payload: sw component", offsetIn(t, vec.raw, p.Raw, p.Claims.SWComponents[0].MeasurementValue) + 31, []string{CheckPlatformSignature}, ErrSignature, 0},
			{"platform payload: challenge", offsetIn(t, vec.raw, p.Raw, p.Claims.Challenge), []string{CheckBinding, CheckPlatformSignature}, ErrBinding, 0},
			// 0x10 turns ES256 (-7) into -23 and ES384 (-35) into -51, neither
			// an algorithm.
			{"platform protected header: alg", offsetIn(t, vec.raw, p.Raw, p.Protected) + len(p.Protected) - 1, []string{CheckPlatformSignature}, ErrUnsupported, 0x10},
			{"platform signature: r", offsetIn(t, vec.raw, p.Raw, p.Signature) + 3, []string{CheckPlatformSignature}, ErrSignature, 0},
			{"platform signature: s", offsetIn(t, vec.raw, p.Raw, p.Signature) + len(p.Signature) - 1, []string{CheckPlatformSignature}, ErrSignature, 0},
			{"realm payload: initial measurement", offsetIn(t, vec.raw, r.Raw, r.Claims.InitialMeasurement) + 7, []string{CheckRealmSignature}, ErrSignature, 0},
			{"realm payload: personalization", offsetIn(t, vec.raw, r.Raw, r.Claims.PersonalizationValue) + 63, []string{CheckRealmSignature}, ErrSignature, 0},
			{"realm payload: challenge", offsetIn(t, vec.raw, r.Raw, r.Claims.Challenge) + 10, []string{CheckRealmSignature}, ErrSignature, 0},
			{"realm signature: r", offsetIn(t, vec.raw, r.Raw, r.Signature), []string{CheckRealmSignature}, ErrSignature, 0},
			{"realm signature: s", offsetIn(t, vec.raw, r.Raw, r.Signature) + len(r.Signature) - 2, []string{CheckRealmSignature}, ErrSignature, 0},
			// The last byte of the key claim is in the y coordinate: the
			// point leaves the curve and no longer hashes to the binder.
			{"realm public key", offsetIn(t, vec.raw, r.Raw, r.Claims.PublicKey) + len(r.Claims.PublicKey) - 1, []string{CheckBinding, CheckRealmSignature}, ErrUnsupported, 0},
		} {
			b := bytes.Clone(vec.raw)
			if tc.mask == 0 {
				tc.mask = 0x01
			}
			b[tc.off] ^= tc.mask
			res, err := v.VerifyBytes(ctx, b, Options{CPAK: key})
			if err == nil {
				t.Errorf("%s: %s: flipped byte at %d verified", id, tc.name, tc.off)
				continue
			}
			if got := failedNames(res); !slices.Equal(got, tc.failed) {
				t.Errorf("%s: %s: failed %v, want %v (%v)", id, tc.name, got, tc.failed, err)
			}
			if !errors.Is(err, tc.class) {
				t.Errorf("%s: %s: err %v, want %v", id, tc.name, err, tc.class)
			}
		}
	}
}

// collection399 builds a legacy collection of two COSE_Sign1 tokens.
func collection399(t *testing.T, platform, realm []byte) []byte {
	return encode(t, cbor.Tag{Number: cca.TagCollectionLegacy, Content: map[uint64][]byte{
		cca.KeyPlatformToken: platform, cca.KeyRealmToken: realm}})
}

// collection907 builds a CMW collection of two COSE_Sign1 tokens.
func collection907(t *testing.T, platform, realm []byte) []byte {
	return encode(t, cbor.Tag{Number: cca.TagCollectionCMW, Content: map[uint64][]any{
		cca.KeyPlatformToken: {cca.CollectionContentFormat, platform},
		cca.KeyRealmToken:    {cca.CollectionContentFormat, realm}}})
}

// TestRealmSwapped pairs the platform token of one vector with the realm
// token of another: both signatures hold, the binding does not.
func TestRealmSwapped(t *testing.T) {
	ctx := context.Background()
	v := NewVerifier(nil)
	for _, tc := range []struct{ platform, realm string }{
		{"tfm-cca-example-token-cmw", "tfm-cca-token"},
		{"tfm-cca-token", "veraison-go-testGoodCCAToken"},
		{"rust-cca-token-02", "rust-cca-token-draft-ffm-00"},
	} {
		pv, rv := vectorByID(t, tc.platform), vectorByID(t, tc.realm)
		pt, err := cca.Parse(pv.raw)
		if err != nil {
			t.Fatal(err)
		}
		rt, err := cca.Parse(rv.raw)
		if err != nil {
			t.Fatal(err)
		}
		key := loadKey(t, pv.dir, pv.PlatformKey)
		for form, raw := range map[string][]byte{
			"399": collection399(t, pt.PlatformRaw, rt.RealmRaw),
			"907": collection907(t, pt.PlatformRaw, rt.RealmRaw),
		} {
			r, err := v.VerifyBytes(ctx, raw, Options{CPAK: key})
			if !errors.Is(err, ErrBinding) {
				t.Errorf("%s + %s (%s): err %v, want ErrBinding", tc.platform, tc.realm, form, err)
			}
			if got := failedNames(r); !slices.Equal(got, []string{CheckBinding}) {
				t.Errorf("%s + %s (%s): failed %v, want only binding", tc.platform, tc.realm, form, got)
			}
		}
	}

	// Control: re-assembling a vector's own tokens verifies, in both forms.
	vec := vectorByID(t, "tfm-cca-example-token-cmw")
	tok, err := cca.Parse(vec.raw)
	if err != nil {
		t.Fatal(err)
	}
	key := loadKey(t, vec.dir, vec.PlatformKey)
	for _, raw := range [][]byte{collection399(t, tok.PlatformRaw, tok.RealmRaw), collection907(t, tok.PlatformRaw, tok.RealmRaw)} {
		if _, err := v.VerifyBytes(ctx, raw, Options{CPAK: key}); err != nil {
			t.Errorf("re-assembled token: %v", err)
		}
	}
}

// TestExpectedChallenge compares the realm challenge with the one the
// relying party expects (values from EXPECTED.json).
func TestExpectedChallenge(t *testing.T) {
	ctx := context.Background()
	v := NewVerifier(nil)
	random := vectorByID(t, "rust-bug-33-repro") // a random-looking challenge
	good := vectorByID(t, "veraison-go-testGoodCCAToken")
	for _, vec := range []vector{random, good} {
		key := loadKey(t, vec.dir, vec.PlatformKey)
		challenge := mustHex(t, vec.Computed.RealmClaims["10"].(string))
		flipped := slices.Clone(challenge)
		flipped[63] ^= 0x80
		for _, tc := range []struct {
			name     string
			expected []byte
			ok       bool
		}{
			{"exact", challenge, true},
			{"flipped last byte", flipped, false},
			// Shorter values are zero-padded, so a prefix of a challenge
			// that does not end in zeros does not match.
			{"32-byte prefix", challenge[:32], false},
			{"65 bytes", append(slices.Clone(challenge), 0), false},
		} {
			r, _ := v.VerifyBytes(ctx, vec.raw, Options{CPAK: key, ExpectedChallenge: tc.expected})
			c := mustCheck(t, r, CheckChallenge)
			if c.OK != tc.ok || c.NotApplicable {
				t.Errorf("%s: %s: challenge check %+v, want ok=%v", vec.ID, tc.name, c, tc.ok)
			}
			if !tc.ok && c.Err() != ErrChallenge {
				t.Errorf("%s: %s: class %v, want ErrChallenge", vec.ID, tc.name, c.Err())
			}
		}
	}
	// Without an expected challenge the check is not applicable.
	key := loadKey(t, good.dir, good.PlatformKey)
	r, err := v.VerifyBytes(ctx, good.raw, Options{CPAK: key})
	if err != nil {
		t.Fatal(err)
	}
	if c := mustCheck(t, r, CheckChallenge); !c.NotApplicable || c.OK {
		t.Errorf("challenge without expectation: %+v", c)
	}
	// Only the challenge check fails for a wrong challenge.
	r, err = v.VerifyBytes(ctx, good.raw, Options{CPAK: key, ExpectedChallenge: []byte("another nonce")})
	if !errors.Is(err, ErrChallenge) || !slices.Equal(failedNames(r), []string{CheckChallenge}) {
		t.Errorf("wrong challenge: err %v, failed %v", err, failedNames(r))
	}
}

// TestSynthetic covers what the vectors cannot: a challenge shorter than 64
// bytes (zero-padded by the kernel) and ES256/ES512 platform keys, on the
// claims of a real token re-signed with fresh keys.
func TestSynthetic(t *testing.T) {
	ctx := context.Background()
	base := vectorByID(t, "tfm-cca-example-token-cmw").raw
	nonce := []byte("0123456789abcdef0123456789abcdef") // 32 bytes
	padded := append(slices.Clone(nonce), make([]byte, 32)...)
	v := NewVerifier(nil)
	for _, alg := range []cose.Algorithm{cose.AlgorithmES256, cose.AlgorithmES384, cose.AlgorithmES512} {
		s := buildSynthetic(t, base, alg, padded)
		for _, expected := range [][]byte{nonce, padded} {
			r, err := v.VerifyBytes(ctx, s.raw, Options{CPAK: &s.cpak.PublicKey, ExpectedChallenge: expected})
			if err != nil {
				t.Fatalf("%s, challenge of %d bytes: %v", alg, len(expected), err)
			}
			if r.PlatformAlg != alg.String() || r.Form != cca.FormLegacy {
				t.Errorf("%s: facts %q %q", alg, r.PlatformAlg, r.Form)
			}
		}
		// A key of the right curve that did not sign fails.
		other, err := ecdsa.GenerateKey(s.cpak.Curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.VerifyBytes(ctx, s.raw, Options{CPAK: &other.PublicKey}); !errors.Is(err, ErrSignature) {
			t.Errorf("%s with another key: err %v, want ErrSignature", alg, err)
		}
	}
}

// TestUnusableKeys checks the platform.key check.
func TestUnusableKeys(t *testing.T) {
	ctx := context.Background()
	vec := vectorByID(t, "tfm-cca-token")
	good := loadKey(t, vec.dir, vec.PlatformKey)
	bad := offCurve(t, good)
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	storeErr := errors.New("store offline")
	v := NewVerifier(nil)
	for _, tc := range []struct {
		name  string
		opt   Options
		class error
	}{
		{"no key", Options{}, ErrNoKey},
		{"typed nil", Options{CPAK: (*ecdsa.PublicKey)(nil)}, ErrKey},
		{"value not pointer", Options{CPAK: *good}, ErrKey},
		{"RSA", Options{CPAK: &rsaKey.PublicKey}, ErrKey},
		{"P-224", Options{CPAK: &p224.PublicKey}, ErrKey},
		{"point off the curve", Options{CPAK: bad}, ErrKey},
		{"store error", Options{KeyStore: func([]byte) (crypto.PublicKey, error) { return nil, storeErr }}, ErrNoKey},
		{"store nil", Options{KeyStore: func([]byte) (crypto.PublicKey, error) { return nil, nil }}, ErrNoKey},
	} {
		r, err := v.VerifyBytes(ctx, vec.raw, tc.opt)
		if !errors.Is(err, tc.class) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.class)
		}
		// Without a key the signature check cannot run: that counts
		// against the token too.
		if got := failedNames(r); !slices.Equal(got, []string{CheckPlatformKey, CheckPlatformSignature}) {
			t.Errorf("%s: failed %v, want platform.key and platform.signature", tc.name, got)
		}
		if c := mustCheck(t, r, CheckPlatformSignature); c.State != checks.NotRun {
			t.Errorf("%s: platform.signature %+v, want not run", tc.name, c)
		}
	}
	if _, err := v.VerifyBytes(ctx, vec.raw, Options{KeyStore: func([]byte) (crypto.PublicKey, error) { return nil, storeErr }}); !errors.Is(err, storeErr) {
		t.Errorf("key store error not wrapped: %v", err)
	}
	// CPAK takes precedence over KeyStore, and KeyStore gets the instance ID.
	var gotID []byte
	store := func(id []byte) (crypto.PublicKey, error) { gotID = id; return good, nil }
	if _, err := v.VerifyBytes(ctx, vec.raw, Options{CPAK: good, KeyStore: func([]byte) (crypto.PublicKey, error) { return nil, storeErr }}); err != nil {
		t.Errorf("CPAK with a failing key store: %v", err)
	}
	if _, err := v.VerifyBytes(ctx, vec.raw, Options{KeyStore: store}); err != nil {
		t.Errorf("key store: %v", err)
	}
	if want := mustHex(t, vec.Computed.PlatformClaims["256"].(string)); !bytes.Equal(gotID, want) {
		t.Errorf("key store got instance ID %x, want %x", gotID, want)
	}
}

// TestMalformed checks inputs that are not usable tokens.
func TestMalformed(t *testing.T) {
	ctx := context.Background()
	v := NewVerifier(nil)
	vec := vectorByID(t, "tfm-cca-token")
	key := loadKey(t, vec.dir, vec.PlatformKey)

	r, err := v.VerifyBytes(ctx, vec.raw[:len(vec.raw)-1], Options{CPAK: key})
	if !errors.Is(err, ErrMalformed) || !errors.Is(err, cca.ErrMalformed) {
		t.Errorf("truncated token: err %v, want ErrMalformed wrapping the parser's error", err)
	}
	if !slices.Equal(failedNames(r), []string{CheckTokenFormat}) {
		t.Errorf("truncated token: failed %v", failedNames(r))
	}

	tok, err := cca.Parse(vec.raw)
	if err != nil {
		t.Fatal(err)
	}
	inconsistent := *tok
	inconsistent.Realm = nil // a collection form without a realm token
	noPlatform := *tok
	noPlatform.Platform = nil
	for name, tk := range map[string]*cca.Token{"nil": nil, "no platform": &noPlatform, "form without realm": &inconsistent} {
		r, err := v.Verify(ctx, tk, Options{CPAK: key})
		if !errors.Is(err, ErrMalformed) || !slices.Equal(failedNames(r), []string{CheckTokenFormat}) {
			t.Errorf("%s: err %v, failed %v", name, err, failedNames(r))
		}
	}

	// Checks on the parsed signature fields: an algorithm this verifier
	// does not use, and a signature of the wrong length.
	for _, tc := range []struct {
		name   string
		edit   func(*cca.Token)
		failed string
		class  error
		detail string
	}{
		{"platform alg PS256", func(t *cca.Token) { t.Platform.Alg = int64(cose.AlgorithmPS256) }, CheckPlatformSignature, ErrUnsupported, "got PS256"},
		{"realm alg EdDSA", func(t *cca.Token) { t.Realm.Alg = int64(cose.AlgorithmEdDSA) }, CheckRealmSignature, ErrUnsupported, "got EdDSA"},
		{"short realm signature", func(t *cca.Token) { t.Realm.Signature = t.Realm.Signature[:95] }, CheckRealmSignature, ErrSignature, "want 96 bytes"},
		{"unsupported binding hash", func(t *cca.Token) { t.Realm.Claims.PublicKeyHashAlgo = "sha3-256" }, CheckBinding, ErrUnsupported, "sha3-256"},
		{"realm key not a point", func(t *cca.Token) { t.Realm.Claims.PublicKey = []byte{0x04, 1, 2} }, CheckRealmSignature, ErrUnsupported, "claim 44237"},
	} {
		tk, err := cca.Parse(vec.raw)
		if err != nil {
			t.Fatal(err)
		}
		tc.edit(tk)
		r, err := v.Verify(ctx, tk, Options{CPAK: key})
		if !errors.Is(err, tc.class) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.class)
		}
		c := mustCheck(t, r, tc.failed)
		if c.OK || !strings.Contains(c.Detail, tc.detail) {
			t.Errorf("%s: %s = %+v, want a failure mentioning %q", tc.name, tc.failed, c, tc.detail)
		}
	}
}
