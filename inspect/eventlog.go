package inspect

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/ratls/ratls/evidence/eventlog"
	"github.com/ratls/ratls/verify/measuredboot"
)

// EventLog describes a TCG event log that came with evidence. Nothing in
// it is verified: the replay shows what the log claims the registers hold,
// and ReplaysToReport whether that agrees with the report at hand (whose
// signature inspect does not check). Verification refuses a log that does
// not replay.
type EventLog struct {
	Size       int      `json:"size"`
	Algorithms []string `json:"algorithms,omitempty"`
	Events     int      `json:"events"`
	// Error says why the log could not be parsed.
	Error string `json:"error,omitempty"`
	// Replay maps each register (RTMR0, PCR7) to the value the log
	// replays to, in the report's hash algorithm.
	Replay map[string]string `json:"replay,omitempty"`
	// ReplaysToReport is true when every replayed register equals the
	// report's value, and Mismatches lists those that differ.
	ReplaysToReport bool     `json:"replays_to_report"`
	Mismatches      []string `json:"mismatches,omitempty"`
	// Facts are the boot facts the log states (see docs/policy.md).
	Facts *measuredboot.Facts `json:"facts,omitempty"`
	// List is every event, in order.
	List []LogEvent `json:"list,omitempty"`
}

// LogEvent is one event of a log.
type LogEvent struct {
	Seq      int    `json:"seq"`
	Register string `json:"register"`
	Type     string `json:"type"`
	Digest   string `json:"digest"`
	// Data is a short rendering of the event data: its text, its device
	// path or variable name, when the event type has one.
	Data string `json:"data,omitempty"`
}

// describeEventLog parses log and replays it into bank (the report's
// registers, whose values are compared but not trusted).
func describeEventLog(log []byte, bank measuredboot.Bank) *EventLog {
	out := &EventLog{Size: len(log)}
	l, err := eventlog.Parse(log)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	for _, a := range l.SpecID.Algorithms {
		out.Algorithms = append(out.Algorithms, a.Alg.String())
	}
	out.Events = len(l.Events)
	name := map[uint32]string{}
	for _, r := range bank.Registers {
		name[r.Index] = r.Name
	}
	regName := func(i uint32) string {
		if n, ok := name[i]; ok {
			return n
		}
		return fmt.Sprintf("index %d", i)
	}
	for _, e := range l.Events {
		out.List = append(out.List, LogEvent{Seq: e.Seq, Register: regName(e.Index), Type: e.Type.String(),
			Digest: hex.EncodeToString(e.Digest(bank.Alg)), Data: eventData(&e)})
	}
	replayed, err := measuredboot.Replay(l.Events, bank.Alg, bank.TPM)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	out.Replay = map[string]string{}
	out.ReplaysToReport = true
	for _, r := range bank.Registers {
		v, ok := replayed[r.Index]
		if !ok && bank.TPM {
			continue // the log says nothing about this PCR
		}
		if !ok {
			v = make([]byte, bank.Alg.Size())
		}
		out.Replay[r.Name] = hex.EncodeToString(v)
		if !bytes.Equal(v, r.Value) {
			out.ReplaysToReport = false
			out.Mismatches = append(out.Mismatches, r.Name)
		}
	}
	for i := range replayed {
		if _, ok := name[i]; !ok {
			out.ReplaysToReport = false
			out.Mismatches = append(out.Mismatches, regName(i)+" (not in the report)")
		}
	}
	sort.Strings(out.Mismatches)
	out.Facts = measuredboot.Extract(l, bank)
	return out
}

// eventData renders what an event says, for reading.
func eventData(e *eventlog.Event) string {
	switch e.Type {
	case eventlog.EvEFIBootServicesApplication, eventlog.EvEFIBootServicesDriver, eventlog.EvEFIRuntimeServicesDriver:
		if im, err := eventlog.ParseImageLoad(e.Data); err == nil {
			return im.Path()
		}
	case eventlog.EvEFIVariableDriverConfig, eventlog.EvEFIVariableBoot, eventlog.EvEFIVariableBoot2, eventlog.EvEFIVariableAuthority:
		if v, err := eventlog.ParseVariable(e.Data); err == nil {
			return fmt.Sprintf("%s (%s, %d bytes)", v.Name, v.GUID, len(v.Data))
		}
	case eventlog.EvEFIPlatformFirmwareBlob2:
		if fb, err := eventlog.ParseFirmwareBlob2(e.Data); err == nil {
			return fb.Description
		}
	case eventlog.EvEventTag:
		if te, err := eventlog.ParseTaggedEvent(e.Data); err == nil {
			return fmt.Sprintf("tag %#x: %s", te.ID, eventlog.Text(te.Data))
		}
	case eventlog.EvIPL, eventlog.EvEFIAction, eventlog.EvAction, eventlog.EvPlatformConfigFlags, eventlog.EvEFIHandoffTables2:
		s := eventlog.Text(e.Data)
		if e.Type == eventlog.EvEFIHandoffTables2 && len(e.Data) > 0 {
			s = eventlog.Text(e.Data[1 : 1+min(int(e.Data[0]), len(e.Data)-1)])
		}
		if len(s) > 120 {
			s = s[:120] + "…"
		}
		return s
	}
	return ""
}
