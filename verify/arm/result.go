package arm

import (
	"errors"

	"github.com/ratls/ratls/verify/checks"

	"github.com/ratls/ratls/evidence/cca"
)

// Errors that classify a failed verification; test with errors.Is on the
// error Verify returns. The classes other verifiers have too are those of
// package checks (or refine them).
var (
	ErrMalformed   = checks.Refine(checks.ErrMalformed, "malformed token")
	ErrNoRealm     = errors.New("platform token without a realm token")
	ErrNoKey       = checks.Refine(checks.ErrKey, "platform attestation key not found")
	ErrKey         = checks.Refine(checks.ErrKey, "platform attestation key unusable")
	ErrUnsupported = checks.Refine(checks.ErrUnsupported, "unsupported algorithm or key")
	ErrSignature   = checks.ErrSignature
	ErrBinding     = checks.Refine(checks.ErrBinding, "platform token does not bind the realm token")
	ErrChallenge   = errors.New("challenge mismatch")
)

// Check names, stable across releases (they appear in JSON output).
const (
	CheckTokenFormat       = "token.format"
	CheckPlatformKey       = "platform.key"
	CheckPlatformSignature = "platform.signature"
	CheckRealmSignature    = "realm.signature"
	CheckBinding           = "binding"
	CheckChallenge         = "challenge"
)

// The token checks establish genuine hardware; the challenge, freshness
// of this instance's evidence.
func init() {
	checks.Define(checks.Hardware, CheckTokenFormat, CheckPlatformKey, CheckPlatformSignature, CheckRealmSignature, CheckBinding)
	checks.Define(checks.InstanceIdentity, CheckChallenge)
}

// Check is one verification step and its outcome. A check that could not
// apply to this token (realm checks of a platform-only token, the challenge
// check without an expected challenge) has OK false and NotApplicable true;
// it does not make the verification fail.
type Check = checks.Check

// Result is everything a verification proved about a CCA token. Verify
// fills it as far as the checks got, also when it returns an error.
type Result struct {
	// Token is the verified token; Platform and Realm point into it.
	Token *cca.Token `json:"-"`
	// TEE is "cca".
	TEE string `json:"tee"`
	// Form is the token's top-level encoding.
	Form cca.Form `json:"form"`

	Platform *cca.PlatformClaims `json:"-"`
	Realm    *cca.RealmClaims    `json:"-"` // nil for a platform-only token

	PlatformProfile string `json:"platform_profile"`
	RealmProfile    string `json:"realm_profile,omitempty"` // "" in legacy tokens
	// Lifecycle is the platform security lifecycle claim; LifecycleState
	// its state name, e.g. "secured".
	Lifecycle      cca.Lifecycle `json:"lifecycle"`
	LifecycleState string        `json:"lifecycle_state"`

	// PlatformAlg and RealmAlg are the COSE signature algorithms of the two
	// tokens, e.g. "ES384".
	PlatformAlg string `json:"platform_alg"`
	RealmAlg    string `json:"realm_alg,omitempty"`
	// PlatformHashAlgo is claim 2402, RealmHashAlgo claim 44236 (the
	// measurements' algorithm) and RealmPublicKeyHashAlgo claim 44240 (the
	// algorithm of the binding hash).
	PlatformHashAlgo       string `json:"platform_hash_algo"`
	RealmHashAlgo          string `json:"realm_hash_algo,omitempty"`
	RealmPublicKeyHashAlgo string `json:"realm_public_key_hash_algo,omitempty"`

	// CPAKSHA256 is the hex SHA-256 of the SubjectPublicKeyInfo of the
	// platform attestation key the platform token was checked with.
	CPAKSHA256 string `json:"cpak_sha256,omitempty"`
	// PlatformCached reports that the platform signature was verified by
	// an earlier call with the same token bytes and key.
	PlatformCached bool `json:"platform_cached,omitempty"`

	Checks checks.List `json:"checks"`
}

// Failed returns the checks that failed.
func (r *Result) Failed() []Check { return r.Checks.Failed() }

// VerificationError lists the checks that failed; errors.Is finds their
// classes (the Err values of this package).
type VerificationError = checks.VerificationError

func (r *Result) err() error { return r.Checks.Err("arm") }

// Check returns the check with the given name and whether it ran.
func (r *Result) Check(name string) (Check, bool) { return r.Checks.Get(name) }
