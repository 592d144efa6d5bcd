package pcs

import (
	"crypto/sha256"
	"crypto/x509"
	"slices"
	"sync"
	"unsafe"

	"github.com/ratls/ratls/internal/contentkey"
)

// parts are the parts of collateral that a Cache's entries share. Intel's
// PCS serves the same QE Identity, CRLs and issuer chains with the TCB Info
// of every FMSPC; a fetch parses them again, and keeping each copy would
// cost more than the TCB Info itself. Each distinct part (by its bytes) is
// kept once, for as long as an entry refers to it.
type parts struct {
	mu    *sync.Mutex // the cache's; held for every call
	m     map[[sha256.Size]byte]*part
	bytes int64 // estimated memory of the parts kept
}

type part struct {
	v    any // *EnclaveIdentity, *x509.RevocationList or *x509.Certificate
	refs int
	size int64
}

func (p *parts) init(mu *sync.Mutex) {
	p.mu = mu
	p.m = map[[sha256.Size]byte]*part{}
}

// Estimated memory of parsed collateral, from the sizes of its encodings
// (measured with Intel's collateral).
const (
	collateralStructSize      = int64(unsafe.Sizeof(Collateral{})) + int64(unsafe.Sizeof(cacheEntry{})) + 3*3*8
	tcbInfoPerByte            = 3.5
	identityPerByte           = 3.5
	crlPerByte, crlPerEntry   = 2, 320
	certPerByte, certOverhead = 2, 1500
	partOverhead              = 64
)

func tcbInfoSize(t *TCBInfo) int64 {
	n := len(t.body)
	if n == 0 {
		n = len(t.Raw) + len(t.Signature)
	}
	return int64(float64(n)*tcbInfoPerByte) + 512
}

// share returns col with each of its QE Identity, CRLs and certificates
// replaced by an equal one already kept, if any, counting a reference to
// each; col itself is not modified. The result is col when nothing was
// replaced. keys name the parts, for release. size is the memory the entry
// holds on its own: its TCB Info and the collateral structure.
func (p *parts) share(col *Collateral) (shared *Collateral, keys [][sha256.Size]byte, size int64) {
	out := *col
	changed := false
	// A part col holds twice (the root in each issuer chain) is shared or
	// kept as its first occurrence is: col's own parts stay its own, so
	// that collateral sharing nothing with others is returned as it is.
	own := map[[sha256.Size]byte]bool{}
	add := func(v any, size int64, kind string, bytes ...[]byte) any {
		key := contentkey.Of(kind, bytes...)
		keys = append(keys, key)
		pt := p.m[key]
		if pt == nil {
			pt = &part{v: v, size: size + partOverhead}
			p.m[key] = pt
			p.bytes += pt.size
		}
		pt.refs++
		if first, seen := own[key]; seen && first {
			return v
		}
		own[key] = pt.v == v
		if pt.v != v {
			changed = true
		}
		return pt.v
	}
	if qi := out.QEIdentity; qi != nil {
		out.QEIdentity = add(qi, int64(float64(len(qi.body)+len(qi.Raw))*identityPerByte), "identity", qi.body, qi.Raw, qi.Signature).(*EnclaveIdentity)
	}
	for _, crl := range []**x509.RevocationList{&out.PCKCRL, &out.RootCACRL} {
		if l := *crl; l != nil {
			*crl = add(l, int64(len(l.Raw)*crlPerByte+len(l.RevokedCertificateEntries)*crlPerEntry), "crl", l.Raw).(*x509.RevocationList)
		}
	}
	for _, chain := range []*[]*x509.Certificate{&out.TCBInfoIssuerChain, &out.QEIdentityIssuerChain, &out.PCKCRLIssuerChain} {
		cloned := false
		for i, c := range *chain {
			s := add(c, int64(len(c.Raw)*certPerByte+certOverhead), "certificate", c.Raw).(*x509.Certificate)
			if s != c {
				if !cloned {
					*chain, cloned = slices.Clone(*chain), true // col's slice stays as it is
				}
				(*chain)[i] = s
			}
		}
	}
	size = collateralStructSize + int64(len(keys))*sha256.Size
	if col.TCBInfo != nil {
		size += tcbInfoSize(col.TCBInfo)
	}
	if !changed {
		return col, keys, size
	}
	return &out, keys, size
}

// release drops a reference to each part named by keys (from share);
// parts without references are no longer kept.
func (p *parts) release(keys [][sha256.Size]byte) {
	for _, key := range keys {
		if pt := p.m[key]; pt != nil {
			if pt.refs--; pt.refs <= 0 {
				delete(p.m, key)
				p.bytes -= pt.size
			}
		}
	}
}
