package pcs

import (
	"errors"
	"fmt"
	"time"

	"github.com/ratls/ratls/internal/fielderr"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrFormat marks malformed input: bad JSON, wrong types, lengths or
	// values, missing required fields, oversize input.
	ErrFormat = errors.New("malformed collateral")

	// ErrSignature marks a collateral signature that does not verify.
	ErrSignature = errors.New("signature verification failed")

	// ErrNoTCBLevel means no TCB level matches the platform (QVL
	// STATUS_TCB_NOT_SUPPORTED, or ISVSVN_NOT_SUPPORTED for an enclave
	// identity). Intel's library fails verification in this case.
	ErrNoTCBLevel = errors.New("no matching TCB level")

	// ErrTDXModuleMismatch means the TCB Info has no TDX module identity for
	// the TD's module version (QVL STATUS_TDX_MODULE_MISMATCH).
	ErrTDXModuleMismatch = errors.New("no TDX module identity for the module version")

	// ErrIdentityMismatch means an enclave report does not match an Enclave
	// Identity (QVL QE_IDENTITY_MISMATCH); the error is an
	// *IdentityMismatchError.
	ErrIdentityMismatch = errors.New("identity mismatch")

	// ErrTCBInfoMismatch means the TCB Info is for another platform than the
	// PCK certificate (QVL STATUS_TCB_INFO_MISMATCH).
	ErrTCBInfoMismatch = errors.New("TCB Info does not match the PCK certificate")

	// ErrUnrecognizedStatus marks a status that is not valid where it is used
	// (QVL STATUS_TCB_UNRECOGNIZED_STATUS).
	ErrUnrecognizedStatus = errors.New("unrecognized TCB status")

	// ErrExpired and ErrNotYetValid are returned (wrapped in a
	// *ValidityError) by the ValidAt methods.
	ErrExpired     = errors.New("expired")
	ErrNotYetValid = errors.New("not yet valid")

	// ErrUnavailable marks a failure of the collateral source itself: it
	// could not be reached, timed out, or answered 429 or 5xx (after the
	// client's retries). It says nothing about the platform: verification
	// could not complete, and may later. A Cache returns it as an
	// *UnavailableError.
	ErrUnavailable = errors.New("collateral source unavailable")
)

// UnavailableError is the answer of a Cache (or of another provider that
// backs off) while the source of a request's collateral is unavailable. The
// source is not asked again for this request before RetryAfter has passed:
// until then this error is returned at once. It matches ErrUnavailable.
type UnavailableError struct {
	Request Request
	// RetryAfter is how long, from when the error was returned, until the
	// source is asked again.
	RetryAfter time.Duration
	// Err is the source's failure. It names the source's URLs: log it, do
	// not show it to remote parties.
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("pcs: %s: %v (the source is not asked again for %s)", e.Request, e.Err, e.RetryAfter.Round(time.Second))
}

// Unwrap returns the source's failure, which matches ErrUnavailable.
func (e *UnavailableError) Unwrap() error { return e.Err }

// FieldError reports a malformed field. Path names the field in the
// document, e.g. "tcbInfo.tcbLevels[3].tcb.pcesvn", and Got what is wrong
// with it. Its Kind is ErrFormat.
type FieldError = fielderr.Error

func fieldErrorf(path, format string, args ...any) error {
	return &FieldError{Pkg: "pcs", Path: path, Got: fmt.Sprintf(format, args...), Kind: ErrFormat}
}

// IdentityMismatchError reports which report field does not match an Enclave
// Identity (EnclaveIdentity.MatchQE) or a TDX module identity
// (TDXModule.Check). Want is the identity's value, Got the report's value with
// the identity's mask applied; Mask is empty for unmasked fields. Values are
// hex in the byte order of the collateral JSON, or decimal for integers.
type IdentityMismatchError struct {
	Identity string // "QE", "QVE", "TD_QE" or "TDX module"
	Field    string // "MISCSELECT", "ATTRIBUTES", "MRSIGNER" or "ISVPRODID"
	Want     string
	Got      string
	Mask     string
}

func (e *IdentityMismatchError) Error() string {
	if e.Mask != "" {
		return fmt.Sprintf("pcs: %s identity: %s: want %s under mask %s, got %s (masked)",
			e.Identity, e.Field, e.Want, e.Mask, e.Got)
	}
	return fmt.Sprintf("pcs: %s identity: %s: want %s, got %s", e.Identity, e.Field, e.Want, e.Got)
}

// Unwrap returns ErrIdentityMismatch.
func (e *IdentityMismatchError) Unwrap() error { return ErrIdentityMismatch }

// ValidityError reports that an item is outside its validity window at
// time Now. It matches ErrExpired or ErrNotYetValid.
type ValidityError struct {
	What      string // e.g. "TCB Info"
	Now       time.Time
	NotBefore time.Time
	NotAfter  time.Time
}

func (e *ValidityError) Error() string {
	return fmt.Sprintf("pcs: %s: %v at %s (valid %s .. %s)", e.What, e.Unwrap(),
		e.Now.UTC().Format(time.RFC3339), e.NotBefore.UTC().Format(time.RFC3339), e.NotAfter.UTC().Format(time.RFC3339))
}

// Unwrap returns ErrExpired or ErrNotYetValid.
func (e *ValidityError) Unwrap() error {
	if e.Now.Before(e.NotBefore) {
		return ErrNotYetValid
	}
	return ErrExpired
}

func checkWindow(what string, now, notBefore, notAfter time.Time) error {
	if now.Before(notBefore) || now.After(notAfter) {
		return &ValidityError{What: what, Now: now, NotBefore: notBefore, NotAfter: notAfter}
	}
	return nil
}

// withPrefix prefixes the location of err (a file name or a key of an
// enclosing document), keeping *FieldError and its ErrFormat match.
func withPrefix(prefix string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) && fe.Kind == ErrFormat {
		p := prefix
		if fe.Path != "" {
			p += ": " + fe.Path
		}
		return &FieldError{Pkg: fe.Pkg, Path: p, Got: fe.Got, Kind: ErrFormat}
	}
	return fmt.Errorf("pcs: %s: %w", prefix, err)
}
