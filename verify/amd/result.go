package amd

import (
	"errors"

	"github.com/ratls/ratls/verify/checks"

	"github.com/ratls/ratls/evidence/snp"
)

// Errors that classify a failed verification; test with errors.Is on the
// error Verify returns, or with Check.Err on one check. The classes other
// verifiers have too are those of package checks (or refine them).
var (
	ErrMalformed   = checks.Refine(checks.ErrMalformed, "malformed report or certificate")
	ErrUnsupported = checks.Refine(checks.ErrUnsupported, "unsupported report or product")
	ErrSignature   = checks.ErrSignature
	ErrChain       = checks.ErrChain
	// ErrNoCertificate: no VCEK or VLEK certificate was given (fetch it
	// from the AMD KDS, or take it from the evidence's certificate table).
	ErrNoCertificate = errors.New("endorsement key certificate missing")
	ErrRevoked       = checks.ErrRevoked
	ErrValidity      = checks.ErrValidity
	// ErrNoCRL: no CRL was given, so revocation was not checked. It is the
	// only class of the crl check when the chain is otherwise fine, so a
	// policy that accepts unchecked revocation can allow exactly it.
	ErrNoCRL = errors.New("CRL missing")
	// ErrCRL: the CRL given is not a valid CRL of the product's ARK.
	ErrCRL = errors.New("CRL invalid")
	// ErrMismatch: the report disagrees with its certificate (product, TCB,
	// chip ID).
	ErrMismatch = checks.Refine(checks.ErrMismatch, "report does not match certificate")
)

// Check names, stable across releases (they appear in JSON output).
const (
	CheckReportFormat = "report.format"
	CheckProduct      = "product"
	CheckChain        = "chain"
	CheckCRL          = "crl"
	CheckTCB          = "tcb"
	CheckHWID         = "hwid"
	CheckSignature    = "signature"
)

// Every check of the report and its certificates establishes that the
// evidence comes from genuine, known hardware.
func init() {
	checks.Define(checks.Hardware, CheckReportFormat, CheckProduct, CheckChain, CheckCRL, CheckTCB, CheckHWID, CheckSignature)
}

// Check is one verification step and its outcome.
type Check = checks.Check

// Window is a validity period.
type Window = checks.Window

// CertTCB is the TCB a VCEK or VLEK certificate was issued for: its
// security patch level extensions (1.3.6.1.4.1.3704.1.3.*).
type CertTCB struct {
	Bootloader uint8    `json:"bl_spl"`    // .3.1
	TEE        uint8    `json:"tee_spl"`   // .3.2
	SNP        uint8    `json:"snp_spl"`   // .3.3
	SPL4to7    [4]uint8 `json:"spl4_7"`    // .3.4 to .3.7, reserved (zero when absent)
	Microcode  uint8    `json:"ucode_spl"` // .3.8
	// FMC is the .3.9 extension (Turin certificates only).
	FMC    uint8 `json:"fmc_spl,omitempty"`
	HasFMC bool  `json:"has_fmc,omitempty"`
}

// Version packs the SPLs into a TCB_VERSION in the Milan and Genoa layout
// (byte 0 boot loader, 1 TEE, 2-5 reserved, 6 SNP, 7 microcode), the form
// of the report's REPORTED_TCB. It is meaningless for Turin.
func (t CertTCB) Version() snp.TCBVersion {
	b := [8]byte{t.Bootloader, t.TEE, t.SPL4to7[0], t.SPL4to7[1], t.SPL4to7[2], t.SPL4to7[3], t.SNP, t.Microcode}
	var v uint64
	for i := range b {
		v |= uint64(b[i]) << (8 * i)
	}
	return snp.TCBVersion(v)
}

// Result is everything a verification proved about a report. Verify fills
// it as far as the checks got, also when it returns an error. The report's
// own fields (measurement, report data, policy) stay in the report.
type Result struct {
	Report *snp.Report `json:"-"`
	// TEE is "sev_snp", as policies and EAR submodules name it.
	TEE string `json:"tee"`
	// Product is "Milan", "Genoa" or "Turin".
	Product string `json:"product,omitempty"`
	// ProductName is the certificate's productName extension, e.g.
	// "Milan-B0" (empty when the certificate has none).
	ProductName string `json:"product_name,omitempty"`
	// SigningKey is "vcek" or "vlek".
	SigningKey string `json:"signing_key,omitempty"`
	// CSPID is the cloud provider a VLEK was issued to (VLEK only).
	CSPID string `json:"csp_id,omitempty"`

	TrustAnchor *Anchor `json:"trust_anchor,omitempty"`
	// TCB is the TCB the VCEK or VLEK certificate was issued for.
	TCB *CertTCB `json:"tcb,omitempty"`

	// Valid is the period in which every certificate (and the CRL, when
	// one was given) this result depends on is valid.
	Valid Window `json:"valid"`

	Checks checks.List `json:"checks"`
}

// Failed returns the checks that failed.
func (r *Result) Failed() []Check { return r.Checks.Failed() }

// VerificationError lists the checks that failed; errors.Is finds their
// classes (the Err values of this package).
type VerificationError = checks.VerificationError

func (r *Result) err() error { return r.Checks.Err("amd") }

// Check returns the check with the given name and whether it ran.
func (r *Result) Check(name string) (Check, bool) { return r.Checks.Get(name) }
