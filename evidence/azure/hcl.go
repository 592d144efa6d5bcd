// Package azure parses the evidence of Azure confidential VMs with a vTPM
// (SEV-SNP and TDX "CVMs"), in the JSON form Trustee's az-snp-vtpm and
// az-tdx-vtpm attesters produce:
//
//   - the HCL report: the paravisor's (HCL's) attestation report, holding
//     the hardware report (an SEV-SNP report, or a TDREPORT) and the
//     "runtime data" JSON, whose hash the hardware report's report data
//     carries and which holds the vTPM's attestation key;
//   - a TPM 2.0 quote (TPMS_ATTEST) signed by that key over the PCRs, with
//     the verifier's nonce in extraData, and the PCR values;
//   - for SEV-SNP, the VCEK; for TDX, the DCAP quote of the TDREPORT;
//   - optionally (a ratls addition) the UEFI event log of the vTPM's PCRs.
//
// It only parses, strictly; verify/azure checks the chain.
package azure

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/evidence/snp"
)

// ErrFormat is wrapped by every parse error.
var ErrFormat = errors.New("azure: malformed evidence")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// HCL report layout (az-cvm-vtpm src/hcl): a 32-byte header, the
// 1184-byte hardware report area, the 20-byte IGVM request data header and
// the runtime data.
const (
	hclSignature      = "HCLA"
	offHardwareReport = 0x20
	hardwareAreaSize  = 1184
	offIGVM           = offHardwareReport + hardwareAreaSize // 0x4C0
	offRuntimeData    = offIGVM + 20                         // 0x4D4
	// HCLReportSize is the size of the HCL report the vTPM exposes at NV
	// index 0x01400001.
	HCLReportSize = 2600
	tdReportSize  = 1024
)

// Report types of the IGVM request data.
const (
	ReportTypeSNP = 2
	ReportTypeTDX = 4
)

// HCLReport is a parsed HCL report.
type HCLReport struct {
	Raw         []byte
	Version     uint32
	RequestType uint32
	// ReportType is ReportTypeSNP or ReportTypeTDX.
	ReportType uint32
	// HashType says how the runtime data is hashed into the hardware
	// report's report data: 1 SHA-256, 2 SHA-384, 3 SHA-512.
	HashType uint32
	// HardwareReport is the SEV-SNP report or the TDREPORT, as stored.
	HardwareReport []byte
	SNP            *snp.Report
	TDReport       *quote.Report2
	// RuntimeData is the runtime data exactly as stored: the bytes whose
	// hash the hardware report carries.
	RuntimeData []byte
	Runtime     *RuntimeData
}

// RuntimeData is the runtime data JSON the HCL writes.
type RuntimeData struct {
	Keys            []JWK           `json:"keys"`
	VMConfiguration VMConfiguration `json:"vm-configuration"`
	// UserData is the hex the attester asked the HCL to include (64 bytes;
	// Trustee's v2 evidence puts its report data there).
	UserData string `json:"user-data"`
}

// VMConfiguration is what the HCL says about the VM.
type VMConfiguration struct {
	ConsoleEnabled     bool   `json:"console-enabled"`
	SecureBoot         bool   `json:"secure-boot"`
	TPMEnabled         bool   `json:"tpm-enabled"`
	TPMPersisted       *bool  `json:"tpm-persisted,omitempty"`
	VMUniqueID         string `json:"vmUniqueId"`
	RootCertThumbprint string `json:"root-cert-thumbprint,omitempty"`
}

// JWK is a JSON Web Key of the runtime data.
type JWK struct {
	KID    string   `json:"kid"`
	KTY    string   `json:"kty"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	KeyOps []string `json:"key_ops"`
}

// Key IDs of the runtime data's keys.
const (
	KIDAttestationKey = "HCLAkPub" // signs TPM quotes
	KIDEndorsementKey = "HCLEkPub"
)

// ParseHCLReport parses an HCL report. Every length must agree with every
// other, and the bytes after the runtime data must be zero.
func ParseHCLReport(b []byte) (*HCLReport, error) {
	if len(b) < offRuntimeData {
		return nil, malformed("HCL report: %d bytes, want at least %d", len(b), offRuntimeData)
	}
	if len(b) > HCLReportSize {
		return nil, malformed("HCL report: %d bytes, want at most %d", len(b), HCLReportSize)
	}
	if string(b[:4]) != hclSignature {
		return nil, malformed("HCL report: signature %q, want %q", b[:4], hclSignature)
	}
	u32 := func(off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
	r := &HCLReport{Raw: b, Version: u32(4), RequestType: u32(0xC), ReportType: u32(offIGVM + 8), HashType: u32(offIGVM + 12)}
	if status := u32(0x10); status != 0 {
		return nil, malformed("HCL report: status %d, want 0", status)
	}
	n := u32(offIGVM + 16)
	if uint64(n) > uint64(len(b)-offRuntimeData) {
		return nil, malformed("HCL report: runtime data of %d bytes in a %d-byte report", n, len(b))
	}
	if size := u32(8); size != uint32(offRuntimeData)+n {
		return nil, malformed("HCL report: report size %d, want %d (header, hardware report, IGVM data and %d bytes of runtime data)", size, offRuntimeData+int(n), n)
	}
	if ds := u32(offIGVM); ds != 20+n {
		return nil, malformed("HCL report: IGVM data size %d, want %d", ds, 20+n)
	}
	if rest := b[offRuntimeData+int(n):]; !allZero(rest) {
		return nil, malformed("HCL report: non-zero bytes after the runtime data")
	}
	r.HardwareReport = b[offHardwareReport:offIGVM]
	r.RuntimeData = b[offRuntimeData : offRuntimeData+int(n)]
	var err error
	switch r.ReportType {
	case ReportTypeSNP:
		if r.SNP, err = snp.ParseReport(r.HardwareReport); err != nil {
			return nil, fmt.Errorf("%w: HCL report: SEV-SNP report: %w", ErrFormat, err)
		}
	case ReportTypeTDX:
		if !allZero(r.HardwareReport[tdReportSize:]) {
			return nil, malformed("HCL report: non-zero bytes after the TDREPORT")
		}
		if r.TDReport, err = quote.ParseReport2(r.HardwareReport[:tdReportSize]); err != nil {
			return nil, fmt.Errorf("%w: HCL report: TDREPORT: %w", ErrFormat, err)
		}
		if !r.TDReport.IsTDX() {
			return nil, malformed("HCL report: the TDREPORT is not a TDX report")
		}
	default:
		return nil, malformed("HCL report: report type %d, want %d (SEV-SNP) or %d (TDX)", r.ReportType, ReportTypeSNP, ReportTypeTDX)
	}
	if r.HashType < 1 || r.HashType > 3 {
		return nil, malformed("HCL report: report data hash type %d, want 1, 2 or 3 (SHA-256, SHA-384, SHA-512)", r.HashType)
	}
	r.Runtime = new(RuntimeData)
	if err := json.Unmarshal(r.RuntimeData, r.Runtime); err != nil {
		return nil, malformed("HCL report: runtime data: %v", err)
	}
	return r, nil
}

// ReportData returns the hardware report's 64 bytes of report data.
func (r *HCLReport) ReportData() []byte {
	if r.SNP != nil {
		return r.SNP.ReportData[:]
	}
	return r.TDReport.ReportData[:]
}

// AttestationKey returns the vTPM attestation key of the runtime data
// (kid HCLAkPub): an RSA key of at least 2048 bits.
func (r *HCLReport) AttestationKey() (*rsa.PublicKey, error) {
	var found *JWK
	for i := range r.Runtime.Keys {
		if r.Runtime.Keys[i].KID == KIDAttestationKey {
			if found != nil {
				return nil, malformed("runtime data: two %s keys", KIDAttestationKey)
			}
			found = &r.Runtime.Keys[i]
		}
	}
	if found == nil {
		return nil, malformed("runtime data: no %s key", KIDAttestationKey)
	}
	if found.KTY != "RSA" {
		return nil, malformed("runtime data: %s key type %q, want RSA", KIDAttestationKey, found.KTY)
	}
	n, err1 := base64.RawURLEncoding.DecodeString(found.N)
	e, err2 := base64.RawURLEncoding.DecodeString(found.E)
	if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
		return nil, malformed("runtime data: %s key: bad modulus or exponent", KIDAttestationKey)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if pub.N.BitLen() < 2048 || pub.E < 3 || pub.E%2 == 0 {
		return nil, malformed("runtime data: %s key: %d-bit modulus, exponent %d (want an RSA key of at least 2048 bits)", KIDAttestationKey, pub.N.BitLen(), pub.E)
	}
	return pub, nil
}

func allZero(b []byte) bool { return len(bytes.Trim(b, "\x00")) == 0 }
