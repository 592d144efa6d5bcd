// Package checks records the steps of a verification — each check's name,
// outcome and an explanation naming what was expected and found — and the
// validity windows results depend on. The TEE verifiers (verify/intel,
// verify/amd, verify/arm) share it, so every result reads and fails the
// same way.
package checks

import (
	"fmt"
	"strings"
	"time"
)

// Check is one verification step and its outcome.
type Check struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// NotApplicable marks a check that did not apply (for example an
	// expected challenge nobody gave). It is not OK, but not a failure.
	NotApplicable bool   `json:"not_applicable,omitempty"`
	Detail        string `json:"detail"`

	class error // the verifier's error class, for errors.Is
	cause error // the underlying error, if any
}

// Err returns the class of a failed check (one of its verifier's Err
// values), nil for a passed one.
func (c Check) Err() error { return c.class }

// List is the checks of one verification, in the order they ran.
type List []Check

// Pass records a passed check.
func (l *List) Pass(name, detail string) {
	*l = append(*l, Check{Name: name, OK: true, Detail: detail})
}

// NotApplicable records a check that did not apply.
func (l *List) NotApplicable(name, detail string) {
	*l = append(*l, Check{Name: name, NotApplicable: true, Detail: detail})
}

// Fail records a failed check of the given class.
func (l *List) Fail(name string, class error, format string, args ...any) {
	*l = append(*l, Check{Name: name, Detail: fmt.Sprintf(format, args...), class: class})
}

// FailCause records a failed check that stems from another error, which
// errors.Is and errors.As then also find.
func (l *List) FailCause(name string, class, cause error, format string, args ...any) {
	*l = append(*l, Check{Name: name, Detail: fmt.Sprintf(format, args...), class: class, cause: cause})
}

// Failed returns the checks that failed; not applicable ones are not
// failures.
func (l List) Failed() []Check {
	var out []Check
	for _, c := range l {
		if !c.OK && !c.NotApplicable {
			out = append(out, c)
		}
	}
	return out
}

// Get returns the check with the given name and whether it ran.
func (l List) Get(name string) (Check, bool) {
	for _, c := range l {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Err returns nil when no check failed, otherwise a *VerificationError
// whose message starts with prefix (the verifier's name).
func (l List) Err(prefix string) error {
	if f := l.Failed(); len(f) > 0 {
		return &VerificationError{Prefix: prefix, Failed: f}
	}
	return nil
}

// VerificationError lists the checks that failed.
type VerificationError struct {
	Prefix string
	Failed []Check
}

func (e *VerificationError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, c := range e.Failed {
		parts[i] = c.Name + ": " + c.Detail
	}
	return e.Prefix + ": " + strings.Join(parts, "; ")
}

// Unwrap exposes the classes of the failed checks, and the errors they
// stem from, to errors.Is and errors.As.
func (e *VerificationError) Unwrap() []error {
	var errs []error
	for _, c := range e.Failed {
		if c.class != nil {
			errs = append(errs, c.class)
		}
		if c.cause != nil {
			errs = append(errs, c.cause)
		}
	}
	return errs
}

// Window is a validity period, both ends included.
type Window struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

// Contains reports whether t lies in w.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.From) && !t.After(w.Until) }

// Intersect narrows w to o; a zero Until in w means "not yet bounded".
func (w Window) Intersect(o Window) Window {
	if o.From.After(w.From) {
		w.From = o.From
	}
	if w.Until.IsZero() || (!o.Until.IsZero() && o.Until.Before(w.Until)) {
		w.Until = o.Until
	}
	return w
}
