// Package measuredboot replays TCG event logs into the measurement
// registers a TEE signs — TDX RTMRs, vTPM PCRs, Hygon CSV RTMRs — and
// extracts the facts a policy is written on (firmware, bootloaders, kernel,
// initrd, command line, secure boot, runtime events) from logs that
// replayed.
//
// Package ratls replays here the event log that comes with TDX or Azure
// vTPM evidence (Verification.MeasuredBoot), and package appraise checks
// the facts against a policy's measured_boot section. Logs are parsed by
// evidence/eventlog; attest/rtmr writes the runtime log of a TD.
//
// A log is all or nothing: unless every register it touches replays to the
// signed value, Verify returns an error and no facts. A log is never
// partially trusted.
package measuredboot

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/ratls/ratls/evidence/eventlog"
)

// Register is one signed register value.
type Register struct {
	// Index is the register's index in event logs: a PCR number, or a CC
	// measurement-register index (1..4 for TDX RTMR0..3).
	Index uint32
	// Name is what users call it: RTMR0, PCR7.
	Name  string
	Value []byte
}

// Bank is the registers a signed report holds, in one hash algorithm.
type Bank struct {
	Alg       eventlog.Alg
	Registers []Register
	// TPM selects TPM semantics: PCR 0 may start at the locality given by
	// an EV_NO_ACTION "StartupLocality" event, and a PCR no event extends
	// is left alone (reported in Result.Undescribed) rather than required to
	// be zero: PCR 10 holds IMA's measurements, which have a log of their
	// own, and PCRs 17-22 reset to all ones. For a CC bank every register
	// must equal its replay, zero when no event extends it.
	TPM bool
}

// TDX returns the bank of a TDX quote's RTMRs: CC measurement-register
// index i+1 is RTMR i, extended with SHA-384 (UEFI 2.10 §38.4.1; MR index
// 0 is MRTD, which the log cannot replay).
func TDX(rtmr [4][48]byte) Bank {
	b := Bank{Alg: eventlog.SHA384}
	for i := range rtmr {
		b.Registers = append(b.Registers, Register{Index: uint32(i + 1), Name: fmt.Sprintf("RTMR%d", i), Value: rtmr[i][:]})
	}
	return b
}

// CSV returns the bank of a Hygon CSV attestation report's rtmr1..rtmr4:
// CC measurement-register index i is rtmr i, extended with SM3.
func CSV(rtmr [4][32]byte) Bank {
	b := Bank{Alg: eventlog.SM3}
	for i := range rtmr {
		b.Registers = append(b.Registers, Register{Index: uint32(i + 1), Name: fmt.Sprintf("RTMR%d", i+1), Value: rtmr[i][:]})
	}
	return b
}

// PCRs returns the bank of TPM PCR values: pcrs[i] is PCR i.
func PCRs(alg eventlog.Alg, pcrs [][]byte) Bank {
	b := Bank{Alg: alg, TPM: true}
	for i, v := range pcrs {
		b.Registers = append(b.Registers, Register{Index: uint32(i), Name: fmt.Sprintf("PCR%d", i), Value: v})
	}
	return b
}

// PCRSet returns the bank of the TPM PCRs given by index: those a TPM
// quote selected, which need not be contiguous.
func PCRSet(alg eventlog.Alg, pcrs map[int][]byte) Bank {
	b := Bank{Alg: alg, TPM: true}
	for _, i := range slices.Sorted(maps.Keys(pcrs)) {
		b.Registers = append(b.Registers, Register{Index: uint32(i), Name: fmt.Sprintf("PCR%d", i), Value: pcrs[i]})
	}
	return b
}

func (b *Bank) register(index uint32) *Register {
	for i := range b.Registers {
		if b.Registers[i].Index == index {
			return &b.Registers[i]
		}
	}
	return nil
}

// Replay extends, per register index, a zero register with every event's
// digest in the given algorithm, in log order: R = H(R || digest).
// EV_NO_ACTION events extend nothing (TCG PFP §10.4.1); Trustee extends
// them too, which gives the same values for every log seen in practice. An
// event without a digest in alg cannot be replayed and is an error.
func Replay(events []eventlog.Event, alg eventlog.Alg, tpm bool) (map[uint32][]byte, error) {
	size := alg.Size()
	if size == 0 || alg.New() == nil {
		return nil, fmt.Errorf("measuredboot: cannot replay %v", alg)
	}
	regs := map[uint32][]byte{}
	h := alg.New()
	for i := range events {
		e := &events[i]
		if e.Type == eventlog.EvNoAction {
			if tpm && e.Index == 0 && len(e.Data) == 17 && bytes.HasPrefix(e.Data, []byte("StartupLocality\x00")) {
				if _, extended := regs[0]; !extended {
					init := make([]byte, size)
					init[size-1] = e.Data[16]
					regs[0] = init
				}
			}
			continue
		}
		d := e.Digest(alg)
		if d == nil {
			return nil, fmt.Errorf("measuredboot: event %d (%v, register index %d) has no %v digest", e.Seq, e.Type, e.Index, alg)
		}
		r, ok := regs[e.Index]
		if !ok {
			r = make([]byte, size)
		}
		regs[e.Index] = extend(h, alg, r, d)
	}
	return regs, nil
}

// extend returns H(r || d) in r's storage; SHA-384 and SHA-256, the
// registers of TDX and vTPMs, skip the hash object.
func extend(h hash.Hash, alg eventlog.Alg, r, d []byte) []byte {
	var buf [128]byte
	switch {
	case alg == eventlog.SHA384 && len(r) == 48 && len(d) == 48:
		copy(buf[:], r)
		copy(buf[48:], d)
		sum := sha512.Sum384(buf[:96])
		return append(r[:0], sum[:]...)
	case alg == eventlog.SHA256 && len(r) == 32 && len(d) == 32:
		copy(buf[:], r)
		copy(buf[32:], d)
		sum := sha256.Sum256(buf[:64])
		return append(r[:0], sum[:]...)
	}
	h.Reset()
	h.Write(r)
	h.Write(d)
	return h.Sum(r[:0])
}

// Mismatch is a register whose replay differs from its signed value.
type Mismatch struct {
	Register string
	Replayed []byte
	Signed   []byte
}

// ReplayError says which registers did not replay.
type ReplayError struct {
	Alg        eventlog.Alg
	Mismatches []Mismatch
}

func (e *ReplayError) Error() string {
	parts := make([]string, len(e.Mismatches))
	for i, m := range e.Mismatches {
		parts[i] = fmt.Sprintf("%s: replayed %s, signed %s", m.Register, hex.EncodeToString(m.Replayed), hex.EncodeToString(m.Signed))
	}
	return fmt.Sprintf("the event log does not replay to the signed registers (%v): %s", e.Alg, strings.Join(parts, "; "))
}

// Result is a verified log: every register it touches replayed to the
// signed value.
type Result struct {
	Alg eventlog.Alg
	// Registers are the signed registers the log was checked against, all
	// equal to their replay.
	Registers []Register
	// Events are the boot log's events followed by the runtime log's.
	Events []eventlog.Event
	// Runtime is the number of events at the end of Events that came from
	// the runtime (application) log.
	Runtime int
	// Undescribed names the registers of a TPM bank that no event extends:
	// the log says nothing about them, so no fact rests on them.
	Undescribed []string

	bank  Bank
	once  sync.Once
	facts *Facts
}

// Verify replays the boot log, followed by the runtime log if any, into the
// bank's registers and returns the facts they establish. Every register of
// the bank must equal its replay (a register no event touches must be
// zero, except in a TPM bank), and every event must extend a register of the bank: an event the
// signed report cannot vouch for is refused, not skipped.
func Verify(boot, runtime *eventlog.Log, bank Bank) (*Result, error) {
	var events []eventlog.Event
	nRuntime := 0
	if runtime == nil && boot != nil {
		events = boot.Events // Seq is already the position
	}
	for _, l := range []*eventlog.Log{boot, runtime} {
		if l == nil {
			continue
		}
		declared := false
		for _, a := range l.SpecID.Algorithms {
			declared = declared || a.Alg == bank.Alg
		}
		if !declared {
			return nil, fmt.Errorf("measuredboot: the event log has no %v digests (it declares %v); the signed registers use %v", bank.Alg, l.SpecID.Algorithms, bank.Alg)
		}
		if l == runtime {
			nRuntime = len(l.Events)
		}
		if runtime == nil {
			continue
		}
		for _, e := range l.Events {
			e.Seq = len(events)
			events = append(events, e)
		}
	}
	if boot == nil && runtime == nil {
		return nil, fmt.Errorf("measuredboot: no event log")
	}
	for _, e := range events {
		if e.Type != eventlog.EvNoAction && bank.register(e.Index) == nil {
			return nil, fmt.Errorf("measuredboot: event %d (%v) extends register index %d, which the signed report does not hold", e.Seq, e.Type, e.Index)
		}
	}
	replayed, err := Replay(events, bank.Alg, bank.TPM)
	if err != nil {
		return nil, err
	}
	rerr := &ReplayError{Alg: bank.Alg}
	var undescribed []string
	for _, r := range bank.Registers {
		got, ok := replayed[r.Index]
		if !ok && bank.TPM {
			undescribed = append(undescribed, r.Name)
			continue
		}
		if !ok {
			got = make([]byte, bank.Alg.Size())
		}
		if !bytes.Equal(got, r.Value) {
			rerr.Mismatches = append(rerr.Mismatches, Mismatch{Register: r.Name, Replayed: got, Signed: r.Value})
		}
	}
	if len(rerr.Mismatches) > 0 {
		return nil, rerr
	}
	// The runtime log is the application's: its entries must be
	// well-formed and covered by their digests, or the log is refused.
	x := extractor{bank: bank}
	for i := len(events) - nRuntime; i < len(events); i++ {
		if _, err := x.entry(&events[i]); err != nil {
			return nil, fmt.Errorf("measuredboot: runtime event %d: %w", events[i].Seq, err)
		}
	}
	return &Result{Alg: bank.Alg, Registers: bank.Registers, Events: events, Runtime: nRuntime, Undescribed: undescribed, bank: bank}, nil
}

// Facts returns what the log establishes, extracted on first use: a
// verifier whose policy reads no boot fact does not pay for them.
func (r *Result) Facts() *Facts {
	r.once.Do(func() {
		r.facts, _ = extract(r.Events, len(r.Events)-r.Runtime, r.bank) // runtime entries were checked by Verify
	})
	return r.facts
}
