// Package fielderr is the error of a parser that found a field it cannot
// accept: which field, what was expected and what was found. The evidence
// and collateral parsers (evidence/quote, evidence/snp, evidence/cca,
// evidence/cmw, collateral/pcs) all return it, each under its own name
// (quote.FormatError, snp.Error, …), so callers read every one the same way.
package fielderr

import "strings"

// Error reports a field that failed a check. Its message is
//
//	<Pkg>: <Path>: <Field>: want <Want>, got <Got>
//
// with empty parts left out; without Want it ends in Got and the cause, as
// far as they are set.
type Error struct {
	// Pkg names the reporting package and starts the message ("quote").
	Pkg string
	// Path is where in the document the field is, when its name does not
	// say it: e.g. "tcbInfo.tcbLevels[3].tcb.pcesvn", or `entry "a"/2`
	// for the collection entries leading to a CMW.
	Path string
	// Field is the field or check, e.g. "header version".
	Field string
	// Want is the value expected, e.g. "3, 4 or 5".
	Want string
	// Got is the value found, e.g. "7"; without Want, what is wrong.
	Got string
	// Kind is the package's sentinel error that the error matches.
	Kind error
	// Cause is the underlying error (of a decoder), if any.
	Cause error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pkg)
	for _, s := range []string{e.Path, e.Field} {
		if s != "" {
			b.WriteString(": ")
			b.WriteString(s)
		}
	}
	switch {
	case e.Want != "":
		b.WriteString(": want " + e.Want + ", got " + e.Got)
	case e.Got != "" && e.Cause != nil:
		b.WriteString(": " + e.Got + " (" + e.Cause.Error() + ")")
	case e.Cause != nil:
		b.WriteString(": " + e.Cause.Error())
	case e.Got != "":
		b.WriteString(": " + e.Got)
	}
	return b.String()
}

// Unwrap returns the kind and, if present, the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Kind, e.Cause} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
