package evidence

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Endorsements is the Interoperable RA-TLS endorsements extension
// (2.23.133.5.4.2) for Intel SGX/TDX: the collateral a verifier needs,
// carried in the certificate so it can verify offline.
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
	if tag != TagIntelQuote {
		return nil, fmt.Errorf("endorsements: CBOR tag: want %d (Intel SGX/TDX collateral), got %d", TagIntelQuote, tag)
	}
	items, err := decodeArray(content, "endorsements")
	if err != nil {
		return nil, err
	}
	if len(items) != 8 && len(items) != 9 {
		return nil, fmt.Errorf("endorsements: want 8 or 9 array elements, got %d", len(items))
	}
	e := &Endorsements{Tag: tag}
	if len(items[0]) == 0 || items[0][0]>>5 != majorUint {
		return nil, fmt.Errorf("endorsements: VERSION: want an unsigned integer, got %s", cborMajor(items[0]))
	}
	if err := decMode.Unmarshal(items[0], &e.Version); err != nil {
		return nil, fmt.Errorf("endorsements: VERSION: %w", err)
	}
	e.VersionWidth = uintWidth(items[0][0])
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

// Marshal encodes the endorsements as tagged CBOR. VERSION is written as a
// 4-byte-wide unsigned integer (1a xx xx xx xx) because rats-tls and librats
// reject any other width.
func (e *Endorsements) Marshal() ([]byte, error) {
	if e.Version > 0xffffffff {
		return nil, fmt.Errorf("endorsements: VERSION %d does not fit the 4-byte encoding peers require", e.Version)
	}
	var buf bytes.Buffer
	buf.Write([]byte{0xd9, 0xea, 0x60}) // tag(60000)
	n := 8
	if e.CreationDateTime != nil {
		n = 9
	}
	buf.WriteByte(byte(majorArray<<5 | n))
	buf.WriteByte(majorUint<<5 | 26)
	buf.Write(binary.BigEndian.AppendUint32(nil, uint32(e.Version)))
	for _, v := range [][]byte{e.TCBInfo, e.TCBInfoIssuerChain, e.PCKCRL, e.RootCACRL, e.PCKCRLIssuerChain, e.QEIdentity, e.QEIdentityIssuerChain} {
		b, err := encMode.Marshal(nonNil(v))
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	if e.CreationDateTime != nil {
		b, err := encMode.Marshal(e.CreationDateTime)
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
