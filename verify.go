package ratls

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/keybinding"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/sevsnp"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/measuredboot"
)

// VerifyOptions configures VerifyCertificate and VerifyEvidence. The zero
// value verifies at the current time against the strict default policy,
// with each TEE family's defaults: the genuine vendor roots, and only the
// collateral the certificate itself carries.
type VerifyOptions struct {
	// Now is the verification time; zero means time.Now().
	Now time.Time
	// Policy decides acceptance; nil means the strict default policy.
	Policy *appraise.Policy
	// Nonce, when set, must equal the evidence's nonce claim (freshness).
	Nonce []byte
	// TEE configures the TEE families, at most one value per family:
	// *dcap.Options for Intel SGX and TDX quotes (verifier, collateral
	// source), *sevsnp.Options for AMD SEV-SNP reports (verifier, VCEK and
	// VLEK source), *armcca.Options for Arm CCA tokens (platform keys). A
	// family without options verifies with its defaults. Azure vTPM
	// evidence uses the dcap and sevsnp options for its hardware report.
	// The verifier's own sources always win over collateral a certificate
	// carries, which only fills gaps.
	TEE []tee.Options

	// peer is the collateral the certificate carries (its endorsements
	// extension); lenientPeer ignores it when it cannot be read.
	peer        *evidence.Endorsements
	lenientPeer bool
}

// Verification is the outcome of verifying and appraising the evidence of
// one certificate or one piece of raw evidence.
type Verification struct {
	// Certificate is the certificate whose evidence was verified; nil for
	// raw evidence.
	Certificate *x509.Certificate
	// Item is the evidence that was verified: the certificate's preferred
	// item, or the raw evidence.
	Item *evidence.Item
	// Binding is the key binding; nil for raw evidence.
	Binding *evidence.Binding
	// TEE names what was verified, as policies and EAR submodules name it
	// ("sgx", "tdx", "sev_snp", "cca", "azure_vtpm"); empty when nothing
	// was.
	TEE string
	// Result is the TEE family's verification result: *intel.Result for
	// SGX and TDX quotes, *amd.Result for SEV-SNP reports, *arm.Result for
	// Arm CCA tokens, *azure.Result (package verify/azure) for Azure vTPM
	// evidence; nil when verification could not start.
	Result any
	// MeasuredBoot is the event log that came with the evidence, replayed
	// into the signed registers, and the boot facts it establishes; nil
	// when no log came or it did not replay (see the eventlog.replay
	// reason).
	MeasuredBoot *measuredboot.Result
	// Err is the verification error: nil only when every check passed.
	Err error
	// Appraisal is the policy's verdict, with reasons. It is never nil.
	Appraisal *appraise.Appraisal

	family tee.Family  // the family that verified Item; nil when none could
	res    *tee.Result // its result
}

// Submodules is the appraisal as EAR submodules, named as Veraison names
// them where it verifies the TEE (CCA_SSD_PLATFORM and CCA_REALM, SEVSNP),
// else by the TEE's name; nil when nothing was verified.
func (v *Verification) Submodules(p *appraise.Policy) map[string]*ear.Appraisal {
	if v.family == nil || v.res == nil || v.TEE == "" {
		return nil
	}
	if p == nil {
		p = &appraise.Policy{}
	}
	if m := v.family.Submodules(v.Item, v.res, p); len(m) > 0 {
		return m
	}
	// A family that names no submodule still has its appraisal reported.
	return map[string]*ear.Appraisal{v.TEE: v.Appraisal.Submodule(nil)}
}

// ValidUntil is the earliest expiry of what the verification depended on,
// zero when unknown.
func (v *Verification) ValidUntil() time.Time {
	if v.res == nil {
		return time.Time{}
	}
	return v.res.Valid.Until
}

// Checks are every check the TEE's verifier ran or could not run, in
// order; empty when there was no verifier for the evidence.
func (v *Verification) Checks() checks.List {
	if v.res == nil {
		return nil
	}
	return v.res.Checks
}

// Accepted reports whether the policy accepts the evidence (affirming, or
// warning when the policy explicitly allows the weakness).
func (v *Verification) Accepted() bool {
	return v.Appraisal != nil && v.Appraisal.Status != appraise.Contraindicated
}

// ErrCollateralUnavailable means that verification could not complete
// because collateral could not be fetched: Intel's PCS, a PCCS or AMD's KDS
// is unreachable or failing. It is no verdict about the TEE: try again
// later.
var ErrCollateralUnavailable = errors.New("could not verify: collateral unavailable")

// CollateralUnavailableError is what Verification.CollateralUnavailable
// returns. It matches ErrCollateralUnavailable, and pcs.ErrUnavailable or
// kds.ErrUnavailable.
type CollateralUnavailableError struct {
	// RetryAfter is how long until the collateral cache asks the source
	// again; zero when not known (the provider is not a cache).
	RetryAfter time.Duration
	// Err is the verification's failure. It names the source's URLs and
	// addresses: log it, do not show it to remote parties.
	Err error
}

func (e *CollateralUnavailableError) Error() string {
	return ErrCollateralUnavailable.Error() + ": " + e.Err.Error()
}

func (e *CollateralUnavailableError) Unwrap() []error {
	return []error{ErrCollateralUnavailable, e.Err}
}

// CollateralUnavailable returns a *CollateralUnavailableError when the
// verification could not complete because collateral (Intel TCB Info, QE
// Identity and CRLs; AMD VCEK or VLEK chain and CRL) could not be fetched
// from an unavailable source, nil otherwise. Such a verification is not
// accepted, but its appraisal is no verdict about the TEE: report that it
// could not be verified, and try again later.
func (v *Verification) CollateralUnavailable() error {
	var collErr error
	if v.res != nil {
		collErr = v.res.CollateralErr
	}
	for _, err := range []error{collErr, v.Err} {
		if !errors.Is(err, pcs.ErrUnavailable) && !errors.Is(err, kds.ErrUnavailable) {
			continue
		}
		ce := &CollateralUnavailableError{Err: err}
		var pe *pcs.UnavailableError
		var ke *kds.UnavailableError
		switch {
		case errors.As(err, &pe):
			ce.RetryAfter = pe.RetryAfter
		case errors.As(err, &ke):
			ce.RetryAfter = ke.RetryAfter
		}
		return ce
	}
	return nil
}

func (o *VerifyOptions) policy() *appraise.Policy {
	if o.Policy != nil {
		return o.Policy
	}
	return &appraise.Policy{}
}

// VerifyCertificate verifies the evidence in an RA-TLS certificate: the
// preferred evidence item is verified (signatures, chains, collateral, TCB),
// its binding of the certificate key is checked, and the policy appraises
// the whole. It returns an error only when the certificate's evidence cannot
// be read; a rejection is a Verification whose Accepted() is false.
func VerifyCertificate(ctx context.Context, cert *x509.Certificate, opt *VerifyOptions) (*Verification, error) {
	var o VerifyOptions
	if opt != nil {
		o = *opt
	}
	ce, err := evidence.FromCertificate(cert)
	if err != nil {
		return nil, err
	}
	item := tee.Preferred(ce)
	if item == nil {
		a := appraise.NewAppraisal(o.policy().Name())
		a.Add(appraise.Reason{Check: CheckEvidence, Category: checks.Hardware, State: checks.NotRun, Expected: "an RA-TLS evidence extension", Actual: "none",
			Message: "the certificate carries no TEE evidence", Status: appraise.Contraindicated})
		return &Verification{Certificate: cert, Appraisal: a, Err: errors.New("ratls: no evidence in certificate")}, nil
	}
	b := keybinding.Check(item, cert)
	o.peer = ce.Endorsements
	v := verifyItem(ctx, item, &b, &o)
	var ee *tee.EndorsementsError
	if errors.As(v.Err, &ee) {
		return nil, fmt.Errorf("ratls: %w", ee)
	}
	v.Certificate = cert
	certificateChecks(v, cert, o.now())
	checkNonce(v, item, item.Claims != nil && b.Status == evidence.BindingOK, o.Nonce)
	return v, nil
}

// VerifyEvidence verifies raw evidence (no certificate, so no key binding).
func VerifyEvidence(ctx context.Context, item *evidence.Item, opt *VerifyOptions) *Verification {
	var o VerifyOptions
	if opt != nil {
		o = *opt
	}
	v := verifyItem(ctx, item, nil, &o)
	checkNonce(v, item, checkClaims(v, item), o.Nonce)
	return v
}

// checkClaims refuses a claims buffer that the evidence's report data does
// not bind. Such claims are the presenter's word, not the hardware's: a
// genuine old quote wrapped with claims naming a fresh nonce must not pass
// for fresh. It reports whether the item's claims may be used.
func checkClaims(v *Verification, item *evidence.Item) bool {
	if item.Claims == nil {
		return false
	}
	rd := item.ReportData()
	if _, ok := keybinding.ClaimsBound(item.Claims, rd); ok {
		return true
	}
	actual := "report data not available"
	if rd != nil {
		actual = hex.EncodeToString(rd)
	}
	v.Appraisal.Add(appraise.Reason{Check: CheckClaimsBinding, Category: checks.InstanceIdentity, State: checks.Failed,
		Expected: "report_data = SHA-256 or SHA-384 of the claims buffer, zero-padded", Actual: actual,
		Message: "the claims buffer is not bound by the evidence's report data: its claims (nonce, public key hash) are not the TEE's", Status: appraise.Contraindicated})
	return false
}

// Checks the root package adds to an appraisal.
const (
	CheckClaimsBinding       = tee.CheckClaimsBinding
	CheckNonce               = tee.CheckNonce
	CheckCertificateValidity = tee.CheckCertificateValidity
	CheckCertificateSig      = tee.CheckCertificateSig
	CheckCriticalExtensions  = tee.CheckCriticalExtensions
	CheckEvidence            = "evidence"
	CheckVerifier            = "verifier"
	// CheckAMDCertificates and CheckEventLog are added by the TEE families
	// that need them.
	CheckAMDCertificates = sevsnp.CheckCertificates
	CheckEventLog        = tee.CheckEventLog
)

func init() {
	checks.Define(checks.Hardware, CheckEvidence, CheckVerifier)
}

// checkNonce refuses evidence whose nonce is not the expected one.
// Evidence with a claims buffer carries the nonce as a claim, read only
// once the report data is shown to bind the buffer (claimsBound). Evidence
// without one (a raw quote, report or token) carries it in its report data
// (the realm challenge for Arm CCA): the nonce itself, zero-padded to the
// field's size, as configfs-tsm's inblob and the challenge-response API
// expect.
func checkNonce(v *Verification, item *evidence.Item, claimsBound bool, nonce []byte) {
	if nonce == nil {
		return
	}
	var got []byte
	switch rd := item.ReportData(); {
	case item.Claims != nil:
		if claimsBound {
			got = item.Claims.Nonce
		}
	case len(rd) >= len(nonce) && allZero(rd[len(nonce):]):
		got = rd[:len(nonce)]
	case rd != nil:
		got = rd
	}
	if !bytes.Equal(got, nonce) {
		actual := "absent"
		if got != nil {
			actual = hex.EncodeToString(got)
		}
		v.Appraisal.Add(appraise.Reason{Check: CheckNonce, Category: checks.InstanceIdentity, State: checks.Failed, Expected: hex.EncodeToString(nonce), Actual: actual,
			Message: "the evidence does not carry this connection's nonce: it may be replayed", Status: appraise.Contraindicated})
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (o *VerifyOptions) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

// verifyItem has the item's TEE family verify and appraise it, then
// applies the policy's measured_boot and vtpm sections to what it
// established.
func verifyItem(ctx context.Context, item *evidence.Item, b *evidence.Binding, o *VerifyOptions) *Verification {
	v := &Verification{Item: item, Binding: b}
	p := o.policy()
	f, err := tee.Lookup(item)
	if f == nil {
		v.Err = fmt.Errorf("ratls: no verifier for %s evidence (%s)", item.TEE, item.Kind)
		if err != nil {
			v.Err = fmt.Errorf("ratls: %s evidence (%s): %w", item.TEE, item.Kind, err)
		}
		v.Appraisal = appraise.NewAppraisal(p.Name())
		v.Appraisal.Add(appraise.Reason{Check: CheckVerifier, Category: checks.Hardware, State: checks.NotRun, Expected: "a DCAP quote, SEV-SNP report, Arm CCA token or Azure vTPM evidence", Actual: fmt.Sprintf("%s %s", item.TEE, item.Kind),
			Message: v.Err.Error(), Status: appraise.Contraindicated})
		// Sections on boot facts fail for want of them, as for any evidence.
		(&tee.Result{Appraisal: v.Appraisal}).AppraiseCVM(p)
		return v
	}
	in := &tee.Input{Now: o.Now, Policy: p, Binding: b, Peer: o.peer, Options: o.TEE}
	r := f.Verify(ctx, item, in)
	var ee *tee.EndorsementsError
	if r != nil && o.lenientPeer && in.Peer != nil && errors.As(r.Err, &ee) {
		// Unusable peer collateral is ignored: verification then reports
		// what is missing.
		in.Peer = nil
		r = f.Verify(ctx, item, in)
	}
	if r == nil || r.Appraisal == nil {
		// A family that answers nothing has not vouched for anything.
		err := fmt.Errorf("ratls: the %q TEE family returned no appraisal", f.Name())
		r = &tee.Result{Err: err, Appraisal: appraise.NewAppraisal(p.Name())}
		r.Appraisal.Add(appraise.Reason{Check: CheckVerifier, Category: checks.Hardware, State: checks.NotRun, Expected: "an appraisal", Actual: "none",
			Message: err.Error(), Status: appraise.Contraindicated})
	}
	r.AppraiseCVM(p)
	v.family, v.res = f, r
	v.TEE, v.Result, v.Err, v.Appraisal, v.MeasuredBoot = r.TEE, r.Verified, r.Err, r.Appraisal, r.MeasuredBoot
	return v
}

// certificateChecks adds the certificate's own validity, self-signature and
// critical extensions to the appraisal: an expired RA-TLS certificate, or
// one whose issuer marked critical an extension ratls cannot honour, is
// refused like any other (RFC 5280 §4.2).
func certificateChecks(v *Verification, cert *x509.Certificate, now time.Time) {
	add := func(check, expected, actual, msg string) {
		v.Appraisal.Reject(check, checks.InstanceIdentity, expected, actual, msg)
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		add(CheckCertificateValidity, cert.NotBefore.UTC().Format(time.RFC3339)+" .. "+cert.NotAfter.UTC().Format(time.RFC3339),
			now.UTC().Format(time.RFC3339), "the certificate is not valid at the verification time")
	}
	if bytes.Equal(cert.RawIssuer, cert.RawSubject) {
		if err := CheckSelfSignature(cert); err != nil {
			add(CheckCertificateSig, "valid self-signature", "invalid", err.Error())
		}
	}
	if oids := unhandledCriticalExtensions(cert); len(oids) > 0 {
		add(CheckCriticalExtensions, "none unhandled", strings.Join(oids, ", "),
			"the certificate has critical extensions ratls does not process; RFC 5280 requires refusing it")
	}
}

// unhandledCriticalExtensions lists the critical extensions of cert that
// neither Go's x509 package nor ratls processes. The evidence and
// endorsements extensions are read by evidence.FromCertificate, so they
// are handled even though Go does not know them.
func unhandledCriticalExtensions(cert *x509.Certificate) []string {
	var oids []string
	for _, oid := range cert.UnhandledCriticalExtensions {
		if evidence.IsEvidenceExtension(oid) || oid.Equal(evidence.OIDEndorsements) {
			continue
		}
		oids = append(oids, oid.String())
	}
	return oids
}
