package dcapsim

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"
)

// compareCertShape checks that ours has the structure of Intel's: the same
// DER shape overall (DN attribute types and string types, validity time
// types, extension OIDs, order and criticality) and the same shape of each
// extension value.
func compareCertShape(t *testing.T, what string, ours, intel *x509.Certificate) {
	t.Helper()
	diffShapes(t, what+" certificate", mustShape(t, ours.Raw), mustShape(t, intel.Raw))
	if len(ours.Extensions) != len(intel.Extensions) {
		t.Fatalf("%s: %d extensions, Intel's has %d", what, len(ours.Extensions), len(intel.Extensions))
	}
	for i, e := range ours.Extensions {
		ie := intel.Extensions[i]
		if !e.Id.Equal(ie.Id) || e.Critical != ie.Critical {
			t.Errorf("%s extension %d: got %v critical=%v, Intel's %v critical=%v", what, i, e.Id, e.Critical, ie.Id, ie.Critical)
			continue
		}
		diffShapes(t, what+" extension "+e.Id.String(), mustShape(t, e.Value), mustShape(t, ie.Value))
	}
}

func extensionValue(c *x509.Certificate, oid asn1.ObjectIdentifier) []byte {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e.Value
		}
	}
	return nil
}

func TestCertificatesHaveIntelShape(t *testing.T) {
	p := newTestPKI(t)
	for _, tc := range []struct {
		name  string
		ours  *x509.Certificate
		intel string
	}{
		{"root", p.Root, "Intel_SGX_Root_CA.pem"},
		{"platform CA", p.PlatformCA, "Intel_SGX_PCK_Platform_CA.pem"},
		{"processor CA", p.ProcessorCA, "Intel_SGX_PCK_Processor_CA.pem"},
		{"TCB signer", p.TCBSigner, "Intel_SGX_TCB_Signing_2018-2025.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			intel := readCertPEM(t, "intel-roots", tc.intel)
			compareCertShape(t, tc.name, tc.ours, intel)
			// Key usage and basic constraints carry no per-certificate
			// data, so they must be byte-identical to Intel's.
			for _, oid := range []asn1.ObjectIdentifier{oidKeyUsage, oidBasicConstraints} {
				if got, want := extensionValue(tc.ours, oid), extensionValue(intel, oid); !bytes.Equal(got, want) {
					t.Errorf("extension %v: got %x, Intel's %x", oid, got, want)
				}
			}
			if tc.ours.SignatureAlgorithm != intel.SignatureAlgorithm || tc.ours.PublicKeyAlgorithm != intel.PublicKeyAlgorithm {
				t.Errorf("algorithms: got %v/%v, Intel's %v/%v", tc.ours.SignatureAlgorithm, tc.ours.PublicKeyAlgorithm, intel.SignatureAlgorithm, intel.PublicKeyAlgorithm)
			}
			wantCN := strings.Replace(intel.Subject.CommonName, "Intel SGX", "Test SGX", 1)
			if tc.ours.Subject.CommonName != wantCN {
				t.Errorf("common name: got %q, want %q", tc.ours.Subject.CommonName, wantCN)
			}
			if strings.Contains(string(tc.ours.RawSubject), "Intel") || strings.Contains(string(tc.ours.RawIssuer), "Intel") {
				t.Errorf("names must not claim to be Intel's: subject %q issuer %q", tc.ours.Subject, tc.ours.Issuer)
			}
		})
	}
}

func TestRootIsLikeIntels(t *testing.T) {
	p := newTestPKI(t)
	r := p.Root
	if !r.IsCA || r.MaxPathLen != 1 || !r.BasicConstraintsValid {
		t.Errorf("root basic constraints: IsCA %v MaxPathLen %d", r.IsCA, r.MaxPathLen)
	}
	if r.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("root key usage: %v", r.KeyUsage)
	}
	// Intel's root has AKI == SKI == serial number.
	if !bytes.Equal(r.AuthorityKeyId, r.SubjectKeyId) || !bytes.Equal(r.SerialNumber.Bytes(), r.SubjectKeyId) {
		t.Errorf("root AKI %x SKI %x serial %x: want all equal", r.AuthorityKeyId, r.SubjectKeyId, r.SerialNumber.Bytes())
	}
	if err := r.CheckSignatureFrom(r); err != nil {
		t.Errorf("root is not self-signed: %v", err)
	}
	if got := r.CRLDistributionPoints; len(got) != 1 || got[0] != DefaultRootCRLURL {
		t.Errorf("root CRL distribution points: got %v, want [%s]", got, DefaultRootCRLURL)
	}
	for _, c := range []*x509.Certificate{p.PlatformCA, p.ProcessorCA} {
		if !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero {
			t.Errorf("%s: want CA with path length 0, got IsCA %v MaxPathLen %d", c.Subject.CommonName, c.IsCA, c.MaxPathLen)
		}
	}
	if p.TCBSigner.IsCA || p.TCBSigner.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		t.Errorf("TCB signer: IsCA %v key usage %v", p.TCBSigner.IsCA, p.TCBSigner.KeyUsage)
	}
}

func TestCertificatesChainToRoot(t *testing.T) {
	p := newTestPKI(t)
	roots := x509.NewCertPool()
	roots.AddCert(p.Root)
	for _, c := range []*x509.Certificate{p.PlatformCA, p.ProcessorCA, p.TCBSigner} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: p.Now}); err != nil {
			t.Errorf("%s: %v", c.Subject.CommonName, err)
		}
		if !bytes.Equal(c.AuthorityKeyId, p.Root.SubjectKeyId) {
			t.Errorf("%s: AKI %x, root SKI %x", c.Subject.CommonName, c.AuthorityKeyId, p.Root.SubjectKeyId)
		}
	}
	// Not trusted under Intel's real root.
	intelRoots := x509.NewCertPool()
	intelRoots.AddCert(readCertPEM(t, "intel-roots", "Intel_SGX_Root_CA.pem"))
	if _, err := p.TCBSigner.Verify(x509.VerifyOptions{Roots: intelRoots, CurrentTime: p.Now}); err == nil {
		t.Error("TCB signer verifies under Intel's root")
	}
	// Outside its validity the chain fails.
	if _, err := p.TCBSigner.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: p.Now.AddDate(8, 0, 0)}); err == nil {
		t.Error("TCB signer verifies 8 years after Now (default validity is 7 years)")
	}
}

func TestOptions(t *testing.T) {
	nb := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	na := time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)
	p, err := New(Options{
		Now:              testNow,
		Rand:             mrand.NewChaCha8([32]byte{2}),
		CommonNamePrefix: "Acme SGX",
		Organization:     "Acme",
		RootValidity:     Validity{nb, na},
		RootCRLURL:       "https://crl.example.org/root.der",
		PCKCRLURLBase:    "https://pcs.example.org/pckcrl",
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Root.Subject.CommonName != "Acme SGX Root CA" || p.Root.Subject.Organization[0] != "Acme" {
		t.Errorf("root subject: %v", p.Root.Subject)
	}
	if !p.Root.NotBefore.Equal(nb) || !p.Root.NotAfter.Equal(na) {
		t.Errorf("root validity: %v .. %v, want %v .. %v", p.Root.NotBefore, p.Root.NotAfter, nb, na)
	}
	if p.TCBSigner.CRLDistributionPoints[0] != "https://crl.example.org/root.der" {
		t.Errorf("TCB signer CDP: %v", p.TCBSigner.CRLDistributionPoints)
	}
	pck, err := p.NewPCK(PCKOptions{CA: CAProcessor})
	if err != nil {
		t.Fatal(err)
	}
	if got := pck.Cert.CRLDistributionPoints; len(got) != 1 || got[0] != "https://pcs.example.org/pckcrl?ca=processor&encoding=der" {
		t.Errorf("PCK CDP: %v", got)
	}
	if pck.Cert.Subject.CommonName != "Acme SGX PCK Certificate" {
		t.Errorf("PCK subject: %v", pck.Cert.Subject)
	}

	// Zero Now means the current time.
	before := time.Now().Add(-time.Second)
	q, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if q.Now.Before(before) || q.Now.After(time.Now()) {
		t.Errorf("default Now %v is not the current time", q.Now)
	}
	if q.Root.Subject.CommonName != "Test SGX Root CA" || q.Root.Subject.Organization[0] != DefaultOrganization {
		t.Errorf("default subject: %v", q.Root.Subject)
	}
}

func TestNewFailsWithoutRandomness(t *testing.T) {
	if _, err := New(Options{Rand: bytes.NewReader(make([]byte, 10))}); err == nil {
		t.Error("New succeeded with a 10-byte random source")
	}
	// An all-zero source never gives a valid scalar.
	if _, err := New(Options{Rand: zeroReader{}}); err == nil {
		t.Error("New succeeded with an all-zero random source")
	}
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) { clear(b); return len(b), nil }

func TestDeterministic(t *testing.T) {
	build := func(seed byte) (root, tcbInfo, q []byte) {
		p, err := New(Options{Now: testNow, Rand: mrand.NewChaCha8([32]byte{seed})})
		if err != nil {
			t.Fatal(err)
		}
		pl, err := p.DefaultPlatform(true)
		if err != nil {
			t.Fatal(err)
		}
		q, err = pl.NewQuote([64]byte{9})
		if err != nil {
			t.Fatal(err)
		}
		c, err := pl.Collateral()
		if err != nil {
			t.Fatal(err)
		}
		return p.Root.Raw, c.TCBInfo, q
	}
	r1, t1, q1 := build(7)
	r2, t2, q2 := build(7)
	r3, _, q3 := build(8)
	if !bytes.Equal(r1, r2) || !bytes.Equal(t1, t2) || !bytes.Equal(q1, q2) {
		t.Error("same seed gave different output")
	}
	if bytes.Equal(r1, r3) || bytes.Equal(q1, q3) {
		t.Error("different seeds gave the same output")
	}
}

func TestCRLs(t *testing.T) {
	p := newTestPKI(t)
	this := time.Date(2025, 5, 20, 10, 0, 0, 0, time.UTC)
	next := time.Date(2025, 6, 19, 10, 0, 0, 0, time.UTC)
	revoked := []*big.Int{big.NewInt(0x1234), new(big.Int).Lsh(big.NewInt(1), 159)}

	for _, tc := range []struct {
		name   string
		issuer *x509.Certificate
		make   func() ([]byte, error)
	}{
		{"root", p.Root, func() ([]byte, error) { return p.RootCRL(revoked, this, next) }},
		{"platform", p.PlatformCA, func() ([]byte, error) { return p.PCKCRL(CAPlatform, revoked, this, next) }},
		{"processor", p.ProcessorCA, func() ([]byte, error) { return p.PCKCRL(CAProcessor, revoked, this, next) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der, err := tc.make()
			if err != nil {
				t.Fatal(err)
			}
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := crl.CheckSignatureFrom(tc.issuer); err != nil {
				t.Errorf("CRL signature: %v", err)
			}
			if !crl.ThisUpdate.Equal(this) || !crl.NextUpdate.Equal(next) {
				t.Errorf("dates: %v .. %v", crl.ThisUpdate, crl.NextUpdate)
			}
			if crl.Number.Cmp(big.NewInt(1)) != 0 || !bytes.Equal(crl.AuthorityKeyId, tc.issuer.SubjectKeyId) {
				t.Errorf("number %v AKI %x", crl.Number, crl.AuthorityKeyId)
			}
			if len(crl.RevokedCertificateEntries) != 2 {
				t.Fatalf("want 2 entries, got %d", len(crl.RevokedCertificateEntries))
			}
			for i, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber.Cmp(revoked[i]) != 0 || !e.RevocationTime.Equal(this) || e.ReasonCode != 1 {
					t.Errorf("entry %d: serial %x time %v reason %d", i, e.SerialNumber, e.RevocationTime, e.ReasonCode)
				}
			}
			if !bytes.Equal(crl.RawIssuer, tc.issuer.RawSubject) {
				t.Error("issuer name differs from the CA subject")
			}
			if err := crl.CheckSignatureFrom(p.TCBSigner); err == nil {
				t.Error("CRL verifies with the wrong issuer")
			}
		})
	}

	if _, err := p.PCKCRL("nope", nil, this, next); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown CA: got %v", err)
	}
	if _, err := p.RootCRL([]*big.Int{big.NewInt(0)}, this, next); err == nil {
		t.Error("serial 0 accepted")
	}
	if _, err := p.RootCRL([]*big.Int{nil}, this, next); err == nil {
		t.Error("nil serial accepted")
	}

	// Defaults: thisUpdate Now-24h, nextUpdate +30 days, no entries.
	der, err := p.RootCRL(nil, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if !crl.ThisUpdate.Equal(testNow.Add(-24*time.Hour)) || !crl.NextUpdate.Equal(testNow.Add(29*24*time.Hour)) || len(crl.RevokedCertificateEntries) != 0 {
		t.Errorf("default CRL: %v .. %v, %d entries", crl.ThisUpdate, crl.NextUpdate, len(crl.RevokedCertificateEntries))
	}
}

func TestCRLsHaveIntelShape(t *testing.T) {
	p := newTestPKI(t)
	// An empty root CRL has exactly the shape of Intel's.
	root, err := p.RootCRL(nil, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	diffShapes(t, "root CRL", mustShape(t, root), mustShape(t, readTestdata(t, "zkdcap", "intel_root_ca_crl.der")))

	// A PCK CRL with entries: Intel's has 44, so compare the shape with
	// the entry list reduced to its first entry on both sides.
	pck, err := p.PCKCRL(CAPlatform, []*big.Int{big.NewInt(5), big.NewInt(6)}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	diffShapes(t, "PCK CRL", firstEntryOnly(t, pck), firstEntryOnly(t, readTestdata(t, "zkdcap", "pck_platform_crl.der")))
}

// firstEntryOnly returns the DER shape of a CRL whose revokedCertificates
// list is cut down to its first entry.
func firstEntryOnly(t *testing.T, der []byte) []string {
	t.Helper()
	var crl struct {
		TBS       asn1.RawValue
		Algorithm asn1.RawValue
		Signature asn1.RawValue
	}
	if _, err := asn1.Unmarshal(der, &crl); err != nil {
		t.Fatal(err)
	}
	var tbs []byte
	found := false
	for rest := crl.TBS.Bytes; len(rest) > 0; {
		var f asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &f); err != nil {
			t.Fatal(err)
		}
		// The entry list is the only universal SEQUENCE after the issuer
		// whose elements are SEQUENCEs starting with an INTEGER.
		if f.Class == asn1.ClassUniversal && f.Tag == asn1.TagSequence && len(tbs) > 0 && !found {
			var first asn1.RawValue
			if _, err := asn1.Unmarshal(f.Bytes, &first); err == nil && first.Tag == asn1.TagSequence && len(first.Bytes) > 0 && first.Bytes[0] == 0x02 {
				found = true
				b, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: first.FullBytes})
				if err != nil {
					t.Fatal(err)
				}
				tbs = append(tbs, b...)
				continue
			}
		}
		tbs = append(tbs, f.FullBytes...)
	}
	if !found {
		t.Fatal("CRL has no revoked certificate entries")
	}
	tbsDER, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: tbs})
	if err != nil {
		t.Fatal(err)
	}
	shape := mustShape(t, tbsDER)
	shape = append(shape, mustShape(t, crl.Algorithm.FullBytes)...)
	return append(shape, mustShape(t, crl.Signature.FullBytes)...)
}
