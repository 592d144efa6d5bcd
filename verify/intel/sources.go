package intel

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
)

// collateralSources is the collateral one verification draws on. own comes
// first: it wins (see "Collateral precedence" in the package
// documentation).
type collateralSources struct {
	own, peer *verifiedCollateral
	// ownMissing is set when the verifier's Provider had nothing for the
	// platform or could not be reached, so the peer's collateral stands in.
	ownMissing bool
}

// collateralGap reports whether a Provider's error means that it has no
// current collateral for the platform or cannot be reached, so that the
// attester's collateral may fill in: a *pcs.MissingError (anything matching
// fs.ErrNotExist), only expired collateral (pcs.ErrExpired), an HTTP 404,
// 429 or 5xx answer, a network error or a timeout. Any other error, such as
// collateral the source refused or a cancelled request, is not a gap, and
// verification fails.
func collateralGap(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, pcs.ErrExpired) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var he *pcs.HTTPError
	if errors.As(err, &he) {
		return he.StatusCode == http.StatusNotFound || he.StatusCode == http.StatusTooManyRequests || he.StatusCode >= 500
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// selection is the collateral item by item: which source each of the four
// items comes from, and the items as one collateral value.
type selection struct {
	sources    []*verifiedCollateral // own first; all chain to the quote's root
	peer       *verifiedCollateral
	foreign    *verifiedCollateral // a source chaining to another root
	ownMissing bool

	tcb, qe, pckCRL, rootCRL *verifiedCollateral // where each item comes from
	used                     *pcs.Collateral     // the items as one value
}

// selectCollateral picks each item from the first source (own before
// peer) whose item is for this platform, verified and current; failing
// that, from the first whose item is for this platform, so that its
// failures are reported; failing that, from the first that has the item at
// all, so that the mismatch is reported; failing that, from the first
// source, so that the item is reported missing.
func selectCollateral(src collateralSources, r *Result, chain *verifiedChain, now time.Time) *selection {
	s := &selection{ownMissing: src.ownMissing, peer: src.peer}
	for _, vc := range []*verifiedCollateral{src.own, src.peer} {
		switch {
		case vc == nil:
		case vc.anchor != nil && !sameKey(vc.anchor, chain.root):
			// Collateral of another root never vouches for this platform:
			// a test root's collateral for a genuine platform, or the reverse.
			if s.foreign == nil {
				s.foreign = vc
			}
		default:
			s.sources = append(s.sources, vc)
		}
	}
	if len(s.sources) == 0 {
		return s
	}
	wantTCB, wantQE := "SGX", "QE"
	if r.Quote.IsTDX() {
		wantTCB, wantQE = "TDX", "TD_QE"
	}
	type item struct {
		has, fits, good func(vc *verifiedCollateral) bool
	}
	pick := func(it item) *verifiedCollateral {
		for _, ok := range []func(*verifiedCollateral) bool{
			func(vc *verifiedCollateral) bool { return it.has(vc) && it.fits(vc) && it.good(vc) },
			func(vc *verifiedCollateral) bool { return it.has(vc) && it.fits(vc) },
			it.has,
		} {
			for _, vc := range s.sources {
				if ok(vc) {
					return vc
				}
			}
		}
		return s.sources[0]
	}
	s.tcb = pick(item{
		has: func(vc *verifiedCollateral) bool { return vc.src.TCBInfo != nil },
		fits: func(vc *verifiedCollateral) bool {
			ti := vc.src.TCBInfo
			return tiID(ti) == wantTCB && ti.FMSPC == chain.pck.FMSPC && ti.PCEID == chain.pck.PCEID
		},
		good: func(vc *verifiedCollateral) bool {
			ti := vc.src.TCBInfo
			return vc.tcbInfoErr == nil && (Window{From: ti.IssueDate, Until: ti.NextUpdate}).Contains(now)
		},
	})
	s.qe = pick(item{
		has:  func(vc *verifiedCollateral) bool { return vc.src.QEIdentity != nil },
		fits: func(vc *verifiedCollateral) bool { return vc.src.QEIdentity.ID == wantQE },
		good: func(vc *verifiedCollateral) bool {
			qi := vc.src.QEIdentity
			return vc.qeIDErr == nil && (Window{From: qi.IssueDate, Until: qi.NextUpdate}).Contains(now)
		},
	})
	s.pckCRL = pick(item{
		has:  func(vc *verifiedCollateral) bool { return vc.src.PCKCRL != nil },
		fits: func(vc *verifiedCollateral) bool { return bytes.Equal(vc.src.PCKCRL.RawIssuer, chain.leaf.RawIssuer) },
		good: func(vc *verifiedCollateral) bool {
			return vc.pckCRLFor(chain) && crlWindow(vc.src.PCKCRL).Contains(now)
		},
	})
	s.rootCRL = pick(item{
		has:  func(vc *verifiedCollateral) bool { return vc.src.RootCACRL != nil },
		fits: func(*verifiedCollateral) bool { return true },
		good: func(vc *verifiedCollateral) bool {
			return vc.rootCRLErr == nil && crlWindow(vc.src.RootCACRL).Contains(now)
		},
	})

	s.used = &pcs.Collateral{
		TCBInfo: s.tcb.src.TCBInfo, TCBInfoIssuerChain: s.tcb.src.TCBInfoIssuerChain,
		QEIdentity: s.qe.src.QEIdentity, QEIdentityIssuerChain: s.qe.src.QEIdentityIssuerChain,
		PCKCRL: s.pckCRL.src.PCKCRL, PCKCRLIssuerChain: s.pckCRL.src.PCKCRLIssuerChain,
		RootCACRL: s.rootCRL.src.RootCACRL,
	}
	return s
}

// fromPeer reports whether vc is the attester's collateral.
func (s *selection) fromPeer(vc *verifiedCollateral) bool { return vc != nil && vc == s.peer }

// describe names where the items came from: one source, or the verifier's
// own source followed by the items the attester's filled in.
func (s *selection) describe() string {
	first := s.sources[0]
	var filled []string
	for _, it := range []struct {
		what string
		vc   *verifiedCollateral
	}{{"TCB Info", s.tcb}, {"QE Identity", s.qe}, {"PCK CRL", s.pckCRL}, {"root CA CRL", s.rootCRL}} {
		if it.vc != first {
			filled = append(filled, it.what)
		}
	}
	d := sourceName(first.src)
	if len(filled) > 0 {
		d += "; " + strings.Join(filled, ", ") + " from " + sourceName(s.sources[1].src)
	}
	if s.ownMissing {
		d += " (the configured collateral source has none for this platform or cannot be reached)"
	}
	return d
}

// revokedByRoot reports whether any root CA CRL that verified lists c.
func (s *selection) revokedByRoot(c *x509.Certificate) bool {
	for _, vc := range s.sources {
		if vc.revokedByRoot(c) {
			return true
		}
	}
	return false
}

// pckRevokedBy returns the source whose PCK CRL, issued by the PCK
// certificate's CA and correctly signed, lists the PCK certificate, or nil;
// checked reports whether any such CRL was consulted.
func (s *selection) pckRevokedBy(chain *verifiedChain) (by *verifiedCollateral, checked bool) {
	for _, vc := range s.sources {
		if !vc.pckCRLFor(chain) {
			continue
		}
		checked = true
		if vc.pckRevoked[serialKey(chain.leaf.SerialNumber)] {
			return vc, true
		}
	}
	return nil, checked
}

// pckCRLFor reports whether vc's PCK CRL verified and was issued by the CA
// of the chain's PCK certificate.
func (vc *verifiedCollateral) pckCRLFor(chain *verifiedChain) bool {
	return vc.pckCRLErr == nil && sameKey(vc.pckCRLIssuer, chain.ca) && bytes.Equal(vc.src.PCKCRL.RawIssuer, chain.leaf.RawIssuer)
}

func sameKey(a, b *x509.Certificate) bool {
	return bytes.Equal(a.RawSubjectPublicKeyInfo, b.RawSubjectPublicKeyInfo)
}

// floorKey names what a tcbEvaluationDataNumber floor is for: TCB Info of
// one TEE ("SGX" or "TDX") and FMSPC, or an enclave identity ("QE",
// "TD_QE", "QVE"), under one root.
type floorKey struct {
	root     string // the root's SubjectPublicKeyInfo
	identity bool   // an enclave identity rather than TCB Info
	id       string
	fmspc    [6]byte
}

func (k floorKey) String() string {
	if k.identity {
		return k.id + " identity"
	}
	return fmt.Sprintf("%s FMSPC %x", k.id, k.fmspc)
}

func tcbInfoFloorKey(root *x509.Certificate, ti *pcs.TCBInfo) floorKey {
	return floorKey{root: string(root.RawSubjectPublicKeyInfo), id: tiID(ti), fmspc: ti.FMSPC}
}

func qeIdentityFloorKey(root *x509.Certificate, qi *pcs.EnclaveIdentity) floorKey {
	return floorKey{root: string(root.RawSubjectPublicKeyInfo), identity: true, id: qi.ID}
}

// raiseFloor records a verified tcbEvaluationDataNumber. The map holds one
// entry per platform and identity the trusted roots have signed collateral
// for, so it needs no bound.
func (v *Verifier) raiseFloor(k floorKey, n uint32) {
	v.floorMu.Lock()
	if n > v.floors[k] {
		v.floors[k] = n
	}
	v.floorMu.Unlock()
}

func (v *Verifier) floor(k floorKey) uint32 {
	v.floorMu.Lock()
	defer v.floorMu.Unlock()
	return v.floors[k]
}

// checkFloor refuses attester-supplied collateral older than collateral
// this Verifier has verified for the same platform.
func (v *Verifier) checkFloor(r *Result, check, what, source string, k floorKey, got uint32) {
	floor := v.floor(k)
	if got < floor {
		r.Checks.Fail(check, ErrRollback, "%s from %s is older than one this verifier has verified for %s: tcbEvaluationDataNumber want >= %d, got %d",
			what, source, k, floor, got)
		return
	}
	r.Checks.Pass(check, fmt.Sprintf("%s from %s: tcbEvaluationDataNumber %d, not below the newest verified for %s (%d)", what, source, got, k, floor))
}
