package ratls

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"testing"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/armcca"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/tee/sevsnp"
	"github.com/ratls/ratls/testing/dcaptest"
	"github.com/ratls/ratls/verify/intel"
)

// testPlatform is a test-PKI TDX or SGX platform acting as an attester.
type testPlatform struct {
	pki *dcaptest.PKI
	pl  *dcaptest.Platform
}

func newTestPlatform(t *testing.T, tdx bool) *testPlatform {
	t.Helper()
	p, err := dcaptest.New(dcaptest.Options{Now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := p.DefaultPlatform(tdx)
	if err != nil {
		t.Fatal(err)
	}
	return &testPlatform{pki: p, pl: pl}
}

func (tp *testPlatform) Attest(_ context.Context, rd [64]byte) (*evidence.Evidence, error) {
	q, err := tp.pl.NewQuote(rd)
	if err != nil {
		return nil, err
	}
	return &evidence.Evidence{Tag: evidence.TagIntelQuote, Data: q}, nil
}

func (tp *testPlatform) endorsements(t *testing.T) *evidence.Endorsements {
	t.Helper()
	c, err := tp.pl.Collateral()
	if err != nil {
		t.Fatal(err)
	}
	return &evidence.Endorsements{
		Version: 1, TCBInfo: c.TCBInfo, TCBInfoIssuerChain: c.TCBInfoIssuerChain, PCKCRL: c.PCKCRL,
		RootCACRL: c.RootCRL, PCKCRLIssuerChain: c.PCKCRLIssuerChain, QEIdentity: c.QEIdentity,
		QEIdentityIssuerChain: c.QEIdentityIssuerChain,
	}
}

// options verifies the platform's evidence against its test root and a
// policy with its reference values (the enclave's MRSIGNER, the TD's MRTD).
func (tp *testPlatform) options() *VerifyOptions {
	return &VerifyOptions{
		Now:    tp.pki.Now,
		Policy: tp.policy(),
		TEE:    []tee.Options{&dcap.Options{Verifier: intel.NewVerifier(&intel.Config{ExtraRoots: []*x509.Certificate{tp.pki.Root}, WithoutIntelRoot: true})}},
	}
}

func (tp *testPlatform) policy() *appraise.Policy {
	o := &tp.pl.QuoteOptions
	return &appraise.Policy{
		SGX: &appraise.SGXReference{MRSigner: []string{hex.EncodeToString(o.SGX.MRSigner[:])}},
		TDX: &appraise.TDXReference{MRTD: []string{hex.EncodeToString(o.TD.MRTD[:])}},
	}
}

func (tp *testPlatform) certificate(t *testing.T, opts *CertificateOptions) *x509.Certificate {
	t.Helper()
	key, _ := GenerateKey("")
	if opts == nil {
		opts = &CertificateOptions{}
	}
	opts.Now = func() time.Time { return tp.pki.Now }
	der, err := CreateCertificate(context.Background(), key, tp, opts)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// A certificate carrying its collateral verifies offline, end to end.
func TestVerifyCertificateWithEndorsements(t *testing.T) {
	for _, tdx := range []bool{false, true} {
		tp := newTestPlatform(t, tdx)
		cert := tp.certificate(t, &CertificateOptions{Endorsements: tp.endorsements(t)})
		v, err := VerifyCertificate(context.Background(), cert, tp.options())
		if err != nil {
			t.Fatal(err)
		}
		if v.Err != nil || !v.Accepted() || v.Appraisal.Status != appraise.Affirming {
			t.Fatalf("tdx=%v: %v %+v", tdx, v.Err, v.Appraisal)
		}
		if v.Binding.Status != evidence.BindingOK || intelOf(v).TCB.Status != pcs.StatusUpToDate || intelOf(v).Collateral.Source != "certificate endorsements extension" {
			t.Errorf("tdx=%v: binding %s, status %s, source %s", tdx, v.Binding.Status, intelOf(v).TCB.Status, intelOf(v).Collateral.Source)
		}
	}
}

func TestVerifyCertificateRejections(t *testing.T) {
	tp := newTestPlatform(t, true)
	ctx := context.Background()
	reason := func(v *Verification, check string) bool {
		for _, r := range v.Appraisal.Reasons {
			if r.Check == check && r.Status == appraise.Contraindicated {
				return true
			}
		}
		return false
	}

	// No collateral anywhere: verified signatures, but not accepted.
	v, err := VerifyCertificate(ctx, tp.certificate(t, nil), tp.options())
	if err != nil {
		t.Fatal(err)
	}
	if v.Accepted() || !reason(v, intel.CheckCollateral) {
		t.Errorf("no collateral: %+v", v.Appraisal)
	}
	// With a provider instead of endorsements it is accepted.
	opt := tp.options()
	dcapOf(opt).Collateral = staticCollateral(t, tp)
	if v, _ = VerifyCertificate(ctx, tp.certificate(t, nil), opt); !v.Accepted() {
		t.Errorf("collateral from a provider: %+v", v.Appraisal)
	}

	// Evidence bound to another key.
	good := tp.certificate(t, &CertificateOptions{Endorsements: tp.endorsements(t)})
	other := tp.certificate(t, nil)
	swapped := cloneWithExtensionsOf(t, other, good)
	if v, err = VerifyCertificate(ctx, swapped, tp.options()); err != nil {
		t.Fatal(err)
	}
	if v.Accepted() || !reason(v, "key_binding") {
		t.Errorf("swapped key: %+v", v.Appraisal)
	}

	// Expired certificate.
	opt = tp.options()
	opt.Now = good.NotAfter.Add(time.Hour)
	if v, _ = VerifyCertificate(ctx, good, opt); v.Accepted() || !reason(v, "certificate.validity") {
		t.Errorf("expired certificate: %+v", v.Appraisal)
	}

	// A certificate without evidence.
	plain := &x509.Certificate{Raw: good.Raw}
	if v, err = VerifyCertificate(ctx, plain, tp.options()); err != nil || v.Accepted() {
		t.Errorf("no evidence: %v %+v", err, v.Appraisal)
	}
}

// cloneWithExtensionsOf re-signs a certificate with dst's key but the
// evidence extensions of src: the classic relay of someone else's quote.
func cloneWithExtensionsOf(t *testing.T, dst, src *x509.Certificate) *x509.Certificate {
	t.Helper()
	key, _ := GenerateKey("")
	tmpl := &x509.Certificate{SerialNumber: dst.SerialNumber, Subject: dst.Subject, NotBefore: dst.NotBefore, NotAfter: dst.NotAfter}
	for _, e := range src.Extensions {
		if evidence.IsEvidenceExtension(e.Id) || e.Id.Equal(evidence.OIDEndorsements) {
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, e)
		}
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// Collateral packed into the endorsements extension verifies like the
// original.
func TestEndorsementsFromCollateral(t *testing.T) {
	tp := newTestPlatform(t, true)
	c, err := tp.pl.Collateral()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := c.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := pcs.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cert := tp.certificate(t, &CertificateOptions{Endorsements: EndorsementsFromCollateral(loaded)})
	v, err := VerifyCertificate(context.Background(), cert, tp.options())
	if err != nil || !v.Accepted() || intelOf(v).Collateral.Source != "certificate endorsements extension" {
		t.Fatalf("%v %+v", err, v.Appraisal)
	}
}

// Raw SEV-SNP and Arm CCA evidence goes to their verifiers and policies.
func TestVerifyEvidenceSNPAndCCA(t *testing.T) {
	ctx := context.Background()
	// go-sev-guest's Milan report (a debug guest) with its VCEK chain, at
	// its pinned time; no CRL is available offline.
	items, err := evidence.ParseRaw(readTestFile(t, "testdata/snp-go-sev-guest/attestation.bin"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeTestFile(t, dir+"/vcek.der", readTestFile(t, "testdata/snp-go-sev-guest/vcek.testcer.der"))
	chain := readTestFile(t, "testdata/snp-go-sev-guest/milan_cert_chain.pem")
	ask, ark := splitPEM(t, chain)
	writeTestFile(t, dir+"/ask.pem", ask)
	writeTestFile(t, dir+"/ark.pem", ark)
	certs, err := kds.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	opt := &VerifyOptions{Now: time.Date(2022, 9, 25, 0, 55, 28, 0, time.UTC), TEE: []tee.Options{&sevsnp.Options{Certificates: kds.Static{C: certs}}}}
	v := VerifyEvidence(ctx, items[0], opt)
	if amdOf(v) == nil || v.Accepted() {
		t.Fatalf("default policy must refuse a debug guest without CRL: %+v", v.Appraisal)
	}
	opt.Policy = &appraise.Policy{AllowDebug: true, SNP: &appraise.SNPReference{AllowNoCRL: true}}
	if v = VerifyEvidence(ctx, items[0], opt); !v.Accepted() || v.Appraisal.Status != appraise.Warning {
		t.Fatalf("allowing policy: %v %+v", v.Err, v.Appraisal)
	}
	// Without certificates: refused, and the reason says so.
	if v = VerifyEvidence(ctx, items[0], &VerifyOptions{Now: opt.Now, Policy: opt.Policy}); v.Accepted() {
		t.Fatal("SNP report without certificates accepted")
	}

	// A CCA token with its platform key.
	items, err = evidence.ParseRaw(readTestFile(t, "testdata/cca-tfm/cca_example_token.cbor"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(readTestFile(t, "testdata/cca-tfm/cca_platform_CPAK.pub.pem"))
	cpak, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if v = VerifyEvidence(ctx, items[0], &VerifyOptions{TEE: []tee.Options{&armcca.Options{Key: cpak}}}); !v.Accepted() || ccaOf(v) == nil {
		t.Fatalf("CCA token: %v %+v", v.Err, v.Appraisal)
	}
	if v = VerifyEvidence(ctx, items[0], nil); v.Accepted() {
		t.Fatal("CCA token accepted without a platform key")
	}
}

func readTestFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeTestFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// splitPEM returns the first two PEM blocks of a chain (ASK, then ARK).
func splitPEM(t *testing.T, b []byte) ([]byte, []byte) {
	t.Helper()
	first, rest := pem.Decode(b)
	second, _ := pem.Decode(rest)
	if first == nil || second == nil {
		t.Fatal("want two PEM blocks")
	}
	return pem.EncodeToMemory(first), pem.EncodeToMemory(second)
}

// A certificate carrying a SEV-SNP report (tag 0x1a7504) and the VCEK chain
// in its endorsements verifies without KDS. The real report was not made for
// this certificate's key, so the binding is refused — and only it (besides
// the debug guest and the missing CRL the policy allows).
func TestVerifyCertificateSNPEndorsements(t *testing.T) {
	report := readTestFile(t, "testdata/snp-go-sev-guest/attestation.bin")
	dir := t.TempDir()
	writeTestFile(t, dir+"/vcek.der", readTestFile(t, "testdata/snp-go-sev-guest/vcek.testcer.der"))
	ask, ark := splitPEM(t, readTestFile(t, "testdata/snp-go-sev-guest/milan_cert_chain.pem"))
	writeTestFile(t, dir+"/ask.pem", ask)
	writeTestFile(t, dir+"/ark.pem", ark)
	certs, err := kds.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	snpAttester := AttesterFunc(func(context.Context, [64]byte) (*evidence.Evidence, error) {
		return &evidence.Evidence{Tag: evidence.TagSEVSNP, Data: report}, nil
	})
	now := time.Date(2022, 9, 25, 0, 55, 28, 0, time.UTC)
	key, _ := GenerateKey("")
	der, err := CreateCertificate(context.Background(), key, snpAttester, &CertificateOptions{
		Endorsements: EndorsementsFromSNPCertificates(certs), Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	v, err := VerifyCertificate(context.Background(), cert, &VerifyOptions{Now: now,
		Policy: &appraise.Policy{AllowDebug: true, SNP: &appraise.SNPReference{AllowNoCRL: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if amdOf(v) == nil || v.Accepted() {
		t.Fatalf("want a rejected SNP verification, got %+v", v.Appraisal)
	}
	for _, r := range v.Appraisal.Reasons {
		if r.Status == appraise.Contraindicated && r.Check != "key_binding" {
			t.Errorf("unexpected reason %s: %s", r.Check, r.Message)
		}
	}
	if c, ok := amdOf(v).Check("chain"); !ok || !c.OK {
		t.Errorf("chain from the endorsements did not verify: %+v", c)
	}
}
