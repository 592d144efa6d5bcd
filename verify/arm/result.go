package arm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ratls/ratls/evidence/cca"
)

// Errors that classify a failed verification; test with errors.Is on the
// error Verify returns.
var (
	ErrMalformed   = errors.New("malformed token")
	ErrNoRealm     = errors.New("platform token without a realm token")
	ErrNoKey       = errors.New("platform attestation key not found")
	ErrKey         = errors.New("platform attestation key unusable")
	ErrUnsupported = errors.New("unsupported algorithm or key")
	ErrSignature   = errors.New("invalid signature")
	ErrBinding     = errors.New("platform token does not bind the realm token")
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

// Check is one verification step and its outcome. A check that could not
// apply to this token (realm checks of a platform-only token, the challenge
// check without an expected challenge) has OK false and NotApplicable true;
// it does not make the verification fail.
type Check struct {
	Name          string `json:"name"`
	OK            bool   `json:"ok"`
	NotApplicable bool   `json:"not_applicable,omitempty"`
	Detail        string `json:"detail"`

	err   error // classification, for errors.Is on a failed verification
	cause error // underlying error, if any (e.g. from Options.KeyStore)
}

// Err returns the class of a failed check (one of the Err values of this
// package), nil for a passed or not applicable one.
func (c Check) Err() error { return c.err }

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

	Checks []Check `json:"checks"`
}

// Failed returns the checks that failed. Not applicable checks are not
// failures.
func (r *Result) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK && !c.NotApplicable {
			out = append(out, c)
		}
	}
	return out
}

// Check returns the check with the given name and whether it was run.
func (r *Result) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

func (r *Result) pass(name, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, OK: true, Detail: detail})
}

func (r *Result) notApplicable(name, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, NotApplicable: true, Detail: detail})
}

// fail records a failed check; class is one of the Err values.
func (r *Result) fail(name string, class error, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Detail: fmt.Sprintf(format, args...), err: class})
}

// failCause records a failed check that has an underlying error.
func (r *Result) failCause(name string, class, cause error, format string, args ...any) {
	r.fail(name, class, format, args...)
	r.Checks[len(r.Checks)-1].cause = cause
}

// err returns nil when every check passed, otherwise a *VerificationError.
func (r *Result) err() error {
	if f := r.Failed(); len(f) > 0 {
		return &VerificationError{Failed: f}
	}
	return nil
}

// VerificationError lists the checks that failed.
type VerificationError struct {
	Failed []Check
}

func (e *VerificationError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, c := range e.Failed {
		parts[i] = c.Name + ": " + c.Detail
	}
	return "arm: " + strings.Join(parts, "; ")
}

// Unwrap exposes the classes of the failed checks, and the errors they
// stem from, to errors.Is and errors.As.
func (e *VerificationError) Unwrap() []error {
	var errs []error
	for _, c := range e.Failed {
		if c.err != nil {
			errs = append(errs, c.err)
		}
		if c.cause != nil {
			errs = append(errs, c.cause)
		}
	}
	return errs
}
