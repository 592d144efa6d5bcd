package evidence

import (
	"encoding/asn1"
	"fmt"

	"github.com/ratls/ratls/evidence/azure"
	"github.com/ratls/ratls/evidence/cca"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/evidence/snp"
)

// Format names the container an Item was found in.
type Format string

// Evidence container formats.
const (
	FormatInterop        Format = "interop"          // 2.23.133.5.4.9 tagged CBOR (or any 6000x-tagged value)
	FormatGramineLegacy  Format = "gramine-legacy"   // 1.2.840.113741.1337.6 raw quote (and Gramine's mis-encoded OID)
	FormatIntelSDKLegacy Format = "intel-sdk-legacy" // 1.2.840.113741.1.13.1 raw quote
	FormatOpenEnclave    Format = "openenclave"      // Open Enclave / EGo report and evidence extensions
	FormatRatsTLSLegacy  Format = "rats-tls-legacy"  // rats-tls private tags 0x1a7501-0x1a7503 (before 2023)
	FormatCMW            Format = "cmw"              // IETF CMW (id-pe-cmw, or a CMW inside the DICE extension)
	FormatRaw            Format = "raw"              // evidence without a container
	FormatTrustee        Format = "trustee-json"     // Trustee's evidence JSON (TDX quote and CC event log, Azure vTPM)
)

// Item is one piece of TEE evidence found in a certificate extension or a
// raw input, with its container, its parsed form and its claims.
//
// Exactly one of Quote, SGXReport, Report2, SNP and CCA is set, except for
// kinds this package carries but does not parse (SEV, CSV, unsupported).
type Item struct {
	Format Format
	// OID is the certificate extension the item came from; nil for raw input.
	OID asn1.ObjectIdentifier
	// Tag is the CBOR tag that headed the evidence, 0 when untagged.
	Tag uint64
	// Path locates the item inside a CMW collection (labels from the root).
	Path []string
	// MediaType is the CMW record type, when the item came from a CMW.
	MediaType string

	Kind Kind
	TEE  TEE
	// Data holds the TEE evidence bytes: the quote, report or token itself.
	Data []byte
	// Claims is the Interoperable RA-TLS claims buffer; nil when the format
	// has none.
	Claims *Claims
	// OECustomClaims is the custom-claims buffer of Open Enclave evidence.
	OECustomClaims []byte
	// OEFormatID is the Open Enclave evidence format UUID, when present.
	OEFormatID []byte
	// Note explains a KindUnsupported item (what it was and why it was not
	// understood).
	Note string

	Quote     *quote.Quote
	SGXReport *quote.SGXReport
	Report2   *quote.Report2
	SNP       *snp.Report
	CCA       *cca.Token
	// Azure is the evidence of an Azure vTPM confidential VM.
	Azure *azure.Evidence

	// EventLog is the TCG event log that came with the evidence (a TDX
	// guest's CC event log), not yet replayed; nil when none came.
	EventLog []byte
}

// parsePayload parses data as evidence of the given kind and records the
// result and the TEE in it.
func (it *Item) parsePayload(kind Kind, data []byte) error {
	it.Kind, it.Data = kind, data
	var err error
	switch kind {
	case KindIntelQuote:
		if it.Quote, err = quote.Parse(data); err == nil {
			it.TEE = TEESGX
			if it.Quote.IsTDX() {
				it.TEE = TEETDX
			}
		}
	case KindIntelReport:
		if it.Report2, err = quote.ParseReport2(data); err == nil {
			it.TEE = TEESGX
			if it.Report2.IsTDX() {
				it.TEE = TEETDX
			}
		}
	case KindSGXReport:
		it.SGXReport, err = quote.ParseSGXReport(data)
		it.TEE = TEESGX
	case KindSNPReport:
		it.SNP, err = snp.ParseReport(data)
		it.TEE = TEESEVSNP
	case KindCCAToken, KindCCAPlatform:
		if it.CCA, err = cca.Parse(data); err == nil && it.CCA.Realm == nil {
			it.Kind = KindCCAPlatform
		}
		it.TEE = TEECCA
	case KindAzureVTPM:
		if it.Azure, err = azure.Parse(data); err == nil {
			it.TEE = TEE(it.Azure.TEE())
		}
	case KindSEVReport:
		it.TEE = TEESEV
	case KindCSVReport:
		it.TEE = TEECSV
	default:
		return fmt.Errorf("evidence: no parser for %s evidence", kind)
	}
	if err != nil {
		return fmt.Errorf("evidence: %s: %w", kind, err)
	}
	return nil
}

// ReportData returns the 64 bytes of user data the TEE signed with the
// evidence (report_data, or the realm challenge for Arm CCA), or nil when
// the evidence is not parsed.
func (it *Item) ReportData() []byte {
	switch {
	case it.Quote != nil:
		rd := it.Quote.ReportData()
		return rd[:]
	case it.SGXReport != nil:
		return it.SGXReport.Body.ReportData[:]
	case it.Report2 != nil:
		return it.Report2.ReportData[:]
	case it.SNP != nil:
		return it.SNP.ReportData[:]
	case it.CCA != nil && it.CCA.Realm != nil:
		return it.CCA.Realm.Claims.Challenge
	case it.Azure != nil:
		// The vTPM quote's extraData: the attester's nonce, which the
		// attestation key signed and the hardware report vouches for.
		return it.Azure.Quote.Nonce()
	}
	return nil
}

// Debug reports whether the evidence comes from a debuggable TEE, when the
// evidence says so.
func (it *Item) Debug() (debug, known bool) {
	switch {
	case it.Quote != nil:
		return it.Quote.Debug(), true
	case it.SGXReport != nil:
		return it.SGXReport.Body.Debug(), true
	case it.Report2 != nil && it.Report2.IsTDX():
		return it.Report2.TD.Debug(), true
	case it.SNP != nil:
		return it.SNP.Debug(), true
	case it.Azure != nil && it.Azure.HCL.SNP != nil:
		return it.Azure.HCL.SNP.Debug(), true
	case it.Azure != nil && it.Azure.HCL.TDReport != nil:
		return it.Azure.HCL.TDReport.TD.Debug(), true
	}
	return false, false
}
