// Package eventlog parses TCG crypto-agile event logs (TCG PC Client
// Platform Firmware Profile, "TCG_PCR_EVENT2" records after a "Spec ID
// Event03" header) in both forms a confidential VM exposes them:
//
//   - the log area of the ACPI CC Event Log table (CCEL) of a TDX or Hygon
//     CSV guest, where the index of each record is a CC measurement-register
//     index (UEFI 2.10 §38.4.1) and the log is followed by unused space
//     (0xFF from OVMF, 0x00 from td-shim);
//   - the UEFI/TPM log of a vTPM VM (/sys/kernel/security/tpm0/
//     binary_bios_measurements), where the index is a PCR and the log ends
//     at the end of the data.
//
// It only parses: digests are not checked against registers here (see
// verify/measuredboot), so nothing in a parsed log is trustworthy yet.
//
// Why not github.com/google/go-eventlog: it stops only at 0xFF padding
// (td-shim's zero-filled log area would be read as thousands of empty
// events), it has no SM3 (Hygon CSV logs), its CCEL entry point wants the
// ACPI table header, which Trustee's evidence does not carry, and on a
// replay mismatch it retries with "workarounds" that rewrite the log — a
// verifier must refuse such a log, not repair it. Its dependencies
// (go-tpm's legacy API, protobuf state types) would also come along.
package eventlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// maxSize bounds the log handed to Parse: CCEL log areas are at most a few
// MiB.
const maxSize = 16 << 20

// Limits that keep a hostile log from costing much to parse.
const (
	maxAlgorithms = 16
	maxEvents     = 1 << 20
)

// Digest is one digest of an event.
type Digest struct {
	Alg   Alg
	Value []byte
}

// Event is one TCG_PCR_EVENT2 record.
type Event struct {
	// Seq is the record's position after the Spec ID header, from 0.
	Seq int
	// Offset is the record's byte offset in the log.
	Offset int
	// Index is the register the event extends: a PCR for a TPM log, a CC
	// measurement-register index for a CCEL (1..4 are TDX RTMR0..3).
	Index   uint32
	Type    EventType
	Digests []Digest
	Data    []byte
}

// Digest returns the event's digest of the given algorithm, nil if it has
// none.
func (e *Event) Digest(a Alg) []byte {
	for _, d := range e.Digests {
		if d.Alg == a {
			return d.Value
		}
	}
	return nil
}

// AlgSize is an algorithm declared in the Spec ID event and its digest
// size.
type AlgSize struct {
	Alg  Alg
	Size int
}

// SpecID is the TCG_EfiSpecIdEvent that opens a crypto-agile log.
type SpecID struct {
	// HeaderIndex is the register index of the header record (0 for TPM
	// logs and td-shim, 1 for OVMF's CCEL); the header extends nothing.
	HeaderIndex   uint32
	PlatformClass uint32
	VersionMajor  uint8
	VersionMinor  uint8
	Errata        uint8
	UintnSize     uint8
	Algorithms    []AlgSize
	VendorInfo    []byte
}

// Log is a parsed event log.
type Log struct {
	SpecID SpecID
	Events []Event
	// End is the byte offset where the log ends: the end of the data, or
	// the first of the unused bytes that follow it.
	End int
	// Padding is the byte that fills the space after the log (0x00 or
	// 0xFF), or -1 when the log ends at the end of the data.
	Padding int
}

// Errors Parse wraps, for errors.Is.
var (
	ErrTruncated = errors.New("eventlog: truncated")
	ErrFormat    = errors.New("eventlog: malformed")
)

var specIDSignature = []byte("Spec ID Event03\x00")

// Parse parses a crypto-agile event log. The log ends at the end of b or at
// an 8-byte run of 0x00 or 0xFF where the next record would start (the
// unused part of a CCEL log area); everything after that point must be the
// same padding byte, so no record can hide behind the end marker.
func Parse(b []byte) (*Log, error) {
	if len(b) > maxSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the limit of %d", ErrFormat, len(b), maxSize)
	}
	r := reader{b: b, what: "log header: "}
	l := &Log{Padding: -1}
	if err := l.parseHeader(&r); err != nil {
		return nil, err
	}
	sizes := make(map[Alg]int, len(l.SpecID.Algorithms))
	for _, a := range l.SpecID.Algorithms {
		sizes[a.Alg] = a.Size
	}
	// Digests of all events share one backing array: a log has thousands.
	var pool []Digest
	l.Events = make([]Event, 0, min(len(b)/512+8, 1<<14))
	for r.off < len(b) {
		if pad, ok := endMarker(b[r.off:]); ok {
			for i, c := range b[r.off:] {
				if c != pad {
					return nil, fmt.Errorf("%w: byte 0x%02x at offset %d after the end of the log (padding 0x%02x starts at %d)", ErrFormat, c, r.off+i, pad, r.off)
				}
			}
			l.End, l.Padding = r.off, int(pad)
			return l, nil
		}
		if len(l.Events) >= maxEvents {
			return nil, fmt.Errorf("%w: more than %d events", ErrFormat, maxEvents)
		}
		e, err := parseEvent(&r, sizes, &pool)
		if err != nil {
			return nil, err
		}
		e.Seq = len(l.Events)
		l.Events = append(l.Events, e)
	}
	l.End = r.off
	return l, nil
}

// endMarker reports whether b starts with the 8 bytes of 0x00 or 0xFF that
// end a CCEL log (Trustee's and the guest tools' convention), and which.
func endMarker(b []byte) (byte, bool) {
	if len(b) < 8 {
		// Too short for a record (at least 16 bytes): padding only.
		if len(b) > 0 && (bytes.Count(b, b[:1]) == len(b)) && (b[0] == 0 || b[0] == 0xFF) {
			return b[0], true
		}
		return 0, false
	}
	for _, pad := range []byte{0x00, 0xFF} {
		if bytes.Count(b[:8], []byte{pad}) == 8 {
			return pad, true
		}
	}
	return 0, false
}

func (l *Log) parseHeader(r *reader) error {
	index, err := r.u32("header register index")
	if err != nil {
		return err
	}
	typ, err := r.u32("header event type")
	if err != nil {
		return err
	}
	sha1Digest, err := r.bytes(20, "header SHA-1 digest")
	if err != nil {
		return err
	}
	size, err := r.u32("header event size")
	if err != nil {
		return err
	}
	data, err := r.bytes(int(size), "Spec ID event")
	if err != nil {
		return err
	}
	if EventType(typ) != EvNoAction || !bytes.HasPrefix(data, specIDSignature) {
		return fmt.Errorf("%w: the first record is not a \"Spec ID Event03\" EV_NO_ACTION header: not a crypto-agile (TPM 2.0) log", ErrFormat)
	}
	if !allZero(sha1Digest) {
		return fmt.Errorf("%w: the Spec ID header's digest is not zero", ErrFormat)
	}
	s := reader{b: data, what: "Spec ID event: "}
	s.off = len(specIDSignature)
	id := SpecID{HeaderIndex: index}
	if id.PlatformClass, err = s.u32("platformClass"); err != nil {
		return err
	}
	v, err := s.bytes(4, "version")
	if err != nil {
		return err
	}
	id.VersionMinor, id.VersionMajor, id.Errata, id.UintnSize = v[0], v[1], v[2], v[3]
	n, err := s.u32("numberOfAlgorithms")
	if err != nil {
		return err
	}
	if n == 0 || n > maxAlgorithms {
		return fmt.Errorf("%w: Spec ID event declares %d algorithms (want 1..%d)", ErrFormat, n, maxAlgorithms)
	}
	for i := 0; i < int(n); i++ {
		alg, err := s.u16("algorithmId")
		if err != nil {
			return err
		}
		size, err := s.u16("digestSize")
		if err != nil {
			return err
		}
		a := AlgSize{Alg: Alg(alg), Size: int(size)}
		if want := a.Alg.Size(); (want != 0 && want != a.Size) || a.Size == 0 || a.Size > 64 {
			return fmt.Errorf("%w: Spec ID event declares %v with %d-byte digests", ErrFormat, a.Alg, a.Size)
		}
		for _, prev := range id.Algorithms {
			if prev.Alg == a.Alg {
				return fmt.Errorf("%w: Spec ID event declares %v twice", ErrFormat, a.Alg)
			}
		}
		id.Algorithms = append(id.Algorithms, a)
	}
	vs, err := s.bytes(1, "vendorInfoSize")
	if err != nil {
		return err
	}
	if id.VendorInfo, err = s.bytes(int(vs[0]), "vendorInfo"); err != nil {
		return err
	}
	if s.off != len(data) {
		return fmt.Errorf("%w: Spec ID event has %d bytes after vendorInfo", ErrFormat, len(data)-s.off)
	}
	l.SpecID = id
	return nil
}

func parseEvent(r *reader, sizes map[Alg]int, pool *[]Digest) (Event, error) {
	e := Event{Offset: r.off}
	r.what, r.event = "", r.off
	index, err := r.u32("register index")
	if err != nil {
		return e, err
	}
	typ, err := r.u32("event type")
	if err != nil {
		return e, err
	}
	e.Index, e.Type = index, EventType(typ)
	count, err := r.u32("digest count")
	if err != nil {
		return e, err
	}
	if count > uint32(len(sizes)) {
		return e, fmt.Errorf("%w: %s%d digests, but the Spec ID event declares %d algorithms", ErrFormat, r.prefix(), count, len(sizes))
	}
	if cap(*pool)-len(*pool) < int(count) {
		*pool = make([]Digest, 0, max(256, int(count)))
	}
	start := len(*pool)
	for i := 0; i < int(count); i++ {
		alg, err := r.u16("digest algorithm")
		if err != nil {
			return e, err
		}
		size, ok := sizes[Alg(alg)]
		if !ok {
			return e, fmt.Errorf("%w: %sdigest of %v, which the Spec ID event does not declare", ErrFormat, r.prefix(), Alg(alg))
		}
		if e.Digest(Alg(alg)) != nil {
			return e, fmt.Errorf("%w: %stwo %v digests", ErrFormat, r.prefix(), Alg(alg))
		}
		v, err := r.bytes(size, "digest")
		if err != nil {
			return e, err
		}
		*pool = append(*pool, Digest{Alg: Alg(alg), Value: v})
		e.Digests = (*pool)[start:len(*pool):len(*pool)]
	}
	size, err := r.u32("event size")
	if err != nil {
		return e, err
	}
	if e.Data, err = r.bytes(int(size), "event data"); err != nil {
		return e, err
	}
	return e, nil
}

// reader reads little-endian fields, naming what is missing.
type reader struct {
	b     []byte
	off   int
	what  string // prefix of error messages
	event int    // offset of the event being read, when what is ""
}

// prefix says where an error is, formatted only when there is one.
func (r *reader) prefix() string {
	if r.what == "" {
		return fmt.Sprintf("event at offset %d: ", r.event)
	}
	return r.what
}

func (r *reader) bytes(n int, field string) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, fmt.Errorf("%w: %s%s needs %d bytes at offset %d, %d left", ErrTruncated, r.prefix(), field, n, r.off, len(r.b)-r.off)
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v, nil
}

func (r *reader) u32(field string) (uint32, error) {
	v, err := r.bytes(4, field)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(v), nil
}

func (r *reader) u16(field string) (uint16, error) {
	v, err := r.bytes(2, field)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(v), nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
