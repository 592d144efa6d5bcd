package inspect_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"log"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/inspect"
)

// Certificates describes an RA-TLS certificate and its evidence as a
// stable, JSON-ready report (what "ratls inspect" prints). It verifies
// only the certificate's self-signature; ratls.VerifyCertificate verifies
// the evidence.
func ExampleCertificates() {
	s, err := sim.New(sim.InitOptions{Seed: make([]byte, sim.SeedSize), Now: time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		log.Fatal(err)
	}
	att, err := s.Attester(sim.TEETDX, sim.Measurements{})
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

	r, err := inspect.Certificates([]*x509.Certificate{cert})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Source, r.Certificate.Subject, r.Certificate.SignatureValid)
	e := r.Evidence[0]
	fmt.Println(e.Format, e.Kind, e.TEE, "quote v", e.Quote.Version, "key binding", e.KeyBinding)
	for _, m := range e.Measurements {
		if m.Name == "mrtd" {
			fmt.Printf("mrtd %.16s...\n", m.Value)
		}
	}
	// Output:
	// certificate CN=ratls true
	// interop intel-quote tdx quote v 4 key binding ok
	// mrtd 8b315a11a617b2ce...
}
