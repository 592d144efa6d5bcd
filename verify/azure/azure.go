// Package azure verifies the evidence of Azure confidential VMs with a
// vTPM (SEV-SNP and TDX CVMs), the chain Trustee's az-snp-vtpm and
// az-tdx-vtpm verifiers check:
//
//  1. the hardware report: the SEV-SNP report inside the HCL report, with
//     its VCEK, by verify/amd; or the DCAP quote of the TD, by verify/intel
//     (whose body must equal the HCL report's TDREPORT);
//  2. the runtime data: its hash must be the hardware report's report data
//     (the rest of which must be zero);
//  3. the vTPM attestation key, from the runtime data (kid HCLAkPub);
//  4. the TPM quote: its TPMS_ATTEST signed by that key (RSASSA-PKCS1-v1_5,
//     SHA-256), and its PCR digest equal to the hash of the PCR values;
//  5. for Trustee's version 2 evidence, the runtime data's user-data must
//     start with the quote's nonce.
//
// The nonce itself (the quote's extraData) is compared with the expected
// one by the caller (ratls.VerifyEvidence), like any evidence's report
// data; the PCRs' event log is replayed by verify/measuredboot.
package azure

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence/azure"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/verify/amd"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/intel"
)

// Check names, stable across releases.
const (
	CheckHardwareReport = "azure.hardware_report"
	CheckTDReport       = "azure.td_report"
	CheckRuntimeData    = "azure.runtime_data"
	CheckAttestationKey = "azure.attestation_key"
	CheckQuoteSignature = "azure.tpm_quote.signature"
	CheckPCRDigest      = "azure.tpm_quote.pcr_digest"
	CheckUserData       = "azure.user_data"
)

// Required are the checks every verification must have run.
var Required = []string{CheckHardwareReport, CheckRuntimeData, CheckAttestationKey, CheckQuoteSignature, CheckPCRDigest}

func init() {
	checks.Define(checks.Hardware, CheckHardwareReport)
	checks.Define(checks.InstanceIdentity, CheckTDReport, CheckRuntimeData, CheckAttestationKey, CheckQuoteSignature, CheckPCRDigest, CheckUserData)
}

// Errors classifying failed checks.
var (
	ErrHardware  = errors.New("hardware report not verified")
	ErrBinding   = checks.Refine(checks.ErrBinding, "runtime data not bound by the hardware report")
	ErrKey       = checks.Refine(checks.ErrKey, "no usable attestation key")
	ErrSignature = checks.Refine(checks.ErrSignature, "TPM quote signature invalid")
	ErrPCRs      = errors.New("PCR values do not match the quote")
)

// Options configures Verify.
type Options struct {
	Now time.Time
	// AMD verifies the SEV-SNP report; AMDCerts are issuers to add after
	// the evidence's VCEK (ASK, ARK; missing ones come from AMD's roots),
	// AMDCRLs the ARK's CRLs, AMDProduct the product of version 2 reports.
	AMD        *amd.Verifier
	AMDCerts   []*x509.Certificate
	AMDCRLs    []kds.CRL
	AMDProduct string
	// Intel verifies the TD quote, with IntelOptions (collateral).
	Intel        *intel.Verifier
	IntelOptions intel.Options
}

// Result is the outcome of Verify.
type Result struct {
	// TEE is "sev_snp" or "tdx".
	TEE    string      `json:"tee"`
	Checks checks.List `json:"checks"`
	// SNP and TDX are the hardware report's verification; HardwareErr its
	// error.
	SNP         *amd.Result   `json:"sev_snp,omitempty"`
	TDX         *intel.Result `json:"tdx,omitempty"`
	HardwareErr error         `json:"-"`
	// AttestationKey is the SHA-256 of the vTPM attestation key's DER
	// SubjectPublicKeyInfo.
	AttestationKey  string                `json:"attestation_key_sha256,omitempty"`
	VMConfiguration azure.VMConfiguration `json:"vm_configuration"`
	// PCRs are the quoted PCR values by index, set only when every check
	// of the chain from the hardware report's data to them passed.
	PCRs map[int][]byte `json:"-"`
	// Valid is the hardware report's validity window.
	Valid checks.Window `json:"valid"`
}

// Verify verifies ev. The error is nil only when every check passed.
func Verify(ctx context.Context, ev *azure.Evidence, o Options) (*Result, error) {
	r := &Result{TEE: ev.TEE(), VMConfiguration: ev.HCL.Runtime.VMConfiguration}
	l := &r.Checks
	reportData := verifyHardware(ctx, r, ev, o)

	// The runtime data is what the hardware report vouches for.
	h, name := runtimeHash(ev.HCL.HashType)
	h.Write(ev.HCL.RuntimeData)
	digest := h.Sum(nil)
	switch {
	case reportData == nil:
		l.NotRun(CheckRuntimeData, ErrBinding, "no report data to compare with")
	case !bytes.Equal(reportData[:len(digest)], digest) || !allZero(reportData[len(digest):]):
		l.Fail(CheckRuntimeData, ErrBinding, "report data %x, want %s of the runtime data (%x) followed by zeros", reportData, name, digest)
	default:
		l.Pass(CheckRuntimeData, name+" of the runtime data is the report data")
	}

	ak, err := ev.HCL.AttestationKey()
	if err != nil {
		l.FailCause(CheckAttestationKey, ErrKey, err, "%v", err)
		l.NotRun(CheckQuoteSignature, ErrSignature, "no attestation key")
	} else {
		der, _ := x509.MarshalPKIXPublicKey(ak)
		sum := sha256.Sum256(der)
		r.AttestationKey = hex.EncodeToString(sum[:])
		l.Pass(CheckAttestationKey, fmt.Sprintf("%s: RSA-%d, SHA-256 %s", azure.KIDAttestationKey, ak.N.BitLen(), r.AttestationKey))
		msg := sha256.Sum256(ev.Quote.Message)
		if err := rsa.VerifyPKCS1v15(ak, crypto.SHA256, msg[:], ev.Quote.Signature); err != nil {
			l.Fail(CheckQuoteSignature, ErrSignature, "the TPM quote is not signed by the runtime data's attestation key (RSASSA-PKCS1-v1_5, SHA-256)")
		} else {
			l.Pass(CheckQuoteSignature, "signed by the attestation key")
		}
	}

	if got, want := ev.Quote.ComputePCRDigest(), ev.Quote.PCRDigest(); !bytes.Equal(got, want) {
		l.Fail(CheckPCRDigest, ErrPCRs, "SHA-256 of the PCR values is %x, the quote signs %x", got, want)
	} else {
		l.Pass(CheckPCRDigest, fmt.Sprintf("the quote signs PCRs %v", ev.Quote.Selected))
	}
	if ev.Version >= 2 {
		ud, err := hex.DecodeString(ev.HCL.Runtime.UserData)
		nonce := ev.Quote.Nonce()
		if err != nil || !bytes.HasPrefix(ud, nonce) {
			l.Fail(CheckUserData, ErrBinding, "runtime data user-data %q does not start with the quote's nonce %x", ev.HCL.Runtime.UserData, nonce)
		} else {
			l.Pass(CheckUserData, "user-data starts with the quote's nonce")
		}
	}
	// The PCRs are the VM's only when the chain from the hardware report
	// to them holds: every check but the hardware report's own (whose
	// failures the appraisal weighs; some, like a missing CRL, a policy
	// may accept).
	chain := true
	for _, c := range *l {
		chain = chain && (c.Name == CheckHardwareReport || c.State == checks.Passed)
	}
	if chain {
		r.PCRs = map[int][]byte{}
		for i, idx := range ev.Quote.Selected {
			r.PCRs[idx] = ev.Quote.PCRs[i]
		}
	}
	return r, l.Err("azure")
}

// verifyHardware verifies the hardware report and returns the report data
// it signs (nil when there is none to trust).
func verifyHardware(ctx context.Context, r *Result, ev *azure.Evidence, o Options) []byte {
	l := &r.Checks
	switch ev.HCL.ReportType {
	case azure.ReportTypeSNP:
		vcek, err := x509.ParseCertificate(ev.VCEK)
		if err != nil {
			r.HardwareErr = fmt.Errorf("vcek: %w", err)
			l.FailCause(CheckHardwareReport, ErrHardware, err, "the evidence's VCEK is not a certificate: %v", err)
			return nil
		}
		v := o.AMD
		if v == nil {
			v = amd.NewVerifier(nil)
		}
		r.SNP, r.HardwareErr = v.Verify(ctx, ev.HCL.SNP, amd.Options{Now: o.Now, Certs: append([]*x509.Certificate{vcek}, o.AMDCerts...), CRLs: o.AMDCRLs, Product: o.AMDProduct})
		if r.SNP != nil {
			r.Valid = r.SNP.Valid
		}
		hardwareCheck(l, r.HardwareErr, "SEV-SNP report")
		return ev.HCL.SNP.ReportData[:]
	case azure.ReportTypeTDX:
		v := o.Intel
		if v == nil {
			v = intel.NewVerifier(nil)
		}
		r.TDX, r.HardwareErr = v.Verify(ctx, ev.TDQuote, o.IntelOptions)
		if r.TDX != nil {
			r.Valid = r.TDX.Valid
		}
		hardwareCheck(l, r.HardwareErr, "TD quote")
		if !sameTD(ev.TDQuote.TD, &ev.HCL.TDReport.TD) {
			l.Fail(CheckTDReport, ErrBinding, "the TD quote's body differs from the HCL report's TDREPORT: the quote is of another TD report")
		} else {
			l.Pass(CheckTDReport, "the TD quote's body is the HCL report's TDREPORT")
		}
		rd := ev.TDQuote.ReportData()
		return rd[:]
	}
	return nil
}

// hardwareCheck records the hardware verification's outcome; its own
// checks are appraised separately (they fail the evidence on their own).
func hardwareCheck(l *checks.List, err error, what string) {
	if err != nil {
		l.FailCause(CheckHardwareReport, ErrHardware, err, "%s: %v", what, err)
		return
	}
	l.Pass(CheckHardwareReport, what+" verified")
}

// sameTD compares a TD quote body with a TDREPORT's tee_info and
// tee_tcb_info as a quote body (the TDX 1.5 fields only when the quote
// has them).
func sameTD(q *quote.TDReportBody, rep *quote.TDReportBody) bool {
	a, b := *q, *rep
	if !a.V15 {
		b.V15, b.TEETCBSVN2, b.MRServiceTD = false, [16]byte{}, [48]byte{}
	}
	return a == b
}

func runtimeHash(t uint32) (hash.Hash, string) {
	switch t {
	case 2:
		return sha512.New384(), "SHA-384"
	case 3:
		return sha512.New(), "SHA-512"
	}
	return sha256.New(), "SHA-256"
}

func allZero(b []byte) bool { return len(bytes.Trim(b, "\x00")) == 0 }
