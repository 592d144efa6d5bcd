package checks_test

import (
	"errors"
	"fmt"

	"github.com/ratls/ratls/verify/checks"
)

// ErrSignature is a verifier's error class: callers match failed checks
// with errors.Is, never by parsing their names or details.
var ErrSignature = errors.New("example: bad signature")

// A verifier defines its check names once with their categories, records
// each check as it runs, and returns the list's error.
func ExampleList() {
	checks.Define(checks.InstanceIdentity, "example.signature")
	checks.Define(checks.Configuration, "example.tcb")

	var l checks.List
	l.Pass("example.tcb", "TCB level 7 is current")
	l.Fail("example.signature", ErrSignature, "signature by key %s does not verify", "ab12")

	err := l.Err("example verifier")
	fmt.Println(err)
	fmt.Println(errors.Is(err, ErrSignature))
	for _, c := range l {
		fmt.Println(c.Name, c.Category, c.State)
	}
	// Output:
	// example verifier: example.signature: signature by key ab12 does not verify
	// true
	// example.tcb configuration passed
	// example.signature instance-identity failed
}
