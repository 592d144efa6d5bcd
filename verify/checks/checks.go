// Package checks records the steps of a verification — each check's name,
// category, state and an explanation naming what was expected and found —
// and the validity windows results depend on. The TEE verifiers
// (verify/intel, verify/amd, verify/arm), the appraisal and the EAR share
// it, so every result reads and fails the same way and nothing needs to
// parse a check's name to know what it means.
package checks

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Category is what a check establishes, named after the EAR trust-vector
// claim (draft-ietf-rats-ar4si) that a failure of the check lowers.
type Category string

// The eight AR4SI trustworthiness claims.
const (
	InstanceIdentity Category = "instance-identity" // the instance and its keys: signatures, key binding, freshness
	Configuration    Category = "configuration"     // how the TEE and platform are set up: TCB level, guest policy
	Executables      Category = "executables"       // the code that runs: measurements against reference values
	FileSystem       Category = "file-system"
	Hardware         Category = "hardware" // genuine hardware: chains to the vendor root, collateral, revocation
	RuntimeOpaque    Category = "runtime-opaque"
	StorageOpaque    Category = "storage-opaque"
	SourcedData      Category = "sourced-data"
)

// Categories lists every category in the order of the EAR trust vector.
var Categories = []Category{InstanceIdentity, Configuration, Executables, FileSystem, Hardware, RuntimeOpaque, StorageOpaque, SourcedData}

// State is the outcome of one check.
type State string

// Check states. A check that did not run for want of an input is a
// failure: nothing is accepted on a check that did not happen.
const (
	Passed State = "passed"
	Failed State = "failed"
	NotRun State = "not_run" // an input it needs was missing
	// NotApplicable: the check does not apply to this evidence (the realm
	// signature of a platform-only token the caller accepts). It is
	// neither a pass nor a failure.
	NotApplicable State = "not_applicable"
)

var (
	registryMu sync.RWMutex
	registry   = map[string]Category{}
)

// Define declares the category of the named checks. Each verifier defines
// its checks once, next to their names; recording a check that was never
// defined panics, so a new check cannot go unclassified.
func Define(c Category, names ...string) {
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, n := range names {
		if old, ok := registry[n]; ok && old != c {
			panic(fmt.Sprintf("checks: %q defined as %s and %s", n, old, c))
		}
		registry[n] = c
	}
}

// CategoryOf returns the category a check name was defined with.
func CategoryOf(name string) (Category, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	c, ok := registry[name]
	return c, ok
}

func mustCategory(name string) Category {
	c, ok := CategoryOf(name)
	if !ok {
		panic(fmt.Sprintf("checks: check %q has no category (call checks.Define)", name))
	}
	return c
}

// Check is one verification step and its outcome.
type Check struct {
	Name     string   `json:"name"`
	Category Category `json:"category"`
	State    State    `json:"state"`
	// OK is State == Passed, kept for readers of earlier JSON output.
	OK bool `json:"ok"`
	// NotApplicable is State == NotApplicable, likewise.
	NotApplicable bool   `json:"not_applicable,omitempty"`
	Detail        string `json:"detail"`

	class error // the verifier's error class, for errors.Is
	cause error // the underlying error, if any
}

// Failure reports whether the check counts against the evidence: it
// failed, or it did not run.
func (c Check) Failure() bool { return c.State == Failed || c.State == NotRun }

// Err returns the class of a failed check (one of its verifier's Err
// values), nil for a passed one.
func (c Check) Err() error { return c.class }

// List is the checks of one verification, in the order they ran.
type List []Check

// Pass records a passed check.
func (l *List) Pass(name, detail string) {
	*l = append(*l, Check{Name: name, Category: mustCategory(name), State: Passed, OK: true, Detail: detail})
}

// NotApplicable records a check that does not apply to this evidence.
func (l *List) NotApplicable(name, detail string) {
	*l = append(*l, Check{Name: name, Category: mustCategory(name), State: NotApplicable, NotApplicable: true, Detail: detail})
}

// NotRun records a check that could not run because an input it needs is
// missing; it counts as a failure of the given class.
func (l *List) NotRun(name string, class error, format string, args ...any) {
	*l = append(*l, Check{Name: name, Category: mustCategory(name), State: NotRun, Detail: fmt.Sprintf(format, args...), class: class})
}

// NotRunCause is NotRun for a check that could not run because of another
// error, which errors.Is and errors.As then also find.
func (l *List) NotRunCause(name string, class, cause error, format string, args ...any) {
	*l = append(*l, Check{Name: name, Category: mustCategory(name), State: NotRun, Detail: fmt.Sprintf(format, args...), class: class, cause: cause})
}

// Fail records a failed check of the given class.
func (l *List) Fail(name string, class error, format string, args ...any) {
	*l = append(*l, Check{Name: name, Category: mustCategory(name), State: Failed, Detail: fmt.Sprintf(format, args...), class: class})
}

// FailCause records a failed check that stems from another error, which
// errors.Is and errors.As then also find.
func (l *List) FailCause(name string, class, cause error, format string, args ...any) {
	*l = append(*l, Check{Name: name, Category: mustCategory(name), State: Failed, Detail: fmt.Sprintf(format, args...), class: class, cause: cause})
}

// Failed returns the checks that failed or did not run; not applicable
// ones are not failures.
func (l List) Failed() []Check {
	var out []Check
	for _, c := range l {
		if c.Failure() {
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
