package keybinding_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"log"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/keybinding"
	"github.com/ratls/ratls/tee"
)

// Check says whether the evidence in an RA-TLS certificate binds the
// certificate's key, and by which rule. Nothing here verifies a signature:
// ratls.VerifyCertificate does that, and checks the binding too.
func ExampleCheck() {
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
	b := keybinding.Check(tee.Preferred(ce), cert)
	fmt.Println(b.Status, b.Rule)
	// Output:
	// ok claims-sha256
}
