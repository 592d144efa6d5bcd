package ratls

import (
	"context"
	"errors"
	"fmt"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/eventlog"
	azureverify "github.com/ratls/ratls/verify/azure"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/intel"
	"github.com/ratls/ratls/verify/measuredboot"
)

// CheckEventLog is the replay of the evidence's event log into the signed
// registers: a log that does not replay is refused as a whole.
const CheckEventLog = "eventlog.replay"

func init() {
	checks.Define(checks.Executables, CheckEventLog)
}

// verifyEventLog replays the event log that came with the evidence into
// its signed registers — a TDX quote's RTMR0..3, an Azure vTPM quote's
// SHA-256 PCRs — and records the facts it establishes. Evidence without a
// log is left alone here: policies on boot facts fail for want of them.
func verifyEventLog(v *Verification, item *evidence.Item) {
	log, bank, what := item.EventLog, measuredboot.Bank{}, ""
	switch {
	case item.Quote != nil && item.Quote.TD != nil:
		bank, what = measuredboot.TDX(item.Quote.TD.RTMR), "the quote's RTMR0..3"
	case item.Azure != nil:
		log, what = item.Azure.EventLog, "the vTPM quote's PCRs"
		if log != nil && (v.Azure == nil || v.Azure.PCRs == nil) {
			v.eventLogErr = errors.New("the vTPM quote's PCRs are not verified")
			v.Appraisal.Add(appraise.Reason{Check: CheckEventLog, Category: checks.Executables, State: checks.NotRun,
				Expected: "PCR values the vTPM quote vouches for", Actual: "none", Message: "the event log was not replayed: the quote's PCRs are not verified",
				Status: appraise.Contraindicated})
			return
		}
		if log != nil {
			bank = vtpmBank(v.Azure.PCRs)
		}
	}
	if log == nil {
		return
	}
	var err error
	if bank.Alg == 0 {
		err = fmt.Errorf("an event log came with %s %s evidence, which has no registers to replay it into", item.TEE, item.Kind)
	} else if l, perr := eventlog.Parse(log); perr != nil {
		err = perr
	} else {
		v.MeasuredBoot, err = measuredboot.Verify(l, nil, bank)
	}
	if err != nil {
		v.eventLogErr = err
		v.Appraisal.Add(appraise.Reason{Check: CheckEventLog, Category: checks.Executables, State: checks.Failed,
			Expected: "an event log that replays to " + what, Actual: err.Error(),
			Message: "the event log is refused: it is not what the VM measured", Status: appraise.Contraindicated})
	}
}

// vtpmBank is the SHA-256 PCRs a verified vTPM quote holds, by index.
func vtpmBank(pcrs map[int][]byte) measuredboot.Bank {
	b := measuredboot.Bank{Alg: eventlog.SHA256, TPM: true}
	for i := 0; i < 24; i++ {
		if v, ok := pcrs[i]; ok {
			b.Registers = append(b.Registers, measuredboot.Register{Index: uint32(i), Name: fmt.Sprintf("PCR%d", i), Value: v})
		}
	}
	return b
}

// verifyAzure verifies Azure vTPM evidence: its hardware report with the
// configured Intel or AMD verifier and their collateral, then the vTPM
// chain.
func verifyAzure(ctx context.Context, v *Verification, item *evidence.Item, coll pcs.Provider, o *VerifyOptions) {
	ev := item.Azure
	opts := azureverify.Options{
		Now: o.Now, AMD: o.AMD, AMDProduct: o.AMDProduct,
		Intel: o.intelVerifier(), IntelOptions: intel.Options{Now: o.Now, Provider: coll, Update: o.Update, PCKChainPEM: o.PCKChainPEM},
	}
	if opts.AMD == nil {
		opts.AMD = defaultAMD()
	}
	if r := ev.HCL.SNP; r != nil && o.AMDCertificates != nil {
		// The VCEK comes with the evidence; its issuers and the ARK's CRLs
		// from the configured source. A source that fails is reported
		// (amd.certificates), not passed over.
		certs, _, err := amdCertificates(ctx, o, r)
		if err != nil {
			v.certErr = err
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
	v.Azure, v.Err = azureverify.Verify(ctx, ev, opts)
}

// appraiseCVM applies the policy's measured_boot and vtpm sections to
// whatever the evidence established: facts of a replayed log, PCRs of a
// verified vTPM quote. Sections whose facts are missing fail.
func appraiseCVM(v *Verification, p *appraise.Policy) {
	var facts *measuredboot.Facts
	why := "no event log came with the evidence"
	switch {
	case p.MeasuredBoot == nil:
	case v.MeasuredBoot != nil:
		facts = v.MeasuredBoot.Facts()
	case v.eventLogErr != nil:
		why = "the event log was refused: " + v.eventLogErr.Error()
	}
	p.AppraiseMeasuredBoot(v.Appraisal, facts, why)
	var pcrs map[int][]byte
	if v.Azure != nil {
		pcrs = v.Azure.PCRs
	}
	p.AppraisePCRs(v.Appraisal, pcrs)
}
