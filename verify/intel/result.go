package intel

import (
	"errors"
	"time"

	"github.com/ratls/ratls/verify/checks"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/quote"
)

// Errors that classify a failed verification; test with errors.Is on the
// error Verify returns. The classes other verifiers have too are those of
// package checks (or refine them).
var (
	ErrMalformed      = checks.Refine(checks.ErrMalformed, "malformed quote")
	ErrUnsupported    = checks.Refine(checks.ErrUnsupported, "unsupported quote")
	ErrSignature      = checks.ErrSignature
	ErrChain          = checks.ErrChain
	ErrRevoked        = checks.ErrRevoked
	ErrValidity       = checks.ErrValidity
	ErrNoCollateral   = errors.New("collateral missing")
	ErrCollateral     = errors.New("collateral invalid")
	ErrMismatch       = checks.Refine(checks.ErrMismatch, "evidence does not match collateral")
	ErrTCBUnsupported = errors.New("no matching TCB level")
	// ErrRollback marks attester-supplied collateral older than collateral
	// this verifier has already verified for the same platform.
	ErrRollback = errors.New("collateral older than collateral already seen")
)

// Check names, stable across releases (they appear in JSON output).
const (
	CheckQuoteFormat      = "quote.format"
	CheckPCKChain         = "pck.chain"
	CheckPCKExtensions    = "pck.extensions"
	CheckQEReportSig      = "qe_report.signature"
	CheckQEReportBinding  = "qe_report.binding"
	CheckQuoteSignature   = "quote.signature"
	CheckCollateral       = "collateral.present"
	CheckRootCRL          = "root_ca_crl"
	CheckPCKCRL           = "pck_crl"
	CheckRevocation       = "pck.revocation"
	CheckTCBInfoSignature = "tcb_info.signature"
	CheckTCBInfoValidity  = "tcb_info.validity"
	CheckTCBInfoMatch     = "tcb_info.match"
	CheckTCBInfoFloor     = "tcb_info.evaluation_data_number"
	CheckQEIDSignature    = "qe_identity.signature"
	CheckQEIDValidity     = "qe_identity.validity"
	CheckQEIDMatch        = "qe_identity.match"
	CheckQEIDFloor        = "qe_identity.evaluation_data_number"
	CheckTDXModule        = "tdx_module.identity"
	CheckTCBLevel         = "tcb.level"
)

// Every check of the quote, its chain and its collateral establishes that
// the evidence comes from genuine, known hardware.
func init() {
	checks.Define(checks.Hardware, CheckQuoteFormat, CheckPCKChain, CheckPCKExtensions, CheckQEReportSig, CheckQEReportBinding,
		CheckQuoteSignature, CheckCollateral, CheckRootCRL, CheckPCKCRL, CheckRevocation, CheckTCBInfoSignature, CheckTCBInfoValidity,
		CheckTCBInfoMatch, CheckQEIDSignature, CheckQEIDValidity, CheckQEIDMatch, CheckTDXModule, CheckTCBLevel, CheckTCBInfoFloor, CheckQEIDFloor)
}

// Check is one verification step and its outcome.
type Check = checks.Check

// TCBStatusNotSupported is reported as the TCB status when no TCB level of
// the TCB Info (or of the QE Identity, or of the TDX module identity)
// matches: Intel's library fails verification then (TCB_NOT_SUPPORTED).
const TCBStatusNotSupported pcs.Status = "TCBLevelNotSupported"

// TCB is the outcome of Intel's TCB evaluation.
type TCB struct {
	// Status is the converged status (platform, TDX module and QE), in
	// Intel's names, or TCBStatusNotSupported.
	Status pcs.Status `json:"status"`
	// Date is the matched platform TCB level's tcbDate.
	Date time.Time `json:"date"`
	// AdvisoryIDs are the matched platform level's advisories (what Intel's
	// library reports); QE and module advisories are kept apart below.
	AdvisoryIDs []string `json:"advisory_ids"`
	// EvaluationDataNumber is the smaller of the TCB Info's and the QE
	// Identity's tcbEvaluationDataNumber.
	EvaluationDataNumber uint32 `json:"evaluation_data_number"`

	PlatformStatus pcs.Status `json:"platform_status"`
	// Level is the matched TCB Info level.
	Level *pcs.TCBLevel `json:"-"`

	ModuleStatus      pcs.Status `json:"module_status,omitempty"`
	ModuleAdvisoryIDs []string   `json:"module_advisory_ids,omitempty"`

	QEStatus      pcs.Status `json:"qe_status"`
	QEDate        time.Time  `json:"qe_date"`
	QEAdvisoryIDs []string   `json:"qe_advisory_ids,omitempty"`
}

// Window is a validity period.
type Window = checks.Window

// CollateralInfo says which collateral a verification used.
type CollateralInfo struct {
	Source     string `json:"source"`
	TCBInfo    Window `json:"tcb_info"`    // issueDate .. nextUpdate
	QEIdentity Window `json:"qe_identity"` // issueDate .. nextUpdate
	PCKCRL     Window `json:"pck_crl"`     // thisUpdate .. nextUpdate
	RootCACRL  Window `json:"root_ca_crl"` // thisUpdate .. nextUpdate
	// TCBSigner is the subject of the certificate that signed the TCB Info
	// and QE Identity.
	TCBSigner string `json:"tcb_signer"`
}

// Result is everything a verification proved about a quote. Verify fills it
// as far as the checks got, also when it returns an error.
type Result struct {
	Quote *quote.Quote `json:"-"`
	// TEE is "sgx" or "tdx".
	TEE string `json:"tee"`

	// PCK holds the SGX extensions of the PCK certificate (FMSPC, TCB, ...).
	PCK   *pcs.PCKExtensions `json:"-"`
	PCKCA pcs.CA             `json:"pck_ca,omitempty"`
	FMSPC string             `json:"fmspc,omitempty"`

	TrustAnchor *Anchor `json:"trust_anchor,omitempty"`

	// TCB is nil when no collateral was given or verification stopped
	// before the TCB evaluation.
	TCB        *TCB            `json:"tcb,omitempty"`
	Collateral *CollateralInfo `json:"collateral,omitempty"`

	// Valid is the period in which every certificate, CRL and collateral
	// item this result depends on is valid.
	Valid Window `json:"valid"`

	Checks checks.List `json:"checks"`
}

// Failed returns the checks that failed.
func (r *Result) Failed() []Check { return r.Checks.Failed() }

// VerificationError lists the checks that failed; errors.Is finds their
// classes (the Err values of this package).
type VerificationError = checks.VerificationError

func (r *Result) err() error { return r.Checks.Err("intel") }

// Check returns the check with the given name and whether it ran.
func (r *Result) Check(name string) (Check, bool) { return r.Checks.Get(name) }
