package intel

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
)

// verifiedCollateral is collateral whose signatures and chains have been
// checked. Nothing here depends on the verification time or on a quote, so
// it is computed once per collateral value and reused; windows are checked
// against the time of each verification.
type verifiedCollateral struct {
	src *pcs.Collateral

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

func serialKey(n *big.Int) string { return string(n.Bytes()) }

func revokedSet(crl *x509.RevocationList) map[string]bool {
	m := make(map[string]bool, len(crl.RevokedCertificateEntries))
	for _, e := range crl.RevokedCertificateEntries {
		m[serialKey(e.SerialNumber)] = true
	}
	return m
}

// verifyCollateral checks every signature in c: the TCB Info and QE
// Identity signatures by their signer, the signers' chains to a trusted
// root, the root CA CRL by the root and the PCK CRL by its issuing CA.
// Missing parts are left as errors for the caller to report.
func (v *Verifier) verifyCollateral(c *pcs.Collateral) *verifiedCollateral {
	vc := &verifiedCollateral{src: c}
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
	} else if err := c.RootCACRL.CheckSignatureFrom(vc.anchor); err != nil {
		vc.rootCRLErr = fmt.Errorf("root CA CRL not signed by %q: %w", vc.anchor.Subject.CommonName, err)
	} else {
		vc.rootRevoked = revokedSet(c.RootCACRL)
	}

	vc.tcbSigner, vc.tcbSignerErr = v.issuer(vc, c.TCBInfoIssuerChain, "TCB Info")
	switch {
	case c.TCBInfo == nil:
		vc.tcbInfoErr = fmt.Errorf("no TCB Info")
	case vc.tcbSignerErr != nil:
		vc.tcbInfoErr = vc.tcbSignerErr
	default:
		vc.tcbInfoErr = c.TCBInfo.CheckSignature(vc.tcbSigner)
		vc.signers = vc.signers.Intersect(Window{From: vc.tcbSigner.NotBefore, Until: vc.tcbSigner.NotAfter})
		if vc.tcbInfoErr == nil && !vc.revokedByRoot(vc.tcbSigner) {
			v.raiseFloor(tcbInfoFloorKey(vc.anchor, c.TCBInfo), c.TCBInfo.TCBEvaluationDataNumber)
		}
	}

	qeSigner, err := v.issuer(vc, c.QEIdentityIssuerChain, "QE Identity")
	switch {
	case c.QEIdentity == nil:
		vc.qeIDErr = fmt.Errorf("no QE Identity")
	case err != nil:
		vc.qeIDErr = err
	default:
		vc.qeSigner = qeSigner
		vc.qeIDErr = c.QEIdentity.CheckSignature(qeSigner)
		vc.signers = vc.signers.Intersect(Window{From: qeSigner.NotBefore, Until: qeSigner.NotAfter})
		if vc.qeIDErr == nil && !vc.revokedByRoot(qeSigner) {
			v.raiseFloor(qeIdentityFloorKey(vc.anchor, c.QEIdentity), c.QEIdentity.TCBEvaluationDataNumber)
		}
	}

	pckCRLIssuer, err := v.issuer(vc, c.PCKCRLIssuerChain, "PCK CRL")
	switch {
	case c.PCKCRL == nil:
		vc.pckCRLErr = fmt.Errorf("no PCK CRL")
	case err != nil:
		vc.pckCRLErr = err
	default:
		if err := c.PCKCRL.CheckSignatureFrom(pckCRLIssuer); err != nil {
			vc.pckCRLErr = fmt.Errorf("PCK CRL not signed by %q: %w", pckCRLIssuer.Subject.CommonName, err)
		} else {
			vc.pckCRLIssuer = pckCRLIssuer
			vc.pckRevoked = revokedSet(c.PCKCRL)
			vc.signers = vc.signers.Intersect(Window{From: pckCRLIssuer.NotBefore, Until: pckCRLIssuer.NotAfter})
		}
	}
	return vc
}

// issuer returns the first certificate of an issuer chain after checking
// that the chain ends in the collateral's trusted root (see trustStore)
// and that this root signed it.
func (v *Verifier) issuer(vc *verifiedCollateral, chain []*x509.Certificate, what string) (*x509.Certificate, error) {
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
	if err := s.CheckSignatureFrom(vc.anchor); err != nil {
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
func (vc *verifiedCollateral) revokedByRoot(c *x509.Certificate) bool {
	return vc.rootRevoked[serialKey(c.SerialNumber)]
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
