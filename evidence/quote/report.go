package quote

import (
	"encoding/binary"
	"fmt"
)

// SGX enclave attribute flags (the low 64 bits of SGXReportBody.Attributes).
const (
	SGXAttrInitted       uint64 = 0x01
	SGXAttrDebug         uint64 = 0x02
	SGXAttrMode64Bit     uint64 = 0x04
	SGXAttrProvisionKey  uint64 = 0x10
	SGXAttrEInitTokenKey uint64 = 0x20
)

// TD attribute bits (Intel TDX module ABI, TDATTRIBUTES).
const (
	// TDAttrDebug is bit 0: the TD runs in debug mode.
	TDAttrDebug uint64 = 0x01
	// TDAttrSEPTVEDisable is bit 28: EPT violations on private memory do
	// not raise #VE in the guest, so the host cannot use them to steer it.
	TDAttrSEPTVEDisable uint64 = 1 << 28
)

// SGXReportBody is sgx_report_body_t (384 bytes). It is the enclave report
// in SGX quotes, the QE report in every quote, and the body of sgx_report_t.
// Field names follow the Intel SGX SDK, including the KSS fields.
type SGXReportBody struct {
	CPUSVN       [16]byte
	MiscSelect   uint32
	Reserved1    [12]byte
	ISVExtProdID [16]byte
	// Attributes is {u64 flags, u64 xfrm}, little-endian.
	Attributes  [16]byte
	MREnclave   [32]byte
	Reserved2   [32]byte
	MRSigner    [32]byte
	Reserved3   [32]byte
	ConfigID    [64]byte
	ISVProdID   uint16
	ISVSVN      uint16
	ConfigSVN   uint16
	Reserved4   [42]byte
	ISVFamilyID [16]byte
	ReportData  [64]byte
}

// ParseSGXReportBody decodes a 384-byte sgx_report_body_t.
func ParseSGXReportBody(b []byte) (*SGXReportBody, error) {
	if len(b) != SGXReportBodySize {
		return nil, sizeErr("SGX report body", SGXReportBodySize, len(b))
	}
	body := new(SGXReportBody)
	body.decode(b)
	return body, nil
}

// decode fills r from exactly SGXReportBodySize bytes.
func (r *SGXReportBody) decode(b []byte) {
	_ = b[SGXReportBodySize-1]
	copy(r.CPUSVN[:], b[0:16])
	r.MiscSelect = binary.LittleEndian.Uint32(b[16:])
	copy(r.Reserved1[:], b[20:32])
	copy(r.ISVExtProdID[:], b[32:48])
	copy(r.Attributes[:], b[48:64])
	copy(r.MREnclave[:], b[64:96])
	copy(r.Reserved2[:], b[96:128])
	copy(r.MRSigner[:], b[128:160])
	copy(r.Reserved3[:], b[160:192])
	copy(r.ConfigID[:], b[192:256])
	r.ISVProdID = binary.LittleEndian.Uint16(b[256:])
	r.ISVSVN = binary.LittleEndian.Uint16(b[258:])
	r.ConfigSVN = binary.LittleEndian.Uint16(b[260:])
	copy(r.Reserved4[:], b[262:304])
	copy(r.ISVFamilyID[:], b[304:320])
	copy(r.ReportData[:], b[320:384])
}

// Flags returns the attribute flags (SGXAttr* bits).
func (r *SGXReportBody) Flags() uint64 { return binary.LittleEndian.Uint64(r.Attributes[0:8]) }

// XFRM returns the attribute XFRM (extended features) mask.
func (r *SGXReportBody) XFRM() uint64 { return binary.LittleEndian.Uint64(r.Attributes[8:16]) }

// Debug reports whether the enclave is a debug enclave (attributes.flags
// has SGXAttrDebug set).
func (r *SGXReportBody) Debug() bool { return r.Flags()&SGXAttrDebug != 0 }

// Marshal returns the exact 384-byte encoding.
func (r *SGXReportBody) Marshal() []byte { return r.append(make([]byte, 0, SGXReportBodySize)) }

func (r *SGXReportBody) append(b []byte) []byte {
	b = append(b, r.CPUSVN[:]...)
	b = appendU32(b, r.MiscSelect)
	b = append(b, r.Reserved1[:]...)
	b = append(b, r.ISVExtProdID[:]...)
	b = append(b, r.Attributes[:]...)
	b = append(b, r.MREnclave[:]...)
	b = append(b, r.Reserved2[:]...)
	b = append(b, r.MRSigner[:]...)
	b = append(b, r.Reserved3[:]...)
	b = append(b, r.ConfigID[:]...)
	b = appendU16(b, r.ISVProdID)
	b = appendU16(b, r.ISVSVN)
	b = appendU16(b, r.ConfigSVN)
	b = append(b, r.Reserved4[:]...)
	b = append(b, r.ISVFamilyID[:]...)
	return append(b, r.ReportData[:]...)
}

// TDReportBody is the TD quote body: sgx_report2_body_t for TDX 1.0
// (584 bytes) or sgx_report2_body_v1_5_t for TDX 1.5 (648 bytes), which
// appends TEETCBSVN2 and MRServiceTD.
type TDReportBody struct {
	// TEETCBSVN: [0] TDX module SVN minor, [1] module major version, ...
	TEETCBSVN      [16]byte
	MRSEAM         [48]byte
	MRSignerSEAM   [48]byte // zero for the Intel TDX module
	SEAMAttributes [8]byte
	TDAttributes   [8]byte // little-endian; bit 0 = debug
	XFAM           [8]byte
	MRTD           [48]byte
	MRConfigID     [48]byte
	MROwner        [48]byte
	MROwnerConfig  [48]byte
	RTMR           [4][48]byte
	ReportData     [64]byte
	TEETCBSVN2     [16]byte // TDX 1.5 only
	MRServiceTD    [48]byte // TDX 1.5 only
	// V15 marks the 648-byte TDX 1.5 body; without it Marshal writes the
	// 584-byte TDX 1.0 body and ignores TEETCBSVN2 and MRServiceTD.
	V15 bool
}

// ParseTDReportBody decodes a TD quote body of 584 (TDX 1.0) or 648 bytes
// (TDX 1.5).
func ParseTDReportBody(b []byte) (*TDReportBody, error) {
	if len(b) != TDReportBody10Size && len(b) != TDReportBody15Size {
		kind := ErrTruncated
		if len(b) > TDReportBody10Size {
			kind = ErrMalformed
		}
		return nil, formatErr(kind, "TD report body size",
			fmt.Sprintf("%d or %d bytes", TDReportBody10Size, TDReportBody15Size), fmt.Sprintf("%d bytes", len(b)))
	}
	body := new(TDReportBody)
	body.decode(b)
	return body, nil
}

// decode fills r from exactly TDReportBody10Size or TDReportBody15Size bytes.
func (r *TDReportBody) decode(b []byte) {
	_ = b[TDReportBody10Size-1]
	copy(r.TEETCBSVN[:], b[0:16])
	copy(r.MRSEAM[:], b[16:64])
	copy(r.MRSignerSEAM[:], b[64:112])
	copy(r.SEAMAttributes[:], b[112:120])
	copy(r.TDAttributes[:], b[120:128])
	copy(r.XFAM[:], b[128:136])
	copy(r.MRTD[:], b[136:184])
	copy(r.MRConfigID[:], b[184:232])
	copy(r.MROwner[:], b[232:280])
	copy(r.MROwnerConfig[:], b[280:328])
	for i := range r.RTMR {
		copy(r.RTMR[i][:], b[328+48*i:376+48*i])
	}
	copy(r.ReportData[:], b[520:584])
	if len(b) == TDReportBody15Size {
		r.V15 = true
		copy(r.TEETCBSVN2[:], b[584:600])
		copy(r.MRServiceTD[:], b[600:648])
	}
}

// Size returns the encoded size: 648 for TDX 1.5, otherwise 584.
func (r *TDReportBody) Size() int {
	if r.V15 {
		return TDReportBody15Size
	}
	return TDReportBody10Size
}

// Attributes returns the TD attributes as a little-endian integer.
func (r *TDReportBody) Attributes() uint64 { return binary.LittleEndian.Uint64(r.TDAttributes[:]) }

// Debug reports whether the TD runs in debug mode (TD attributes bit 0).
func (r *TDReportBody) Debug() bool { return r.Attributes()&TDAttrDebug != 0 }

// SEPTVEDisabled reports whether TD attributes bit 28 (SEPT_VE_DISABLE) is set.
func (r *TDReportBody) SEPTVEDisabled() bool { return r.Attributes()&TDAttrSEPTVEDisable != 0 }

// Marshal returns the exact encoding: 584 bytes, or 648 bytes when V15.
func (r *TDReportBody) Marshal() []byte { return r.append(make([]byte, 0, r.Size())) }

func (r *TDReportBody) append(b []byte) []byte {
	b = append(b, r.TEETCBSVN[:]...)
	b = append(b, r.MRSEAM[:]...)
	b = append(b, r.MRSignerSEAM[:]...)
	b = append(b, r.SEAMAttributes[:]...)
	b = append(b, r.TDAttributes[:]...)
	b = append(b, r.XFAM[:]...)
	b = append(b, r.MRTD[:]...)
	b = append(b, r.MRConfigID[:]...)
	b = append(b, r.MROwner[:]...)
	b = append(b, r.MROwnerConfig[:]...)
	for i := range r.RTMR {
		b = append(b, r.RTMR[i][:]...)
	}
	b = append(b, r.ReportData[:]...)
	if r.V15 {
		b = append(b, r.TEETCBSVN2[:]...)
		b = append(b, r.MRServiceTD[:]...)
	}
	return b
}

// SGXReport is sgx_report_t (432 bytes), the output of EREPORT and the
// payload of the Interoperable RA-TLS tag 60002. Its MAC can only be
// checked on the platform that produced it.
type SGXReport struct {
	Body  SGXReportBody
	KeyID [32]byte
	MAC   [16]byte
}

// ParseSGXReport decodes a 432-byte sgx_report_t.
func ParseSGXReport(b []byte) (*SGXReport, error) {
	if len(b) != SGXReportSize {
		return nil, sizeErr("SGX report", SGXReportSize, len(b))
	}
	r := new(SGXReport)
	r.Body.decode(b[:SGXReportBodySize])
	copy(r.KeyID[:], b[384:416])
	copy(r.MAC[:], b[416:432])
	return r, nil
}

// Marshal returns the exact 432-byte encoding.
func (r *SGXReport) Marshal() []byte {
	b := r.Body.append(make([]byte, 0, SGXReportSize))
	b = append(b, r.KeyID[:]...)
	return append(b, r.MAC[:]...)
}
