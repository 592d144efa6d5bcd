package pcs

import (
	"context"
	"encoding/hex"
	"fmt"
)

// TEE names which collateral family a request is for: SGX (PCS /sgx/
// endpoints, QE Identity "QE") or TDX (/tdx/ endpoints, "TD_QE").
type TEE string

// Collateral families.
const (
	TEESGX TEE = "sgx"
	TEETDX TEE = "tdx"
)

// Update selects Intel's TCB update channel: "standard" (the default) or
// "early" (TCB recovery collateral before it becomes standard).
type Update string

// Update channels.
const (
	UpdateStandard Update = "standard"
	UpdateEarly    Update = "early"
)

// Request identifies the collateral needed to verify one quote.
type Request struct {
	TEE    TEE
	FMSPC  [6]byte
	CA     CA // which PCK CA's CRL: processor or platform
	Update Update
}

// String names the request, e.g. "tdx fmspc=b0c06f000000 ca=platform update=standard".
func (r Request) String() string {
	u := r.Update
	if u == "" {
		u = UpdateStandard
	}
	return fmt.Sprintf("%s fmspc=%s ca=%s update=%s", r.TEE, hex.EncodeToString(r.FMSPC[:]), r.CA, u)
}

// A Provider supplies collateral: from Intel's PCS, a PCCS, a cache or
// offline files. Implementations return a *MissingError (or wrap one) when
// they have nothing for the request, and must return the same *Collateral
// value for unchanged collateral so verifiers can reuse their verification
// of it.
type Provider interface {
	Collateral(ctx context.Context, req Request) (*Collateral, error)
}

// Static is a Provider that always returns the same collateral, such as one
// loaded with LoadDir or ParseDCAPQVLJSON.
type Static struct{ C *Collateral }

// Collateral returns s.C whatever the request; the verifier checks that it
// fits the quote.
func (s Static) Collateral(context.Context, Request) (*Collateral, error) {
	if s.C == nil {
		return nil, fmt.Errorf("pcs: no collateral configured")
	}
	return s.C, nil
}
