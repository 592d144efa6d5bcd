package cca

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"
)

// tagCOSESign1 is the CBOR tag of a COSE_Sign1_Tagged message (RFC 9052).
const tagCOSESign1 = 18

// COSE header label of the algorithm parameter (RFC 9052).
const headerLabelAlg = 1

// Sign1 is a COSE_Sign1 message split into its four parts, kept exactly as
// they appear in the token so that a verifier can rebuild the signed bytes.
type Sign1 struct {
	// Raw is the whole COSE_Sign1_Tagged message.
	Raw []byte
	// Protected is the serialized protected header: the contents of the
	// first array element's byte string.
	Protected []byte
	// Alg is the COSE algorithm from the protected header, e.g. -7 (ES256),
	// -35 (ES384) or -36 (ES512).
	Alg int64
	// Unprotected is the unprotected header map as raw CBOR.
	Unprotected cbor.RawMessage
	// Payload is the contents of the payload byte string: the CBOR claims map.
	Payload []byte
	// Signature is the contents of the signature byte string (for ECDSA the
	// fixed-size concatenation r || s).
	Signature []byte
}

// parseSign1 decodes a COSE_Sign1_Tagged message. The tag is required, the
// protected header must carry an integer alg, and the payload must be
// attached (not nil).
func parseSign1(raw []byte, field string) (*Sign1, error) {
	if err := expectMajor(raw, majorTag, field); err != nil {
		return nil, &Error{Pkg: "cca", Kind: ErrWrongTag, Field: field, Want: "COSE_Sign1 tag 18", Got: describe(raw)}
	}
	var tag cbor.RawTag
	if err := decMode.Unmarshal(raw, &tag); err != nil {
		return nil, cborError(field, err)
	}
	if tag.Number != tagCOSESign1 {
		return nil, &Error{Pkg: "cca", Kind: ErrWrongTag, Field: field, Want: "COSE_Sign1 tag 18", Got: fmt.Sprintf("tag %d", tag.Number)}
	}
	parts, err := decodeArray(tag.Content, field+": COSE_Sign1")
	if err != nil {
		return nil, err
	}
	if len(parts) != 4 {
		return nil, &Error{Pkg: "cca", Kind: ErrMalformed, Field: field + ": COSE_Sign1", Want: "array of 4 elements", Got: fmt.Sprintf("%d elements", len(parts))}
	}
	s := &Sign1{Raw: raw, Unprotected: parts[1]}
	if s.Protected, err = decodeBytes(parts[0], field+": protected header"); err != nil {
		return nil, err
	}
	if s.Alg, err = parseProtected(s.Protected, field+": protected header"); err != nil {
		return nil, err
	}
	// The unprotected header carries nothing CCA needs; check only that it
	// is a map with integer keys and no duplicates.
	if _, err := decodeIntMap(parts[1], field+": unprotected header"); err != nil {
		return nil, err
	}
	if len(parts[2]) == 1 && parts[2][0] == 0xf6 {
		return nil, &Error{Pkg: "cca", Kind: ErrMalformed, Field: field + ": payload", Want: "byte string", Got: "null (detached payload)"}
	}
	if s.Payload, err = decodeBytes(parts[2], field+": payload"); err != nil {
		return nil, err
	}
	if s.Signature, err = decodeBytes(parts[3], field+": signature"); err != nil {
		return nil, err
	}
	if len(s.Signature) == 0 {
		return nil, &Error{Pkg: "cca", Kind: ErrMalformed, Field: field + ": signature", Want: "non-empty byte string", Got: "empty"}
	}
	return s, nil
}

// parseProtected returns the alg parameter of a serialized protected header.
func parseProtected(b []byte, field string) (int64, error) {
	if len(b) == 0 {
		return 0, &Error{Pkg: "cca", Kind: ErrMissingClaim, Field: field, Want: "alg (label 1)", Got: "empty protected header"}
	}
	m, err := decodeIntMap(b, field)
	if err != nil {
		return 0, err
	}
	raw, ok := m[headerLabelAlg]
	if !ok {
		return 0, &Error{Pkg: "cca", Kind: ErrMissingClaim, Field: field, Want: "alg (label 1)", Got: "no alg"}
	}
	return decodeInt(raw, field+": alg")
}

// ToBeSigned returns the bytes the signature is computed over: the CBOR
// encoding of the Sig_structure ["Signature1", protected, external_aad,
// payload] of RFC 9052 section 4.4, with the empty external AAD that CCA
// tokens use.
func (s *Sign1) ToBeSigned() []byte {
	const context = "Signature1"
	out := make([]byte, 0, 1+1+len(context)+9+len(s.Protected)+1+9+len(s.Payload))
	out = append(out, 0x84) // array of 4
	out = appendHead(out, majorText, uint64(len(context)))
	out = append(out, context...)
	out = appendHead(out, majorBytes, uint64(len(s.Protected)))
	out = append(out, s.Protected...)
	out = append(out, 0x40) // empty external AAD
	out = appendHead(out, majorBytes, uint64(len(s.Payload)))
	return append(out, s.Payload...)
}

// appendHead appends the shortest CBOR head for the major type and argument.
func appendHead(out []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(out, m|byte(n))
	case n <= 0xff:
		return append(out, m|24, byte(n))
	case n <= 0xffff:
		return append(out, m|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(out, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
		byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// Message decodes Raw with github.com/veraison/go-cose, for callers that
// verify the signature with that package.
func (s *Sign1) Message() (*cose.Sign1Message, error) {
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(s.Raw); err != nil {
		return nil, err
	}
	return &m, nil
}
