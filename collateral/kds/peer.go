package kds

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// WithPeer returns a Provider that answers from own, the source the
// verifier configured (a directory, KDS through a cache), and takes from
// peer, the certificates carried with the evidence (a report's certificate
// table, an RA-TLS endorsements extension), only what own cannot supply:
//
//   - With own nil, peer is the answer.
//   - Otherwise own is asked first and each certificate it returns is
//     used, even one that does not fit the report (a directory of VCEK
//     certificates for a VLEK report): the verifier then refuses it. A
//     certificate it returns nil (KDS serves no VLEK, no Turin VCEK and
//     no VCEK of a masked chip ID) is taken from peer.
//   - When own answers with an error matching ErrNotFound,
//     ErrVLEKNotFetchable or ErrUnsupported, it holds nothing for the
//     request, and peer's certificates are used. Any other error (own is
//     unreachable, its answer malformed or expired) is returned: a failing
//     source is not silently replaced by what the peer chose to send.
//   - CRLs: own's and peer's are all returned, own's first, so that
//     revocations on any of them apply (verify/amd checks them all, and
//     takes the newest of the chain's kind as its CRL). Peer's CRLs are
//     returned as of unstated kind (CRLUnknown), whatever peer says: the
//     certificate table and the endorsements extension do not say which
//     list a CRL is.
//
// With peer nil, own is returned unchanged.
func WithPeer(own Provider, peer *Certificates) Provider {
	if peer == nil {
		return own
	}
	return &peerProvider{own: own, peer: peer}
}

type peerProvider struct {
	own  Provider
	peer *Certificates
}

// Certificates answers req as WithPeer describes.
func (p *peerProvider) Certificates(ctx context.Context, req Request) (*Certificates, error) {
	peer := &Certificates{Leaf: p.peer.Leaf, Intermediate: p.peer.Intermediate, Root: p.peer.Root, Source: p.peer.Source}
	for _, crl := range p.peer.CRLs {
		peer.CRLs = append(peer.CRLs, CRL{List: crl.List, Kind: CRLUnknown, Source: crl.Source})
	}
	if p.own == nil {
		return peer, nil
	}
	own, err := p.own.Certificates(ctx, req)
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrVLEKNotFetchable), errors.Is(err, ErrUnsupported):
		return peer, nil
	case err != nil:
		return nil, err
	case own == nil:
		return nil, fmt.Errorf("kds: %s: the configured provider returned no certificates", req)
	}

	out := &Certificates{CRLs: append([]CRL(nil), own.CRLs...)}
	var filled []string
	for _, part := range []struct {
		role      string
		own, peer *x509.Certificate
		dst       **x509.Certificate
	}{
		{"leaf", own.Leaf, peer.Leaf, &out.Leaf},
		{"intermediate", own.Intermediate, peer.Intermediate, &out.Intermediate},
		{"root", own.Root, peer.Root, &out.Root},
	} {
		*part.dst = part.own
		if part.own == nil && part.peer != nil {
			*part.dst = part.peer
			filled = append(filled, part.role)
		}
	}
	for _, crl := range peer.CRLs {
		if !hasCRL(out.CRLs, crl.List) {
			out.CRLs = append(out.CRLs, crl)
		}
	}
	out.Source = own.Source
	if len(filled) > 0 {
		out.Source = fmt.Sprintf("%s (%s from %s)", own.Source, strings.Join(filled, ", "), peer.Source)
	}
	return out, nil
}

// hasCRL reports whether crls holds a list with the bytes of l.
func hasCRL(crls []CRL, l *x509.RevocationList) bool {
	for _, c := range crls {
		if c.List != nil && l != nil && bytes.Equal(c.List.Raw, l.Raw) {
			return true
		}
	}
	return false
}
