package intel

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"math/big"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/quote"
)

// pckCA is a PCK CA certificate whose signature by a trusted root has been
// checked. It is verified once, cached by a hash of the exact PEM text of
// the CA and the root that follows a PCK certificate in a chain (restPEM),
// and shared by every platform the CA certifies.
type pckCA struct {
	ca       *x509.Certificate
	root     *x509.Certificate // the trusted root the chain ended in
	anchor   Anchor
	caWindow Window // intersection of the CA's and the root's validity
	restPEM  []byte
}

// verifiedChain is what later quotes of a platform need from its PCK
// certificate chain, whose signatures have been checked up to a trusted
// root. Signatures do not depend on time, so it is cached by the exact
// chain bytes (a hash of the PCK certificate's PEM text, and the rest as
// its pckCA's restPEM); validity windows and revocation are checked on
// every use. Of the PCK certificate it keeps only the facts that checks
// and results use, not the certificate.
type verifiedChain struct {
	*pckCA
	caType  pcs.CA
	pck     *pcs.PCKExtensions
	leafKey *ecdsa.PublicKey
	// serial, issuer (raw, shared with the CA's subject when equal) and
	// issuerCN are the PCK certificate's.
	serial   *big.Int
	issuer   []byte
	issuerCN string
	spki     [sha256.Size]byte // SHA-256 of the PCK certificate's SubjectPublicKeyInfo
	window   Window            // intersection of the three certificates' validity

	// qe is the platform's QE report last verified (see verifyQE): a
	// platform's quoting enclave signs all its quotes with one attestation
	// key, so one slot serves them.
	qe atomic.Pointer[verifiedQE]
}

// verifiedQE is a QE report whose signature by the PCK key and binding of
// the attestation key have been checked, identified by a hash of every
// byte they depend on.
type verifiedQE struct {
	key    [sha256.Size]byte
	attKey *ecdsa.PublicKey
}

// Estimated memory of the parts of a cached platform, for the cache bound:
// the structures, the PCK key and the attestation key (two big.Int
// coordinates each), the serial number, the QE report slot, and what the
// allocator rounds up (measured by TestPlatformMemory).
const (
	ecdsaKeySize     = int64(unsafe.Sizeof(ecdsa.PublicKey{})) + 2*(int64(unsafe.Sizeof(big.Int{}))+32)
	platformBaseSize = int64(unsafe.Sizeof(verifiedChain{})) + int64(unsafe.Sizeof(pcs.PCKExtensions{})) + 16 + 8 +
		ecdsaKeySize + int64(unsafe.Sizeof(big.Int{})) + int64(unsafe.Sizeof(verifiedQE{})) + ecdsaKeySize + 192
)

// size estimates the memory c holds on its own (not the shared CA).
func (c *verifiedChain) size() int64 {
	n := platformBaseSize + int64(len(c.serial.Bits()))*8 + int64(len(c.issuerCN))
	if len(c.issuer) > 0 && !bytes.Equal(c.issuer, c.ca.RawSubject) {
		n += int64(len(c.issuer))
	}
	return n
}

// pemCertEnd ends a PEM certificate block.
var pemCertEnd = []byte("-----END CERTIFICATE-----")

// splitPCKChain cuts a PEM chain after the end of its first certificate,
// into the PCK certificate and the rest (the PCK CA and the root). Every
// platform of a CA has the same rest, so its bytes identify the verified CA
// without decoding it.
func splitPCKChain(chainPEM []byte) (leafPEM, restPEM []byte) {
	i := bytes.Index(chainPEM, pemCertEnd)
	if i < 0 {
		return chainPEM, nil
	}
	i += len(pemCertEnd)
	return chainPEM[:i], chainPEM[i:]
}

// recentPCKCA returns the recently used PCK CA verified from exactly
// restPEM, if any: a fleet has few CAs, and comparing their bytes is
// cheaper than hashing them.
func (v *Verifier) recentPCKCA(restPEM []byte) (*pckCA, bool) {
	for i := range v.recentCAs {
		if ca := v.recentCAs[i].Load(); ca != nil && bytes.Equal(ca.restPEM, restPEM) {
			v.recentCAHits.Add(1)
			return ca, true
		}
	}
	return nil, false
}

// notePCKCA makes ca a recently used PCK CA, in place of the one noted
// longest ago.
func (v *Verifier) notePCKCA(ca *pckCA) {
	i := v.recentCAIndex.Add(1) % uint32(len(v.recentCAs))
	v.recentCAs[i].Store(ca)
}

// verifyPCKChain parses a PCK chain (leaf, PCK CA, root) and checks it the
// way Intel's QVL does: leaf CN names an SGX PCK certificate, the CA is the
// PCK Platform or Processor CA, the root is a trusted root (a copy of it,
// or correctly self-signed with its key), and each signature verifies. The
// PCK CA (with the root) is verified once and shared: a new platform of a
// known CA costs the PCK certificate's signature only.
//
// chainPEM is the chain of cd.
func (v *Verifier) verifyPCKChain(chainPEM []byte, cd *quote.CertificationData) (*verifiedChain, error) {
	// A PCK CA seen before was verified from a chain whose bytes after the
	// PCK certificate were these, so only the PCK certificate is decoded:
	// decoding the whole chain would give it and the same CA and root.
	leafPEM, restPEM := splitPCKChain(chainPEM)
	known, cached := v.recentPCKCA(restPEM)
	var caKey [sha256.Size]byte
	if !cached {
		caKey = sha256.Sum256(restPEM)
		if known, cached = v.pckCAs.Get(caKey); cached {
			v.notePCKCA(known)
		}
	}
	if cached {
		cd = &quote.CertificationData{Type: quote.CertTypePCKChain, Data: leafPEM}
	}
	ders, err := cd.PCKChainDER()
	if err != nil {
		return nil, err
	}
	got := len(ders)
	if cached {
		got += 2 // the CA and the root
	}
	if got != 3 {
		return nil, fmt.Errorf("PCK chain: want 3 certificates (PCK, PCK CA, root), got %d", got)
	}
	leaf, err := x509.ParseCertificate(ders[0])
	if err != nil {
		return nil, fmt.Errorf("PCK chain certificate 1: %w", err)
	}
	var ca, chainRoot *x509.Certificate
	if cached {
		ca = known.ca
	} else {
		for i, dst := range []**x509.Certificate{&ca, &chainRoot} {
			if *dst, err = x509.ParseCertificate(ders[i+1]); err != nil {
				return nil, fmt.Errorf("PCK chain certificate %d: %w", i+2, err)
			}
		}
	}
	if !strings.Contains(leaf.Subject.CommonName, "SGX PCK Certificate") {
		return nil, fmt.Errorf("PCK certificate subject CN: want one containing %q, got %q", "SGX PCK Certificate", leaf.Subject.CommonName)
	}
	if !cached && !ca.IsCA {
		return nil, fmt.Errorf("PCK CA %q is not a CA certificate", ca.Subject.CommonName)
	}
	caType, err := pcs.CAType(leaf)
	if err != nil {
		return nil, err
	}
	if !cached {
		root, anchor, err := v.roots.anchor(chainRoot)
		if err != nil {
			return nil, fmt.Errorf("PCK chain: %w", err)
		}
		if err := ca.CheckSignatureFrom(root); err != nil {
			return nil, fmt.Errorf("PCK CA %q not signed by root %q: %w", ca.Subject.CommonName, root.Subject.CommonName, err)
		}
		known = &pckCA{ca: ca, root: root, anchor: anchor, restPEM: bytes.Clone(restPEM),
			caWindow: Window{From: ca.NotBefore, Until: ca.NotAfter}.Intersect(Window{From: root.NotBefore, Until: root.NotAfter})}
		// The CA is held by every platform it certifies; its size is
		// counted once, here.
		v.pckCAs.Add(caKey, known, int64(len(ca.Raw)+len(root.Raw))*3+int64(len(restPEM)))
		v.notePCKCA(known)
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
	c := &verifiedChain{pckCA: known, caType: caType, pck: ext, leafKey: key, serial: leaf.SerialNumber,
		issuer: known.ca.RawSubject, issuerCN: known.ca.Subject.CommonName,
		spki:   sha256.Sum256(leaf.RawSubjectPublicKeyInfo),
		window: Window{From: leaf.NotBefore, Until: leaf.NotAfter}.Intersect(known.caWindow)}
	if !bytes.Equal(leaf.RawIssuer, known.ca.RawSubject) {
		c.issuer, c.issuerCN = bytes.Clone(leaf.RawIssuer), leaf.Issuer.CommonName
	}
	return c, nil
}
