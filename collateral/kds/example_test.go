package kds_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/testing/amdtest"
)

// A verifier usually gets VCEKs, chains and CRLs from AMD's KDS through a
// Cache: KDS rate-limits hard, so each certificate is fetched once and kept
// (in memory and on disk). Pass the cache to the verifier
// (through ratls.VerifyOptions; verify/amd takes the certificates it returns).
func ExampleNewCache() {
	cache := kds.NewCache(kds.NewClient(kds.ClientConfig{}), kds.CacheConfig{Dir: "/var/cache/ratls/kds"})
	var _ kds.Provider = cache
}

// A directory of certificates serves verifiers that cannot reach KDS, and
// is the only source of VLEKs, which KDS serves to cloud providers alone.
// WriteDir and LoadDir use the same layout ("ratls collateral fetch"
// writes it too). A test PKI shaped like AMD's stands in for KDS here.
func ExampleLoadDir() {
	pki, err := amdtest.New()
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	crl, err := pki.CRL(1, now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ratls-kds")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	certs := &kds.Certificates{Leaf: pki.VCEK, Intermediate: pki.ASK, Root: pki.ARK,
		CRLs: []kds.CRL{{List: crl, Kind: kds.CRLVCEK}}}
	if err := kds.WriteDir(dir, certs, snp.SigningKeyVCEK); err != nil {
		log.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Name())
	}

	loaded, err := kds.LoadDir(dir)
	if err != nil {
		log.Fatal(err)
	}
	var p kds.Provider = kds.Static{C: loaded}
	got, err := p.Certificates(context.Background(), kds.Request{Product: snp.ProductMilan, ChipID: pki.ChipID, TCB: pki.TCB, SigningKey: snp.SigningKeyVCEK})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Leaf.Subject.CommonName, "<", got.Intermediate.Subject.CommonName, "<", got.Root.Subject.CommonName, "+", len(got.CRLs), "CRL")
	// Output:
	// ark.pem
	// ask.pem
	// vcek-crl.der
	// vcek.pem
	// SEV-VCEK < SEV-Milan < ARK-Milan + 1 CRL
}
