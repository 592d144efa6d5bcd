// Package tee is the seam between ratls and the TEE families it verifies.
//
// A Family verifies and appraises one kind of TEE evidence: Intel SGX and
// TDX quotes (package tee/dcap), AMD SEV-SNP reports (tee/sevsnp), Arm CCA
// tokens (tee/armcca) and Azure vTPM confidential VMs (tee/azurevtpm). Each
// family registers itself with Register from its package's init function;
// the root package ratls imports the built-in families, and verification,
// the service, inspect and the CLI find a family with For instead of
// switching on the kind of evidence.
//
// A new family is a package that implements Family, registers it, and is
// imported once (in the root package's families.go, or by the program that
// wants it). Its options travel in ratls.VerifyOptions.TEE as a value
// implementing Options.
package tee

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/measuredboot"
)

// A Family verifies and appraises the evidence of one TEE family.
type Family interface {
	// Name names the family; its Options report the same name.
	Name() string
	// Verifies reports whether the family verifies it: whether it is this
	// family's parsed evidence.
	Verifies(it *evidence.Item) bool
	// Verify verifies it (signatures, chains, collateral, TCB) with the
	// family's options and appraises the outcome with in.Policy. The
	// result's Appraisal is never nil.
	Verify(ctx context.Context, it *evidence.Item, in *Input) *Result
	// Submodules is the appraisal of a verification as EAR submodules,
	// named as Veraison names them where it verifies the family.
	Submodules(it *evidence.Item, r *Result, p *appraise.Policy) map[string]*ear.Appraisal
}

// A SectionFamily is a family with a policy section of its own (a family
// outside package appraise, whose Policy has typed sections for the
// built-in families). Register registers the section with
// appraise.RegisterSection, and the family reads it with Policy.Section
// and appraises with Policy.AppraiseSection.
type SectionFamily interface {
	Family
	// Section is the section's key and its validation, run when a policy
	// is read.
	Section() (key string, validate func(json.RawMessage) error)
}

// A Describer describes its family's evidence for inspect (ratls inspect,
// the explorer), where inspect does not know the evidence itself: its
// structure, any JSON value, and its measurements, the values reference
// values pin.
type Describer interface {
	Family
	Describe(it *evidence.Item) (structure any, measurements map[string]any)
}

// Options configure one family's verification: which verifier, which
// collateral sources. Family names the family they are for.
type Options interface {
	Family() string
}

// Input is what a family's Verify gets besides the evidence.
type Input struct {
	// Now is the verification time; zero means time.Now().
	Now time.Time
	// Policy appraises the verification; never nil.
	Policy *appraise.Policy
	// Binding is the evidence's binding of the certificate key; nil for raw
	// evidence.
	Binding *evidence.Binding
	// Peer is the collateral the certificate carries in its endorsements
	// extension, nil when none. It is the peer's: a family uses it to fill
	// gaps in its own sources, never in their place.
	Peer *evidence.Endorsements
	// Options are the options of every family, at most one per family.
	Options []Options
}

// OptionsFor returns the options given for the family named name, nil when
// none were given.
func (in *Input) OptionsFor(name string) Options {
	for _, o := range in.Options {
		if o != nil && o.Family() == name {
			return o
		}
	}
	return nil
}

// Result is the outcome of a family's verification and appraisal.
type Result struct {
	// TEE names what was verified, as policies and EAR submodules name
	// it: "sgx", "tdx", "sev_snp", "cca", "azure_vtpm"; empty when nothing
	// was verified (Verified is nil).
	TEE string
	// Verified is the verifier's own result: *intel.Result for SGX and TDX
	// quotes, *amd.Result for SEV-SNP reports, *arm.Result for Arm CCA
	// tokens, *azure.Result for Azure vTPM evidence; nil when verification
	// could not start.
	Verified any
	// Err is the verification error: nil only when every check passed.
	Err error
	// Appraisal is the policy's verdict, with reasons. It is never nil.
	Appraisal *appraise.Appraisal
	// Checks are every check the verifier ran, or could not run, in order:
	// for evidence that holds another family's (a vTPM's hardware report),
	// that family's checks first.
	Checks checks.List
	// Valid is the period in which everything the verification depended on
	// (certificates, CRLs, collateral) is valid; zero when unknown.
	Valid checks.Window
	// CollateralErr is why collateral (certificates, CRLs) could not be had
	// from the configured source; nil when it could.
	CollateralErr error
	// MeasuredBoot is the event log that came with the evidence, replayed
	// into the registers it signs; nil when none came or it did not replay.
	MeasuredBoot *measuredboot.Result
	// EventLogErr is why the event log was refused.
	EventLogErr error
	// PCRs are the vTPM PCRs the evidence vouches for, by index; nil when
	// the evidence has no vTPM.
	PCRs map[int][]byte
}

var registry struct {
	sync.RWMutex
	families []Family
}

// Register adds a family. It panics when a family of the same name is
// already registered: two families must never claim one name.
func Register(f Family) {
	registry.Lock()
	defer registry.Unlock()
	for _, g := range registry.families {
		if g.Name() == f.Name() {
			panic(fmt.Sprintf("tee: family %q registered twice", f.Name()))
		}
	}
	if sf, ok := f.(SectionFamily); ok {
		appraise.RegisterSection(sf.Section())
	}
	registry.families = append(registry.families, f)
}

// Families returns the registered families in registration order.
func Families() []Family {
	registry.RLock()
	defer registry.RUnlock()
	return slices.Clone(registry.families)
}

// For returns the family that verifies it, nil when none does or when
// several claim it (see Lookup).
func For(it *evidence.Item) Family {
	f, _ := Lookup(it)
	return f
}

// ErrAmbiguous means that several registered families claim one piece of
// evidence. Such evidence is refused: which family judges it must never
// depend on the order in which packages were initialised.
var ErrAmbiguous = errors.New("tee: evidence claimed by several families")

// Lookup returns the family that verifies it: nil and no error when none
// does, nil and an error matching ErrAmbiguous when several do.
func Lookup(it *evidence.Item) (Family, error) {
	registry.RLock()
	defer registry.RUnlock()
	var found Family
	for _, f := range registry.families {
		if !f.Verifies(it) {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("%w: %q and %q", ErrAmbiguous, found.Name(), f.Name())
		}
		found = f
	}
	return found, nil
}

// Named returns the registered family named name, nil when there is none.
func Named(name string) Family {
	registry.RLock()
	defer registry.RUnlock()
	for _, f := range registry.families {
		if f.Name() == name {
			return f
		}
	}
	return nil
}

// EndorsementsError is a verification error caused by the certificate's
// endorsements extension: the collateral it carries cannot be read. Such a
// certificate is refused as unreadable, not appraised.
type EndorsementsError struct{ Err error }

func (e *EndorsementsError) Error() string { return "endorsements extension: " + e.Err.Error() }
func (e *EndorsementsError) Unwrap() error { return e.Err }

// Find returns the options of type P among opts; nil when there are none.
func Find[P Options](opts []Options) P {
	for _, o := range opts {
		if p, ok := o.(P); ok {
			return p
		}
	}
	var zero P
	return zero
}

// Edit returns options of type *T for the caller to change: a copy of those
// in *opts, put in their place in a copy of *opts, or new zero options
// appended to it. Options shared with other VerifyOptions values are never
// changed.
func Edit[T any, P interface {
	*T
	Options
}](opts *[]Options) P {
	*opts = slices.Clone(*opts)
	for i, o := range *opts {
		if p, ok := o.(P); ok && p != nil {
			c := P(new(T))
			*c = *p
			(*opts)[i] = c
			return c
		}
	}
	p := P(new(T))
	*opts = append(*opts, p)
	return p
}
