// Package sevsnp is the TEE family of AMD SEV-SNP attestation reports: it
// gets the report's VCEK or VLEK chain and CRLs from the verifier's own
// source (the peer's certificates fill gaps only), verifies the report
// with verify/amd and appraises it with the policy's sev_snp section.
package sevsnp

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/inspect"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/verify/amd"
	"github.com/ratls/ratls/verify/checks"
)

// Name names the family, as policies and the service name it.
const Name = "sev_snp"

// Submodule is the EAR submodule of a SEV-SNP appraisal, as Veraison names it.
const Submodule = "SEVSNP"

// CheckCertificates refuses evidence whose VCEK or VLEK chain could not be
// had from the configured source.
const CheckCertificates = "amd.certificates"

func init() {
	checks.Define(checks.Hardware, CheckCertificates)
	tee.Register(family{})
}

// Options configure the verification of SEV-SNP reports.
type Options struct {
	// Verifier verifies the reports; nil means a shared verifier trusting
	// AMD's roots.
	Verifier *amd.Verifier
	// Certificates supplies the VCEK or VLEK chain (and the ARK's CRLs):
	// files (kds.LoadDir), AMD's KDS through a cache, or nil for none
	// (verification then fails its chain check).
	Certificates kds.Provider
	// Product names the product (Milan, Genoa, Turin) of version 2 reports,
	// which do not say it themselves.
	Product string
}

// Family reports Name.
func (*Options) Family() string { return Name }

// Of returns the sev_snp options among in's, the zero options when none
// were given, with the peer's certificates (in.Peer) filling gaps in the
// configured source (kds.WithPeer). Other families whose evidence holds a
// SEV-SNP report (Azure vTPM) use it.
func Of(in *tee.Input) (*Options, error) {
	o, _ := in.OptionsFor(Name).(*Options)
	if o == nil {
		o = &Options{}
	}
	if e := in.Peer; e != nil && !e.Empty && e.SNP != nil {
		certs, err := kds.ParseSupplied("certificate endorsements extension", e.SNP.Leaf, e.SNP.Intermediate, e.SNP.Root, e.SNP.CRL)
		if err != nil {
			return nil, &tee.EndorsementsError{Err: err}
		}
		withPeer := *o
		withPeer.Certificates = kds.WithPeer(o.Certificates, certs)
		o = &withPeer
	}
	return o, nil
}

// The verifier used when the options name none: its caches are what make
// repeated verifications cheap.
var defaultVerifier = sync.OnceValue(func() *amd.Verifier { return amd.NewVerifier(nil) })

// VerifierOf returns o's verifier, or the shared default.
func (o *Options) VerifierOf() *amd.Verifier {
	if o.Verifier != nil {
		return o.Verifier
	}
	return defaultVerifier()
}

type family struct{}

func (family) Name() string { return Name }

func (family) Verifies(it *evidence.Item) bool { return it.SNP != nil }

func (family) Verify(ctx context.Context, it *evidence.Item, in *tee.Input) *tee.Result {
	r := &tee.Result{}
	o, err := Of(in)
	if err != nil {
		r.Err = err
		r.Appraisal = in.Policy.AppraiseSNP(nil, err, in.Binding)
		return r
	}
	rep := it.SNP
	opts := amd.Options{Now: in.Now, Product: o.Product}
	if o.Certificates != nil {
		certs, req, err := o.CertificatesFor(ctx, rep)
		switch {
		case err != nil:
			r.CollateralErr = err
		case certs.Leaf == nil: // KDS serves no VLEK, and the evidence carried none
			r.CollateralErr = fmt.Errorf("certificates for %s: %s has no %s certificate, and the evidence carries none", req, certs.Source, req.SigningKey)
		default:
			opts.Certs, opts.CRLs = certs.Chain(), certs.CRLs
		}
	} else {
		r.CollateralErr = errors.New("no VCEK/VLEK certificates configured (use a directory of certificates or the AMD KDS)")
	}
	res, err := o.VerifierOf().Verify(ctx, rep, opts)
	r.Err, r.Appraisal = err, in.Policy.AppraiseSNP(res, err, in.Binding)
	if res != nil {
		r.Verified, r.Checks, r.Valid, r.TEE = res, res.Checks, res.Valid, Name
	}
	CertificatesReason(r)
	return r
}

func (family) Submodules(it *evidence.Item, r *tee.Result, _ *appraise.Policy) map[string]*ear.Appraisal {
	return map[string]*ear.Appraisal{Submodule: r.Appraisal.Submodule(inspect.Measurements(it))}
}

// CertificatesFor asks the configured source for the certificates and CRLs
// of a SEV-SNP report's chip and signing key.
func (o *Options) CertificatesFor(ctx context.Context, r *snp.Report) (*kds.Certificates, kds.Request, error) {
	product, err := r.Product()
	if err != nil {
		product = o.Product
	}
	req := kds.Request{Product: product, ChipID: r.ChipID, TCB: r.ReportedTCB, SigningKey: r.SignerInfo.SigningKey()}
	certs, err := o.Certificates.Certificates(ctx, req)
	switch {
	case err != nil:
		return nil, req, fmt.Errorf("certificates for %s: %w", req, err)
	case certs == nil:
		return nil, req, fmt.Errorf("certificates for %s: the provider returned none", req)
	}
	return certs, req, nil
}

// CertificatesReason refuses evidence whose SEV-SNP certificates could not
// be had from the configured source (r.CollateralErr).
func CertificatesReason(r *tee.Result) {
	if r.CollateralErr != nil {
		r.Appraisal.Add(appraise.Reason{Check: CheckCertificates, Category: checks.Hardware, State: checks.NotRun, Expected: "VCEK or VLEK chain", Actual: "none",
			Message: r.CollateralErr.Error(), Status: appraise.Contraindicated})
	}
}

// WithPeer returns opts with the sev_snp options' certificate source
// completed by certs, the peer's (kds.WithPeer): they fill gaps only, and
// their CRLs add revocations. opts is not changed.
func WithPeer(opts []tee.Options, certs *kds.Certificates) []tee.Options {
	out := make([]tee.Options, 0, len(opts)+1)
	var o Options
	for _, x := range opts {
		if p, ok := x.(*Options); ok && p != nil {
			o = *p
			continue
		}
		out = append(out, x)
	}
	o.Certificates = kds.WithPeer(o.Certificates, certs)
	return append(out, &o)
}
