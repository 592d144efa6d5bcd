package evidence_test

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/evidence"
)

// FromCertificate finds the evidence in an RA-TLS certificate. Nothing here
// verifies a signature or the key binding: ratls.VerifyCertificate does
// that (keybinding.Check alone says whether the evidence binds the key).
func ExampleFromCertificate() {
	s, err := sim.New(sim.InitOptions{Seed: make([]byte, sim.SeedSize), Now: time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		log.Fatal(err)
	}
	att, err := s.Attester(sim.TEESGX, sim.Measurements{})
	if err != nil {
		log.Fatal(err)
	}
	key, err := ratls.GenerateKey(ratls.KeyECDSAP256)
	if err != nil {
		log.Fatal(err)
	}
	der, err := ratls.CreateCertificate(context.Background(), key, att, &ratls.CertificateOptions{Now: s.Now})
	if err != nil {
		log.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}

	ce, err := evidence.FromCertificate(cert)
	if err != nil {
		log.Fatal(err)
	}
	for _, item := range ce.Items {
		fmt.Println(item.Format, item.TEE, item.Kind, item.OID)
		fmt.Println(item.Claims.PubKeyHashAlg, item.Claims.Nonce == nil)
	}
	// Output:
	// interop sgx intel-quote 2.23.133.5.4.9
	// sha-256 true
}

// A claims buffer names the certificate key (by hash) and, in nonce mode,
// a nonce; the TEE's report data commits to the buffer's SHA-256.
func ExampleNewClaims() {
	spki := []byte("DER SubjectPublicKeyInfo of the certificate key")
	buf, err := evidence.NewClaims(spki, evidence.SHA256, []byte("nonce-01"))
	if err != nil {
		log.Fatal(err)
	}
	c, err := evidence.ParseClaims(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hex.EncodeToString(c.PubKeyHash[:8]), string(c.Nonce))
	// Output:
	// fc48a8e7020c8521 nonce-01
}

// ParseRaw recognises evidence that comes without a certificate: here a
// bare DCAP quote.
func ExampleParseRaw() {
	s, err := sim.New(sim.InitOptions{Seed: make([]byte, sim.SeedSize), Now: time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		log.Fatal(err)
	}
	att, err := s.Attester(sim.TEETDX, sim.Measurements{})
	if err != nil {
		log.Fatal(err)
	}
	ev, err := att.Attest(context.Background(), [64]byte{'h', 'i'})
	if err != nil {
		log.Fatal(err)
	}
	items, err := evidence.ParseRaw(ev.Data)
	if err != nil {
		log.Fatal(err)
	}
	it := items[0]
	fmt.Println(it.Format, it.TEE, it.Kind, string(it.ReportData()[:2]))
	// Output:
	// raw tdx intel-quote hi
}
