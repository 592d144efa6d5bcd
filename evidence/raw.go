package evidence

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/ratls/ratls/evidence/azure"
	"github.com/ratls/ratls/evidence/snp"
)

// Sizes of the fixed-size reports recognised by ParseRaw.
const (
	sgxReportSize = 432  // sgx_report_t
	report2Size   = 1024 // sgx_report2_t / TDREPORT
)

// maxRawSize bounds evidence handed to ParseRaw.
const maxRawSize = 1 << 20

// ParseRaw recognises and parses evidence that arrives without a
// certificate: a DCAP quote, an SGX report, a TDREPORT, a SEV-SNP report, an
// Arm CCA token, tagged-CBOR RA-TLS evidence, a CMW, or Trustee's evidence
// JSON (a TDX quote with its CC event log, Azure vTPM evidence). The input is binary;
// callers decode hex or base64 text first.
func ParseRaw(b []byte) ([]*Item, error) {
	return parseRaw(b, 0)
}

// parseRaw is ParseRaw for input found inside depth levels of CMW.
func parseRaw(b []byte, depth int) ([]*Item, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("evidence: empty input")
	}
	if len(b) > maxRawSize {
		return nil, fmt.Errorf("evidence: %d bytes exceeds the limit of %d", len(b), maxRawSize)
	}
	switch {
	case b[0]>>5 == majorTagged:
		num, _, err := decodeTag(b, "evidence")
		if err != nil {
			return nil, err
		}
		if num == coseSign1Tag {
			return rawItem(KindCCAPlatform, b)
		}
		if _, known := LookupTag(num); known || !isCMWTag(num) {
			it, err := ParseTagged(b)
			if err != nil {
				return nil, err
			}
			if it.Kind == KindCCAToken || it.Kind == KindCCAPlatform {
				it.Format = FormatRaw
			}
			return []*Item{it}, nil
		}
		return parseCMWDepth(b, depth)
	case azure.LooksLike(b):
		it := &Item{Format: FormatTrustee}
		if err := it.parsePayload(KindAzureVTPM, bytes.Clone(b)); err != nil {
			return nil, err
		}
		return []*Item{it}, nil
	case looksLikeTrusteeTDX(b):
		return parseTrusteeTDX(b)
	case looksLikeCMW(b):
		return parseCMWDepth(b, depth)
	case len(b) == snp.ReportSize && binary.LittleEndian.Uint16(b[2:]) == 0:
		// SNP reports start with a 32-bit version (2, 3, 5); quotes have a
		// non-zero attestation key type in bytes 2..4.
		return rawItem(KindSNPReport, b)
	case len(b) == sgxReportSize:
		return rawItem(KindSGXReport, b)
	case len(b) == report2Size:
		return rawItem(KindIntelReport, b)
	case len(b) >= 2 && isQuoteVersion(binary.LittleEndian.Uint16(b)):
		return rawItem(KindIntelQuote, b)
	}
	n := min(len(b), 8)
	return nil, fmt.Errorf("evidence: unrecognised %d-byte input starting %x: not a DCAP quote, SGX/TD report, SEV-SNP report, CCA token, tagged RA-TLS evidence or CMW", len(b), b[:n])
}

// coseSign1Tag is the CBOR tag of COSE_Sign1: an Arm CCA platform token on
// its own.
const coseSign1Tag = 18

func isQuoteVersion(v uint16) bool { return v == 3 || v == 4 || v == 5 }

func rawItem(kind Kind, b []byte) ([]*Item, error) {
	it := &Item{Format: FormatRaw}
	if err := it.parsePayload(kind, bytes.Clone(b)); err != nil {
		return nil, err
	}
	return []*Item{it}, nil
}
