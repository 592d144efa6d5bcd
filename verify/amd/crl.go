package amd

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence/snp"
)

// crlFloor is the newest CRL of one kind a Verifier has seen for an ARK.
type crlFloor struct {
	number     *big.Int // nil when no CRL seen had a CRL number
	thisUpdate time.Time
	source     string
}

// olderThan reports whether crl was issued before the floor: a lower CRL
// number (RFC 5280 numbers a CRL issuer's CRLs in increasing order) or an
// earlier thisUpdate.
func (f crlFloor) olderThan(crl *x509.RevocationList) bool {
	return f.number != nil && crl.Number != nil && crl.Number.Cmp(f.number) < 0 || crl.ThisUpdate.Before(f.thisUpdate)
}

// describeCRL names a CRL's number and thisUpdate for messages.
func describeCRL(number *big.Int, thisUpdate time.Time) string {
	n := "no CRL number"
	if number != nil {
		n = "CRL number " + number.String()
	}
	return fmt.Sprintf("%s, thisUpdate %s", n, thisUpdate.UTC().Format(time.RFC3339))
}

// checkCRLs checks the chain of kind against crls (see Options.CRLs) and
// returns the window of the CRL that showed the chain current and the
// detail of the passed check. Failures, most telling first: ErrRevoked
// when any CRL revokes the chain, ErrCRL when a CRL is not the ARK's, then
// whichever of ErrNoCRL, ErrCRL (only the other kind's list, or one
// older than the floor) and ErrValidity applies to the chain's own list.
func (v *Verifier) checkCRLs(c *verifiedChain, kind snp.SigningKey, product string, crls []kds.CRL, now time.Time) (Window, string, error) {
	want := kds.CRLKindFor(kind)
	leafRole, issuerRole, _ := roleNames(kind, product)
	arkCN := c.root.Subject.CommonName
	var revoked, invalid error
	var chainCRL *kds.CRL // the newest list of the chain's kind
	var other *kds.CRL    // a list of the other kind, for the error
	for i := range crls {
		crl := &crls[i]
		if err := v.authenticCRL(c.root, crl.List); err != nil {
			if invalid == nil {
				invalid = errorf(ErrCRL, "%s from %s: %v", crl.Kind, crl.Source, err)
			}
			continue
		}
		v.raiseFloor(c.root, crl)
		// The ARK issued the ASK or ASVK, so any of its lists may revoke
		// it. The leaf's serial is the intermediate's to give: only a list
		// of the chain's kind (or of unstated kind) speaks for it.
		if e := entryFor(crl.List, c.intermediate.SerialNumber); e != nil && revoked == nil {
			revoked = errorf(ErrRevoked, "%s %q (serial %x) revoked on %s by the %s from %s", issuerRole,
				c.intermediate.Subject.CommonName, c.intermediate.SerialNumber, e.RevocationTime.UTC().Format(time.RFC3339), crl.Kind, crl.Source)
		}
		if crl.Kind == want || crl.Kind == kds.CRLUnknown {
			if e := entryFor(crl.List, c.leaf.serial); e != nil && revoked == nil {
				revoked = errorf(ErrRevoked, "%s %q (serial %x) revoked on %s by the %s from %s", leafRole,
					c.leaf.cn, c.leaf.serial, e.RevocationTime.UTC().Format(time.RFC3339), crl.Kind, crl.Source)
			}
		}
		switch {
		case crl.Kind == want:
			// Only a list known to be of the chain's kind shows the chain
			// current. One of unstated kind (a peer's: nothing in its bytes
			// says which of the ARK's two lists it is) adds its revocations
			// only; else a peer could offer the VLEK list, on which a
			// revoked ASK does not appear, as the VCEK list.
			if chainCRL == nil || newer(crl.List, chainCRL.List) {
				chainCRL = crl
			}
		case crl.Kind != kds.CRLUnknown:
			other = crl
		}
	}
	switch {
	case revoked != nil:
		return Window{}, "", revoked
	case invalid != nil:
		return Window{}, "", invalid
	case chainCRL == nil && other != nil:
		return Window{}, "", errorf(ErrCRL, "wrong CRL: want the %s of %q (%s), got the %s of %q from %s",
			want, arkCN, want.URL(product), other.Kind, other.List.Issuer.CommonName, other.Source)
	case chainCRL == nil && len(crls) > 0:
		return Window{}, "", errorf(ErrNoCRL, "no %s: the CRL from %s does not say which of the ARK's lists it is, so it "+
			"cannot show that the %s %q is not revoked (want %s)", want, crls[0].Source, issuerRole, c.intermediate.Subject.CommonName, want.URL(product))
	case chainCRL == nil:
		return Window{}, "", errorf(ErrNoCRL, "no CRL given: revocation of %q not checked (%s: %s)",
			c.intermediate.Subject.CommonName, want, want.URL(product))
	}

	crl := chainCRL.List
	if f, ok := v.floor(c.root, want); ok && f.olderThan(crl) {
		return Window{}, "", errorf(ErrCRL, "%s from %s (%s) is older than one this verifier has seen (%s, from %s): "+
			"it may predate a revocation", want, chainCRL.Source, describeCRL(crl.Number, crl.ThisUpdate), describeCRL(f.number, f.thisUpdate), f.source)
	}
	w := Window{From: crl.ThisUpdate, Until: crl.NextUpdate}
	if crl.NextUpdate.IsZero() {
		return w, "", errorf(ErrCRL, "%s from %s has no nextUpdate, so it cannot be shown to be current", want, chainCRL.Source)
	}
	if !w.Contains(now) {
		return w, "", errorf(ErrValidity, "%s from %s valid %s to %s, verification time %s", want, chainCRL.Source,
			crl.ThisUpdate.UTC().Format(time.RFC3339), crl.NextUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	detail := fmt.Sprintf("%s of %q current (next update %s, from %s); %q and the %s not revoked", want, arkCN,
		crl.NextUpdate.UTC().Format(time.RFC3339), chainCRL.Source, c.intermediate.Subject.CommonName, leafRole)
	if n := len(crls); n > 1 {
		detail += fmt.Sprintf(" (%d CRLs checked)", n)
	}
	return w, detail, nil
}

// newer reports whether a was issued after b: a later thisUpdate, or the
// same one and a higher CRL number.
func newer(a, b *x509.RevocationList) bool {
	if !a.ThisUpdate.Equal(b.ThisUpdate) {
		return a.ThisUpdate.After(b.ThisUpdate)
	}
	return a.Number != nil && (b.Number == nil || a.Number.Cmp(b.Number) > 0)
}

// entryFor returns the entry of crl that revokes the certificate with the
// given serial number, or nil.
func entryFor(crl *x509.RevocationList, serial *big.Int) *x509.RevocationListEntry {
	for i, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber != nil && e.SerialNumber.Cmp(serial) == 0 {
			return &crl.RevokedCertificateEntries[i]
		}
	}
	return nil
}

// authenticCRL checks that root issued and signed crl.
func (v *Verifier) authenticCRL(root *x509.Certificate, crl *x509.RevocationList) error {
	if crl == nil {
		return fmt.Errorf("no CRL")
	}
	if !bytes.Equal(crl.RawIssuer, root.RawSubject) {
		return fmt.Errorf("issuer: want %q, got %q", root.Subject.CommonName, crl.Issuer.CommonName)
	}
	if err := v.crlSignature(root, crl); err != nil {
		return fmt.Errorf("not signed by the ARK %q: %v", root.Subject.CommonName, err)
	}
	return nil
}

// crlCheck is the outcome of checking a CRL's signature.
type crlCheck struct{ err error }

// crlSignature checks (and caches) that root signed crl.
func (v *Verifier) crlSignature(root *x509.Certificate, crl *x509.RevocationList) error {
	h := sha256.New()
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(root.Raw))))
	h.Write(root.Raw)
	h.Write(crl.Raw)
	var key [sha256.Size]byte
	h.Sum(key[:0])
	if res, ok := v.crls.Get(key); ok {
		return res.err
	}
	var err error
	if crl.SignatureAlgorithm != x509.SHA384WithRSAPSS {
		err = fmt.Errorf("signature algorithm: want RSASSA-PSS with SHA-384, got %v", crl.SignatureAlgorithm)
	} else {
		err = crl.CheckSignatureFrom(root)
	}
	v.crls.Add(key, crlCheck{err}, 128)
	return err
}

func floorKey(root *x509.Certificate, kind kds.CRLKind) string {
	return strings.Join([]string{string(root.Raw), kind.String()}, "\x00")
}

// floor returns the newest CRL of kind seen for root.
func (v *Verifier) floor(root *x509.Certificate, kind kds.CRLKind) (crlFloor, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.floors.Get(floorKey(root, kind))
}

// raiseFloor records crl, which root signed, as seen. A CRL of unstated
// kind raises no floor: it may be either list, and the other list's newer
// CRL would wrongly refuse the current one of this kind.
func (v *Verifier) raiseFloor(root *x509.Certificate, crl *kds.CRL) {
	if crl.Kind != kds.CRLVCEK && crl.Kind != kds.CRLVLEK {
		return
	}
	key := floorKey(root, crl.Kind)
	v.mu.Lock()
	defer v.mu.Unlock()
	f, ok := v.floors.Peek(key)
	raised := !ok
	if n := crl.List.Number; n != nil && (f.number == nil || n.Cmp(f.number) > 0) {
		f.number, raised = n, true
	}
	if crl.List.ThisUpdate.After(f.thisUpdate) {
		f.thisUpdate, raised = crl.List.ThisUpdate, true
	}
	if !raised {
		return
	}
	f.source = crl.Source
	v.floors.Add(key, f, 0)
}
