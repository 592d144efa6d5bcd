package checks

import "errors"

// Error classes shared by the verifiers. A verifier's class of the same
// name is one of these (intel.ErrSignature is ErrSignature), or, where the
// verifier words it for its evidence, a Refine of one (intel.ErrMalformed
// reads "malformed quote"); either way errors.Is finds the shared class
// whichever verifier failed.
var (
	ErrMalformed   = errors.New("malformed evidence")
	ErrUnsupported = errors.New("unsupported evidence")
	ErrSignature   = errors.New("invalid signature")
	ErrChain       = errors.New("certificate chain not trusted")
	ErrRevoked     = errors.New("revoked")
	ErrValidity    = errors.New("outside validity period")
	// ErrMismatch: the evidence disagrees with what endorses it (its
	// certificate, its collateral).
	ErrMismatch = errors.New("evidence does not match its endorsement")
	// ErrKey: the key that should sign the evidence is missing or unusable.
	ErrKey = errors.New("attestation key unusable")
	// ErrBinding: one part of the evidence does not bind another.
	ErrBinding = errors.New("evidence parts not bound")
)

// Refine returns an error class worded for one verifier's evidence that
// errors.Is also matches to class.
func Refine(class error, text string) error { return &refined{text: text, class: class} }

type refined struct {
	text  string
	class error
}

func (e *refined) Error() string { return e.text }
func (e *refined) Unwrap() error { return e.class }
