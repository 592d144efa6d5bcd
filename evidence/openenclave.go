package evidence

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Open Enclave containers (include/openenclave/internal/report.h and
// common/attest_plugin.h of the Open Enclave SDK). All integers are
// little-endian; sizes follow the C structs' natural alignment.
const (
	// oe_report_header_t: u32 version, u32 report_type, u64 report_size.
	oeReportHeaderSize    = 16
	oeReportHeaderVersion = 1
	oeReportTypeSGXRemote = 2
	// oe_attestation_header_t: u32 version, 16-byte format UUID, 4 bytes of
	// padding, u64 data_size.
	oeAttestationHeaderSize    = 32
	oeAttestationHeaderVersion = 3
)

// oeFormatSGXECDSA is OE_FORMAT_UUID_SGX_ECDSA (a3a21e87-1b4d-4014-b70a-a125d2fbcd8c).
var oeFormatSGXECDSA = []byte{0xa3, 0xa2, 0x1e, 0x87, 0x1b, 0x4d, 0x40, 0x14, 0xb7, 0x0a, 0xa1, 0x25, 0xd2, 0xfb, 0xcd, 0x8c}

// parseOEReport reads an Open Enclave / EGo remote report: an
// oe_report_header_t followed by exactly report_size bytes of DCAP quote.
func parseOEReport(v []byte) ([]*Item, error) {
	if len(v) < oeReportHeaderSize {
		return nil, fmt.Errorf("openenclave report: want at least a %d-byte header, got %d bytes", oeReportHeaderSize, len(v))
	}
	if ver := binary.LittleEndian.Uint32(v[0:]); ver != oeReportHeaderVersion {
		return nil, fmt.Errorf("openenclave report: header version: want %d, got %d", oeReportHeaderVersion, ver)
	}
	if typ := binary.LittleEndian.Uint32(v[4:]); typ != oeReportTypeSGXRemote {
		return nil, fmt.Errorf("openenclave report: report_type: want %d (SGX remote), got %d", oeReportTypeSGXRemote, typ)
	}
	size := binary.LittleEndian.Uint64(v[8:])
	if body := uint64(len(v) - oeReportHeaderSize); size != body {
		return nil, fmt.Errorf("openenclave report: report_size says %d bytes, %d follow the header", size, body)
	}
	it := &Item{Format: FormatOpenEnclave}
	if err := it.parsePayload(KindIntelQuote, bytes.Clone(v[oeReportHeaderSize:])); err != nil {
		return nil, err
	}
	return []*Item{it}, nil
}

// parseOEEvidence reads Open Enclave evidence with an embedded format ID:
// oe_attestation_header_t, then data_size bytes of SGX ECDSA evidence
// (a DCAP quote followed by the custom-claims buffer whose SHA-256 is the
// quote's report_data).
func parseOEEvidence(v []byte) ([]*Item, error) {
	if len(v) < oeAttestationHeaderSize {
		return nil, fmt.Errorf("openenclave evidence: want at least a %d-byte header, got %d bytes", oeAttestationHeaderSize, len(v))
	}
	if ver := binary.LittleEndian.Uint32(v[0:]); ver != oeAttestationHeaderVersion {
		return nil, fmt.Errorf("openenclave evidence: header version: want %d, got %d", oeAttestationHeaderVersion, ver)
	}
	format := v[4:20]
	if !bytes.Equal(format, oeFormatSGXECDSA) {
		return nil, fmt.Errorf("openenclave evidence: format id: want %x (SGX ECDSA), got %s", oeFormatSGXECDSA, hex.EncodeToString(format))
	}
	size := binary.LittleEndian.Uint64(v[24:])
	body := v[oeAttestationHeaderSize:]
	// Init-time claims may follow data_size bytes; the quote and custom
	// claims must fit inside data_size.
	if size > uint64(len(body)) {
		return nil, fmt.Errorf("openenclave evidence: data_size says %d bytes, only %d follow the header", size, len(body))
	}
	it := &Item{Format: FormatOpenEnclave, OEFormatID: bytes.Clone(format)}
	if err := it.parsePayload(KindIntelQuote, bytes.Clone(body[:size])); err != nil {
		return nil, err
	}
	// The quote parser leaves whatever follows its signature data in
	// Trailing: for OE evidence that is the custom-claims buffer.
	it.OECustomClaims = it.Quote.Trailing
	it.Quote.Trailing = nil
	it.Data = it.Quote.Raw
	return []*Item{it}, nil
}
