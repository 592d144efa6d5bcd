package cmw

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ratls/ratls/internal/fielderr"
)

// Error kinds. Every error returned by a parser or encoder in this package
// wraps exactly one of them, so callers can tell them apart with [errors.Is].
var (
	// ErrMalformed: the input (or the CMW being encoded) does not follow the
	// CMW grammar of draft-ietf-rats-msg-wrap.
	ErrMalformed = errors.New("cmw: malformed")
	// ErrLimit: the input is larger, deeper or wider than this package
	// accepts: 256 KiB, collections nested 8 deep, 64 entries each.
	ErrLimit = errors.New("cmw: limit exceeded")
)

// FormatError describes a check that failed: where in the CMW tree, which
// field, what was expected and what was found. Its Path is "entry " and the
// labels of the collection entries leading to the offending node,
// outermost first, separated by "/" (text labels quoted), or empty for the
// top-level node; its Kind is ErrMalformed or ErrLimit, its Cause the
// underlying decoder error, if any.
type FormatError = fielderr.Error

const (
	errPkg      = "cmw"    // starts the messages of this package's FormatErrors
	entryPrefix = "entry " // starts a FormatError's Path
)

func malformed(field, want string, got any) error {
	return &FormatError{Pkg: errPkg, Field: field, Want: want, Got: fmt.Sprint(got), Kind: ErrMalformed}
}

func limitErr(field, want string, got any) error {
	return &FormatError{Pkg: errPkg, Field: field, Want: want, Got: fmt.Sprint(got), Kind: ErrLimit}
}

// inEntry records that err happened inside the collection entry labelled l.
func inEntry(err error, l Label) error {
	var fe *FormatError
	if errors.As(err, &fe) && fe.Pkg == errPkg {
		if fe.Path == "" {
			fe.Path = entryPrefix + l.pathElem()
		} else {
			fe.Path = entryPrefix + l.pathElem() + "/" + strings.TrimPrefix(fe.Path, entryPrefix)
		}
	}
	return err
}
