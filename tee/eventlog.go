package tee

import (
	"fmt"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/eventlog"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/measuredboot"
)

// CheckEventLog is the replay of the evidence's event log into the signed
// registers: a log that does not replay is refused as a whole.
const CheckEventLog = "eventlog.replay"

func init() {
	checks.Define(checks.Executables, CheckEventLog)
}

// ReplayEventLog replays the event log that came with it into bank, the
// registers the evidence signs (what names them in a refusal), and records
// in r the facts it establishes. Evidence without a log is left alone:
// policies on boot facts fail for want of them. A log that came with
// evidence that has no registers (bank.Alg zero) is refused.
func (r *Result) ReplayEventLog(it *evidence.Item, log []byte, bank measuredboot.Bank, what string) {
	if log == nil {
		return
	}
	var err error
	if bank.Alg == 0 {
		err = fmt.Errorf("an event log came with %s %s evidence, which has no registers to replay it into", it.TEE, it.Kind)
	} else if l, perr := eventlog.Parse(log); perr != nil {
		err = perr
	} else {
		r.MeasuredBoot, err = measuredboot.Verify(l, nil, bank)
	}
	if err != nil {
		r.EventLogErr = err
		r.Appraisal.Add(appraise.Reason{Check: CheckEventLog, Category: checks.Executables, State: checks.Failed,
			Expected: "an event log that replays to " + what, Actual: err.Error(),
			Message: "the event log is refused: it is not what the VM measured", Status: appraise.Contraindicated})
	}
}

// AppraiseCVM applies the policy's measured_boot and vtpm sections to what
// the evidence established: the facts of a replayed event log, the PCRs
// of a verified vTPM quote. Sections whose facts are missing fail.
func (r *Result) AppraiseCVM(p *appraise.Policy) {
	var facts *measuredboot.Facts
	why := "no event log came with the evidence"
	switch {
	case p.MeasuredBoot == nil:
	case r.MeasuredBoot != nil:
		facts = r.MeasuredBoot.Facts()
	case r.EventLogErr != nil:
		why = "the event log was refused: " + r.EventLogErr.Error()
	}
	p.AppraiseMeasuredBoot(r.Appraisal, facts, why)
	p.AppraisePCRs(r.Appraisal, r.PCRs)
}
