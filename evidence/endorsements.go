package evidence

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/ratls/ratls/evidence/snp"
)

// Endorsements is the RA-TLS endorsements extension (2.23.133.5.4.2): what
// a verifier needs besides the evidence, carried in the certificate so it
// can verify offline. For Intel SGX/TDX it is the Interoperable RA-TLS
// collateral array below; for AMD SEV-SNP, the certificates in SNP.
//
//	60000([VERSION, TCB_INFO, TCB_ISSUER_CHAIN, CRL_PCK_CERT, CRL_PCK_PROC_CA,
//	       CRL_ISSUER_CHAIN_PCK_CERT, QE_ID_INFO, QE_ID_ISSUER_CHAIN, ?CREATION_DATETIME])
//
// The values are kept byte for byte (rats-tls includes C string terminators);
// the collateral layer interprets them.
type Endorsements struct {
	Tag     uint64
	Version uint64
	// VersionWidth is the byte width VERSION was encoded with on input
	// (0 for a value in the initial byte, else 1, 2, 4 or 8).
	VersionWidth int

	TCBInfo               []byte // TCB Info JSON
	TCBInfoIssuerChain    []byte // PEM chain that signed the TCB Info
	PCKCRL                []byte // CRL_PCK_CERT: CRL issued by the PCK Processor/Platform CA
	RootCACRL             []byte // CRL_PCK_PROC_CA: CRL issued by the Intel SGX Root CA
	PCKCRLIssuerChain     []byte // CRL_ISSUER_CHAIN_PCK_CERT
	QEIdentity            []byte // QE Identity JSON
	QEIdentityIssuerChain []byte
	CreationDateTime      []byte // optional; nil when absent

	// Empty is set for an extension with a zero-length value, which rats-rs
	// emits when it has no endorsements. All other fields are then zero.
	Empty bool

	// SNP is set instead of the Intel fields when the endorsements are for
	// AMD SEV-SNP evidence (Tag TagSEVSNP).
	SNP *SNPEndorsements
}

// SNPEndorsements carry the certificates that endorse a SEV-SNP report, so
// that verifiers need not ask AMD's KDS:
//
//	0x1a7504([VERSION, bstr VCEK-or-VLEK, bstr ASK-or-ASVK, bstr ARK, ? bstr CRL])
//
// Certificates and the CRL are DER; an empty byte string means "not
// carried" (verifiers then use their own copy of AMD's roots).
type SNPEndorsements struct {
	Leaf, Intermediate, Root []byte
	CRL                      []byte // nil when absent
}

// SNPEndorsementsFromCertTable reads the certificate table a SEV-SNP host
// attaches to an extended report (configfs-tsm's auxblob) as endorsements:
// the VCEK, or else the VLEK, with the ASK (or ASVK), the ARK and the CRL
// the host supplied. It returns nil when the table has neither VCEK nor
// VLEK.
func SNPEndorsementsFromCertTable(table []byte) (*SNPEndorsements, error) {
	t, err := snp.ParseCertTable(table)
	if err != nil {
		return nil, err
	}
	leaf := t.Leaf()
	if leaf == nil {
		return nil, nil
	}
	return &SNPEndorsements{Leaf: leaf, Intermediate: t.ASK, Root: t.ARK, CRL: t.CRL}, nil
}

// EndorsementsVersion is the VERSION this package emits.
const EndorsementsVersion = 1

// ParseEndorsements decodes an endorsements extension value. It accepts the
// raw tagged CBOR and the DER OCTET STRING / SEQUENCE wrappers, like
// ParseTagged, and an empty value (see Endorsements.Empty).
func ParseEndorsements(value []byte) (*Endorsements, error) {
	if len(value) == 0 {
		return &Endorsements{Empty: true}, nil
	}
	inner, err := unwrapExtensionValue(value)
	if err != nil {
		return nil, fmt.Errorf("endorsements: %w", err)
	}
	tag, content, err := decodeTag(inner, "endorsements")
	if err != nil {
		return nil, err
	}
	if tag != TagIntelQuote && tag != TagSEVSNP {
		return nil, fmt.Errorf("endorsements: CBOR tag: want %d (Intel SGX/TDX collateral) or %d (SEV-SNP certificates), got %d", TagIntelQuote, TagSEVSNP, tag)
	}
	items, err := decodeArray(content, "endorsements")
	if err != nil {
		return nil, err
	}
	if tag == TagSEVSNP {
		return parseSNPEndorsements(items)
	}
	if len(items) != 8 && len(items) != 9 {
		return nil, fmt.Errorf("endorsements: want 8 or 9 array elements, got %d", len(items))
	}
	e := &Endorsements{Tag: tag}
	if err := e.parseVersion(items[0]); err != nil {
		return nil, err
	}
	fields := []struct {
		dst  *[]byte
		name string
	}{
		{&e.TCBInfo, "TCB_INFO"},
		{&e.TCBInfoIssuerChain, "TCB_ISSUER_CHAIN"},
		{&e.PCKCRL, "CRL_PCK_CERT"},
		{&e.RootCACRL, "CRL_PCK_PROC_CA"},
		{&e.PCKCRLIssuerChain, "CRL_ISSUER_CHAIN_PCK_CERT"},
		{&e.QEIdentity, "QE_ID_INFO"},
		{&e.QEIdentityIssuerChain, "QE_ID_ISSUER_CHAIN"},
		{&e.CreationDateTime, "CREATION_DATETIME"},
	}
	for i, raw := range items[1:] {
		v, err := decodeBytes(raw, "endorsements: "+fields[i].name)
		if err != nil {
			return nil, err
		}
		*fields[i].dst = v
	}
	return e, nil
}

func parseSNPEndorsements(items []cbor.RawMessage) (*Endorsements, error) {
	if len(items) != 4 && len(items) != 5 {
		return nil, fmt.Errorf("endorsements: SEV-SNP: want 4 or 5 array elements, got %d", len(items))
	}
	e := &Endorsements{Tag: TagSEVSNP, SNP: &SNPEndorsements{}}
	if err := e.parseVersion(items[0]); err != nil {
		return nil, err
	}
	fields := []struct {
		dst  *[]byte
		name string
	}{{&e.SNP.Leaf, "VCEK/VLEK"}, {&e.SNP.Intermediate, "ASK/ASVK"}, {&e.SNP.Root, "ARK"}, {&e.SNP.CRL, "CRL"}}
	for i, raw := range items[1:] {
		v, err := decodeBytes(raw, "endorsements: SEV-SNP "+fields[i].name)
		if err != nil {
			return nil, err
		}
		*fields[i].dst = v
	}
	if len(e.SNP.Leaf) == 0 {
		return nil, fmt.Errorf("endorsements: SEV-SNP: the VCEK/VLEK certificate is empty")
	}
	return e, nil
}

// uintWidth returns the number of argument bytes following a CBOR initial
// byte of major type 0.
func uintWidth(initial byte) int {
	switch ai := initial & 0x1f; {
	case ai < 24:
		return 0
	case ai == 24:
		return 1
	case ai == 25:
		return 2
	case ai == 26:
		return 4
	default:
		return 8
	}
}

// parseVersion reads VERSION and the width it was encoded with.
func (e *Endorsements) parseVersion(raw cbor.RawMessage) error {
	if len(raw) == 0 || raw[0]>>5 != majorUint {
		return fmt.Errorf("endorsements: VERSION: want an unsigned integer, got %s", cborMajor(raw))
	}
	if err := decMode.Unmarshal(raw, &e.Version); err != nil {
		return fmt.Errorf("endorsements: VERSION: %w", err)
	}
	e.VersionWidth = uintWidth(raw[0])
	return nil
}

// Marshal encodes the endorsements as tagged CBOR. VERSION is written as a
// 4-byte-wide unsigned integer (1a xx xx xx xx) because rats-tls and librats
// reject any other width.
func (e *Endorsements) Marshal() ([]byte, error) {
	if e.Version > 0xffffffff {
		return nil, fmt.Errorf("endorsements: VERSION %d does not fit the 4-byte encoding peers require", e.Version)
	}
	var buf bytes.Buffer
	values := [][]byte{e.TCBInfo, e.TCBInfoIssuerChain, e.PCKCRL, e.RootCACRL, e.PCKCRLIssuerChain, e.QEIdentity, e.QEIdentityIssuerChain}
	if e.CreationDateTime != nil {
		values = append(values, e.CreationDateTime)
	}
	if s := e.SNP; s != nil {
		buf.Write([]byte{0xda, 0x00, 0x1a, 0x75, 0x04}) // tag(0x1a7504)
		values = [][]byte{s.Leaf, s.Intermediate, s.Root}
		if s.CRL != nil {
			values = append(values, s.CRL)
		}
	} else {
		buf.Write([]byte{0xd9, 0xea, 0x60}) // tag(60000)
	}
	buf.WriteByte(byte(majorArray<<5 | (len(values) + 1)))
	buf.WriteByte(majorUint<<5 | 26)
	buf.Write(binary.BigEndian.AppendUint32(nil, uint32(e.Version)))
	for _, v := range values {
		b, err := encMode.Marshal(nonNil(v))
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// nonNil makes the encoder write an empty byte string rather than null.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
