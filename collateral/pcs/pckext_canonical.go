package pcs

import "encoding/asn1"

// DER tags of the values in the SGX extension.
const (
	derBoolean     = 0x01
	derInteger     = 0x02
	derOctetString = 0x04
	derOID         = 0x06
	derEnumerated  = 0x0a
	derSequence    = 0x30
)

// Encoded OBJECT IDENTIFIER elements of the SGX extension's entries, by
// arc under OIDSGXExtensions, and under its TCB and Configuration entries.
var (
	sgxEntryOIDs = encodedOIDs(OIDSGXExtensions, sgxConfiguration)
	tcbEntryOIDs = encodedOIDs(append(OIDSGXExtensions[:len(OIDSGXExtensions):len(OIDSGXExtensions)], sgxTCB), tcbCPUSVN)
	cfgEntryOIDs = encodedOIDs(append(OIDSGXExtensions[:len(OIDSGXExtensions):len(OIDSGXExtensions)], sgxConfiguration), cfgSMTEnabled)
)

// encodedOIDs returns the DER of parent.1 .. parent.n, at index 1 .. n.
func encodedOIDs(parent asn1.ObjectIdentifier, n int) [][]byte {
	out := make([][]byte, n+1)
	for i := 1; i <= n; i++ {
		b, err := asn1.Marshal(append(parent[:len(parent):len(parent)], i))
		if err != nil {
			panic(err)
		}
		out[i] = b
	}
	return out
}

// parseCanonicalPCKExtensions parses the SGX extension when it is laid out
// exactly as Intel issues it: the entries in order of their OIDs (PPID,
// TCB with its 18 entries in order, PCE-ID, FMSPC, SGX Type, and then
// either nothing or PlatformInstanceID and Configuration with its three
// flags in order), every element in DER with minimal lengths and integers,
// and every value of its exact type and size and within range. It reports
// false for anything else, and then parsePCKExtensionsDER's general parser
// decides and explains; what it accepts, that parser accepts with the same
// result. It exists because PCK certificates are parsed for every new
// platform, and reading them without reflection costs a fraction.
func parseCanonicalPCKExtensions(der []byte) (*PCKExtensions, bool) {
	seq, rest, ok := derElement(der, derSequence)
	if !ok || len(rest) != 0 {
		return nil, false
	}
	e := &PCKExtensions{}
	var v []byte
	if v, seq, ok = derEntry(seq, sgxEntryOIDs[sgxPPID], derOctetString); !ok || !copyExact(e.PPID[:], v) {
		return nil, false
	}
	if v, seq, ok = derEntry(seq, sgxEntryOIDs[sgxTCB], derSequence); !ok || !parseCanonicalTCB(v, &e.TCB) {
		return nil, false
	}
	if v, seq, ok = derEntry(seq, sgxEntryOIDs[sgxPCEID], derOctetString); !ok || !copyExact(e.PCEID[:], v) {
		return nil, false
	}
	if v, seq, ok = derEntry(seq, sgxEntryOIDs[sgxFMSPC], derOctetString); !ok || !copyExact(e.FMSPC[:], v) {
		return nil, false
	}
	v, seq, ok = derEntry(seq, sgxEntryOIDs[sgxType], derEnumerated)
	if n, inRange := derUint(v, 2); !ok || !inRange {
		return nil, false
	} else {
		e.SGXType = SGXType(n)
	}
	if len(seq) == 0 {
		return e, true
	}
	e.PlatformInstanceID = new([16]byte)
	if v, seq, ok = derEntry(seq, sgxEntryOIDs[sgxPlatformInstanceID], derOctetString); !ok || !copyExact(e.PlatformInstanceID[:], v) {
		return nil, false
	}
	if v, seq, ok = derEntry(seq, sgxEntryOIDs[sgxConfiguration], derSequence); !ok || len(seq) != 0 {
		return nil, false
	}
	c := &PCKConfiguration{}
	for id, dst := range []*bool{cfgDynamicPlatform: &c.DynamicPlatform, cfgCachedKeys: &c.CachedKeys, cfgSMTEnabled: &c.SMTEnabled} {
		if dst == nil {
			continue
		}
		var flag []byte
		if flag, v, ok = derEntry(v, cfgEntryOIDs[id], derBoolean); !ok || len(flag) != 1 || flag[0] != 0 && flag[0] != 0xff {
			return nil, false
		}
		*dst = flag[0] == 0xff
	}
	if len(v) != 0 {
		return nil, false
	}
	e.Configuration = c
	return e, true
}

// parseCanonicalTCB parses the TCB entry's 18 entries in order.
func parseCanonicalTCB(seq []byte, out *PCKTCB) bool {
	for id := 1; id <= 16; id++ {
		v, rest, ok := derEntry(seq, tcbEntryOIDs[id], derInteger)
		n, inRange := derUint(v, 255)
		if !ok || !inRange {
			return false
		}
		out.CompSVN[id-1], seq = uint8(n), rest
	}
	v, seq, ok := derEntry(seq, tcbEntryOIDs[tcbPCESVN], derInteger)
	n, inRange := derUint(v, 65535)
	if !ok || !inRange {
		return false
	}
	out.PCESVN = uint16(n)
	v, seq, ok = derEntry(seq, tcbEntryOIDs[tcbCPUSVN], derOctetString)
	return ok && len(seq) == 0 && copyExact(out.CPUSVN[:], v)
}

// derEntry reads SEQUENCE { oid, value } from b, where oid must be the
// given encoded OBJECT IDENTIFIER and value have the given tag, and
// returns the value's content and what follows the entry.
func derEntry(b, oid []byte, tag byte) (value, rest []byte, ok bool) {
	entry, rest, ok := derElement(b, derSequence)
	if !ok || len(entry) < len(oid) || string(entry[:len(oid)]) != string(oid) {
		return nil, nil, false
	}
	value, tail, ok := derElement(entry[len(oid):], tag)
	if !ok || len(tail) != 0 {
		return nil, nil, false
	}
	return value, rest, true
}

// derElement reads one element with the given tag and a DER length (short
// form, or long form of one or two bytes without leading zeros).
func derElement(b []byte, tag byte) (content, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, nil, false
	}
	n, b := int(b[1]), b[2:]
	switch {
	case n < 0x80:
	case n == 0x81 && len(b) >= 1 && b[0] >= 0x80:
		n, b = int(b[0]), b[1:]
	case n == 0x82 && len(b) >= 2 && b[0] != 0:
		n, b = int(b[0])<<8|int(b[1]), b[2:]
	default:
		return nil, nil, false
	}
	if len(b) < n {
		return nil, nil, false
	}
	return b[:n], b[n:], true
}

// derUint decodes the content of a minimally encoded, non-negative INTEGER
// or ENUMERATED of at most three bytes, and reports whether it is at most
// max.
func derUint(c []byte, max int) (int, bool) {
	switch {
	case len(c) == 0 || len(c) > 3 || c[0]&0x80 != 0:
		return 0, false
	case len(c) > 1 && c[0] == 0 && c[1]&0x80 == 0:
		return 0, false // not minimal
	}
	n := 0
	for _, x := range c {
		n = n<<8 | int(x)
	}
	return n, n <= max
}

// copyExact copies v into dst if it has dst's length.
func copyExact(dst, v []byte) bool {
	if len(v) != len(dst) {
		return false
	}
	copy(dst, v)
	return true
}
