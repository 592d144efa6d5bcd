package arm

import (
	"errors"
	"testing"

	"github.com/ratls/ratls/evidence/cca"
)

// The realm binding verdict on every vector: ok where EXPECTED.json says
// binding_ok, a mismatch where it does not, and no realm token to bind for
// platform-only tokens.
func TestRealmBinding(t *testing.T) {
	for _, vec := range loadVectors(t) {
		t.Run(vec.ID, func(t *testing.T) {
			tok, err := cca.Parse(vec.raw)
			if err != nil {
				t.Fatal(err)
			}
			err = checkRealmBinding(tok)
			switch want := vec.Computed.BindingOK; {
			case want == nil:
				if !errors.Is(err, cca.ErrNoRealmToken) {
					t.Errorf("platform-only: checkRealmBinding err = %v, want ErrNoRealmToken", err)
				}
			case *want && err != nil:
				t.Errorf("checkRealmBinding: %v", err)
			case !*want && !errors.Is(err, cca.ErrBindingMismatch):
				t.Errorf("checkRealmBinding err = %v, want ErrBindingMismatch", err)
			}
		})
	}
}
