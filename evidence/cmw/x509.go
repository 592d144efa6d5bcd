package cmw

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// OIDExtension is id-pe-cmw, the X.509 extension that carries a CMW in
// certificates, CRLs and CSRs. Its extnValue is the DER encoding of
//
//	CMW ::= CHOICE { json UTF8String, cbor OCTET STRING }
//
// (The TCG DICE extension 2.23.133.5.4.9 wraps CMWs differently and is not
// handled here.)
var OIDExtension = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 35}

// maxExtensionSize bounds extnValue: the largest CMW plus a DER header.
const maxExtensionSize = maxSize + 8

// EncodeExtension returns the id-pe-cmw extnValue for c: an OCTET STRING
// holding [CMW.MarshalCBOR] if c.Format is CBOR, or a UTF8String holding
// [CMW.MarshalJSON] if it is JSON.
func EncodeExtension(c *CMW) ([]byte, error) {
	if c == nil {
		return nil, malformed("CMW", "non-nil", "nil")
	}
	switch c.Format {
	case FormatCBOR:
		b, err := c.MarshalCBOR()
		if err != nil {
			return nil, err
		}
		return asn1.Marshal(b)
	case FormatJSON:
		b, err := c.MarshalJSON()
		if err != nil {
			return nil, err
		}
		// Without the "utf8" parameter encoding/asn1 would pick
		// PrintableString for ASCII text.
		return asn1.MarshalWithParams(string(b), "utf8")
	}
	return nil, malformed("format", "CBOR or JSON", c.Format)
}

// NewExtension returns a non-critical id-pe-cmw extension carrying c, as the
// draft recommends ("SHOULD NOT be marked critical"), ready for
// x509.Certificate.ExtraExtensions.
func NewExtension(c *CMW) (pkix.Extension, error) {
	v, err := EncodeExtension(c)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: OIDExtension, Value: v}, nil
}

// ParseExtension parses an id-pe-cmw extnValue: exactly one DER OCTET
// STRING (parsed with [ParseCBOR]) or UTF8String (parsed with [ParseJSON]).
func ParseExtension(der []byte) (*CMW, error) {
	if len(der) == 0 {
		return nil, malformed("extension", "DER CMW CHOICE", "empty input")
	}
	if len(der) > maxExtensionSize {
		return nil, limitErr("extension", fmt.Sprintf("at most %d bytes", maxExtensionSize), len(der))
	}
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil {
		return nil, &FormatError{Pkg: errPkg, Field: "extension", Want: "DER OCTET STRING or UTF8String", Got: err.Error(), Kind: ErrMalformed, Cause: err}
	}
	if len(rest) != 0 {
		return nil, malformed("extension", "exactly one DER value", fmt.Sprintf("%d trailing bytes", len(rest)))
	}
	if v.Class != asn1.ClassUniversal || v.IsCompound {
		return nil, malformed("extension CHOICE", "primitive universal OCTET STRING (cbor) or UTF8String (json)", fmt.Sprintf("class %d tag %d compound %v", v.Class, v.Tag, v.IsCompound))
	}
	switch v.Tag {
	case asn1.TagOctetString:
		return ParseCBOR(v.Bytes)
	case asn1.TagUTF8String:
		return ParseJSON(v.Bytes)
	}
	return nil, malformed("extension CHOICE", "OCTET STRING (cbor, tag 4) or UTF8String (json, tag 12)", fmt.Sprintf("universal tag %d", v.Tag))
}
