// Package snp parses and encodes the AMD SEV-SNP ATTESTATION_REPORT
// structure (SEV-SNP firmware ABI specification 56860, "ATTESTATION_REPORT
// Structure").
//
// Package evidence finds reports in certificates and raw input and parses
// them with this package; verify/amd verifies them, with certificates from
// collateral/kds.
//
// A report is a fixed 1184-byte little-endian structure: a body of 0x2A0
// bytes, signed by the AMD secure processor with the VCEK or VLEK, followed by
// a 512-byte signature area. This package only converts between bytes and
// named fields. It verifies no signature and makes no policy decision, but it
// exposes what a verifier needs: the exact signed bytes (SignedData), the
// signature in DER form (SignatureDER) and the product the report claims to
// come from (Product).
//
// Parsing is strict. Every byte range the ABI marks as reserved must be zero,
// including the signature area after the R and S components, so that a parsed
// report re-encodes (Marshal) to exactly the input bytes.
package snp

import (
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/ratls/ratls/internal/fielderr"
)

// ReportSize is the size in bytes of an SEV-SNP attestation report.
const ReportSize = 0x4A0 // 1184

// SignedSize is the number of leading report bytes covered by the signature.
const SignedSize = 0x2A0

// SignatureAlgoECDSAP384SHA384 is the only signature algorithm the ABI defines:
// ECDSA on curve P-384 with SHA-384.
const SignatureAlgoECDSAP384SHA384 = 1

// Report versions this package accepts.
const (
	MinReportVersion = 2 // first SEV-SNP report layout
	MaxReportVersion = 5 // adds the mitigation vectors at 0x1F8 and 0x200
)

// Offsets of the fields whose position matters outside the plain field list.
const (
	offCPUID       = 0x188 // CPUID family, model, stepping (version 3 and later)
	offMitVectors  = 0x1F8 // LAUNCH_MIT_VECTOR, CURRENT_MIT_VECTOR (version 5)
	offSignatureR  = 0x2A0
	offSignatureS  = 0x2E8
	sigComponent   = 72 // bytes per R/S field, zero-extended little-endian
	p384ScalarSize = 48
)

// Sentinel errors wrapped by every *Error this package returns, so callers
// can tell the kinds of failure apart with errors.Is.
var (
	// ErrSize: the input is not exactly ReportSize bytes.
	ErrSize = errors.New("snp: wrong report size")
	// ErrVersion: the report version is not one this package decodes.
	ErrVersion = errors.New("snp: unsupported report version")
	// ErrReserved: a reserved field or bit does not hold its required value.
	ErrReserved = errors.New("snp: reserved field not zero")
	// ErrValue: a defined field holds a value the ABI does not allow.
	ErrValue = errors.New("snp: invalid field value")
	// ErrUnknownProduct: the report does not identify a known product.
	ErrUnknownProduct = errors.New("snp: unknown product")
)

// Error describes one failed check on a report: which field, the value the
// check wanted and the value it found. Its Kind is one of the Err*
// sentinels above.
type Error = fielderr.Error

func newError(kind error, field, want, got string) *Error {
	return &Error{Pkg: "snp", Kind: kind, Field: field, Want: want, Got: got}
}

// Report is a decoded SEV-SNP attestation report. Field names follow the ABI
// specification; all multi-byte integers are converted from little-endian.
type Report struct {
	Version       uint32       // 0x000
	GuestSVN      uint32       // 0x004
	Policy        Policy       // 0x008
	FamilyID      [16]byte     // 0x010
	ImageID       [16]byte     // 0x020
	VMPL          uint32       // 0x030
	SignatureAlgo uint32       // 0x034
	CurrentTCB    TCBVersion   // 0x038
	PlatformInfo  PlatformInfo // 0x040
	SignerInfo    SignerInfo   // 0x048; 0x04C-0x04F reserved

	ReportData      [64]byte   // 0x050, chosen by the guest
	Measurement     [48]byte   // 0x090, launch digest
	HostData        [32]byte   // 0x0C0, chosen by the host at launch
	IDKeyDigest     [48]byte   // 0x0E0
	AuthorKeyDigest [48]byte   // 0x110
	ReportID        [32]byte   // 0x140
	ReportIDMA      [32]byte   // 0x160
	ReportedTCB     TCBVersion // 0x180, the TCB the VCEK was derived from

	// CPUID family (extended family + base family), model (extended model
	// and base model) and stepping of the chip, at 0x188-0x18A. Present
	// from report version 3; reserved (zero) in version 2.
	CPUIDFamilyID uint8
	CPUIDModelID  uint8
	CPUIDStepping uint8
	// 0x18B-0x19F reserved

	ChipID       [64]byte   // 0x1A0, zero when MaskChipKey is set
	CommittedTCB TCBVersion // 0x1E0

	// Firmware version currently running (0x1E8-0x1EA) and committed
	// (0x1EC-0x1EE); 0x1EB and 0x1EF are reserved.
	CurrentBuild, CurrentMinor, CurrentMajor       uint8
	CommittedBuild, CommittedMinor, CommittedMajor uint8

	LaunchTCB TCBVersion // 0x1F0

	// Verified mitigation vectors at launch (0x1F8) and now (0x200).
	// Present from report version 5; reserved (zero) before.
	LaunchMitVector, CurrentMitVector uint64
	// 0x208 (0x1F8 before version 5) to 0x29F reserved

	// ECDSA signature components at 0x2A0 and 0x2E8, exactly as stored in
	// the report: little-endian, zero-extended to 72 bytes. The rest of the
	// 512-byte signature area is reserved.
	SignatureR, SignatureS [72]byte
}

// reservedRange is a byte range [lo, hi) that must be zero.
type reservedRange struct {
	lo, hi int
	name   string
}

// reservedRanges returns the must-be-zero byte ranges of a report of the
// given (already validated) version.
func reservedRanges(version uint32) []reservedRange {
	cpuidEnd := offCPUID // version 2: all of 0x188-0x19F is reserved
	if version >= 3 {
		cpuidEnd = offCPUID + 3
	}
	mitEnd := offMitVectors // before version 5 the vectors are reserved
	if version >= 5 {
		mitEnd = offMitVectors + 16
	}
	return []reservedRange{
		{0x04C, 0x050, "reserved bytes after signer_info"},
		{cpuidEnd, 0x1A0, "reserved bytes before chip_id"},
		{0x1EB, 0x1EC, "reserved byte after current_major"},
		{0x1EF, 0x1F0, "reserved byte after committed_major"},
		{mitEnd, SignedSize, "reserved bytes before the signature"},
		// A P-384 scalar fills 48 of the 72 bytes of R and S.
		{offSignatureR + p384ScalarSize, offSignatureR + sigComponent, "signature R high bytes"},
		{offSignatureS + p384ScalarSize, offSignatureS + sigComponent, "signature S high bytes"},
		{offSignatureS + sigComponent, ReportSize, "reserved bytes after the signature"},
	}
}

// ParseReport decodes an attestation report.
//
// b must be exactly ReportSize bytes: longer input (for example a report
// followed by a certificate table) and the MSG_REPORT_RSP envelope, which
// puts a 32-byte header before the report, are both rejected. Report
// versions 2 to 5 are accepted; version 4 uses the version 3 layout (no
// mitigation vectors), as go-sev-guest and the virtee sev crate do. The
// signature algorithm must be ECDSA P-384 with SHA-384, the only one the ABI
// defines. Every reserved byte and bit must be zero (policy bit 17 must be
// one), so Marshal reproduces b exactly.
//
// Errors are *Error values wrapping ErrSize, ErrVersion, ErrReserved or
// ErrValue.
func ParseReport(b []byte) (*Report, error) {
	if len(b) != ReportSize {
		return nil, newError(ErrSize, "report size", fmt.Sprintf("%d bytes", ReportSize),
			fmt.Sprintf("%d bytes", len(b)))
	}
	le := binary.LittleEndian
	r := &Report{
		Version:       le.Uint32(b[0x000:]),
		GuestSVN:      le.Uint32(b[0x004:]),
		Policy:        Policy(le.Uint64(b[0x008:])),
		VMPL:          le.Uint32(b[0x030:]),
		SignatureAlgo: le.Uint32(b[0x034:]),
		CurrentTCB:    TCBVersion(le.Uint64(b[0x038:])),
		PlatformInfo:  PlatformInfo(le.Uint64(b[0x040:])),
		SignerInfo:    SignerInfo(le.Uint32(b[0x048:])),
		ReportedTCB:   TCBVersion(le.Uint64(b[0x180:])),
		CommittedTCB:  TCBVersion(le.Uint64(b[0x1E0:])),
		LaunchTCB:     TCBVersion(le.Uint64(b[0x1F0:])),

		CurrentBuild:   b[0x1E8],
		CurrentMinor:   b[0x1E9],
		CurrentMajor:   b[0x1EA],
		CommittedBuild: b[0x1EC],
		CommittedMinor: b[0x1ED],
		CommittedMajor: b[0x1EE],
	}
	if r.Version < MinReportVersion || r.Version > MaxReportVersion {
		return nil, newError(ErrVersion, "version", "2, 3, 4 or 5", fmt.Sprintf("%d", r.Version))
	}
	if r.SignatureAlgo != SignatureAlgoECDSAP384SHA384 {
		return nil, newError(ErrValue, "signature_algo", "1 (ECDSA P-384 with SHA-384)",
			fmt.Sprintf("%d", r.SignatureAlgo))
	}
	if err := r.Policy.check(); err != nil {
		return nil, err
	}
	if err := r.SignerInfo.check(); err != nil {
		return nil, err
	}
	for _, rr := range reservedRanges(r.Version) {
		if i := firstNonZero(b[rr.lo:rr.hi]); i >= 0 {
			return nil, newError(ErrReserved,
				fmt.Sprintf("%s (0x%03X-0x%03X)", rr.name, rr.lo, rr.hi-1), "all zero",
				fmt.Sprintf("0x%02x at offset 0x%03X", b[rr.lo+i], rr.lo+i))
		}
	}

	copy(r.FamilyID[:], b[0x010:])
	copy(r.ImageID[:], b[0x020:])
	copy(r.ReportData[:], b[0x050:])
	copy(r.Measurement[:], b[0x090:])
	copy(r.HostData[:], b[0x0C0:])
	copy(r.IDKeyDigest[:], b[0x0E0:])
	copy(r.AuthorKeyDigest[:], b[0x110:])
	copy(r.ReportID[:], b[0x140:])
	copy(r.ReportIDMA[:], b[0x160:])
	copy(r.ChipID[:], b[0x1A0:])
	copy(r.SignatureR[:], b[offSignatureR:])
	copy(r.SignatureS[:], b[offSignatureS:])
	if r.Version >= 3 {
		r.CPUIDFamilyID, r.CPUIDModelID, r.CPUIDStepping = b[offCPUID], b[offCPUID+1], b[offCPUID+2]
	}
	if r.Version >= 5 {
		r.LaunchMitVector = le.Uint64(b[offMitVectors:])
		r.CurrentMitVector = le.Uint64(b[offMitVectors+8:])
	}
	return r, nil
}

func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}

// Marshal encodes the report into its 1184-byte ABI form. Reserved bytes are
// written as zero. Every field is written regardless of Version, so for a
// report obtained from ParseReport the result equals the parsed input; a
// hand-built report that sets fields its version does not define (for
// example CPUID fields in a version 2 report) encodes to bytes ParseReport
// rejects.
func (r *Report) Marshal() []byte {
	b := make([]byte, ReportSize)
	r.encode(b)
	return b
}

func (r *Report) encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0x000:], r.Version)
	le.PutUint32(b[0x004:], r.GuestSVN)
	le.PutUint64(b[0x008:], uint64(r.Policy))
	copy(b[0x010:], r.FamilyID[:])
	copy(b[0x020:], r.ImageID[:])
	le.PutUint32(b[0x030:], r.VMPL)
	le.PutUint32(b[0x034:], r.SignatureAlgo)
	le.PutUint64(b[0x038:], uint64(r.CurrentTCB))
	le.PutUint64(b[0x040:], uint64(r.PlatformInfo))
	le.PutUint32(b[0x048:], uint32(r.SignerInfo))
	copy(b[0x050:], r.ReportData[:])
	copy(b[0x090:], r.Measurement[:])
	copy(b[0x0C0:], r.HostData[:])
	copy(b[0x0E0:], r.IDKeyDigest[:])
	copy(b[0x110:], r.AuthorKeyDigest[:])
	copy(b[0x140:], r.ReportID[:])
	copy(b[0x160:], r.ReportIDMA[:])
	le.PutUint64(b[0x180:], uint64(r.ReportedTCB))
	b[offCPUID], b[offCPUID+1], b[offCPUID+2] = r.CPUIDFamilyID, r.CPUIDModelID, r.CPUIDStepping
	copy(b[0x1A0:], r.ChipID[:])
	le.PutUint64(b[0x1E0:], uint64(r.CommittedTCB))
	b[0x1E8], b[0x1E9], b[0x1EA] = r.CurrentBuild, r.CurrentMinor, r.CurrentMajor
	b[0x1EC], b[0x1ED], b[0x1EE] = r.CommittedBuild, r.CommittedMinor, r.CommittedMajor
	le.PutUint64(b[0x1F0:], uint64(r.LaunchTCB))
	le.PutUint64(b[offMitVectors:], r.LaunchMitVector)
	le.PutUint64(b[offMitVectors+8:], r.CurrentMitVector)
	copy(b[offSignatureR:], r.SignatureR[:])
	copy(b[offSignatureS:], r.SignatureS[:])
}

// SignedData returns the bytes the report signature covers: the first
// SignedSize (0x2A0) bytes of the encoded report. For a parsed report these
// are exactly the corresponding input bytes.
func (r *Report) SignedData() []byte {
	b := make([]byte, ReportSize)
	r.encode(b)
	return b[:SignedSize:SignedSize]
}

// SignatureRS returns the signature components as integers, converted from
// their little-endian report encoding.
func (r *Report) SignatureRS() (rInt, sInt *big.Int) {
	return littleEndianInt(r.SignatureR[:]), littleEndianInt(r.SignatureS[:])
}

func littleEndianInt(le []byte) *big.Int {
	be := make([]byte, len(le))
	for i, c := range le {
		be[len(le)-1-i] = c
	}
	return new(big.Int).SetBytes(be)
}

// SignatureDER returns the report signature as an ASN.1 DER
// ECDSA-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }), the form accepted by
// crypto/ecdsa.VerifyASN1. It fails if the signature algorithm is not ECDSA
// P-384 with SHA-384 or if R or S is zero (an unsigned report).
func (r *Report) SignatureDER() ([]byte, error) {
	if r.SignatureAlgo != SignatureAlgoECDSAP384SHA384 {
		return nil, newError(ErrValue, "signature_algo", "1 (ECDSA P-384 with SHA-384)",
			fmt.Sprintf("%d", r.SignatureAlgo))
	}
	rInt, sInt := r.SignatureRS()
	if rInt.Sign() == 0 || sInt.Sign() == 0 {
		return nil, newError(ErrValue, "signature", "non-zero R and S", "a zero component")
	}
	return asn1.Marshal(struct{ R, S *big.Int }{rInt, sInt})
}

// Debug reports whether the guest policy allows the host to debug the guest.
func (r *Report) Debug() bool { return r.Policy.Debug() }

// Product names of the AMD EPYC generations with SEV-SNP, as used by the AMD
// Key Distribution Service.
const (
	ProductMilan = "Milan"
	ProductGenoa = "Genoa"
	ProductTurin = "Turin"
)

// Product returns the AMD product the report's CPUID fields identify:
// "Milan" (family 19h, model 01h), "Genoa" (family 19h, model 11h) or
// "Turin" (family 1Ah, model 02h). Version 2 reports carry no CPUID fields,
// so the product must then come from elsewhere (for example the VCEK
// certificate) and Product returns an error. Other family/model values
// return an error wrapping ErrUnknownProduct.
func (r *Report) Product() (string, error) {
	if r.Version < 3 {
		return "", newError(ErrUnknownProduct, "product", "report version 3 or later (CPUID fields)",
			fmt.Sprintf("version %d", r.Version))
	}
	switch {
	case r.CPUIDFamilyID == 0x19 && r.CPUIDModelID == 0x01:
		return ProductMilan, nil
	case r.CPUIDFamilyID == 0x19 && r.CPUIDModelID == 0x11:
		return ProductGenoa, nil
	case r.CPUIDFamilyID == 0x1A && r.CPUIDModelID == 0x02:
		return ProductTurin, nil
	}
	return "", newError(ErrUnknownProduct, "product (CPUID family/model)",
		"19h/01h (Milan), 19h/11h (Genoa) or 1Ah/02h (Turin)",
		fmt.Sprintf("%02Xh/%02Xh", r.CPUIDFamilyID, r.CPUIDModelID))
}
