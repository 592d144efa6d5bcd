package amd

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ratls/ratls/evidence/snp"
)

// Errors that classify a failed verification; test with errors.Is on the
// error Verify returns, or with Check.Err on one check.
var (
	ErrMalformed   = errors.New("malformed report or certificate")
	ErrUnsupported = errors.New("unsupported report or product")
	ErrSignature   = errors.New("invalid signature")
	ErrChain       = errors.New("certificate chain not trusted")
	// ErrNoCertificate: no VCEK or VLEK certificate was given (fetch it
	// from the AMD KDS, or take it from the evidence's certificate table).
	ErrNoCertificate = errors.New("endorsement key certificate missing")
	ErrRevoked       = errors.New("revoked")
	ErrValidity      = errors.New("outside validity period")
	// ErrNoCRL: no CRL was given, so revocation was not checked. It is the
	// only class of the crl check when the chain is otherwise fine, so a
	// policy that accepts unchecked revocation can allow exactly it.
	ErrNoCRL = errors.New("CRL missing")
	// ErrCRL: the CRL given is not a valid CRL of the product's ARK.
	ErrCRL = errors.New("CRL invalid")
	// ErrMismatch: the report disagrees with its certificate (product, TCB,
	// chip ID).
	ErrMismatch = errors.New("report does not match certificate")
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

// Check is one verification step and its outcome.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`

	err error // classification, for errors.Is on a failed verification
}

// Err returns the class of a failed check (one of the Err values of this
// package), nil for a passed one.
func (c Check) Err() error { return c.err }

// Window is a validity period.
type Window struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

func (w Window) contains(t time.Time) bool { return !t.Before(w.From) && !t.After(w.Until) }

// intersect narrows w to o.
func (w Window) intersect(o Window) Window {
	if o.From.After(w.From) {
		w.From = o.From
	}
	if w.Until.IsZero() || (!o.Until.IsZero() && o.Until.Before(w.Until)) {
		w.Until = o.Until
	}
	return w
}

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
	// TEE is "sev-snp".
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

	Checks []Check `json:"checks"`
}

// Failed returns the checks that failed.
func (r *Result) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Check returns the check with the given name, if it ran.
func (r *Result) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

func (r *Result) pass(name, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, OK: true, Detail: detail})
}

// fail records a failed check; class is one of the Err values.
func (r *Result) fail(name string, class error, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Detail: fmt.Sprintf(format, args...), err: class})
}

// err returns nil when every check passed, otherwise a *VerificationError.
func (r *Result) err() error {
	if f := r.Failed(); len(f) > 0 {
		return &VerificationError{Failed: f}
	}
	return nil
}

// VerificationError lists the checks that failed.
type VerificationError struct {
	Failed []Check
}

func (e *VerificationError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, c := range e.Failed {
		parts[i] = c.Name + ": " + c.Detail
	}
	return "amd: " + strings.Join(parts, "; ")
}

// Unwrap exposes the classes of the failed checks to errors.Is.
func (e *VerificationError) Unwrap() []error {
	var errs []error
	for _, c := range e.Failed {
		if c.err != nil {
			errs = append(errs, c.err)
		}
	}
	return errs
}
