package intel

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"
	"unsafe"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/internal/contentkey"
)

// verifiedCollateral is one collateral value with what verifying it
// established.
type verifiedCollateral struct {
	src *pcs.Collateral
	*collateralFacts
}

// collateralFacts is what verifying the signatures and chains of one
// collateral value established. Nothing here depends on the verification
// time or on a quote, so it is computed once per collateral value and
// reused; windows are checked against the time of each verification. It
// refers to the certificates and CRLs of the collateral it was computed
// from, not to the collateral itself, so that the collateral's source
// decides how long that is kept (see Verifier.collateral).
type collateralFacts struct {
	// anchor is the trusted root the collateral chains to.
	anchor    *x509.Certificate
	anchorErr error

	tcbSigner    *x509.Certificate
	tcbSignerErr error // chain of the TCB Info signer
	tcbInfoErr   error // signature over the TCB Info
	qeIDErr      error // signer chain and signature of the QE Identity
	qeSigner     *x509.Certificate

	rootCRLErr  error
	rootRevoked map[string]bool // serial numbers revoked by the root CA

	pckCRLErr    error
	pckCRLIssuer *x509.Certificate
	pckRevoked   map[string]bool

	// signers is the window of the signing certificates (TCB signer, QE
	// Identity signer, PCK CRL issuer, root).
	signers Window
}

// collateralFactsSize estimates the memory of collateralFacts that is its
// own: the revocation sets are shared with every collateral value carrying
// the same CRL (see signedFact).
const collateralFactsSize = int64(unsafe.Sizeof(collateralFacts{})) + 64

func serialKey(n *big.Int) string { return string(n.Bytes()) }

func revokedSet(crl *x509.RevocationList) map[string]bool {
	m := make(map[string]bool, len(crl.RevokedCertificateEntries))
	for _, e := range crl.RevokedCertificateEntries {
		m[serialKey(e.SerialNumber)] = true
	}
	return m
}

// signedFact is the outcome of one signature check by exact bytes: of a
// certificate by its issuer, a TCB Info or QE Identity by its signer, or a
// CRL by its issuer (with the serial numbers it revokes). Collateral of
// different FMSPCs shares its QE Identity, CRLs and issuer chains, so their
// checks are done once for all of them.
type signedFact struct {
	err     error
	revoked map[string]bool // a CRL's, when err is nil
}

// signed returns the outcome of check, computing it on first use of key.
func (v *Verifier) signed(key [sha256.Size]byte, check func() *signedFact) *signedFact {
	if f, ok := v.facts.Get(key); ok {
		return f
	}
	f := check()
	size := int64(unsafe.Sizeof(*f)) + 64
	if f.revoked != nil {
		size += int64(len(f.revoked)) * 64
	}
	v.facts.Add(key, f, size)
	return f
}

// checkCRL checks that issuer signed crl, and returns the serial numbers
// it revokes.
func (v *Verifier) checkCRL(crl *x509.RevocationList, issuer *x509.Certificate) (map[string]bool, error) {
	f := v.signed(contentkey.Of("crl", issuer.Raw, crl.Raw), func() *signedFact {
		if err := crl.CheckSignatureFrom(issuer); err != nil {
			return &signedFact{err: err}
		}
		return &signedFact{revoked: revokedSet(crl)}
	})
	return f.revoked, f.err
}

// checkCertificate checks that by signed c.
func (v *Verifier) checkCertificate(c, by *x509.Certificate) error {
	return v.signed(contentkey.Of("certificate", by.Raw, c.Raw), func() *signedFact {
		return &signedFact{err: c.CheckSignatureFrom(by)}
	}).err
}

// checkDocument checks the signature of a TCB Info or QE Identity (raw,
// sig) by signer with check.
func (v *Verifier) checkDocument(kind string, signer *x509.Certificate, raw, sig []byte, check func() error) error {
	return v.signed(contentkey.Of(kind, signer.Raw, raw, sig), func() *signedFact {
		return &signedFact{err: check()}
	}).err
}

// verifyCollateral checks every signature in c: the TCB Info and QE
// Identity signatures by their signer, the signers' chains to a trusted
// root, the root CA CRL by the root and the PCK CRL by its issuing CA.
// Missing parts are left as errors for the caller to report.
func (v *Verifier) verifyCollateral(c *pcs.Collateral) *collateralFacts {
	vc := &collateralFacts{}
	// The collateral's root is the first trusted root an issuer chain ends
	// in; every chain must end in it (checked per item by issuer), so a
	// corrupted root fails the item whose chain carries it.
	for _, chain := range [][]*x509.Certificate{c.TCBInfoIssuerChain, c.QEIdentityIssuerChain, c.PCKCRLIssuerChain} {
		if len(chain) == 0 {
			continue
		}
		root, _, err := v.roots.anchor(chain[len(chain)-1])
		if err == nil {
			vc.anchor, vc.anchorErr = root, nil
			break
		}
		if vc.anchorErr == nil {
			vc.anchorErr = fmt.Errorf("%w: collateral issuer chain: %w", ErrChain, err)
		}
	}
	if vc.anchor == nil && vc.anchorErr == nil {
		vc.anchorErr = fmt.Errorf("collateral has no issuer chain ending in a root")
	}
	vc.signers = Window{}
	if vc.anchor != nil {
		vc.signers = Window{From: vc.anchor.NotBefore, Until: vc.anchor.NotAfter}
	}

	if c.RootCACRL == nil {
		vc.rootCRLErr = fmt.Errorf("no root CA CRL")
	} else if vc.anchor == nil {
		vc.rootCRLErr = vc.anchorErr
	} else if revoked, err := v.checkCRL(c.RootCACRL, vc.anchor); err != nil {
		vc.rootCRLErr = fmt.Errorf("root CA CRL not signed by %q: %w", vc.anchor.Subject.CommonName, err)
	} else {
		vc.rootRevoked = revoked
	}

	vc.tcbSigner, vc.tcbSignerErr = v.issuer(vc, c.TCBInfoIssuerChain, "TCB Info")
	switch {
	case c.TCBInfo == nil:
		vc.tcbInfoErr = fmt.Errorf("no TCB Info")
	case vc.tcbSignerErr != nil:
		vc.tcbInfoErr = vc.tcbSignerErr
	default:
		ti := c.TCBInfo
		vc.tcbInfoErr = v.checkDocument("tcb-info", vc.tcbSigner, ti.Raw, ti.Signature, func() error { return ti.CheckSignature(vc.tcbSigner) })
		vc.signers = vc.signers.Intersect(Window{From: vc.tcbSigner.NotBefore, Until: vc.tcbSigner.NotAfter})
		if vc.tcbInfoErr == nil && !vc.revokedByRoot(vc.tcbSigner) {
			v.raiseFloor(tcbInfoFloorKey(vc.anchor, ti), ti.TCBEvaluationDataNumber)
		}
	}

	qeSigner, err := v.issuer(vc, c.QEIdentityIssuerChain, "QE Identity")
	switch {
	case c.QEIdentity == nil:
		vc.qeIDErr = fmt.Errorf("no QE Identity")
	case err != nil:
		vc.qeIDErr = err
	default:
		qi := c.QEIdentity
		vc.qeSigner = qeSigner
		vc.qeIDErr = v.checkDocument("enclave-identity", qeSigner, qi.Raw, qi.Signature, func() error { return qi.CheckSignature(qeSigner) })
		vc.signers = vc.signers.Intersect(Window{From: qeSigner.NotBefore, Until: qeSigner.NotAfter})
		if vc.qeIDErr == nil && !vc.revokedByRoot(qeSigner) {
			v.raiseFloor(qeIdentityFloorKey(vc.anchor, qi), qi.TCBEvaluationDataNumber)
		}
	}

	pckCRLIssuer, err := v.issuer(vc, c.PCKCRLIssuerChain, "PCK CRL")
	switch {
	case c.PCKCRL == nil:
		vc.pckCRLErr = fmt.Errorf("no PCK CRL")
	case err != nil:
		vc.pckCRLErr = err
	default:
		if revoked, err := v.checkCRL(c.PCKCRL, pckCRLIssuer); err != nil {
			vc.pckCRLErr = fmt.Errorf("PCK CRL not signed by %q: %w", pckCRLIssuer.Subject.CommonName, err)
		} else {
			vc.pckCRLIssuer = pckCRLIssuer
			vc.pckRevoked = revoked
			vc.signers = vc.signers.Intersect(Window{From: pckCRLIssuer.NotBefore, Until: pckCRLIssuer.NotAfter})
		}
	}
	return vc
}

// issuer returns the first certificate of an issuer chain after checking
// that the chain ends in the collateral's trusted root (see trustStore)
// and that this root signed it.
func (v *Verifier) issuer(vc *collateralFacts, chain []*x509.Certificate, what string) (*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, fmt.Errorf("no %s issuer chain", what)
	}
	if vc.anchor == nil {
		return nil, vc.anchorErr
	}
	if len(chain) > 1 {
		root, _, err := v.roots.anchor(chain[len(chain)-1])
		if err != nil {
			return nil, fmt.Errorf("%w: %s issuer chain: %w", ErrChain, what, err)
		}
		if !bytes.Equal(root.RawSubjectPublicKeyInfo, vc.anchor.RawSubjectPublicKeyInfo) {
			return nil, fmt.Errorf("%w: %s issuer chain ends in %q, the other collateral in %q", ErrChain, what, root.Subject.CommonName, vc.anchor.Subject.CommonName)
		}
	}
	s := chain[0]
	if err := v.checkCertificate(s, vc.anchor); err != nil {
		return nil, fmt.Errorf("%w: %s signer %q not signed by %q: %w", ErrChain, what, s.Subject.CommonName, vc.anchor.Subject.CommonName, err)
	}
	return s, nil
}

// errorClass is the check class of an error found verifying collateral.
func errorClass(err error) error {
	switch {
	case errors.Is(err, pcs.ErrSignature):
		return ErrSignature
	case errors.Is(err, ErrChain):
		return ErrChain
	}
	return ErrCollateral
}

// revokedByRoot reports whether the root CA CRL lists c.
func (vc *collateralFacts) revokedByRoot(c *x509.Certificate) bool {
	return len(vc.rootRevoked) > 0 && vc.rootRevoked[serialKey(c.SerialNumber)]
}

func crlWindow(crl *x509.RevocationList) Window {
	if crl == nil {
		return Window{}
	}
	return Window{From: crl.ThisUpdate, Until: crl.NextUpdate}
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// windowError describes t falling outside w.
func windowError(what string, w Window, t time.Time) error {
	if t.Before(w.From) {
		return fmt.Errorf("%s not yet valid at %s: valid from %s", what, fmtTime(t), fmtTime(w.From))
	}
	return fmt.Errorf("%s expired at %s: valid until %s", what, fmtTime(t), fmtTime(w.Until))
}
