// Package azurevtpm is the TEE family of Azure confidential VMs attested
// through their vTPM: it verifies the hardware report (SEV-SNP or TDX)
// with the options of those families, then the vTPM's key and quote
// (verify/azure), appraises the whole with the policy's sections for the
// hardware and vtpm, and replays the VM's TPM event log into the quote's
// PCRs.
package azurevtpm

import (
	"context"
	"errors"
	"slices"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/eventlog"
	"github.com/ratls/ratls/inspect"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/tee/sevsnp"
	azureverify "github.com/ratls/ratls/verify/azure"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/measuredboot"
)

// Name names the family, as policies and EAR submodules name it.
const Name = "azure_vtpm"

func init() { tee.Register(family{}) }

type family struct{}

func (family) Name() string { return Name }

func (family) Verifies(it *evidence.Item) bool { return it.Azure != nil }

// Verify verifies the hardware report with the configured Intel or AMD
// verifier and their collateral, then the vTPM chain. The VCEK comes with
// the evidence; its issuers and the ARK's CRLs from the sev_snp options'
// source. A source that fails is reported (amd.certificates), not passed
// over.
func (family) Verify(ctx context.Context, it *evidence.Item, in *tee.Input) *tee.Result {
	r := &tee.Result{}
	snpOpts, err := sevsnp.Of(in)
	if err != nil {
		r.Err = err
		r.Appraisal = in.Policy.AppraiseAzure(nil, err, in.Binding)
		return r
	}
	intelOpts := dcap.Of(in)
	ev := it.Azure
	opts := azureverify.Options{
		Now: in.Now, AMD: snpOpts.VerifierOf(), AMDProduct: snpOpts.Product,
		Intel: intelOpts.VerifierOf(), IntelOptions: intelOpts.IntelOptions(in),
	}
	if rep := ev.HCL.SNP; rep != nil && snpOpts.Certificates != nil {
		certs, _, err := snpOpts.CertificatesFor(ctx, rep)
		if err != nil {
			r.CollateralErr = err
		} else {
			if certs.Intermediate != nil {
				opts.AMDCerts = append(opts.AMDCerts, certs.Intermediate)
				if certs.Root != nil {
					opts.AMDCerts = append(opts.AMDCerts, certs.Root)
				}
			}
			opts.AMDCRLs = certs.CRLs
		}
	}
	res, err := azureverify.Verify(ctx, ev, opts)
	r.Err, r.Appraisal = err, in.Policy.AppraiseAzure(res, err, in.Binding)
	if res != nil {
		r.Verified, r.Valid, r.TEE, r.PCRs = res, res.Valid, Name, res.PCRs
		// The hardware report's checks, then the vTPM chain's.
		if res.SNP != nil {
			r.Checks = append(r.Checks, res.SNP.Checks...)
		}
		if res.TDX != nil {
			r.Checks = append(r.Checks, res.TDX.Checks...)
		}
		r.Checks = append(slices.Clip(r.Checks), res.Checks...)
	}
	sevsnp.CertificatesReason(r)
	replay(r, it)
	return r
}

// replay replays the VM's TPM event log into the SHA-256 PCRs the verified
// vTPM quote holds.
func replay(r *tee.Result, it *evidence.Item) {
	log := it.Azure.EventLog
	if log == nil {
		return
	}
	if r.PCRs == nil {
		r.EventLogErr = errors.New("the vTPM quote's PCRs are not verified")
		r.Appraisal.Add(appraise.Reason{Check: tee.CheckEventLog, Category: checks.Executables, State: checks.NotRun,
			Expected: "PCR values the vTPM quote vouches for", Actual: "none", Message: "the event log was not replayed: the quote's PCRs are not verified",
			Status: appraise.Contraindicated})
		return
	}
	r.ReplayEventLog(it, log, measuredboot.PCRSet(eventlog.SHA256, r.PCRs), "the vTPM quote's PCRs")
}

func (family) Submodules(it *evidence.Item, r *tee.Result, _ *appraise.Policy) map[string]*ear.Appraisal {
	return map[string]*ear.Appraisal{Name: r.Appraisal.Submodule(inspect.Measurements(it))}
}
