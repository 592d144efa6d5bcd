package pcs

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"
	"strings"
)

// OIDSGXExtensions is the PCK certificate extension holding the SGX
// platform data (Intel SGX PCK Certificate and CRL Profile).
var OIDSGXExtensions = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}

// Sub-identifiers under OIDSGXExtensions.
const (
	sgxPPID               = 1
	sgxTCB                = 2
	sgxPCEID              = 3
	sgxFMSPC              = 4
	sgxType               = 5
	sgxPlatformInstanceID = 6
	sgxConfiguration      = 7

	tcbPCESVN = 17 // TCB sub-entries 1..16 are the component SVNs
	tcbCPUSVN = 18

	cfgDynamicPlatform = 1
	cfgCachedKeys      = 2
	cfgSMTEnabled      = 3
)

// maxPCKExtensionSize bounds the DER of the SGX extension; real ones are
// about 550 bytes.
const maxPCKExtensionSize = 4096

// SGXType is the SGX Type of a PCK certificate.
type SGXType int

// SGX types (ENUMERATED values).
const (
	SGXTypeStandard              SGXType = 0
	SGXTypeScalable              SGXType = 1
	SGXTypeScalableWithIntegrity SGXType = 2
)

func (t SGXType) String() string {
	switch t {
	case SGXTypeStandard:
		return "Standard"
	case SGXTypeScalable:
		return "Scalable"
	case SGXTypeScalableWithIntegrity:
		return "ScalableWithIntegrity"
	}
	return fmt.Sprintf("SGXType(%d)", int(t))
}

// PCKExtensions are the SGX extensions of a PCK certificate.
type PCKExtensions struct {
	PPID  [16]byte
	TCB   PCKTCB
	PCEID [2]byte
	FMSPC [6]byte
	// SGXType is Standard, Scalable or ScalableWithIntegrity.
	SGXType SGXType
	// PlatformInstanceID and Configuration are present exactly in
	// certificates issued by the Intel SGX PCK Platform CA.
	PlatformInstanceID *[16]byte
	Configuration      *PCKConfiguration
}

// PCKTCB is the TCB the PCK certificate was issued for; MatchSGX/MatchTDX
// take CompSVN and PCESVN from here.
type PCKTCB struct {
	CompSVN [16]uint8 // SGX TCB Comp01..16 SVN
	PCESVN  uint16
	CPUSVN  [16]byte
}

// PCKConfiguration is the platform configuration of a Platform-CA PCK
// certificate. QVL requires all three flags, and so does this package.
type PCKConfiguration struct {
	DynamicPlatform bool
	CachedKeys      bool
	SMTEnabled      bool
}

// ParsePCKExtensions parses the SGX extensions of a PCK certificate.
//
// It is stricter than QVL, which accepts 5 or 7 entries and skips unknown
// ones: here the entries PPID, TCB, PCE-ID, FMSPC and SGX Type must each be
// present exactly once, PlatformInstanceID and Configuration must both be
// present for a certificate issued by the Platform CA and both absent for
// one issued by the Processor CA, and unknown or duplicate entries are
// rejected. Types and lengths are exact and the DER must be canonical. The
// issuer must be one of the two PCK CAs (see CAType).
func ParsePCKExtensions(cert *x509.Certificate) (*PCKExtensions, error) {
	if cert == nil {
		return nil, fmt.Errorf("pcs: PCK extensions: nil certificate")
	}
	ca, err := CAType(cert)
	if err != nil {
		return nil, err
	}
	var value []byte
	found := 0
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(OIDSGXExtensions) {
			value = ext.Value
			found++
		}
	}
	if found != 1 {
		return nil, fieldErrorf("pck", "want one SGX extension %s, got %d", OIDSGXExtensions, found)
	}
	e, err := parsePCKExtensionsDER(value)
	if err != nil {
		return nil, err
	}
	platformOnly := e.PlatformInstanceID != nil
	if want := ca == CAPlatform; platformOnly != want {
		if want {
			return nil, fieldErrorf("pck.sgxExtensions", "certificate issued by the %s CA lacks PlatformInstanceID and Configuration", ca)
		}
		return nil, fieldErrorf("pck.sgxExtensions", "certificate issued by the %s CA has PlatformInstanceID and Configuration", ca)
	}
	return e, nil
}

// parsePCKExtensionsDER parses the value (DER) of the SGX extension
// OIDSGXExtensions, with the rules of ParsePCKExtensions except the check
// against the issuing CA: PlatformInstanceID and Configuration must both be
// present or both absent.
func parsePCKExtensionsDER(der []byte) (*PCKExtensions, error) {
	const path = "pck.sgxExtensions"
	if len(der) > maxPCKExtensionSize {
		return nil, fieldErrorf(path, "larger than %d bytes", maxPCKExtensionSize)
	}
	if e, ok := parseCanonicalPCKExtensions(der); ok {
		return e, nil
	}
	return parsePCKExtensionsGeneral(der)
}

// parsePCKExtensionsGeneral parses the SGX extension in any order of its
// entries and explains what is wrong with it.
func parsePCKExtensionsGeneral(der []byte) (*PCKExtensions, error) {
	const path = "pck.sgxExtensions"
	entries, err := parseOIDSequence(der, path, OIDSGXExtensions)
	if err != nil {
		return nil, err
	}
	if n := len(entries); n != 5 && n != 7 {
		return nil, fieldErrorf(path, "want 5 or 7 entries, got %d", n)
	}
	e := &PCKExtensions{}
	for _, ent := range entries {
		p := fmt.Sprintf("%s.%d", path, ent.id)
		switch ent.id {
		case sgxPPID:
			err = octets(ent.value, p, e.PPID[:])
		case sgxTCB:
			err = parsePCKTCB(ent.value, p, &e.TCB)
		case sgxPCEID:
			err = octets(ent.value, p, e.PCEID[:])
		case sgxFMSPC:
			err = octets(ent.value, p, e.FMSPC[:])
		case sgxType:
			var v asn1.Enumerated
			if err = unmarshalExact(ent.value, &v, asn1.TagEnum, p); err == nil {
				if v < 0 || v > 2 {
					err = fieldErrorf(p, "SGX Type: want 0, 1 or 2, got %d", v)
				}
				e.SGXType = SGXType(v)
			}
		case sgxPlatformInstanceID:
			e.PlatformInstanceID = new([16]byte)
			err = octets(ent.value, p, e.PlatformInstanceID[:])
		case sgxConfiguration:
			e.Configuration, err = parseConfiguration(ent.value, p)
		default:
			err = fieldErrorf(path, "unknown entry %s", ent.oid)
		}
		if err != nil {
			return nil, err
		}
	}
	have := func(id int) bool {
		return slices.ContainsFunc(entries, func(x oidEntry) bool { return x.id == id })
	}
	for _, req := range []struct {
		id   int
		name string
	}{{sgxPPID, "PPID"}, {sgxTCB, "TCB"}, {sgxPCEID, "PCE-ID"}, {sgxFMSPC, "FMSPC"}, {sgxType, "SGX Type"}} {
		if !have(req.id) {
			return nil, fieldErrorf(path, "missing %s (%s.%d)", req.name, OIDSGXExtensions, req.id)
		}
	}
	if (e.PlatformInstanceID == nil) != (e.Configuration == nil) {
		return nil, fieldErrorf(path, "want PlatformInstanceID and Configuration both present or both absent")
	}
	return e, nil
}

func parsePCKTCB(der []byte, path string, out *PCKTCB) error {
	entries, err := parseOIDSequence(der, path, append(slices.Clone(OIDSGXExtensions), sgxTCB))
	if err != nil {
		return err
	}
	if len(entries) != 18 {
		return fieldErrorf(path, "want 18 TCB entries, got %d", len(entries))
	}
	for _, ent := range entries {
		p := fmt.Sprintf("%s.%d", path, ent.id)
		switch {
		case ent.id >= 1 && ent.id <= 16:
			n, err := integer(ent.value, p, 255)
			if err != nil {
				return err
			}
			out.CompSVN[ent.id-1] = uint8(n)
		case ent.id == tcbPCESVN:
			n, err := integer(ent.value, p, 65535)
			if err != nil {
				return err
			}
			out.PCESVN = uint16(n)
		case ent.id == tcbCPUSVN:
			if err := octets(ent.value, p, out.CPUSVN[:]); err != nil {
				return err
			}
		default:
			return fieldErrorf(path, "unknown TCB entry %s", ent.oid)
		}
	}
	return nil // 18 distinct known ids: all present
}

func parseConfiguration(der []byte, path string) (*PCKConfiguration, error) {
	entries, err := parseOIDSequence(der, path, append(slices.Clone(OIDSGXExtensions), sgxConfiguration))
	if err != nil {
		return nil, err
	}
	if len(entries) != 3 {
		return nil, fieldErrorf(path, "want 3 configuration entries (dynamicPlatform, cachedKeys, SMTEnabled), got %d", len(entries))
	}
	c := &PCKConfiguration{}
	for _, ent := range entries {
		var dst *bool
		switch ent.id {
		case cfgDynamicPlatform:
			dst = &c.DynamicPlatform
		case cfgCachedKeys:
			dst = &c.CachedKeys
		case cfgSMTEnabled:
			dst = &c.SMTEnabled
		default:
			return nil, fieldErrorf(path, "unknown configuration entry %s", ent.oid)
		}
		if err := unmarshalExact(ent.value, dst, asn1.TagBoolean, fmt.Sprintf("%s.%d", path, ent.id)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// oidEntry is one SEQUENCE { OBJECT IDENTIFIER, value } of the SGX
// extension; id is the last arc, value the DER of the value.
type oidEntry struct {
	oid   asn1.ObjectIdentifier
	id    int
	value []byte
}

// parseOIDSequence parses SEQUENCE OF SEQUENCE { OID, ANY } where every OID
// is parent.N; duplicate N are rejected.
func parseOIDSequence(der []byte, path string, parent asn1.ObjectIdentifier) ([]oidEntry, error) {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return nil, fieldErrorf(path, "invalid DER: %v", err)
	}
	if len(rest) != 0 {
		return nil, fieldErrorf(path, "%d bytes of trailing data", len(rest))
	}
	if seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return nil, fieldErrorf(path, "want a SEQUENCE, got class %d tag %d", seq.Class, seq.Tag)
	}
	var out []oidEntry
	for b := seq.Bytes; len(b) > 0; {
		if len(out) == 32 {
			return nil, fieldErrorf(path, "more than 32 entries")
		}
		var item asn1.RawValue
		if b, err = asn1.Unmarshal(b, &item); err != nil {
			return nil, fieldErrorf(path, "entry %d: invalid DER: %v", len(out), err)
		}
		if item.Class != asn1.ClassUniversal || item.Tag != asn1.TagSequence || !item.IsCompound {
			return nil, fieldErrorf(path, "entry %d: want a SEQUENCE, got class %d tag %d", len(out), item.Class, item.Tag)
		}
		var oid asn1.ObjectIdentifier
		inner, err := asn1.Unmarshal(item.Bytes, &oid)
		if err != nil {
			return nil, fieldErrorf(path, "entry %d: want an OBJECT IDENTIFIER: %v", len(out), err)
		}
		var val asn1.RawValue
		tail, err := asn1.Unmarshal(inner, &val)
		if err != nil {
			return nil, fieldErrorf(path, "entry %d (%s): invalid value: %v", len(out), oid, err)
		}
		if len(tail) != 0 {
			return nil, fieldErrorf(path, "entry %d (%s): want 2 elements, got more", len(out), oid)
		}
		if len(oid) != len(parent)+1 || !slices.Equal(oid[:len(parent)], parent) {
			return nil, fieldErrorf(path, "entry %d: unexpected OID %s (want %s.N)", len(out), oid, parent)
		}
		id := oid[len(parent)]
		for _, prev := range out {
			if prev.id == id {
				return nil, fieldErrorf(path, "duplicate entry %s", oid)
			}
		}
		out = append(out, oidEntry{oid: oid, id: id, value: val.FullBytes})
	}
	return out, nil
}

// octets reads an OCTET STRING of exactly len(dst) bytes.
func octets(der []byte, path string, dst []byte) error {
	var v asn1.RawValue
	if _, err := asn1.Unmarshal(der, &v); err != nil {
		return fieldErrorf(path, "invalid DER: %v", err)
	}
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagOctetString || v.IsCompound {
		return fieldErrorf(path, "want an OCTET STRING, got class %d tag %d", v.Class, v.Tag)
	}
	if len(v.Bytes) != len(dst) {
		return fieldErrorf(path, "want %d bytes, got %d", len(dst), len(v.Bytes))
	}
	copy(dst, v.Bytes)
	return nil
}

// integer reads an INTEGER in 0..max.
func integer(der []byte, path string, max int64) (int64, error) {
	var n int64
	if err := unmarshalExact(der, &n, asn1.TagInteger, path); err != nil {
		return 0, err
	}
	if n < 0 || n > max {
		return 0, fieldErrorf(path, "want 0..%d, got %d", max, n)
	}
	return n, nil
}

// unmarshalExact decodes der (one complete element with the given universal
// tag) into dst; encoding/asn1 enforces minimal INTEGER and DER BOOLEAN
// encodings.
func unmarshalExact(der []byte, dst any, tag int, path string) error {
	var raw asn1.RawValue
	if _, err := asn1.Unmarshal(der, &raw); err != nil {
		return fieldErrorf(path, "invalid DER: %v", err)
	}
	if raw.Class != asn1.ClassUniversal || raw.Tag != tag || raw.IsCompound {
		return fieldErrorf(path, "want universal tag %d, got class %d tag %d", tag, raw.Class, raw.Tag)
	}
	if _, err := asn1.Unmarshal(der, dst); err != nil {
		return fieldErrorf(path, "invalid value: %v", err)
	}
	return nil
}

// marshal encodes the extensions as the DER value of OIDSGXExtensions, in
// the entry order Intel uses. parsePCKExtensionsDER(e.marshal()) yields e.
func (e *PCKExtensions) marshal() ([]byte, error) {
	type entry struct {
		OID   asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	sub := func(parent asn1.ObjectIdentifier, id int) asn1.ObjectIdentifier {
		return append(slices.Clone(parent), id)
	}
	mk := func(parent asn1.ObjectIdentifier, id int, v any) (entry, error) {
		der, err := asn1.Marshal(v)
		if err != nil {
			return entry{}, err
		}
		return entry{OID: sub(parent, id), Value: asn1.RawValue{FullBytes: der}}, nil
	}
	seq := func(entries []entry) (asn1.RawValue, error) {
		der, err := asn1.Marshal(entries)
		return asn1.RawValue{FullBytes: der}, err
	}
	var all []entry
	add := func(en entry, err error) error {
		if err != nil {
			return err
		}
		all = append(all, en)
		return nil
	}

	tcbOID := sub(OIDSGXExtensions, sgxTCB)
	var tcb []entry
	for i, c := range e.TCB.CompSVN {
		en, err := mk(tcbOID, i+1, int(c))
		if err != nil {
			return nil, err
		}
		tcb = append(tcb, en)
	}
	for _, x := range []struct {
		id int
		v  any
	}{{tcbPCESVN, int(e.TCB.PCESVN)}, {tcbCPUSVN, e.TCB.CPUSVN[:]}} {
		en, err := mk(tcbOID, x.id, x.v)
		if err != nil {
			return nil, err
		}
		tcb = append(tcb, en)
	}
	tcbSeq, err := seq(tcb)
	if err != nil {
		return nil, err
	}

	if err := add(mk(OIDSGXExtensions, sgxPPID, e.PPID[:])); err != nil {
		return nil, err
	}
	all = append(all, entry{OID: tcbOID, Value: tcbSeq})
	if err := add(mk(OIDSGXExtensions, sgxPCEID, e.PCEID[:])); err != nil {
		return nil, err
	}
	if err := add(mk(OIDSGXExtensions, sgxFMSPC, e.FMSPC[:])); err != nil {
		return nil, err
	}
	if err := add(mk(OIDSGXExtensions, sgxType, asn1.Enumerated(e.SGXType))); err != nil {
		return nil, err
	}
	if e.PlatformInstanceID != nil {
		if err := add(mk(OIDSGXExtensions, sgxPlatformInstanceID, e.PlatformInstanceID[:])); err != nil {
			return nil, err
		}
	}
	if c := e.Configuration; c != nil {
		cfgOID := sub(OIDSGXExtensions, sgxConfiguration)
		var cfg []entry
		for _, x := range []struct {
			id int
			v  bool
		}{{cfgDynamicPlatform, c.DynamicPlatform}, {cfgCachedKeys, c.CachedKeys}, {cfgSMTEnabled, c.SMTEnabled}} {
			en, err := mk(cfgOID, x.id, x.v)
			if err != nil {
				return nil, err
			}
			cfg = append(cfg, en)
		}
		cfgSeq, err := seq(cfg)
		if err != nil {
			return nil, err
		}
		all = append(all, entry{OID: cfgOID, Value: cfgSeq})
	}
	return asn1.Marshal(all)
}

// CA names an Intel SGX PCK intermediate CA, spelled as the PCS "ca" query
// parameter.
type CA string

// The two PCK CAs.
const (
	CAProcessor CA = "processor" // CN "Intel SGX PCK Processor CA"
	CAPlatform  CA = "platform"  // CN "Intel SGX PCK Platform CA"
)

// Common names of the Intel SGX PKI.
const (
	cnRootCA      = "Intel SGX Root CA"
	cnProcessorCA = "Intel SGX PCK Processor CA"
	cnPlatformCA  = "Intel SGX PCK Platform CA"
	cnPCK         = "Intel SGX PCK Certificate"
	cnTCBSigning  = "Intel SGX TCB Signing"
)

// CAType returns which PCK CA issued a PCK certificate, from the issuer's
// common name, which must be exactly one of the two PCK CA names.
func CAType(cert *x509.Certificate) (CA, error) {
	if cert == nil {
		return "", fmt.Errorf("pcs: CA type: nil certificate")
	}
	// Matched by the distinctive end of the name so that test PKIs, which
	// must not call themselves Intel, are classified the same way.
	switch cn := cert.Issuer.CommonName; {
	case strings.HasSuffix(cn, "PCK Processor CA"):
		return CAProcessor, nil
	case strings.HasSuffix(cn, "PCK Platform CA"):
		return CAPlatform, nil
	default:
		return "", fieldErrorf("pck.issuer", "want CN %q or %q, got %q", cnProcessorCA, cnPlatformCA, cn)
	}
}
