// Package arm verifies Arm Confidential Compute Architecture (CCA)
// attestation tokens parsed by package evidence/cca: the platform token's
// COSE_Sign1 signature by the CCA platform attestation key (CPAK), the realm
// token's signature by the realm attestation key (RAK) it carries in claim
// 44237, the binding of the two (the platform challenge is the hash of that
// claim), and, when asked, the realm challenge the relying party expects.
//
// Package ratls runs this verifier for every Arm CCA token it verifies
// (VerifyCertificate, VerifyEvidence, PeerVerifier) and appraises the
// result with package appraise; use this package directly to verify tokens
// under a policy of your own.
//
// A Verifier proves facts; it does not decide whether they are good enough.
// Every check it ran is in the Result, with what was expected and found.
// Acceptance (lifecycle states, measurements, profiles) is for a policy.
//
// One platform token vouches for every realm on its platform, so it repeats
// across tokens. A platform signature that verified is cached by the exact
// bytes it covers and the key that verified it; verifying another realm of
// a known platform then costs about one signature verification.
package arm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/ratls/ratls/evidence/cca"
	"github.com/ratls/ratls/internal/lru"
	cose "github.com/veraison/go-cose"
)

// TEE is the value of Result.TEE.
const TEE = "cca"

// Config configures a Verifier.
type Config struct {
	// CacheBytes bounds the memory of the cache of verified platform
	// tokens (about PlatformCacheEntryBytes each; least recently used
	// first out). Default DefaultCacheBytes.
	CacheBytes int64
	// CacheSize, when positive, also bounds the cache by its number of
	// entries.
	CacheSize int
}

// Cache bounds.
const (
	// DefaultCacheBytes is the default Config.CacheBytes: 16 MiB, about
	// 100,000 platform tokens.
	DefaultCacheBytes = 16 << 20
	// PlatformCacheEntryBytes is about the memory one cached platform
	// token takes: the cache keeps a hash of what it verified, not the
	// token.
	PlatformCacheEntryBytes = 150
)

// CacheStats are the counters and size of a cache.
type CacheStats = lru.Stats

// Options are per verification.
type Options struct {
	// CPAK is the platform attestation key the platform token must be
	// signed with: an *ecdsa.PublicKey on P-256, P-384 or P-521 matching
	// the token's algorithm (ES256, ES384, ES512). It takes precedence over
	// KeyStore.
	CPAK crypto.PublicKey
	// KeyStore looks up the platform attestation key by the platform
	// instance ID (claim 256, 33 bytes; the slice passed is a copy). It is
	// used when CPAK is nil. A nil key or an error means not found.
	KeyStore func(instanceID []byte) (crypto.PublicKey, error)
	// ExpectedChallenge, when not empty, is the realm challenge the relying
	// party expects, e.g. a nonce or a hash of data to bind. Values shorter
	// than 64 bytes are compared zero-padded to 64 bytes, as the Linux
	// arm_cca_guest driver pads the challenge it is given. For a
	// platform-only token it is compared with the platform challenge as is.
	ExpectedChallenge []byte
	// AllowPlatformOnly accepts a platform token without a realm token; the
	// realm checks are then reported as not applicable. Without it such a
	// token fails verification with ErrNoRealm.
	AllowPlatformOnly bool
}

// Verifier verifies CCA tokens. It is safe for concurrent use; reuse one
// Verifier so its cache works.
type Verifier struct {
	platforms *lru.Cache[[32]byte, struct{}] // verified platform tokens, see platformCacheKey
}

// CacheStats returns the counters and size of the cache of verified
// platform tokens.
func (v *Verifier) CacheStats() CacheStats { return v.platforms.Stats() }

// NewVerifier returns a Verifier; cfg may be nil.
func NewVerifier(cfg *Config) *Verifier {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.CacheBytes <= 0 {
		c.CacheBytes = DefaultCacheBytes
	}
	return &Verifier{platforms: lru.New[[32]byte, struct{}](c.CacheBytes, c.CacheSize)}
}

// VerifyBytes parses a token (any form cca.Parse accepts) and verifies it.
func (v *Verifier) VerifyBytes(ctx context.Context, b []byte, opt Options) (*Result, error) {
	t, err := cca.Parse(b)
	if err != nil {
		r := &Result{TEE: TEE}
		r.Checks.FailCause(CheckTokenFormat, ErrMalformed, err, "%v", err)
		return r, r.err()
	}
	return v.Verify(ctx, t, opt)
}

// Verify verifies a token returned by cca.Parse (and not modified since).
// It returns the result and, when any check failed or could not run, a
// *VerificationError naming the failed checks. All checks run, so the
// result shows every fact and every reason at once. The context is not
// consulted yet: verification does no I/O of its own.
func (v *Verifier) Verify(_ context.Context, t *cca.Token, opt Options) (*Result, error) {
	r := &Result{Token: t, TEE: TEE}
	if t == nil || t.Platform == nil || (t.Realm == nil) != (t.Form == cca.FormPlatformOnly) {
		r.Checks.Fail(CheckTokenFormat, ErrMalformed, "token: want a token from cca.Parse with a platform token, and a realm token unless the form is %s", cca.FormPlatformOnly)
		return r, r.err()
	}
	r.setFacts(t)

	if t.Realm == nil {
		if opt.AllowPlatformOnly {
			r.Checks.Pass(CheckTokenFormat, "platform token only (no realm token), accepted with --cca-allow-platform-only")
		} else {
			r.Checks.Fail(CheckTokenFormat, ErrNoRealm, "platform token only: want a realm token too (--cca-allow-platform-only accepts platform-only tokens)")
		}
	} else {
		r.Checks.Pass(CheckTokenFormat, fmt.Sprintf("%s collection with a platform and a realm token", t.Form))
	}

	if cpak, spki, ok := platformKey(r, t, opt); ok {
		v.verifyPlatform(r, t, cpak, spki)
	} else {
		r.Checks.NotRun(CheckPlatformSignature, ErrNoKey, "no usable platform attestation key")
	}

	if t.Realm == nil {
		r.Checks.NotApplicable(CheckRealmSignature, "platform-only token")
		r.Checks.NotApplicable(CheckBinding, "platform-only token")
	} else {
		verifyRealm(r, t)
		checkBinding(r, t)
	}
	checkChallenge(r, t, opt.ExpectedChallenge)
	return r, r.err()
}

func (r *Result) setFacts(t *cca.Token) {
	p := &t.Platform.Claims
	r.Form = t.Form
	r.Platform = p
	r.PlatformProfile = p.Profile
	r.Lifecycle = p.Lifecycle
	r.LifecycleState = p.Lifecycle.State().String()
	r.PlatformAlg = cose.Algorithm(t.Platform.Alg).String()
	r.PlatformHashAlgo = p.HashAlgo
	if t.Realm != nil {
		c := &t.Realm.Claims
		r.Realm = c
		r.RealmProfile = c.Profile
		r.RealmAlg = cose.Algorithm(t.Realm.Alg).String()
		r.RealmHashAlgo = c.HashAlgo
		r.RealmPublicKeyHashAlgo = c.PublicKeyHashAlgo
	}
}

// platformKey finds the CPAK and checks it is a usable ECDSA key. It
// returns the key and its SubjectPublicKeyInfo encoding.
func platformKey(r *Result, t *cca.Token, opt Options) (*ecdsa.PublicKey, []byte, bool) {
	pub, source := opt.CPAK, "the key given with --cca-cpak"
	if pub == nil {
		if opt.KeyStore == nil {
			r.Checks.Fail(CheckPlatformKey, ErrNoKey, "no platform attestation key (CPAK) to verify the platform token with: give it with --cca-cpak (a PEM public key), or configure a key store")
			return nil, nil, false
		}
		id := t.Platform.Claims.InstanceID
		source = fmt.Sprintf("the key store (instance ID %x)", id)
		var err error
		if pub, err = opt.KeyStore(bytes.Clone(id)); err != nil {
			r.Checks.FailCause(CheckPlatformKey, ErrNoKey, err, "key store: instance ID %x: %v", id, err)
			return nil, nil, false
		}
		if pub == nil {
			r.Checks.Fail(CheckPlatformKey, ErrNoKey, "key store: no key for instance ID %x", id)
			return nil, nil, false
		}
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec == nil {
		r.Checks.Fail(CheckPlatformKey, ErrKey, "key from %s: want *ecdsa.PublicKey, got %T", source, pub)
		return nil, nil, false
	}
	if _, ok := curveBits(ec.Curve); !ok {
		r.Checks.Fail(CheckPlatformKey, ErrKey, "key from %s: want an ECDSA key on P-256, P-384 or P-521, got curve %s", source, curveName(ec.Curve))
		return nil, nil, false
	}
	// MarshalPKIXPublicKey also rejects points that are not on the curve.
	spki, err := x509.MarshalPKIXPublicKey(ec)
	if err != nil {
		r.Checks.FailCause(CheckPlatformKey, ErrKey, err, "key from %s: %v", source, err)
		return nil, nil, false
	}
	sum := sha256.Sum256(spki)
	r.CPAKSHA256 = hex.EncodeToString(sum[:])
	r.Checks.Pass(CheckPlatformKey, fmt.Sprintf("ECDSA %s key from %s, SPKI SHA-256 %s", curveName(ec.Curve), source, r.CPAKSHA256))
	return ec, spki, true
}

// verifyPlatform checks the platform token's signature, consulting and
// filling the cache.
func (v *Verifier) verifyPlatform(r *Result, t *cca.Token, cpak *ecdsa.PublicKey, spki []byte) {
	s := &t.Platform.Sign1
	tbs := s.ToBeSigned()
	key := platformCacheKey(spki, tbs, s.Signature)

	if _, hit := v.platforms.Get(key); hit {
		r.PlatformCached = true
		r.Checks.Pass(CheckPlatformSignature, fmt.Sprintf("platform token signed (%s) by the platform attestation key (verified earlier)", r.PlatformAlg))
		return
	}
	if detail, class := verifySign1(s, tbs, cpak, "platform token"); class != nil {
		r.Checks.Fail(CheckPlatformSignature, class, "%s", detail)
		return
	}
	r.Checks.Pass(CheckPlatformSignature, fmt.Sprintf("platform token signed (%s) by the platform attestation key", r.PlatformAlg))

	v.platforms.Add(key, struct{}{}, 0)
}

// platformCacheKey identifies a platform signature verification by all of
// its inputs: the key (DER SubjectPublicKeyInfo), the signed bytes (the
// CBOR Sig_structure, which holds the protected header and the payload) and
// the signature. DER and CBOR items are self-delimiting, so the
// concatenation is unambiguous.
func platformCacheKey(spki, tbs, sig []byte) [32]byte {
	h := sha256.New()
	h.Write(spki)
	h.Write(tbs)
	h.Write(sig)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// verifyRealm checks the realm token's signature with the key it carries.
func verifyRealm(r *Result, t *cca.Token) {
	c := &t.Realm.Claims
	rak, err := c.PublicKeyECDSA()
	if err != nil {
		r.Checks.FailCause(CheckRealmSignature, ErrUnsupported, err, "%v", err)
		return
	}
	s := &t.Realm.Sign1
	if detail, class := verifySign1(s, s.ToBeSigned(), rak, "realm token"); class != nil {
		r.Checks.Fail(CheckRealmSignature, class, "%s", detail)
		return
	}
	r.Checks.Pass(CheckRealmSignature, fmt.Sprintf("realm token signed (%s) by the realm attestation key in claim 44237 (%s, %s)",
		r.RealmAlg, c.PublicKeyFormat(), curveName(rak.Curve)))
}

// verifySign1 verifies a COSE_Sign1 signature over tbs with go-cose, using
// the algorithm of the message's protected header, after checking that the
// algorithm and the key's curve agree. On failure it returns a description
// and the failure class.
func verifySign1(s *cca.Sign1, tbs []byte, key *ecdsa.PublicKey, what string) (detail string, class error) {
	alg := cose.Algorithm(s.Alg)
	curve, ok := algCurve(alg)
	if !ok {
		return fmt.Sprintf("%s: protected header alg: want ES256 (-7), ES384 (-35) or ES512 (-36), got %s", what, alg), ErrUnsupported
	}
	if key.Curve != curve {
		return fmt.Sprintf("%s: algorithm %s needs a %s key, got a %s key", what, alg, curveName(curve), curveName(key.Curve)), ErrSignature
	}
	bits, _ := curveBits(curve)
	if want := 2 * ((bits + 7) / 8); len(s.Signature) != want {
		return fmt.Sprintf("%s: signature length: want %d bytes (r || s for %s), got %d", what, want, alg, len(s.Signature)), ErrSignature
	}
	ver, err := cose.NewVerifier(alg, key)
	if err != nil {
		return fmt.Sprintf("%s: %v", what, err), ErrUnsupported
	}
	if err := ver.Verify(tbs, s.Signature); err != nil {
		return fmt.Sprintf("%s: %s signature does not verify with the %s key", what, alg, curveName(curve)), ErrSignature
	}
	return "", nil
}

// checkBinding checks that the platform challenge is the hash of the realm
// public key claim.
func checkBinding(r *Result, t *cca.Token) {
	err := checkRealmBinding(t)
	switch {
	case err == nil:
		r.Checks.Pass(CheckBinding, fmt.Sprintf("platform challenge = %s(realm public key claim 44237)", t.Realm.Claims.PublicKeyHashAlgo))
	case errors.Is(err, cca.ErrBindingMismatch):
		r.Checks.FailCause(CheckBinding, ErrBinding, err, "platform challenge is not %s(realm public key claim 44237): %v", t.Realm.Claims.PublicKeyHashAlgo, err)
	case errors.Is(err, cca.ErrUnsupportedHash):
		r.Checks.FailCause(CheckBinding, ErrUnsupported, err, "%v", err)
	default:
		r.Checks.FailCause(CheckBinding, ErrMalformed, err, "%v", err)
	}
}

// checkRealmBinding reports whether the platform challenge equals
// t.ExpectedPlatformChallenge, that is whether the platform token vouches
// for the realm token's key. A mismatch is a *cca.Error of kind
// cca.ErrBindingMismatch; a token without a realm token or with an
// unsupported hash algorithm is the error ExpectedPlatformChallenge
// returns. It checks no signature.
func checkRealmBinding(t *cca.Token) error {
	want, err := t.ExpectedPlatformChallenge()
	if err != nil {
		return err
	}
	if got := t.Platform.Claims.Challenge; !bytes.Equal(got, want) {
		return &cca.Error{Pkg: "cca", Kind: cca.ErrBindingMismatch, Field: "platform token: claim 10 (challenge)",
			Want: hex.EncodeToString(want), Got: hex.EncodeToString(got)}
	}
	return nil
}

// checkChallenge compares the token's challenge with the expected one.
func checkChallenge(r *Result, t *cca.Token, expected []byte) {
	if len(expected) == 0 {
		r.Checks.NotApplicable(CheckChallenge, "no challenge was expected (no nonce was given): freshness is not checked")
		return
	}
	if t.Realm == nil {
		got := t.Platform.Claims.Challenge
		if !bytes.Equal(got, expected) {
			r.Checks.Fail(CheckChallenge, ErrChallenge, "platform challenge (claim 10): want %x, got %x", expected, got)
			return
		}
		r.Checks.Pass(CheckChallenge, "platform challenge (claim 10) equals the expected challenge")
		return
	}
	if len(expected) > cca.RealmChallengeSize {
		r.Checks.Fail(CheckChallenge, ErrChallenge, "expected challenge (nonce): want at most %d bytes, got %d", cca.RealmChallengeSize, len(expected))
		return
	}
	want := make([]byte, cca.RealmChallengeSize)
	copy(want, expected)
	if got := t.Realm.Claims.Challenge; !bytes.Equal(got, want) {
		r.Checks.Fail(CheckChallenge, ErrChallenge, "realm challenge (claim 10): want %x, got %x", want, got)
		return
	}
	r.Checks.Pass(CheckChallenge, "realm challenge (claim 10) equals the expected challenge")
}

// algCurve returns the curve an ECDSA COSE algorithm is used with in CCA.
func algCurve(alg cose.Algorithm) (elliptic.Curve, bool) {
	switch alg {
	case cose.AlgorithmES256:
		return elliptic.P256(), true
	case cose.AlgorithmES384:
		return elliptic.P384(), true
	case cose.AlgorithmES512:
		return elliptic.P521(), true
	}
	return nil, false
}

// curveBits returns the size of a supported curve.
func curveBits(c elliptic.Curve) (int, bool) {
	switch c {
	case elliptic.P256():
		return 256, true
	case elliptic.P384():
		return 384, true
	case elliptic.P521():
		return 521, true
	}
	return 0, false
}

func curveName(c elliptic.Curve) string {
	if c == nil || c.Params() == nil {
		return "none"
	}
	return c.Params().Name
}
