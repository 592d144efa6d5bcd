package ratls

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/internal/bounded"
	"github.com/ratls/ratls/verify/amd"
	"github.com/ratls/ratls/verify/arm"
	azureverify "github.com/ratls/ratls/verify/azure"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/intel"
	"github.com/ratls/ratls/verify/measuredboot"
)

// VerifyOptions configures VerifyCertificate and VerifyEvidence. The zero
// value verifies at the current time against the strict default policy,
// trusting only the genuine Intel root, with only the collateral the
// certificate itself carries.
type VerifyOptions struct {
	// Now is the verification time; zero means time.Now().
	Now time.Time
	// Policy decides acceptance; nil means the strict default policy.
	Policy *appraise.Policy
	// Intel verifies SGX and TDX quotes; nil means a shared verifier that
	// trusts the Intel SGX Root CA only. Reuse one verifier: it caches.
	Intel *intel.Verifier
	// Collateral is the verifier's own source of Intel collateral; nil
	// means none. It wins over collateral a certificate carries in its
	// endorsements extension, which only fills gaps and never rolls the
	// TCB back (see intel.Options.PeerCollateral).
	Collateral pcs.Provider
	// Update is the Intel TCB update channel asked of Collateral.
	Update pcs.Update
	// PCKChainPEM is the PCK chain for quotes that carry only a PPID.
	PCKChainPEM []byte
	// Nonce, when set, must equal the evidence's nonce claim (freshness).
	Nonce []byte

	// AMD verifies SEV-SNP reports; nil means a shared verifier trusting
	// AMD's roots.
	AMD *amd.Verifier
	// AMDCertificates supplies the VCEK or VLEK chain (and the ARK's CRL)
	// for SEV-SNP reports: files (kds.LoadDir), AMD's KDS through a cache,
	// or nil for none (verification then fails its chain check).
	AMDCertificates kds.Provider
	// AMDProduct names the product (Milan, Genoa, Turin) of version 2
	// SEV-SNP reports, which do not say it themselves.
	AMDProduct string
	// CCA verifies Arm CCA tokens; nil means a shared verifier.
	CCA *arm.Verifier
	// CCAKey is the platform attestation key (CPAK) that signs Arm CCA
	// platform tokens; CCAKeyStore looks one up by platform instance ID.
	CCAKey      crypto.PublicKey
	CCAKeyStore func(instanceID []byte) (crypto.PublicKey, error)

	// peerCollateral is the Intel collateral the certificate carries.
	peerCollateral *pcs.Collateral
	// CCAAllowPlatformOnly accepts Arm CCA platform tokens that come
	// without a realm token (the realm checks are then not applicable).
	CCAAllowPlatformOnly bool
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
	// Intel, AMD and CCA are the verification results for SGX/TDX quotes,
	// SEV-SNP reports and Arm CCA tokens; one of them is set.
	Intel *intel.Result
	AMD   *amd.Result
	CCA   *arm.Result
	// Azure is the verification of an Azure vTPM confidential VM's
	// evidence (its hardware report's result is in it, not in Intel/AMD).
	Azure *azureverify.Result
	// MeasuredBoot is the event log that came with the evidence, replayed
	// into the signed registers, and the boot facts it establishes; nil
	// when no log came or it did not replay (see the eventlog.replay
	// reason).
	MeasuredBoot *measuredboot.Result
	// Err is the verification error: nil only when every check passed.
	Err error
	// Appraisal is the policy's verdict, with reasons. It is never nil.
	Appraisal *appraise.Appraisal

	certErr     error // why SEV-SNP certificates could not be had
	eventLogErr error // why the event log was refused
}

// ValidUntil is the earliest expiry of what the verification depended on,
// zero when unknown.
func (v *Verification) ValidUntil() time.Time {
	switch {
	case v.Intel != nil:
		return v.Intel.Valid.Until
	case v.AMD != nil:
		return v.AMD.Valid.Until
	case v.Azure != nil:
		return v.Azure.Valid.Until
	}
	return time.Time{}
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
	for _, err := range []error{v.certErr, v.Err} {
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

// The shared verifiers used when VerifyOptions names none: their caches are
// what make repeated verifications cheap.
var (
	defaultIntel = sync.OnceValue(func() *intel.Verifier { return intel.NewVerifier(nil) })
	defaultAMD   = sync.OnceValue(func() *amd.Verifier { return amd.NewVerifier(nil) })
	defaultCCA   = sync.OnceValue(func() *arm.Verifier { return arm.NewVerifier(nil) })
)

func (o *VerifyOptions) intelVerifier() *intel.Verifier {
	if o.Intel != nil {
		return o.Intel
	}
	return defaultIntel()
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
	item := ce.Preferred()
	if item == nil {
		a := appraise.NewAppraisal(o.policy().Name())
		a.Add(appraise.Reason{Check: CheckEvidence, Category: checks.Hardware, State: checks.NotRun, Expected: "an RA-TLS evidence extension", Actual: "none",
			Message: "the certificate carries no TEE evidence", Status: appraise.Contraindicated})
		return &Verification{Certificate: cert, Appraisal: a, Err: errors.New("ratls: no evidence in certificate")}, nil
	}
	b := item.CheckBinding(cert)
	if err := withEndorsements(&o, ce.Endorsements); err != nil {
		return nil, err
	}
	v := verifyItem(ctx, item, &b, o.Collateral, &o)
	v.Certificate = cert
	certificateChecks(v, cert, o.now())
	checkNonce(v, item, item.Claims != nil && b.Status == evidence.BindingOK, o.Nonce)
	return v, nil
}

// withEndorsements takes the collateral a certificate carries (its
// endorsements extension) as the peer's: it only fills gaps in o's own
// sources, is held to the verifier's floors and adds revocations (see
// intel.Options.PeerCollateral and kds.WithPeer).
func withEndorsements(o *VerifyOptions, e *evidence.Endorsements) error {
	switch {
	case e == nil || e.Empty:
	case e.SNP != nil:
		certs, err := snpEndorsementCertificates(e.SNP)
		if err != nil {
			return fmt.Errorf("ratls: endorsements extension: %w", err)
		}
		o.AMDCertificates = kds.WithPeer(o.AMDCertificates, certs)
	default:
		c, err := endorsementCollateral.get(e)
		if err != nil {
			return fmt.Errorf("ratls: endorsements extension: %w", err)
		}
		o.peerCollateral = c
	}
	return nil
}

// VerifyEvidence verifies raw evidence (no certificate, so no key binding).
func VerifyEvidence(ctx context.Context, item *evidence.Item, opt *VerifyOptions) *Verification {
	var o VerifyOptions
	if opt != nil {
		o = *opt
	}
	v := verifyItem(ctx, item, nil, o.Collateral, &o)
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
	if _, ok := item.Claims.BoundBy(rd); ok {
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
	CheckClaimsBinding       = "claims.binding"
	CheckNonce               = "nonce"
	CheckCertificateValidity = "certificate.validity"
	CheckCertificateSig      = "certificate.signature"
	CheckCriticalExtensions  = "certificate.critical_extensions"
	CheckEvidence            = "evidence"
	CheckVerifier            = "verifier"
	CheckAMDCertificates     = "amd.certificates"
)

func init() {
	checks.Define(checks.InstanceIdentity, CheckClaimsBinding, CheckNonce, CheckCertificateValidity, CheckCertificateSig, CheckCriticalExtensions)
	checks.Define(checks.Hardware, CheckEvidence, CheckVerifier, CheckAMDCertificates)
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

func verifyItem(ctx context.Context, item *evidence.Item, b *evidence.Binding, coll pcs.Provider, o *VerifyOptions) *Verification {
	v := &Verification{Item: item, Binding: b}
	p := o.policy()
	switch {
	case item.Quote != nil:
		v.Intel, v.Err = o.intelVerifier().Verify(ctx, item.Quote, intel.Options{
			Now: o.Now, Provider: coll, Update: o.Update, PCKChainPEM: o.PCKChainPEM, PeerCollateral: o.peerCollateral,
		})
		v.Appraisal = p.AppraiseIntel(v.Intel, v.Err, b)
		verifyEventLog(v, item)
	case item.SNP != nil:
		verifySNP(ctx, v, item, o)
		v.Appraisal = p.AppraiseSNP(v.AMD, v.Err, b)
		addCertificatesReason(v)
	case item.Azure != nil:
		verifyAzure(ctx, v, item, coll, o)
		v.Appraisal = p.AppraiseAzure(v.Azure, v.Err, b)
		addCertificatesReason(v)
		verifyEventLog(v, item)
	case item.CCA != nil:
		ccaV := o.CCA
		if ccaV == nil {
			ccaV = defaultCCA()
		}
		opts := ccaKeys(o, p)
		opts.AllowPlatformOnly = o.CCAAllowPlatformOnly
		v.CCA, v.Err = ccaV.Verify(ctx, item.CCA, opts)
		v.Appraisal = p.AppraiseCCA(v.CCA, v.Err, b)
	default:
		v.Err = fmt.Errorf("ratls: no verifier for %s evidence (%s)", item.TEE, item.Kind)
		v.Appraisal = appraise.NewAppraisal(p.Name())
		v.Appraisal.Add(appraise.Reason{Check: CheckVerifier, Category: checks.Hardware, State: checks.NotRun, Expected: "a DCAP quote, SEV-SNP report, Arm CCA token or Azure vTPM evidence", Actual: fmt.Sprintf("%s %s", item.TEE, item.Kind),
			Message: v.Err.Error(), Status: appraise.Contraindicated})
	}
	appraiseCVM(v, p)
	return v
}

// ccaKeys finds the platform key of a CCA token: the policy's key for the
// token's instance ID (cca.platform_keys), else CCAKey, else CCAKeyStore.
func ccaKeys(o *VerifyOptions, p *appraise.Policy) arm.Options {
	if p.CCA == nil || len(p.CCA.PlatformKeys) == 0 {
		return arm.Options{CPAK: o.CCAKey, KeyStore: o.CCAKeyStore}
	}
	return arm.Options{KeyStore: func(instanceID []byte) (crypto.PublicKey, error) {
		if k, err := p.CCA.PlatformKey(instanceID); k != nil || err != nil {
			return k, err
		}
		if o.CCAKey != nil || o.CCAKeyStore == nil {
			return o.CCAKey, nil
		}
		return o.CCAKeyStore(instanceID)
	}}
}

// verifySNP obtains the report's certificates and verifies it.
func verifySNP(ctx context.Context, v *Verification, item *evidence.Item, o *VerifyOptions) {
	r := item.SNP
	opts := amd.Options{Now: o.Now, Product: o.AMDProduct}
	if o.AMDCertificates != nil {
		certs, req, err := amdCertificates(ctx, o, r)
		switch {
		case err != nil:
			v.certErr = err
		case certs.Leaf == nil: // KDS serves no VLEK, and the evidence carried none
			v.certErr = fmt.Errorf("certificates for %s: %s has no %s certificate, and the evidence carries none", req, certs.Source, req.SigningKey)
		default:
			opts.Certs, opts.CRLs = certs.Chain(), certs.CRLs
		}
	} else {
		v.certErr = errors.New("no VCEK/VLEK certificates configured (use a directory of certificates or the AMD KDS)")
	}
	amdV := o.AMD
	if amdV == nil {
		amdV = defaultAMD()
	}
	v.AMD, v.Err = amdV.Verify(ctx, r, opts)
}

// amdCertificates asks the configured source for the certificates and CRLs
// of a SEV-SNP report's chip and signing key.
func amdCertificates(ctx context.Context, o *VerifyOptions, r *snp.Report) (*kds.Certificates, kds.Request, error) {
	product, err := r.Product()
	if err != nil {
		product = o.AMDProduct
	}
	req := kds.Request{Product: product, ChipID: r.ChipID, TCB: r.ReportedTCB, SigningKey: r.SignerInfo.SigningKey()}
	certs, err := o.AMDCertificates.Certificates(ctx, req)
	switch {
	case err != nil:
		return nil, req, fmt.Errorf("certificates for %s: %w", req, err)
	case certs == nil:
		return nil, req, fmt.Errorf("certificates for %s: the provider returned none", req)
	}
	return certs, req, nil
}

// addCertificatesReason refuses evidence whose SEV-SNP certificates could
// not be had from the configured source.
func addCertificatesReason(v *Verification) {
	if v.certErr != nil {
		v.Appraisal.Add(appraise.Reason{Check: CheckAMDCertificates, Category: checks.Hardware, State: checks.NotRun, Expected: "VCEK or VLEK chain", Actual: "none",
			Message: v.certErr.Error(), Status: appraise.Contraindicated})
	}
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

// endorsementCollateral remembers the collateral parsed from endorsements
// extensions, by content, so that every certificate carrying the same
// collateral yields the same *pcs.Collateral and the quote verifier's cache
// of verified collateral applies: collateral is parsed and its signatures
// checked once, not per handshake.
var endorsementCollateral = &collateralCache{m: make(map[[32]byte]*pcs.Collateral), max: 256}

type collateralCache struct {
	mu  sync.Mutex
	m   map[[32]byte]*pcs.Collateral
	max int
}

func (cc *collateralCache) get(e *evidence.Endorsements) (*pcs.Collateral, error) {
	h := sha256.New()
	for _, f := range [][]byte{e.TCBInfo, e.TCBInfoIssuerChain, e.PCKCRL, e.RootCACRL, e.PCKCRLIssuerChain, e.QEIdentity, e.QEIdentityIssuerChain} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write(f)
	}
	var key [32]byte
	h.Sum(key[:0])
	cc.mu.Lock()
	c := cc.m[key]
	cc.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := collateralFromEndorsements(e)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	bounded.MakeRoom(cc.m, cc.max)
	cc.m[key] = c
	cc.mu.Unlock()
	return c, nil
}

// collateralFromEndorsements turns the Intel collateral carried in an
// RA-TLS endorsements extension into verifiable collateral.
func collateralFromEndorsements(e *evidence.Endorsements) (*pcs.Collateral, error) {
	c := &pcs.Collateral{Source: "certificate endorsements extension"}
	var err error
	steps := []struct {
		name string
		do   func() error
	}{
		{"TCB_INFO", func() error { c.TCBInfo, err = pcs.ParseTCBInfo(trimNUL(e.TCBInfo)); return err }},
		{"TCB_ISSUER_CHAIN", func() error { c.TCBInfoIssuerChain, err = pcs.ParsePEMChain(e.TCBInfoIssuerChain); return err }},
		{"CRL_PCK_CERT", func() error { c.PCKCRL, err = parseEndorsedCRL(e.PCKCRL); return err }},
		{"CRL_PCK_PROC_CA", func() error { c.RootCACRL, err = parseEndorsedCRL(e.RootCACRL); return err }},
		{"CRL_ISSUER_CHAIN_PCK_CERT", func() error { c.PCKCRLIssuerChain, err = pcs.ParsePEMChain(e.PCKCRLIssuerChain); return err }},
		{"QE_ID_INFO", func() error { c.QEIdentity, err = pcs.ParseEnclaveIdentity(trimNUL(e.QEIdentity)); return err }},
		{"QE_ID_ISSUER_CHAIN", func() error { c.QEIdentityIssuerChain, err = pcs.ParsePEMChain(e.QEIdentityIssuerChain); return err }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return c, nil
}

// snpEndorsementCertificates reads the SEV-SNP certificates carried in an
// endorsements extension. Absent intermediate or root certificates are
// left for the verifier to take from its own copy of AMD's roots.
func snpEndorsementCertificates(e *evidence.SNPEndorsements) (*kds.Certificates, error) {
	c := &kds.Certificates{Source: "certificate endorsements extension"}
	var err error
	if c.Leaf, err = kds.ParseCertificate("SEV-SNP VCEK/VLEK", e.Leaf); err != nil {
		return nil, err
	}
	if len(e.Intermediate) > 0 {
		if c.Intermediate, err = kds.ParseCertificate("SEV-SNP ASK/ASVK", e.Intermediate); err != nil {
			return nil, err
		}
	}
	if len(e.Root) > 0 {
		if c.Root, err = kds.ParseCertificate("SEV-SNP ARK", e.Root); err != nil {
			return nil, err
		}
	}
	if len(e.CRL) > 0 {
		crl, err := kds.ParseCRL("SEV-SNP CRL", e.CRL)
		if err != nil {
			return nil, err
		}
		c.CRLs = []kds.CRL{{List: crl, Source: c.Source}}
	}
	return c, nil
}

// trimNUL drops the C string terminators rats-tls leaves on collateral.
// Only for text (JSON, PEM): a DER value may end in zero bytes.
func trimNUL(b []byte) []byte { return bytes.TrimRight(b, "\x00") }

// parseEndorsedCRL parses a CRL from an endorsements extension: DER, or PEM
// or hex with a C string terminator. A DER CRL's signature may end in 0x00,
// so the value is parsed as is first; only if that fails is one trailing
// terminator removed.
func parseEndorsedCRL(b []byte) (*x509.RevocationList, error) {
	crl, err := pcs.ParseCRL(b)
	if err != nil && len(b) > 0 && b[len(b)-1] == 0 {
		if crl2, err2 := pcs.ParseCRL(b[:len(b)-1]); err2 == nil {
			return crl2, nil
		}
	}
	return crl, err
}
