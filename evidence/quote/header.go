package quote

import (
	"encoding/binary"
	"fmt"
)

// Quote header values.
const (
	TEETypeSGX uint32 = 0x00000000
	TEETypeTDX uint32 = 0x00000081

	// AttKeyTypeECDSAP256 is ECDSA-256-with-P-256, the only attestation key
	// type Intel's quoting enclaves produce.
	AttKeyTypeECDSAP256 uint16 = 2
	// AttKeyTypeECDSAP384 is ECDSA-384-with-P-384; named by Intel but not
	// supported by its libraries. Accepted in version 3 headers only.
	AttKeyTypeECDSAP384 uint16 = 3
)

// Quote versions accepted by [Parse].
const (
	Version3 uint16 = 3
	Version4 uint16 = 4
	Version5 uint16 = 5
)

// Sizes of the fixed-size structures, in bytes.
const (
	HeaderSize          = 48
	SGXReportBodySize   = 384  // sgx_report_body_t
	TDReportBody10Size  = 584  // sgx_report2_body_t (TDX 1.0)
	TDReportBody15Size  = 648  // sgx_report2_body_v1_5_t (TDX 1.5)
	SGXReportSize       = 432  // sgx_report_t
	Report2Size         = 1024 // sgx_report2_t / TDREPORT
	ECDSASignatureSize  = 64   // r||s
	ECDSAPublicKeySize  = 64   // X||Y
	v5BodyDescriptorLen = 6    // u16 body_type + u32 body_size

	// minQuoteSize is QVL's minimum quote length: header, SGX report body,
	// signature_data_len and the smallest version 3 signature data.
	minQuoteSize = HeaderSize + SGXReportBodySize + 4 +
		ECDSASignatureSize + ECDSAPublicKeySize + SGXReportBodySize + ECDSASignatureSize + 2 + 2 + 4
	// maxQuoteSize caps the input accepted by [Parse], trailing bytes
	// included. Real quotes are about 5 KiB.
	maxQuoteSize = 64 << 10
)

// intelQEVendorID is the QE vendor ID of Intel's quoting enclaves,
// 939A7233-F79C-4CA9-940A-0DB3957F0607.
var intelQEVendorID = [16]byte{
	0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
	0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
}

// Header is the 48-byte quote header shared by all versions.
type Header struct {
	Version    uint16
	AttKeyType uint16
	// TEEType is tee_type in versions 4 and 5. In version 3 these bytes are
	// att_key_data_0, which must be 0, so the TEE is SGX.
	TEEType uint32
	// QESVN holds bytes 8..10: qe_svn in version 3, reserved in versions 4
	// and 5 (QVL still reads it as qeSvn).
	QESVN uint16
	// PCESVN holds bytes 10..12: pce_svn in version 3, reserved in versions
	// 4 and 5.
	PCESVN     uint16
	QEVendorID [16]byte
	// UserData is QE-defined; Intel's QE puts its platform identifier in the
	// first 16 bytes.
	UserData [20]byte
}

// IsIntelQE reports whether the QE vendor ID is that of Intel's quoting
// enclaves. QVL rejects quotes from any other vendor.
func (h *Header) IsIntelQE() bool { return h.QEVendorID == intelQEVendorID }

// Marshal returns the 48-byte encoding of h.
func (h *Header) Marshal() []byte { return h.append(make([]byte, 0, HeaderSize)) }

func (h *Header) append(b []byte) []byte {
	b = appendU16(b, h.Version)
	b = appendU16(b, h.AttKeyType)
	b = appendU32(b, h.TEEType)
	b = appendU16(b, h.QESVN)
	b = appendU16(b, h.PCESVN)
	b = append(b, h.QEVendorID[:]...)
	return append(b, h.UserData[:]...)
}

// parseHeader decodes the first 48 bytes of b and checks the version, the
// attestation key type and the TEE type.
func parseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, truncatedErr("header", HeaderSize, len(b))
	}
	h.Version = binary.LittleEndian.Uint16(b[0:])
	h.AttKeyType = binary.LittleEndian.Uint16(b[2:])
	h.TEEType = binary.LittleEndian.Uint32(b[4:])
	h.QESVN = binary.LittleEndian.Uint16(b[8:])
	h.PCESVN = binary.LittleEndian.Uint16(b[10:])
	copy(h.QEVendorID[:], b[12:28])
	copy(h.UserData[:], b[28:48])

	switch h.Version {
	case Version3:
		if h.AttKeyType != AttKeyTypeECDSAP256 && h.AttKeyType != AttKeyTypeECDSAP384 {
			return h, formatErr(ErrUnsupported, "header att_key_type (version 3)",
				"2 (ECDSA P-256) or 3 (ECDSA P-384)", attKeyTypeName(h.AttKeyType))
		}
		if h.TEEType != TEETypeSGX {
			return h, formatErr(ErrUnsupported, "header att_key_data_0 (version 3 is SGX only)",
				"0x00000000", fmt.Sprintf("0x%08x", h.TEEType))
		}
	case Version4, Version5:
		if h.AttKeyType != AttKeyTypeECDSAP256 {
			return h, formatErr(ErrUnsupported, fmt.Sprintf("header att_key_type (version %d)", h.Version),
				"2 (ECDSA P-256)", attKeyTypeName(h.AttKeyType))
		}
		if h.TEEType != TEETypeSGX && h.TEEType != TEETypeTDX {
			return h, formatErr(ErrUnsupported, "header tee_type",
				"0x00000000 (SGX) or 0x00000081 (TDX)", fmt.Sprintf("0x%08x", h.TEEType))
		}
	default:
		got := fmt.Sprint(h.Version)
		if h.Version == 1 || h.Version == 2 {
			got += " (EPID quotes are not supported)"
		}
		return h, formatErr(ErrUnsupported, "header version", "3, 4 or 5", got)
	}
	return h, nil
}

func attKeyTypeName(t uint16) string {
	switch t {
	case 0:
		return "0 (EPID)"
	case 1:
		return "1 (reserved)"
	case AttKeyTypeECDSAP384:
		return "3 (ECDSA P-384)"
	}
	return fmt.Sprint(t)
}
