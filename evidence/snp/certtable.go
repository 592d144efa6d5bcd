package snp

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// The certificate table a host attaches to an extended report (GHCB
// MSG_REPORT_REQ, and configfs-tsm's auxblob for sev_guest): entries of a
// 16-byte GUID, a 32-bit offset and a 32-bit length, little-endian,
// terminated by an all-zero entry; offsets are from the table's start.
const (
	certTableEntrySize = 24
	// maxCertTableSize bounds a certificate table.
	maxCertTableSize = 64 << 10
	maxCertTableRows = 64
)

// GUIDs of the certificate table entries.
const (
	GUIDVCEK = "63da758d-e664-4564-adc5-f4b93be8accd"
	GUIDVLEK = "a8074bc2-a25a-483e-aae6-39c045a0b8a1"
	GUIDASK  = "4ab7b379-bbac-4fe4-a02f-05aef327c782" // the ASK, or the ASVK for a VLEK
	GUIDARK  = "c0b406a4-a803-4952-9743-3fb6014cd0ae"
	GUIDCRL  = "92f81bc3-5811-4d3d-97ff-d19f88dc67ea"
)

// The GUIDs as stored in a table, in the mixed-endian GUID byte order.
var (
	guidVCEK = mustGUID(GUIDVCEK)
	guidVLEK = mustGUID(GUIDVLEK)
	guidASK  = mustGUID(GUIDASK)
	guidARK  = mustGUID(GUIDARK)
	guidCRL  = mustGUID(GUIDCRL)
)

// CertTable holds the certificates found in a certificate table: DER (or
// PEM) bytes as the host supplied them; nil when absent. ASK holds the ASVK
// when the report is VLEK-signed.
type CertTable struct {
	VCEK, VLEK, ASK, ARK, CRL []byte
	// Unknown counts entries with GUIDs this package does not know.
	Unknown int
}

// Leaf returns the certificate that signs the report: the VCEK, or else the
// VLEK; nil when the table has neither.
func (t *CertTable) Leaf() []byte {
	if t.VCEK != nil {
		return t.VCEK
	}
	return t.VLEK
}

// Marshal lays out the table as a host does: the entries present (VCEK,
// VLEK, ASK, ARK, CRL, in this order), the all-zero entry, then their
// data. ParseCertTable reads it back.
func (t *CertTable) Marshal() []byte {
	type entry struct {
		guid [16]byte
		data []byte
	}
	var entries []entry
	for _, e := range []entry{{guidVCEK, t.VCEK}, {guidVLEK, t.VLEK}, {guidASK, t.ASK}, {guidARK, t.ARK}, {guidCRL, t.CRL}} {
		if len(e.data) > 0 {
			entries = append(entries, e)
		}
	}
	table := make([]byte, (len(entries)+1)*certTableEntrySize)
	for i, e := range entries {
		row := table[i*certTableEntrySize:]
		copy(row, e.guid[:])
		binary.LittleEndian.PutUint32(row[16:], uint32(len(table)))
		binary.LittleEndian.PutUint32(row[20:], uint32(len(e.data)))
		table = append(table, e.data...)
	}
	return table
}

// ParseCertTable reads a certificate table strictly: every entry must lie
// inside the table, a known GUID may appear only once, and the table must
// end with the all-zero entry.
func ParseCertTable(b []byte) (*CertTable, error) {
	if len(b) > maxCertTableSize {
		return nil, fmt.Errorf("snp: certificate table of %d bytes exceeds the limit of %d", len(b), maxCertTableSize)
	}
	t := &CertTable{}
	slots := map[[16]byte]*[]byte{guidVCEK: &t.VCEK, guidVLEK: &t.VLEK, guidASK: &t.ASK, guidARK: &t.ARK, guidCRL: &t.CRL}
	for row := 0; ; row++ {
		off := row * certTableEntrySize
		if row >= maxCertTableRows {
			return nil, fmt.Errorf("snp: certificate table: more than %d entries", maxCertTableRows)
		}
		if off+certTableEntrySize > len(b) {
			return nil, fmt.Errorf("snp: certificate table: entry %d: want %d bytes at offset %d, table has %d (no terminating entry)", row, certTableEntrySize, off, len(b))
		}
		e := b[off : off+certTableEntrySize]
		if bytes.Equal(e, make([]byte, certTableEntrySize)) {
			return t, nil
		}
		var guid [16]byte
		copy(guid[:], e[:16])
		start := uint64(binary.LittleEndian.Uint32(e[16:]))
		length := uint64(binary.LittleEndian.Uint32(e[20:]))
		if start+length > uint64(len(b)) || length == 0 {
			return nil, fmt.Errorf("snp: certificate table: entry %d: offset %d and length %d do not fit a %d-byte table", row, start, length, len(b))
		}
		slot, known := slots[guid]
		if !known {
			t.Unknown++
			continue
		}
		if *slot != nil {
			return nil, fmt.Errorf("snp: certificate table: entry %d: GUID %s appears twice", row, formatGUID(guid))
		}
		*slot = bytes.Clone(b[start : start+length])
	}
}

// mustGUID turns a textual GUID into its table bytes: the first three
// groups little-endian, the rest as written.
func mustGUID(s string) [16]byte {
	var g [16]byte
	hexs := bytes.ReplaceAll([]byte(s), []byte("-"), nil)
	if len(hexs) != 32 {
		panic("snp: bad GUID " + s)
	}
	var raw [16]byte
	for i := range raw {
		var v byte
		if _, err := fmt.Sscanf(string(hexs[2*i:2*i+2]), "%02x", &v); err != nil {
			panic("snp: bad GUID " + s)
		}
		raw[i] = v
	}
	g[0], g[1], g[2], g[3] = raw[3], raw[2], raw[1], raw[0]
	g[4], g[5] = raw[5], raw[4]
	g[6], g[7] = raw[7], raw[6]
	copy(g[8:], raw[8:])
	return g
}

func formatGUID(g [16]byte) string {
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%x-%x", g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8:10], g[10:])
}
