package appraise

import (
	"bytes"
	"testing"
)

// Seeds are the committed corpus in testdata/fuzz/FuzzReadPolicy: the
// policies of docs/policy.md and the tests, and near misses. `make test`
// runs them; `make fuzz` explores further.

// ReadPolicy never panics, and a policy it returns is valid.
func FuzzReadPolicy(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ReadPolicy(bytes.NewReader(b))
		if err != nil {
			return
		}
		if p == nil {
			t.Fatal("ReadPolicy returned neither a policy nor an error")
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ReadPolicy returned a policy that does not validate: %v", err)
		}
	})
}
