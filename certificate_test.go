package ratls

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/keybinding"
	"github.com/ratls/ratls/tee"
)

// fakeQuoteAttester returns structurally valid SGX v3 quotes carrying the
// requested report data. Their signatures are meaningless: these tests are
// about certificate layout and key binding.
type fakeQuoteAttester struct{ calls int }

func (a *fakeQuoteAttester) Attest(_ context.Context, rd [64]byte) (*evidence.Evidence, error) {
	a.calls++
	q := &quote.Quote{
		Header:   quote.Header{Version: 3, AttKeyType: quote.AttKeyTypeECDSAP256},
		BodyType: quote.BodyTypeSGX,
		SGX:      &quote.SGXReportBody{ReportData: rd, ISVProdID: 7},
	}
	q.Signature.QEReportRaw = make([]byte, quote.SGXReportBodySize)
	q.Signature.Certification = quote.CertificationData{Type: quote.CertTypePCKChain, Data: []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")}
	return &evidence.Evidence{Tag: evidence.TagIntelQuote, Data: q.Marshal()}, nil
}

func create(t *testing.T, key crypto.Signer, opts *CertificateOptions) *x509.Certificate {
	t.Helper()
	der, err := CreateCertificate(context.Background(), key, &fakeQuoteAttester{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestCreateCertificateDefaults(t *testing.T) {
	key, err := GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := key.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		t.Fatalf("default key: want ECDSA P-256, got %T", key)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cert := create(t, key, &CertificateOptions{Now: func() time.Time { return now }})

	if cert.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("signature algorithm: want ECDSA-SHA256, got %s", cert.SignatureAlgorithm)
	}
	if cert.IsCA || !cert.BasicConstraintsValid {
		t.Errorf("basic constraints: want CA:FALSE, got valid=%v ca=%v", cert.BasicConstraintsValid, cert.IsCA)
	}
	if cert.Subject.CommonName != "ratls" || !bytes.Equal(cert.SubjectKeyId, cert.AuthorityKeyId) || len(cert.SubjectKeyId) != 20 {
		t.Errorf("subject %q, SKI %x, AKI %x", cert.Subject, cert.SubjectKeyId, cert.AuthorityKeyId)
	}
	if !cert.NotBefore.Equal(now.Add(-time.Minute)) || !cert.NotAfter.Equal(now.Add(DefaultValidity)) {
		t.Errorf("validity: got %s .. %s", cert.NotBefore, cert.NotAfter)
	}
	if err := CheckSelfSignature(cert); err != nil {
		t.Errorf("self-signature: %v", err)
	}
	// This is why CheckSelfSignature exists.
	if err := cert.CheckSignatureFrom(cert); err == nil {
		t.Error("CheckSignatureFrom on a CA:FALSE certificate unexpectedly succeeded")
	}

	var ext *pkix.Extension
	for i := range cert.Extensions {
		if cert.Extensions[i].Id.Equal(evidence.OIDTaggedEvidence) {
			ext = &cert.Extensions[i]
		}
	}
	if ext == nil || ext.Critical {
		t.Fatalf("evidence extension: want present and non-critical, got %+v", ext)
	}
	// Peers (Gramine) demand OID, no critical flag, then 04 82 LL LL.
	n := len(ext.Value)
	want := append([]byte{0x06, 0x06, 0x67, 0x81, 0x05, 0x05, 0x04, 0x09, 0x04, 0x82, byte(n >> 8), byte(n)}, ext.Value[:3]...)
	if !bytes.Contains(cert.Raw, want) {
		t.Errorf("extension encoding: %x not found", want)
	}
	if !bytes.HasPrefix(ext.Value, []byte{0xd9, 0xea, 0x60, 0x82}) {
		t.Errorf("extension value: want raw tag(60000) array, got %x", ext.Value[:4])
	}

	ce, err := evidence.FromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	it := tee.Preferred(ce)
	if b := keybinding.Check(it, cert); b.Status != evidence.BindingOK || b.Rule != evidence.RuleClaimsSHA256 {
		t.Errorf("binding: %s/%s: %s", b.Status, b.Rule, b.Detail)
	}
	if it.Claims.Nonce != nil {
		t.Error("nonce present without being asked for")
	}
}

func TestCreateCertificateKeyTypes(t *testing.T) {
	for _, tc := range []struct {
		alg KeyAlgorithm
		sig x509.SignatureAlgorithm
	}{
		{KeyECDSAP384, x509.ECDSAWithSHA384},
		{KeyRSA3072, x509.SHA256WithRSA},
	} {
		key, err := GenerateKey(tc.alg)
		if err != nil {
			t.Fatal(err)
		}
		cert := create(t, key, nil)
		if cert.SignatureAlgorithm != tc.sig {
			t.Errorf("%s: signature algorithm %s, want %s", tc.alg, cert.SignatureAlgorithm, tc.sig)
		}
		if rk, ok := key.(*rsa.PrivateKey); ok && rk.N.BitLen() != 3072 {
			t.Errorf("RSA key size %d", rk.N.BitLen())
		}
		if err := CheckSelfSignature(cert); err != nil {
			t.Errorf("%s: %v", tc.alg, err)
		}
		ce, err := evidence.FromCertificate(cert)
		if err != nil {
			t.Fatal(err)
		}
		if b := keybinding.Check(tee.Preferred(ce), cert); b.Status != evidence.BindingOK {
			t.Errorf("%s binding: %s", tc.alg, b.Detail)
		}
	}
	if _, err := GenerateKey("dsa"); err == nil {
		t.Error("unknown key algorithm: want an error")
	}
}

func TestCreateCertificateOptions(t *testing.T) {
	key, _ := GenerateKey("")
	end := &evidence.Endorsements{Version: 1, TCBInfo: []byte("{}")}
	cert := create(t, key, &CertificateOptions{
		Subject:       pkix.Name{CommonName: "enclave", Organization: []string{"Example"}},
		DNSNames:      []string{"enclave.example"},
		Nonce:         []byte("fresh-nonce-1234"),
		PubKeyHash:    evidence.SHA512,
		Endorsements:  end,
		LegacyGramine: true,
		NotBefore:     time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:      time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
	})
	if cert.Subject.CommonName != "enclave" || cert.DNSNames[0] != "enclave.example" || cert.NotAfter.Month() != 2 {
		t.Errorf("subject/names/validity not applied: %s %v %s", cert.Subject, cert.DNSNames, cert.NotAfter)
	}
	ce, err := evidence.FromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	if len(ce.Items) != 2 {
		t.Fatalf("items: want interop + legacy, got %d", len(ce.Items))
	}
	interop := tee.Preferred(ce)
	if string(interop.Claims.Nonce) != "fresh-nonce-1234" || interop.Claims.PubKeyHashAlg != evidence.SHA512 {
		t.Errorf("claims: %+v", interop.Claims)
	}
	for _, it := range ce.Items {
		if b := keybinding.Check(it, cert); b.Status != evidence.BindingOK {
			t.Errorf("%s binding: %s", it.Format, b.Detail)
		}
	}
	legacy := ce.Items[1]
	spkiHash := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	if legacy.Format != evidence.FormatGramineLegacy || !bytes.Equal(legacy.ReportData()[:32], spkiHash[:]) {
		t.Errorf("legacy item: format %s report data %x", legacy.Format, legacy.ReportData())
	}
	if ce.Endorsements == nil || string(ce.Endorsements.TCBInfo) != "{}" || ce.Endorsements.VersionWidth != 4 {
		t.Errorf("endorsements: %+v", ce.Endorsements)
	}
}

func TestCreateCertificateIssuedByCA(t *testing.T) {
	caKey, _ := GenerateKey("")
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(nil, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := GenerateKey("")
	cert := create(t, key, &CertificateOptions{Parent: ca, ParentKey: caKey})
	if err := cert.CheckSignatureFrom(ca); err != nil {
		t.Errorf("signature by CA: %v", err)
	}
	if cert.Issuer.CommonName != "test CA" || bytes.Equal(cert.AuthorityKeyId, cert.SubjectKeyId) {
		t.Errorf("issuer %s, AKI %x", cert.Issuer, cert.AuthorityKeyId)
	}
	if _, err := CreateCertificate(context.Background(), key, &fakeQuoteAttester{}, &CertificateOptions{Parent: ca}); err == nil {
		t.Error("Parent without ParentKey: want an error")
	}
}

func TestCreateCertificateErrors(t *testing.T) {
	key, _ := GenerateKey("")
	ctx := context.Background()
	failing := AttesterFunc(func(context.Context, [64]byte) (*evidence.Evidence, error) { return nil, errors.New("device busy") })
	if _, err := CreateCertificate(ctx, key, failing, nil); err == nil || !strings.Contains(err.Error(), "device busy") {
		t.Errorf("attester error: got %v", err)
	}
	empty := AttesterFunc(func(context.Context, [64]byte) (*evidence.Evidence, error) {
		return &evidence.Evidence{Tag: evidence.TagIntelQuote}, nil
	})
	if _, err := CreateCertificate(ctx, key, empty, nil); err == nil {
		t.Error("empty evidence: want an error")
	}
	snp := AttesterFunc(func(context.Context, [64]byte) (*evidence.Evidence, error) {
		return &evidence.Evidence{Tag: evidence.TagSEVSNP, Data: make([]byte, 1184)}, nil
	})
	if _, err := CreateCertificate(ctx, key, snp, &CertificateOptions{LegacyGramine: true}); err == nil || !strings.Contains(err.Error(), "legacy Gramine") {
		t.Errorf("legacy extension without a quote: got %v", err)
	}
	now := time.Now()
	if _, err := CreateCertificate(ctx, key, &fakeQuoteAttester{}, &CertificateOptions{NotBefore: now, NotAfter: now.Add(-time.Hour)}); err == nil {
		t.Error("NotAfter before NotBefore: want an error")
	}
	if _, err := CreateCertificate(ctx, nil, &fakeQuoteAttester{}, nil); err == nil {
		t.Error("nil key: want an error")
	}
}

func BenchmarkCreateCertificate(b *testing.B) {
	key, _ := GenerateKey("")
	att := &fakeQuoteAttester{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CreateCertificate(context.Background(), key, att, nil); err != nil {
			b.Fatal(err)
		}
	}
}
