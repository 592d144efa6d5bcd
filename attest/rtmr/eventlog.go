package rtmr

import (
	"fmt"

	"github.com/ratls/ratls/evidence/eventlog"
)

// EventLog returns the CC event log a verifier replays RTMR0..3 from: the
// firmware's log (the CCEL log area, cut where its events end) followed by
// the runtime log's events. Either may be nil; the result is nil when both
// are.
func EventLog(ccel, runtime []byte) ([]byte, error) {
	var out []byte
	var declared []eventlog.AlgSize
	if ccel != nil {
		l, err := eventlog.Parse(ccel)
		if err != nil {
			return nil, fmt.Errorf("rtmr: CC event log: %w", err)
		}
		out, declared = append([]byte(nil), ccel[:l.End]...), l.SpecID.Algorithms
	}
	if runtime == nil {
		return out, nil
	}
	rl, err := eventlog.Parse(runtime)
	if err != nil {
		return nil, fmt.Errorf("rtmr: runtime event log: %w", err)
	}
	if out == nil {
		return append([]byte(nil), runtime[:rl.End]...), nil
	}
	for _, e := range rl.Events {
		for _, d := range e.Digests {
			if !declares(declared, d.Alg) {
				return nil, fmt.Errorf("rtmr: runtime event %d has a %v digest, which the CC event log does not declare", e.Seq, d.Alg)
			}
		}
		out = eventlog.AppendEvent(out, &e)
	}
	return out, nil
}

func declares(algs []eventlog.AlgSize, a eventlog.Alg) bool {
	for _, d := range algs {
		if d.Alg == a {
			return true
		}
	}
	return false
}
