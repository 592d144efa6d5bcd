package checks_test

import (
	"errors"
	"testing"

	"github.com/ratls/ratls/verify/amd"
	"github.com/ratls/ratls/verify/arm"
	"github.com/ratls/ratls/verify/azure"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/intel"
)

// A class the verifiers share is one error (or refines one), so errors.Is
// finds it whichever verifier failed, and each keeps its wording.
func TestSharedClasses(t *testing.T) {
	for _, tc := range []struct {
		class  error
		errs   []error
		shared bool // the verifiers' errors are the class itself
	}{
		{checks.ErrSignature, []error{intel.ErrSignature, amd.ErrSignature, arm.ErrSignature}, true},
		{checks.ErrChain, []error{intel.ErrChain, amd.ErrChain}, true},
		{checks.ErrRevoked, []error{intel.ErrRevoked, amd.ErrRevoked}, true},
		{checks.ErrValidity, []error{intel.ErrValidity, amd.ErrValidity}, true},
		{checks.ErrSignature, []error{azure.ErrSignature}, false},
		{checks.ErrMalformed, []error{intel.ErrMalformed, amd.ErrMalformed, arm.ErrMalformed}, false},
		{checks.ErrUnsupported, []error{intel.ErrUnsupported, amd.ErrUnsupported, arm.ErrUnsupported}, false},
		{checks.ErrMismatch, []error{intel.ErrMismatch, amd.ErrMismatch}, false},
		{checks.ErrKey, []error{arm.ErrKey, arm.ErrNoKey, azure.ErrKey}, false},
		{checks.ErrBinding, []error{arm.ErrBinding, azure.ErrBinding}, false},
	} {
		for _, err := range tc.errs {
			if !errors.Is(err, tc.class) {
				t.Errorf("%q does not match %q", err, tc.class)
			}
			if (err == tc.class) != tc.shared {
				t.Errorf("%q: same error as %q: %v, want %v", err, tc.class, err == tc.class, tc.shared)
			}
		}
	}
	if intel.ErrMalformed.Error() != "malformed quote" || errors.Is(intel.ErrMalformed, amd.ErrMalformed) {
		t.Errorf("a refined class keeps its wording and stays its verifier's: %q", intel.ErrMalformed)
	}
	var l checks.List
	checks.Define(checks.Hardware, "test.shared")
	l.Fail("test.shared", amd.ErrMismatch, "differs")
	if err := l.Err("test"); !errors.Is(err, checks.ErrMismatch) || !errors.Is(err, amd.ErrMismatch) || errors.Is(err, intel.ErrMismatch) {
		t.Errorf("verification error %v: classes not found as they should be", err)
	}
}
