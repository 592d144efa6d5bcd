package service_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/service/api"
)

// A certificate without RA-TLS evidence is a bad request, not a crash: an
// ordinary TLS certificate, and a DCAP quote posted as a PEM chain (whose
// first PEM block is the PCK certificate embedded in the quote).
func TestEvidenceCertificateWithoutRATLSEvidence(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "plain"},
		NotBefore: f.clock().Add(-time.Hour), NotAfter: f.clock().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	q := quote(t, f.sgx, nil)
	if !strings.Contains(string(q), "-----BEGIN CERTIFICATE-----") {
		t.Fatal("the simulated quote carries no PEM PCK chain")
	}
	for _, c := range []struct {
		name, mt string
		body     []byte
	}{
		{"DER certificate", api.MediaCertificateDER, der},
		{"PEM certificate", api.MediaCertificatePEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})},
		{"DCAP quote as PEM", api.MediaCertificatePEM, q},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := f.do("POST", api.PathAttest, "", c.mt, c.body).problem(t, 400, "malformed-evidence")
			if !strings.Contains(p.Detail, "no RA-TLS evidence") {
				t.Errorf("detail: want it to say the certificate carries no RA-TLS evidence, got %q", p.Detail)
			}
			// In a session, a contraindicated result.
			loc, s := f.newSession("")
			f.checkUnreadable(t, f.do("POST", loc, "", c.mt, c.body), s.Nonce, "ERROR", "malformed-evidence")
		})
	}
}
