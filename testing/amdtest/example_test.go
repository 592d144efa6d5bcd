package amdtest_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/testing/amdtest"
	"github.com/ratls/ratls/verify/amd"
)

// A test forges the SEV-SNP evidence it needs: here a report whose VCEK
// the ARK's CRL revokes, which the verifier must refuse.
func ExamplePKI_CRL() {
	pki, err := amdtest.New() // RSA keys: create one per test binary
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	crl, err := pki.CRL(2, now.Add(-time.Hour), now.Add(24*time.Hour), pki.VCEK)
	if err != nil {
		log.Fatal(err)
	}
	raw, err := pki.Report(snp.SigningKeyVCEK, [64]byte{}, nil)
	if err != nil {
		log.Fatal(err)
	}
	r, err := snp.ParseReport(raw)
	if err != nil {
		log.Fatal(err)
	}

	v := amd.NewVerifier(&amd.Config{ExtraRoots: []*x509.Certificate{pki.ARK}})
	_, err = v.Verify(context.Background(), r, amd.Options{
		Now:   now,
		Certs: []*x509.Certificate{pki.VCEK, pki.ASK, pki.ARK},
		CRLs:  []kds.CRL{{List: crl, Kind: kds.CRLVCEK}},
	})
	fmt.Println(errors.Is(err, amd.ErrRevoked))
	// Output:
	// true
}
