package cmw

import (
	"errors"
	"fmt"
	"strings"
)

// Error kinds. Every error returned by a parser or encoder in this package
// wraps exactly one of them, so callers can tell them apart with [errors.Is].
var (
	// ErrMalformed: the input (or the CMW being encoded) does not follow the
	// CMW grammar of draft-ietf-rats-msg-wrap.
	ErrMalformed = errors.New("cmw: malformed")
	// ErrLimit: the input is larger, deeper or wider than this package
	// accepts (see [MaxSize], [MaxDepth] and [MaxEntries]).
	ErrLimit = errors.New("cmw: limit exceeded")
)

// FormatError describes a check that failed: where in the CMW tree, which
// field, what was expected and what was found.
type FormatError struct {
	// Path holds the labels of the collection entries leading to the
	// offending node, outermost first, separated by "/"; text labels are
	// quoted. It is empty for the top-level node.
	Path  string
	Field string // field or check, e.g. "record ind"
	Want  string // expected value, e.g. "non-zero"
	Got   string // value found, e.g. "0"
	Err   error  // ErrMalformed or ErrLimit
	Cause error  // underlying decoder error, if any
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("cmw: ")
	if e.Path != "" {
		b.WriteString("entry ")
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Field)
	b.WriteString(": want ")
	b.WriteString(e.Want)
	b.WriteString(", got ")
	b.WriteString(e.Got)
	return b.String()
}

// Unwrap returns the error kind and, if present, the underlying decoder
// error.
func (e *FormatError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

func malformed(field, want string, got any) error {
	return &FormatError{Field: field, Want: want, Got: fmt.Sprint(got), Err: ErrMalformed}
}

func limitErr(field, want string, got any) error {
	return &FormatError{Field: field, Want: want, Got: fmt.Sprint(got), Err: ErrLimit}
}

// inEntry records that err happened inside the collection entry labelled l.
func inEntry(err error, l Label) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		if fe.Path == "" {
			fe.Path = l.pathElem()
		} else {
			fe.Path = l.pathElem() + "/" + fe.Path
		}
	}
	return err
}
