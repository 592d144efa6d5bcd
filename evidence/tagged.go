package evidence

import (
	"bytes"
	"encoding/asn1"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// ParseTagged decodes tagged-CBOR evidence: tag([bstr evidence, bstr
// claims-buffer]) for Intel, SEV-SNP, SEV and CSV tags, or a whole Arm CCA
// token collection (tags 399 and 907). The evidence inside is parsed too.
func ParseTagged(b []byte) (*Item, error) {
	if len(b) > MaxExtensionSize {
		return nil, fmt.Errorf("evidence: %d bytes exceeds the limit of %d", len(b), MaxExtensionSize)
	}
	num, content, err := decodeTag(b, "evidence")
	if err != nil {
		return nil, err
	}
	info, ok := LookupTag(num)
	if !ok {
		return nil, unknownTagError(num)
	}
	it := &Item{Format: FormatInterop, Tag: num}
	if info.Legacy {
		it.Format = FormatRatsTLSLegacy
	}
	if info.Form == FormToken {
		if err := it.parsePayload(info.Kind, bytes.Clone(b)); err != nil {
			return nil, err
		}
		return it, nil
	}
	what := fmt.Sprintf("evidence tag %d", num)
	items, err := decodeArray(content, what)
	if err != nil {
		return nil, err
	}
	if len(items) != 2 {
		return nil, fmt.Errorf("%s: want [evidence, claims-buffer], got an array of %d elements", what, len(items))
	}
	data, err := decodeBytes(items[0], what+": evidence")
	if err != nil {
		return nil, err
	}
	claimsRaw, err := decodeBytes(items[1], what+": claims-buffer")
	if err != nil {
		return nil, err
	}
	if it.Claims, err = ParseClaims(claimsRaw); err != nil {
		return nil, err
	}
	if err := it.parsePayload(info.Kind, data); err != nil {
		return nil, err
	}
	if info.TEE != "" && it.TEE != info.TEE {
		return nil, fmt.Errorf("%s: want %s evidence, got %s", what, info.TEE, it.TEE)
	}
	return it, nil
}

// EncodeTagged encodes evidence and a claims buffer in the Interoperable
// RA-TLS layout tag([bstr evidence, bstr claims]) with definite lengths.
func EncodeTagged(tag uint64, evidence, claims []byte) ([]byte, error) {
	info, ok := LookupTag(tag)
	if !ok {
		return nil, unknownTagError(tag)
	}
	if info.Form != FormEvidenceClaims {
		return nil, fmt.Errorf("evidence: tag %d (%s) does not take a claims buffer", tag, info.Name)
	}
	return encMode.Marshal(cbor.Tag{Number: tag, Content: [][]byte{nonNil(evidence), nonNil(claims)}})
}

// unwrapExtensionValue returns the CBOR inside an evidence extension value.
// Deployed peers put raw tagged CBOR in the extnValue; the TCG ASN.1 wraps it
// as SEQUENCE { OCTET STRING }, and some tools as a bare OCTET STRING. All
// three are accepted.
func unwrapExtensionValue(v []byte) ([]byte, error) {
	if len(v) > MaxExtensionSize {
		return nil, fmt.Errorf("extension value of %d bytes exceeds the limit of %d", len(v), MaxExtensionSize)
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("extension value is empty")
	}
	switch v[0] {
	case 0x04: // DER OCTET STRING
		var inner []byte
		rest, err := asn1.Unmarshal(v, &inner)
		if err != nil {
			return nil, fmt.Errorf("OCTET STRING wrapper: %w", err)
		}
		if len(rest) != 0 {
			return nil, fmt.Errorf("OCTET STRING wrapper: %d trailing bytes", len(rest))
		}
		return inner, nil
	case 0x30: // DER SEQUENCE { cmw OCTET STRING }
		var seq struct{ CMW []byte }
		rest, err := asn1.Unmarshal(v, &seq)
		if err != nil {
			return nil, fmt.Errorf("SEQUENCE { OCTET STRING } wrapper: %w", err)
		}
		if len(rest) != 0 {
			return nil, fmt.Errorf("SEQUENCE wrapper: %d trailing bytes", len(rest))
		}
		return seq.CMW, nil
	}
	return v, nil
}
