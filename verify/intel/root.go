package intel

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/ratls/ratls/internal/lru"
)

// intelRootPEM is the Intel SGX Root CA (CN=Intel SGX Root CA, P-256,
// valid 2018-05-21 to 2049-12-31, SHA-256 of the DER
// 44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3). Every
// production PCK, TCB Info and QE Identity chain ends in it.
//
//go:embed intel_sgx_root_ca.pem
var intelRootPEM []byte

var intelRoot = mustParseRoot(intelRootPEM)

// intelRootSPKISHA256 is the SHA-256 of the Intel SGX Root CA's
// SubjectPublicKeyInfo, the value this package pins. Intel re-issued the
// root certificate with the same key, so the key is the trust anchor; a
// chain's root certificate must still be a copy of the embedded one or
// correctly self-signed with that key.
const intelRootSPKISHA256 = "a0af031289f5d5d4132f9186068a7fc13628633ba235777472e29b6b6c67a49e"

// SimulatedOrganization is the organization (O) of the certificates of a
// simulated TEE (package attest/sim). A chain ending in a root with this
// organization proves nothing about hardware.
const SimulatedOrganization = "ratls simulated TEE (no hardware protection)"

func mustParseRoot(b []byte) *x509.Certificate {
	blk, _ := pem.Decode(b)
	if blk == nil {
		panic("intel: embedded root is not PEM")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		panic(err)
	}
	if got := spkiHash(c); got != intelRootSPKISHA256 {
		panic("intel: embedded root key hash " + got)
	}
	return c
}

func spkiHash(c *x509.Certificate) string {
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(h[:])
}

// Anchor describes the trust anchor a chain ended in.
type Anchor struct {
	// Subject is the anchor certificate's subject common name.
	Subject string `json:"subject"`
	// SPKISHA256 is the SHA-256 of its SubjectPublicKeyInfo (hex).
	SPKISHA256 string `json:"spki_sha256"`
	// Intel is true for the genuine Intel SGX Root CA.
	Intel bool `json:"intel"`
	// Simulated is true for the root of a ratls simulated TEE: the evidence
	// was produced by software and proves nothing about hardware.
	Simulated bool `json:"simulated"`
}

// trustStore holds the roots a Verifier accepts. The root certificate at
// the end of a chain is accepted when it is byte-identical to a trusted
// root, or when it carries a trusted root's key, is self-issued (issuer =
// subject) and its self-signature verifies: Intel re-issued its root with
// the same key, and both certificates are genuine. A certificate with the
// trusted key but a corrupted body or signature is refused, as Intel's QVL
// refuses it. Accepted roots are remembered by their exact bytes, so the
// self-signature of a distinct root is checked once, not per quote.
type trustStore struct {
	roots []*x509.Certificate

	accepted *lru.Cache[string, *x509.Certificate] // chain root DER -> trusted root
	// selfSigChecks counts self-signature verifications (for tests of the
	// cache).
	selfSigChecks atomic.Int64
}

func newTrustStore(extra []*x509.Certificate, withoutIntel bool, max int) *trustStore {
	ts := &trustStore{accepted: lru.NewEntries[string, *x509.Certificate](max)}
	if !withoutIntel {
		ts.roots = append(ts.roots, intelRoot)
	}
	ts.roots = append(ts.roots, extra...)
	return ts
}

// anchor returns the trusted root that c (the last certificate of a chain)
// stands for, with its description.
func (ts *trustStore) anchor(c *x509.Certificate) (*x509.Certificate, Anchor, error) {
	r, ok := ts.accepted.Get(string(c.Raw))
	if !ok {
		var err error
		if r, err = ts.match(c); err != nil {
			return nil, Anchor{}, err
		}
		ts.accepted.Add(string(c.Raw), r, 0)
	}
	return r, Anchor{Subject: r.Subject.CommonName, SPKISHA256: spkiHash(r), Intel: r == intelRoot,
		Simulated: slices.Contains(r.Subject.Organization, SimulatedOrganization)}, nil
}

// match finds the trusted root with c's key and checks that c is that root
// or a correctly self-signed certificate of its key.
func (ts *trustStore) match(c *x509.Certificate) (*x509.Certificate, error) {
	for _, r := range ts.roots {
		if !bytes.Equal(r.RawSubjectPublicKeyInfo, c.RawSubjectPublicKeyInfo) {
			continue
		}
		if bytes.Equal(r.Raw, c.Raw) {
			return r, nil
		}
		if !bytes.Equal(c.RawIssuer, c.RawSubject) {
			return nil, fmt.Errorf("root certificate %q has the key of trusted root %q but is not self-issued (issuer %q)",
				c.Subject.CommonName, r.Subject.CommonName, c.Issuer.CommonName)
		}
		ts.selfSigChecks.Add(1)
		if err := c.CheckSignatureFrom(c); err != nil {
			return nil, fmt.Errorf("root certificate %q has the key of trusted root %q but is not a copy of it and its self-signature does not verify (corrupted or forged): %w",
				c.Subject.CommonName, r.Subject.CommonName, err)
		}
		return r, nil
	}
	return nil, fmt.Errorf("root %q with key SHA-256 %s is not a trusted root (want the Intel SGX Root CA %s%s)",
		c.Subject.CommonName, spkiHash(c), intelRootSPKISHA256, ts.extraHint())
}

func (ts *trustStore) extraHint() string {
	n := len(ts.roots)
	if len(ts.roots) > 0 && ts.roots[0] == intelRoot {
		n--
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" or one of %d configured roots", n)
}
