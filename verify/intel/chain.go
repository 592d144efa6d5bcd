package intel

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/quote"
)

// verifiedChain is a PCK certificate chain whose signatures have been
// checked up to a trusted root. Signatures do not depend on time, so it is
// cached by the exact chain bytes; validity windows and revocation are
// checked on every use.
type verifiedChain struct {
	leaf, ca *x509.Certificate
	root     *x509.Certificate // the trusted root the chain ended in
	anchor   Anchor
	caType   pcs.CA
	pck      *pcs.PCKExtensions
	leafKey  *ecdsa.PublicKey
	window   Window // intersection of the three certificates' validity
}

// verifyPCKChain parses a PCK chain (leaf, PCK CA, root) and checks it the
// way Intel's QVL does: leaf CN names an SGX PCK certificate, the CA is the
// PCK Platform or Processor CA, the root is a trusted root (a copy of it,
// or correctly self-signed with its key), and each signature verifies.
func (v *Verifier) verifyPCKChain(cd *quote.CertificationData) (*verifiedChain, error) {
	ders, err := cd.PCKChainDER()
	if err != nil {
		return nil, err
	}
	if len(ders) != 3 {
		return nil, fmt.Errorf("PCK chain: want 3 certificates (PCK, PCK CA, root), got %d", len(ders))
	}
	certs := make([]*x509.Certificate, len(ders))
	for i, der := range ders {
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("PCK chain certificate %d: %w", i+1, err)
		}
	}
	leaf, ca, chainRoot := certs[0], certs[1], certs[2]
	if !strings.Contains(leaf.Subject.CommonName, "SGX PCK Certificate") {
		return nil, fmt.Errorf("PCK certificate subject CN: want one containing %q, got %q", "SGX PCK Certificate", leaf.Subject.CommonName)
	}
	if !ca.IsCA {
		return nil, fmt.Errorf("PCK CA %q is not a CA certificate", ca.Subject.CommonName)
	}
	caType, err := pcs.CAType(leaf)
	if err != nil {
		return nil, err
	}
	root, anchor, err := v.roots.anchor(chainRoot)
	if err != nil {
		return nil, fmt.Errorf("PCK chain: %w", err)
	}
	if err := ca.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("PCK CA %q not signed by root %q: %w", ca.Subject.CommonName, root.Subject.CommonName, err)
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return nil, fmt.Errorf("PCK certificate not signed by %q: %w", ca.Subject.CommonName, err)
	}
	key, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("PCK certificate key: want ECDSA P-256, got %T", leaf.PublicKey)
	}
	ext, err := pcs.ParsePCKExtensions(leaf)
	if err != nil {
		return nil, err
	}
	w := Window{From: leaf.NotBefore, Until: leaf.NotAfter}
	w = w.Intersect(Window{From: ca.NotBefore, Until: ca.NotAfter})
	w = w.Intersect(Window{From: root.NotBefore, Until: root.NotAfter})
	return &verifiedChain{leaf: leaf, ca: ca, root: root, anchor: anchor, caType: caType, pck: ext, leafKey: key, window: w}, nil
}
