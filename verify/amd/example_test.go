package amd_test

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

// Verify checks a SEV-SNP report's signature by its VCEK, the VCEK's chain
// to the ARK, the ARK's CRL and the agreement of report and certificate,
// and reports every check; a policy (package appraise, or
// ratls.VerifyEvidence) decides whether the facts are good enough. The
// certificates usually come from AMD's KDS through kds.NewCache; here a
// test PKI shaped like AMD's signs the report.
func ExampleVerifier_Verify() {
	pki, err := amdtest.New()
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	crl, err := pki.CRL(1, now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	raw, err := pki.Report(snp.SigningKeyVCEK, [64]byte{'h', 'i'}, nil)
	if err != nil {
		log.Fatal(err)
	}
	r, err := snp.ParseReport(raw)
	if err != nil {
		log.Fatal(err)
	}

	// One Verifier for the process: it caches verified chains. AMD's ARKs
	// are built in; the test ARK is trusted on top of them.
	v := amd.NewVerifier(&amd.Config{ExtraRoots: []*x509.Certificate{pki.ARK}})
	res, err := v.Verify(context.Background(), r, amd.Options{
		Now:   now,
		Certs: []*x509.Certificate{pki.VCEK, pki.ASK, pki.ARK},
		CRLs:  []kds.CRL{{List: crl, Kind: kds.CRLVCEK, Source: "example"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.TEE, res.Product, res.SigningKey, len(res.Failed()), "failed checks")

	// Without a CRL the crl check fails with an error of its own, which a
	// policy (sev_snp.allow_no_crl) may excuse.
	res, err = v.Verify(context.Background(), r, amd.Options{Now: now, Certs: []*x509.Certificate{pki.VCEK, pki.ASK, pki.ARK}})
	fmt.Println(errors.Is(err, amd.ErrNoCRL), res.Failed()[0].Name)
	// Output:
	// sev_snp Milan vcek 0 failed checks
	// true crl
}
