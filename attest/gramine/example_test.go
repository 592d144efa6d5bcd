package gramine_test

import (
	"crypto/tls"
	"errors"
	"log"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/gramine"
)

// Inside a Gramine SGX enclave with sgx.remote_attestation = "dcap", a
// server gets DCAP quotes from /dev/attestation and serves RA-TLS with
// them. The example needs such an enclave, so it is not run.
func ExampleNew() {
	att, err := gramine.New(gramine.Options{})
	switch {
	case errors.Is(err, gramine.ErrUnavailable):
		log.Fatal("not running under gramine-sgx")
	case errors.Is(err, gramine.ErrAttestationType):
		log.Fatal(`the manifest must set sgx.remote_attestation = "dcap"`)
	case err != nil:
		log.Fatal(err)
	}

	iss := ratls.NewIssuer(att, nil)
	ln, err := tls.Listen("tcp", ":8443", ratls.ServerConfig(iss, nil))
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	// serve ln
}
