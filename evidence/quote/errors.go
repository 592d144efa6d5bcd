package quote

import (
	"errors"
	"fmt"
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
// was expected and what was found. Its Err is one of the error kinds above.
type FormatError struct {
	Field string // field or check, e.g. "header version"
	Want  string // expected value, e.g. "3, 4 or 5"
	Got   string // value found, e.g. "7"
	Err   error  // ErrTruncated, ErrTooLarge, ErrUnsupported, ErrMalformed or ErrNoPCKChain
}

func (e *FormatError) Error() string {
	return "quote: " + e.Field + ": want " + e.Want + ", got " + e.Got
}

// Unwrap returns the error kind.
func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(kind error, field, want string, got any) error {
	return &FormatError{Field: field, Want: want, Got: fmt.Sprint(got), Err: kind}
}

// truncatedErr reports that field needed want bytes but only have remained.
func truncatedErr(field string, want, have int) error {
	return &FormatError{
		Field: field,
		Want:  fmt.Sprintf("%d bytes", want),
		Got:   fmt.Sprintf("%d bytes left", have),
		Err:   ErrTruncated,
	}
}

// sizeErr reports an input whose total size is wrong.
func sizeErr(what string, want int, got int) error {
	kind := ErrTruncated
	if got > want {
		kind = ErrMalformed
	}
	return &FormatError{
		Field: what + " size",
		Want:  fmt.Sprintf("%d bytes", want),
		Got:   fmt.Sprintf("%d bytes", got),
		Err:   kind,
	}
}
