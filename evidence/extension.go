package evidence

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
)

// Certificate extension OIDs that carry evidence or endorsements.
var (
	// OIDTaggedEvidence is tcg-dice-conceptual-message-wrapper (formerly
	// tcg-dice-tagged-evidence), the Interoperable RA-TLS evidence extension.
	OIDTaggedEvidence = asn1.ObjectIdentifier{2, 23, 133, 5, 4, 9}
	// OIDEndorsements is tcg-dice-endorsement-manifest, used by
	// Interoperable RA-TLS for SGX/TDX collateral.
	OIDEndorsements = asn1.ObjectIdentifier{2, 23, 133, 5, 4, 2}
	// OIDCMW is id-pe-cmw, the IETF extension for a CMW.
	OIDCMW = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 35}
	// OIDGramineLegacy is the sgx-ra-tls / Gramine "SGX quote" OID.
	OIDGramineLegacy = asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 6}
	// OIDGramineLegacyMisencoded is how Go decodes the OID Gramine actually
	// emits: its content bytes are the full DER of OIDGramineLegacy
	// (06 09 2a 86 48 86 f8 4d 8a 39 06), kept for backward compatibility.
	OIDGramineLegacyMisencoded = asn1.ObjectIdentifier{0, 6, 9, 42, 840, 113741, 1337, 6}
	// OIDIntelSDKLegacy carries a raw quote in Intel SGX SDK attested-TLS
	// certificates. It is also the OID of the SGX extensions in Intel PCK
	// certificates, whose value is a DER SEQUENCE and is not evidence.
	OIDIntelSDKLegacy = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	// Open Enclave and EGo extensions: a remote report (header + quote) or
	// evidence (attestation header + quote + custom claims), old and new arcs.
	OIDOEReportOld   = asn1.ObjectIdentifier{1, 2, 840, 113556, 10, 1, 1}
	OIDOEEvidenceOld = asn1.ObjectIdentifier{1, 2, 840, 113556, 10, 1, 2}
	OIDOEReport      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 105, 1}
	OIDOEEvidence    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 105, 2}
)

// CertificateEvidence is everything evidence-related found in one
// certificate.
type CertificateEvidence struct {
	// Items lists the evidence in certificate extension order.
	Items []*Item
	// Endorsements is the endorsements extension, nil when absent.
	Endorsements *Endorsements
}

// IsEvidenceExtension reports whether oid is one of the extensions this
// package reads evidence from.
func IsEvidenceExtension(oid asn1.ObjectIdentifier) bool {
	for _, o := range []asn1.ObjectIdentifier{OIDTaggedEvidence, OIDCMW, OIDGramineLegacy, OIDGramineLegacyMisencoded,
		OIDIntelSDKLegacy, OIDOEReportOld, OIDOEEvidenceOld, OIDOEReport, OIDOEEvidence} {
		if oid.Equal(o) {
			return true
		}
	}
	return false
}

// FromCertificate extracts and parses every evidence and endorsements
// extension of cert. Any malformed evidence extension is an error: a
// certificate that claims evidence it cannot back up is not readable.
// Evidence extensions must not be critical (Interoperable RA-TLS requires
// the flag cleared, and Gramine and OpenSSL-based peers reject it).
func FromCertificate(cert *x509.Certificate) (*CertificateEvidence, error) {
	ce := &CertificateEvidence{}
	for _, ext := range cert.Extensions {
		isEvidence := IsEvidenceExtension(ext.Id)
		if ext.Id.Equal(OIDIntelSDKLegacy) && len(ext.Value) > 0 && ext.Value[0] == 0x30 {
			continue // SGX extensions of an Intel PCK certificate, not evidence
		}
		if (isEvidence || ext.Id.Equal(OIDEndorsements)) && ext.Critical {
			return nil, fmt.Errorf("extension %s: marked critical; RA-TLS evidence extensions must be non-critical", ext.Id)
		}
		if len(ext.Value) > MaxExtensionSize {
			return nil, fmt.Errorf("extension %s: value of %d bytes exceeds the limit of %d", ext.Id, len(ext.Value), MaxExtensionSize)
		}
		var (
			items []*Item
			err   error
		)
		switch {
		case ext.Id.Equal(OIDEndorsements):
			ce.Endorsements, err = ParseEndorsements(ext.Value)
		case ext.Id.Equal(OIDTaggedEvidence):
			items, err = parseDICEExtension(ext.Value)
		case ext.Id.Equal(OIDCMW):
			items, err = parseCMWExtension(ext.Value)
		case ext.Id.Equal(OIDGramineLegacy), ext.Id.Equal(OIDGramineLegacyMisencoded):
			items, err = parseRawQuoteExtension(ext.Value, FormatGramineLegacy)
		case ext.Id.Equal(OIDIntelSDKLegacy):
			items, err = parseRawQuoteExtension(ext.Value, FormatIntelSDKLegacy)
		case ext.Id.Equal(OIDOEReport), ext.Id.Equal(OIDOEReportOld):
			items, err = parseOEReport(ext.Value)
		case ext.Id.Equal(OIDOEEvidence), ext.Id.Equal(OIDOEEvidenceOld):
			items, err = parseOEEvidence(ext.Value)
		}
		if err != nil {
			return nil, fmt.Errorf("extension %s: %w", ext.Id, err)
		}
		for _, it := range items {
			it.OID = ext.Id
		}
		ce.Items = append(ce.Items, items...)
	}
	ce.shareInteropClaims()
	return ce, nil
}

// shareInteropClaims lets an Intel SGX SDK legacy item use the claims of the
// interoperable item when both carry the identical quote, as the SDK emits:
// its legacy quote binds SHA-256(claims-buffer), not the key itself.
func (ce *CertificateEvidence) shareInteropClaims() {
	var interop *Item
	for _, it := range ce.Items {
		if it.Format == FormatInterop && it.Claims != nil {
			interop = it
			break
		}
	}
	if interop == nil {
		return
	}
	for _, it := range ce.Items {
		if it.Format == FormatIntelSDKLegacy && it.Claims == nil && bytes.Equal(it.Data, interop.Data) {
			it.Claims = interop.Claims
		}
	}
}

// parseDICEExtension reads the 2.23.133.5.4.9 extension: tagged CBOR
// evidence, or a CMW record or collection (TCG permits both).
func parseDICEExtension(v []byte) ([]*Item, error) {
	inner, err := unwrapExtensionValue(v)
	if err != nil {
		return nil, err
	}
	if len(inner) > 0 && inner[0]>>5 == majorTagged {
		num, _, err := decodeTag(inner, "evidence")
		if err != nil {
			return nil, err
		}
		if _, known := LookupTag(num); known || !isCMWTag(num) {
			it, err := ParseTagged(inner)
			if err != nil {
				return nil, err
			}
			return []*Item{it}, nil
		}
	}
	return parseCMWDepth(inner, 0)
}

// parseRawQuoteExtension reads a legacy extension holding a bare DCAP quote.
func parseRawQuoteExtension(v []byte, f Format) ([]*Item, error) {
	it := &Item{Format: f}
	if err := it.parsePayload(KindIntelQuote, bytes.Clone(v)); err != nil {
		return nil, err
	}
	return []*Item{it}, nil
}
