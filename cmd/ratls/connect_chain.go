package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"

	"github.com/ratls/ratls/collateral/pcs"
)

// chainCapture keeps the certificate chain a server presents, whether
// or not it is accepted, for connect --save-chain.
type chainCapture struct{ certs []*x509.Certificate }

// wrap makes cfg record the peer's chain before its own verification runs.
func (c *chainCapture) wrap(cfg *tls.Config) {
	verify := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		c.certs = cs.PeerCertificates
		if verify != nil {
			return verify(cs)
		}
		return nil
	}
}

// save writes the chain as PEM, leaf first: input for "ratls inspect" and
// "ratls verify".
func (c *chainCapture) save(path string) error {
	if len(c.certs) == 0 {
		return errors.New("--save-chain: the server presented no certificate")
	}
	if err := os.WriteFile(path, pcs.EncodePEMChain(c.certs), 0o644); err != nil {
		return err
	}
	return nil
}
