package ratls

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
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

func (tp *testPlatform) options() *VerifyOptions {
	return &VerifyOptions{
		Now:   tp.pki.Now,
		Intel: intel.NewVerifier(&intel.Config{ExtraRoots: []*x509.Certificate{tp.pki.Root}, WithoutIntelRoot: true}),
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
		if v.Binding.Status != evidence.BindingOK || v.Intel.TCB.Status != pcs.StatusUpToDate || v.Intel.Collateral.Source != "certificate endorsements extension" {
			t.Errorf("tdx=%v: binding %s, status %s, source %s", tdx, v.Binding.Status, v.Intel.TCB.Status, v.Intel.Collateral.Source)
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
	opt := tp.options()
	opt.Collateral = pcs.Static{C: loaded}
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
	if err != nil || !v.Accepted() || v.Intel.Collateral.Source != "certificate endorsements extension" {
		t.Fatalf("%v %+v", err, v.Appraisal)
	}
}
