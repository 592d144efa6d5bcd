package quote

import (
	"errors"
	"fmt"

	"github.com/ratls/ratls/internal/fielderr"
)

// Error kinds. Every error returned by a parser in this package wraps exactly
// one of them, so callers can tell them apart with [errors.Is].
var (
	// ErrTruncated: the input ends before a field, or a length field points
	// past the end of its enclosing structure.
	ErrTruncated = errors.New("quote: truncated input")
	// ErrTooLarge: the input is larger than the format allows.
	ErrTooLarge = errors.New("quote: input too large")
	// ErrUnsupported: a version, key type, TEE type, body type or
	// certification data type that this package does not accept.
	ErrUnsupported = errors.New("quote: unsupported format")
	// ErrMalformed: sizes or values that contradict each other.
	ErrMalformed = errors.New("quote: malformed structure")
	// ErrNoPCKChain: the certification data carries no PEM PCK certificate
	// chain (returned by [CertificationData.PCKChainPEM]).
	ErrNoPCKChain = errors.New("quote: no PCK certificate chain")
)

// FormatError describes a structural check that failed: which field, what
// was expected and what was found. Its Kind is one of the error kinds
// above.
type FormatError = fielderr.Error

func formatErr(kind error, field, want string, got any) error {
	return &FormatError{Pkg: "quote", Field: field, Want: want, Got: fmt.Sprint(got), Kind: kind}
}

// truncatedErr reports that field needed want bytes but only have remained.
func truncatedErr(field string, want, have int) error {
	return &FormatError{
		Pkg:   "quote",
		Field: field,
		Want:  fmt.Sprintf("%d bytes", want),
		Got:   fmt.Sprintf("%d bytes left", have),
		Kind:  ErrTruncated,
	}
}

// sizeErr reports an input whose total size is wrong.
func sizeErr(what string, want int, got int) error {
	kind := ErrTruncated
	if got > want {
		kind = ErrMalformed
	}
	return &FormatError{
		Pkg:   "quote",
		Field: what + " size",
		Want:  fmt.Sprintf("%d bytes", want),
		Got:   fmt.Sprintf("%d bytes", got),
		Kind:  kind,
	}
}
