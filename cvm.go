package ratls

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

// verifyEventLog replays the event log that came with a TDX quote into the
// quote's RTMR0..3 and records the facts it establishes. Evidence without
// a log is left alone here: policies on boot facts fail for want of them.
func verifyEventLog(v *Verification, item *evidence.Item) {
	if item.EventLog == nil {
		return
	}
	if item.Quote == nil || item.Quote.TD == nil {
		v.eventLogErr = fmt.Errorf("an event log came with %s %s evidence, which has no registers to replay it into", item.TEE, item.Kind)
	} else if l, err := eventlog.Parse(item.EventLog); err != nil {
		v.eventLogErr = err
	} else {
		v.MeasuredBoot, v.eventLogErr = measuredboot.Verify(l, nil, measuredboot.TDX(item.Quote.TD.RTMR))
	}
	if v.eventLogErr != nil {
		v.Appraisal.Add(appraise.Reason{Check: CheckEventLog, Category: checks.Executables, State: checks.Failed,
			Expected: "an event log that replays to the quote's RTMR0..3", Actual: v.eventLogErr.Error(),
			Message: "the event log is refused: it is not what the TD measured", Status: appraise.Contraindicated})
	}
}
