package amdtest_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/testing/amdtest"
	"github.com/ratls/ratls/verify/amd"
)

// What the PKI makes verifies with the SEV-SNP verifier trusting its ARK,
// and its certificate table parses back to its certificates.
func TestPKI(t *testing.T) {
	p, err := amdtest.New()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	crl, err := p.CRL(1, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	v := amd.NewVerifier(&amd.Config{ExtraRoots: []*x509.Certificate{p.ARK}})
	for _, tc := range []struct {
		key   snp.SigningKey
		chain []*x509.Certificate
		leaf  []byte
	}{
		{snp.SigningKeyVCEK, []*x509.Certificate{p.VCEK, p.ASK, p.ARK}, p.VCEK.Raw},
		{snp.SigningKeyVLEK, []*x509.Certificate{p.VLEK, p.ASVK, p.ARK}, p.VLEK.Raw},
	} {
		b, err := p.Report(tc.key, [64]byte{1, 2, 3}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := v.VerifyBytes(context.Background(), b, amd.Options{Now: now, Certs: tc.chain,
			CRLs: []kds.CRL{{List: crl, Kind: kds.CRLKindFor(tc.key), Source: "test"}}})
		if err != nil {
			t.Fatalf("%s report: %v", tc.key, err)
		}
		if r.Report.ReportData[2] != 3 || r.Product != "Milan" || r.SigningKey != map[snp.SigningKey]string{snp.SigningKeyVCEK: "vcek", snp.SigningKeyVLEK: "vlek"}[tc.key] {
			t.Errorf("%s report: %+v", tc.key, r)
		}
		ct, err := snp.ParseCertTable(p.CertTable(tc.key, crl))
		if err != nil {
			t.Fatal(err)
		}
		leaf := ct.VCEK
		if tc.key == snp.SigningKeyVLEK {
			leaf = ct.VLEK
		}
		if !bytes.Equal(leaf, tc.leaf) || !bytes.Equal(ct.ASK, tc.chain[1].Raw) || !bytes.Equal(ct.ARK, p.ARK.Raw) ||
			!bytes.Equal(ct.CRL, crl.Raw) || ct.Unknown != 0 {
			t.Errorf("%s certificate table does not hold the PKI's certificates", tc.key)
		}
	}
}
