package evidence

import "fmt"

// TEE names a trusted execution environment family.
type TEE string

// TEE families as they appear in results and JSON output.
const (
	TEESGX    TEE = "sgx"
	TEETDX    TEE = "tdx"
	TEESEVSNP TEE = "sev_snp"
	TEESEV    TEE = "sev"
	TEECSV    TEE = "csv"
	TEECCA    TEE = "cca"
)

// Kind says what the TEE evidence bytes of an Item are.
type Kind string

// Evidence kinds.
const (
	KindIntelQuote  Kind = "intel-quote"  // SGX/TDX DCAP quote v3/v4/v5
	KindIntelReport Kind = "intel-report" // TDREPORT / sgx_report2_t (1024 bytes)
	KindSGXReport   Kind = "sgx-report"   // legacy EREPORT sgx_report_t (432 bytes)
	KindSNPReport   Kind = "snp-report"   // SEV-SNP ATTESTATION_REPORT (1184 bytes)
	KindSEVReport   Kind = "sev-report"   // SEV (pre-SNP) report, carried but not parsed
	KindCSVReport   Kind = "csv-report"   // Hygon CSV report, carried but not parsed
	KindCCAToken    Kind = "cca-token"    // Arm CCA attestation token
	KindCCAPlatform Kind = "cca-platform" // Arm CCA platform token alone
	KindAzureVTPM   Kind = "azure-vtpm"   // Azure CVM vTPM evidence: HCL report, TPM quote, VCEK or TD quote
	KindUnsupported Kind = "unsupported"  // recognised container, payload not understood
)

// Form says how a tagged evidence value is laid out.
type Form int

const (
	// FormEvidenceClaims is the Interoperable RA-TLS layout:
	// tag([bstr evidence, bstr claims-buffer]).
	FormEvidenceClaims Form = iota
	// FormToken is a self-describing token that carries its own challenge
	// (the Arm CCA collections): the tag is part of the token.
	FormToken
)

// TagInfo describes one CBOR tag that may head evidence in an RA-TLS
// certificate extension.
type TagInfo struct {
	Number uint64
	Name   string // short stable name, used in output
	Kind   Kind   // what the evidence bytes are
	TEE    TEE    // empty when it depends on the evidence (60000: SGX or TDX)
	Form   Form
	// Legacy marks tags that current peers no longer emit (the rats-tls
	// private Intel tags used before 2023). Output format "rats-tls-legacy".
	Legacy bool
}

// CBOR tags used for evidence. 60000–60002 are IANA-registered; the
// 0x1a75xx tags are rats-tls private tags; 399 and 907 are the Arm CCA
// token collections (neither is IANA-registered).
const (
	TagIntelQuote       = 60000
	TagIntelReport      = 60001
	TagSGXReport        = 60002
	TagRatsTLSQuoteOld  = 0x1a7501
	TagRatsTLSReportOld = 0x1a7502
	TagRatsTLSSGXRepOld = 0x1a7503
	TagSEVSNP           = 0x1a7504
	TagSEV              = 0x1a7505
	TagCSV              = 0x1a7506
	TagCCAClaims        = 0x1a7507
	TagCCALegacy        = 399
	TagCCACollection    = 907
)

// tagRegistry lists every evidence tag this package understands. Adding a
// TEE format is one entry here plus a payload parser in parsePayload.
var tagRegistry = []TagInfo{
	{Number: TagIntelQuote, Name: "intel-tee-quote", Kind: KindIntelQuote, Form: FormEvidenceClaims},
	{Number: TagIntelReport, Name: "intel-tee-report", Kind: KindIntelReport, Form: FormEvidenceClaims},
	{Number: TagSGXReport, Name: "intel-sgx-report", Kind: KindSGXReport, TEE: TEESGX, Form: FormEvidenceClaims},
	{Number: TagRatsTLSQuoteOld, Name: "rats-tls-intel-quote-2022", Kind: KindIntelQuote, Form: FormEvidenceClaims, Legacy: true},
	{Number: TagRatsTLSReportOld, Name: "rats-tls-intel-report-2022", Kind: KindIntelReport, Form: FormEvidenceClaims, Legacy: true},
	{Number: TagRatsTLSSGXRepOld, Name: "rats-tls-sgx-report-2022", Kind: KindSGXReport, TEE: TEESGX, Form: FormEvidenceClaims, Legacy: true},
	{Number: TagSEVSNP, Name: "rats-tls-sev-snp", Kind: KindSNPReport, TEE: TEESEVSNP, Form: FormEvidenceClaims},
	{Number: TagSEV, Name: "rats-tls-sev", Kind: KindSEVReport, TEE: TEESEV, Form: FormEvidenceClaims},
	{Number: TagCSV, Name: "rats-tls-csv", Kind: KindCSVReport, TEE: TEECSV, Form: FormEvidenceClaims},
	// An Arm CCA token (tag 399 or 907 collection) with a claims buffer:
	// the realm challenge is SHA-256(claims-buffer) followed by 32 zero
	// bytes, as for the other TEEs. The tag continues the rats-tls private
	// range, as the openEuler CCA RA-TLS implementation does.
	{Number: TagCCAClaims, Name: "cca-token-claims", Kind: KindCCAToken, TEE: TEECCA, Form: FormEvidenceClaims},
	{Number: TagCCALegacy, Name: "cca-token-collection-399", Kind: KindCCAToken, TEE: TEECCA, Form: FormToken},
	{Number: TagCCACollection, Name: "cca-token-collection-907", Kind: KindCCAToken, TEE: TEECCA, Form: FormToken},
}

// LookupTag returns the registry entry for a CBOR tag number.
func LookupTag(n uint64) (TagInfo, bool) {
	for _, t := range tagRegistry {
		if t.Number == n {
			return t, true
		}
	}
	return TagInfo{}, false
}

// Tags returns a copy of the registry, for documentation and tooling.
func Tags() []TagInfo {
	return append([]TagInfo(nil), tagRegistry...)
}

func unknownTagError(n uint64) error {
	return fmt.Errorf("evidence: CBOR tag %d (%#x) is not a known evidence tag (want 60000, 60001, 60002, 0x1a7501-0x1a7507, 399 or 907)", n, n)
}
