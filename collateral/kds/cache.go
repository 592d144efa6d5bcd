package kds

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/internal/fetchcache"
	"github.com/ratls/ratls/internal/lru"
)

// Cache defaults.
const (
	// DefaultCacheBytes is the default CacheConfig.MaxBytes: 64 MiB, the
	// VCEKs of about 11,000 chips (a parsed VCEK takes about 6 KB).
	DefaultCacheBytes = 64 << 20
	// maxCacheOutages bounds the outages remembered (one per item).
	maxCacheOutages = 4096
	// cacheFetchTimeout bounds one fetch from the next provider. Fetches run
	// detached from the callers' contexts so that one caller giving up does
	// not fail the others waiting for the same item.
	cacheFetchTimeout = 10 * time.Minute
	// crlDefaultLifetime is how long a CRL without nextUpdate is kept.
	crlDefaultLifetime = 24 * time.Hour
)

// CacheConfig configures a Cache.
type CacheConfig struct {
	// Dir, when set, keeps a copy of what a Fetcher returns on disk so that
	// the cache survives restarts: <Dir>/<product>/cert_chain.pem and
	// <Dir>/<product>/crl.der (the VCEK chain and CRL),
	// <Dir>/<product>/vlek-cert_chain.pem and <Dir>/<product>/vlek-crl.der
	// (the VLEK chain and CRL) and <Dir>/<product>/vcek-<chip id>-<tcb>.der.
	// Files are replaced atomically; the directory is not pruned. Failing
	// to write a file does not fail the request.
	Dir string
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// MaxBytes bounds the memory of the items kept (an estimate of the
	// parsed certificates and CRLs). Least recently used VCEKs are dropped
	// first; certificate chains and CRLs, one per product and kind, are
	// kept while valid. Default DefaultCacheBytes. Size it at the number
	// of chips that attest times 6 KB, or every chip beyond it costs a
	// fetch (from KDS, or the store of a verification service) when it is
	// seen again.
	MaxBytes int64
	// MaxEntries, when positive, also bounds the number of items, chains
	// and CRLs included.
	MaxEntries int
}

// Cache is a Provider that keeps the certificates of another Provider.
//
// When the next provider is a Fetcher (such as Client), the cache keeps each
// part under its own key: a VCEK per product, chip ID and TCB (a VCEK is
// specific to both), the certificate chain and the CRL per product and
// signing key (the VCEK and the VLEK chain each have their own). VCEKs and
// chains are kept until the earliest NotAfter of their certificates, CRLs
// until their NextUpdate; then they are fetched again. Nothing is served at
// or after that time: when the refetch fails, the error is returned (fail
// closed). Items the source returns already expired are refused with an
// error matching ErrExpired.
//
// When the source is unavailable (a failure matching ErrUnavailable), it is
// not asked again at once: for 5 s after the first failure, doubling with
// each further one up to 5 min, or for as long as its Retry-After asks (up
// to an hour), requests for the same item fail at once with an
// *UnavailableError saying when the cache asks again. A source that returns
// an *UnavailableError itself (one that backs off on its own, such as a
// store shared by replicas in front of KDS) is asked every time.
//
// Other providers are cached per request, in memory only, until the
// earliest of the certificates' NotAfter and the CRL's NextUpdate.
//
// The same *Certificates is returned for as long as its parts are
// unchanged, also across refetches that return identical bytes, so that
// verifiers can cache their verification of it by pointer. Concurrent
// requests for the same item share one fetch.
//
// Memory is bounded by CacheConfig.MaxBytes (default 64 MiB): the least
// recently used VCEKs are dropped first (about 6 KB each); chains and CRLs,
// which every chip of a product needs, are kept while valid. Stats reports
// hits, misses and evictions.
type Cache struct {
	next    Provider
	fetcher Fetcher // next, when it is one
	dir     string
	now     func() time.Time

	// fc holds the items, in order of use, and runs their fetches (by
	// item key).
	fc *fetchcache.Cache[string, *cacheEntry]
}

// CacheStats are a cache's counters since it was created and its size now:
// Hits counts items answered from memory, Misses those that waited for a
// fetch (or failed at once during an outage), Evictions the items dropped
// to stay within the bounds.
type CacheStats = lru.Stats

// Stats returns the cache's counters and size.
func (c *Cache) Stats() CacheStats { return c.fc.Stats() }

// cacheEntry is one cached item. val is a *x509.Certificate (VCEK), a
// chainVal, a *x509.RevocationList or a *Certificates (whole requests).
type cacheEntry struct {
	key     string
	val     any
	expires time.Time // not served at or after
	// certs is the *Certificates last assembled around a VCEK entry, reused
	// while its parts are unchanged.
	certs *Certificates
}

type chainVal struct{ ask, ark *x509.Certificate }

// cacheItem describes how to fetch, check, compare and store one kind of item.
type cacheItem struct {
	key   string
	what  string // for errors, e.g. "Milan cert_chain"
	fetch func(ctx context.Context) (any, error)
	// expiry returns when a value stops being served.
	expiry func(v any) time.Time
	// path is the disk file, "" when not kept on disk; limit bounds its
	// size (default maxCertSize).
	path   string
	limit  int64
	encode func(v any) []byte
	decode func(b []byte) (any, error)
}

// NewCache returns a cache in front of next.
func NewCache(next Provider, cfg CacheConfig) *Cache {
	c := &Cache{
		next: next,
		dir:  cfg.Dir,
		now:  cfg.Now,
	}
	c.fetcher, _ = next.(Fetcher)
	if c.now == nil {
		c.now = time.Now
	}
	maxBytes := cfg.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	c.fc = fetchcache.New[string, *cacheEntry](fetchcache.Config{
		MaxBytes: maxBytes, MaxEntries: cfg.MaxEntries, MaxOutages: maxCacheOutages, FetchTimeout: cacheFetchTimeout,
	})
	// Chains and CRLs serve every chip of a product: they stay while valid.
	c.fc.Entries.SetKeep(func(e *cacheEntry) bool {
		_, isVCEK := e.val.(*x509.Certificate)
		return !isVCEK && c.now().Before(e.expires)
	})
	return c
}

// Certificates returns the cached certificates for req, fetching what is
// absent or expired.
func (c *Cache) Certificates(ctx context.Context, req Request) (*Certificates, error) {
	if c.next == nil {
		return nil, errors.New("kds: cache: no provider to fetch from")
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	if c.fetcher == nil {
		v, err := c.get(ctx, c.wholeItem(req))
		if err != nil {
			return nil, err
		}
		return v.(*Certificates), nil
	}
	// One part after the other, as Client does. The VCEK comes first: a
	// failing VCEK request then costs KDS no further requests. A leaf KDS
	// does not serve (VLEK, Turin, masked chip ID) stays nil, as with Client.
	var vcek *x509.Certificate
	var reuse cacheItem // the entry that remembers the assembled result
	if checkVCEKRequest(req) == nil {
		reuse = c.vcekItem(req)
		v, err := c.get(ctx, reuse)
		if err != nil {
			return nil, err
		}
		vcek = v.(*x509.Certificate)
	}
	chainItem := c.chainItem(req.Product, req.SigningKey)
	v, err := c.get(ctx, chainItem)
	if err != nil {
		return nil, err
	}
	chain := v.(chainVal)
	crlItem := c.crlItem(req.Product, req.SigningKey)
	v, err = c.get(ctx, crlItem)
	if err != nil {
		return nil, err
	}
	crl := v.(*x509.RevocationList)
	if vcek == nil {
		reuse = chainItem
	}

	c.fc.Mu.Lock()
	defer c.fc.Mu.Unlock()
	certs := &Certificates{Leaf: vcek, Intermediate: chain.ask, Root: chain.ark,
		CRLs:   []CRL{{List: crl, Kind: CRLKindFor(req.SigningKey), Source: c.fetcher.Source()}},
		Source: c.fetcher.Source()}
	e, _ := c.fc.Entries.Peek(reuse.key)
	if e == nil {
		return certs, nil // evicted meanwhile; nothing to reuse
	}
	if p := e.certs; p != nil && p.Leaf == vcek && p.Intermediate == chain.ask && p.Root == chain.ark && p.CRLs[0].List == crl {
		return p, nil
	}
	e.certs = certs
	return certs, nil
}

func (c *Cache) wholeItem(req Request) cacheItem {
	return cacheItem{
		key:  fmt.Sprintf("whole/%s/%s/%x/%016x", req.Product, req.SigningKey, req.ChipID[:], uint64(req.TCB)),
		what: req.String(),
		fetch: func(ctx context.Context) (any, error) {
			certs, err := c.next.Certificates(ctx, req)
			if err != nil {
				return nil, err
			}
			if certs == nil {
				return nil, fmt.Errorf("kds: cache: %s: the provider returned no certificates", req)
			}
			return certs, nil
		},
		expiry: func(v any) time.Time {
			certs := v.(*Certificates)
			var t time.Time
			for _, cert := range certs.Chain() {
				t = earliest(t, cert.NotAfter)
			}
			t = earliestCRLExpiry(t, certs.CRLs)
			if t.IsZero() {
				t = c.now().Add(crlDefaultLifetime) // no certificates: the verifier will refuse them
			}
			return t
		},
	}
}

func (c *Cache) vcekItem(req Request) cacheItem {
	chip := hex.EncodeToString(req.ChipID[:])
	where := func() string { return fmt.Sprintf("cached VCEK for %s", req) }
	it := cacheItem{
		key:  fmt.Sprintf("vcek/%s/%s/%016x", req.Product, chip, uint64(req.TCB)),
		what: "VCEK for " + req.String(),
		fetch: func(ctx context.Context) (any, error) {
			cert, err := c.fetcher.VCEK(ctx, req)
			if err != nil {
				return nil, err
			}
			return cert, nil
		},
		expiry: func(v any) time.Time { return v.(*x509.Certificate).NotAfter },
		encode: func(v any) []byte { return v.(*x509.Certificate).Raw },
		decode: func(b []byte) (any, error) {
			cert, err := ParseCertificate(where(), b)
			if err != nil {
				return nil, err
			}
			if err := checkVCEK(where(), cert, req); err != nil {
				return nil, err
			}
			return cert, nil
		},
	}
	if c.dir != "" {
		it.path = filepath.Join(c.dir, req.Product, fmt.Sprintf("vcek-%s-%016x.der", chip, uint64(req.TCB)))
	}
	return it
}

func (c *Cache) chainItem(product string, key snp.SigningKey) cacheItem {
	kind := CRLKindFor(key).path()
	where := fmt.Sprintf("cached %s %s cert_chain", product, kind)
	it := cacheItem{
		key:   "chain/" + product + "/" + kind,
		what:  fmt.Sprintf("%s %s cert_chain", product, kind),
		limit: maxChainSize,
		fetch: func(ctx context.Context) (any, error) {
			ask, ark, err := c.fetcher.CertChain(ctx, product, key)
			if err != nil {
				return nil, err
			}
			return chainVal{ask, ark}, nil
		},
		expiry: func(v any) time.Time {
			ch := v.(chainVal)
			return earliest(ch.ask.NotAfter, ch.ark.NotAfter)
		},
		encode: func(v any) []byte {
			ch := v.(chainVal)
			b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ch.ask.Raw})
			return append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ch.ark.Raw})...)
		},
		decode: func(b []byte) (any, error) {
			ask, ark, err := ParseCertChain(where, b)
			if err != nil {
				return nil, err
			}
			if err := checkChain(where, ask, ark, product, key); err != nil {
				return nil, err
			}
			return chainVal{ask, ark}, nil
		},
	}
	if c.dir != "" {
		it.path = filepath.Join(c.dir, product, cacheFileName(key, "cert_chain.pem"))
	}
	return it
}

// cacheFileName is name for the VCEK chain (the names of earlier releases)
// and "vlek-"+name for the VLEK chain.
func cacheFileName(key snp.SigningKey, name string) string {
	if key == snp.SigningKeyVLEK {
		return "vlek-" + name
	}
	return name
}

func (c *Cache) crlItem(product string, key snp.SigningKey) cacheItem {
	kind := CRLKindFor(key)
	where := fmt.Sprintf("cached %s %s", product, kind)
	it := cacheItem{
		key:   "crl/" + product + "/" + kind.path(),
		what:  fmt.Sprintf("%s %s", product, kind),
		limit: maxCRLSize,
		fetch: func(ctx context.Context) (any, error) {
			crl, err := c.fetcher.CRL(ctx, product, key)
			if err != nil {
				return nil, err
			}
			return crl, nil
		},
		expiry: func(v any) time.Time { return crlExpiry(v.(*x509.RevocationList)) },
		encode: func(v any) []byte { return v.(*x509.RevocationList).Raw },
		decode: func(b []byte) (any, error) {
			crl, err := ParseCRL(where, b)
			if err != nil {
				return nil, err
			}
			if err := checkCRL(where, crl, product); err != nil {
				return nil, err
			}
			return crl, nil
		},
	}
	if c.dir != "" {
		it.path = filepath.Join(c.dir, product, cacheFileName(key, "crl.der"))
	}
	return it
}

// crlExpiry is a CRL's NextUpdate, or a day after ThisUpdate without one.
func crlExpiry(crl *x509.RevocationList) time.Time {
	if crl.NextUpdate.IsZero() {
		return crl.ThisUpdate.Add(crlDefaultLifetime)
	}
	return crl.NextUpdate
}

// earliestCRLExpiry returns the earliest of t (ignored when zero) and the
// expiry of each CRL.
func earliestCRLExpiry(t time.Time, crls []CRL) time.Time {
	for _, crl := range crls {
		if crl.List != nil {
			t = earliest(t, crlExpiry(crl.List))
		}
	}
	return t
}

// earliest returns the earlier of a and b, ignoring a zero a.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// get returns the value of it from memory, or fetches it once for all
// concurrent callers.
func (c *Cache) get(ctx context.Context, it cacheItem) (any, error) {
	// A hit builds no request: it is the path every verification takes.
	c.fc.Mu.Lock()
	v, ok := c.hit(it.key)
	c.fc.Mu.Unlock()
	if ok {
		c.fc.CountHit()
		return v, nil
	}
	return c.fc.Get(ctx, fetchcache.Request[string]{
		Key: it.key, Flight: it.key, Now: c.now(),
		// Again, under the lock: a fetch may have ended since.
		Hit: func() (any, bool) { return c.hit(it.key) },
		Outage: func(retryAfter time.Duration, err error) error {
			return &UnavailableError{What: it.what, RetryAfter: retryAfter, Err: err}
		},
		Gone: func(cause error) error {
			return timedOut(fmt.Errorf("kds: cache: %s: %w", it.what, cause))
		},
		Fill: func(ctx context.Context) (any, error) { return c.fill(ctx, it) },
	})
}

// hit returns the value of key to serve from memory, if any. c.fc.Mu must
// be held.
func (c *Cache) hit(key string) (any, bool) {
	if e, ok := c.fc.Entries.Peek(key); ok && c.now().Before(e.expires) {
		c.fc.Entries.Get(key) // most recently used
		return e.val, true
	}
	return nil, false
}

// fill loads it from disk or from the next provider, installs the result and
// returns it.
func (c *Cache) fill(ctx context.Context, it cacheItem) (any, error) {
	c.fc.Mu.Lock()
	old, _ := c.fc.Entries.Peek(it.key)
	if old != nil && c.now().Before(old.expires) {
		// Installed by a fetch that ended after this one's caller looked.
		c.fc.Mu.Unlock()
		return old.val, nil
	}
	c.fc.Mu.Unlock()

	if old == nil && it.path != "" {
		if v := c.load(it); v != nil {
			return c.finish(it, v, nil, nil)
		}
	}

	v, err := it.fetch(ctx)
	if err != nil {
		return c.finish(it, nil, nil, err)
	}
	now := c.now()
	if exp := it.expiry(v); !now.Before(exp) {
		return c.finish(it, nil, nil, fmt.Errorf("kds: cache: %s from the source: %w at %s (valid until %s)",
			it.what, ErrExpired, now.UTC().Format(time.RFC3339), exp.UTC().Format(time.RFC3339)))
	}
	if old != nil && sameValue(old.val, v) {
		v = old.val // unchanged: keep the pointer verifiers know
	} else if it.path != "" {
		_ = c.store(it.path, it.encode(v)) // a disk failure only costs a refetch after restart
	}
	return c.finish(it, v, old, nil)
}

// finish installs v, or remembers an outage of the source, and returns the
// result of the fetch.
func (c *Cache) finish(it cacheItem, v any, old *cacheEntry, err error) (any, error) {
	c.fc.Mu.Lock()
	defer c.fc.Mu.Unlock()
	var backingOff *UnavailableError
	switch {
	case err == nil:
		e := &cacheEntry{key: it.key, val: v, expires: it.expiry(v)}
		if old != nil && old.val == v {
			e.certs = old.certs
		}
		c.install(e)
		c.fc.Available(it.key)
	case errors.Is(err, ErrUnavailable) && !errors.As(err, &backingOff):
		err = &UnavailableError{What: it.what, RetryAfter: c.fc.Unavailable(it.key, err, c.now()), Err: err}
	}
	return v, err
}

// install adds or replaces e and drops the least recently used entries
// beyond the bounds; c.fc.Mu must be held.
func (c *Cache) install(e *cacheEntry) {
	c.fc.Entries.Add(e.key, e, itemSize(e.val))
}

// itemSize estimates the memory of a parsed item (measured with AMD's
// certificates and CRLs).
func itemSize(v any) int64 {
	cert := func(c *x509.Certificate) int64 { return int64(3*len(c.Raw)) + 2048 }
	switch v := v.(type) {
	case *x509.Certificate:
		return cert(v) + 512 // with the *Certificates assembled around it
	case chainVal:
		return cert(v.ask) + cert(v.ark)
	case *x509.RevocationList:
		return int64(2*len(v.Raw)+320*len(v.RevokedCertificateEntries)) + 512
	case *Certificates:
		n := int64(512)
		for _, c := range v.Chain() {
			n += cert(c)
		}
		for _, crl := range v.CRLs {
			if crl.List != nil {
				n += itemSize(crl.List)
			}
		}
		return n
	}
	return 512
}

// sameValue reports whether two cached values hold the same bytes.
func sameValue(a, b any) bool {
	switch a := a.(type) {
	case *x509.Certificate:
		b, ok := b.(*x509.Certificate)
		return ok && bytes.Equal(a.Raw, b.Raw)
	case chainVal:
		b, ok := b.(chainVal)
		return ok && bytes.Equal(a.ask.Raw, b.ask.Raw) && bytes.Equal(a.ark.Raw, b.ark.Raw)
	case *x509.RevocationList:
		b, ok := b.(*x509.RevocationList)
		return ok && bytes.Equal(a.Raw, b.Raw)
	}
	return false // whole *Certificates from other providers: trust their pointers
}

// load reads it from disk. A missing, malformed or expired file is ignored:
// the item is fetched again and the file overwritten.
func (c *Cache) load(it cacheItem) any {
	limit := it.limit
	if limit == 0 {
		limit = maxCertSize
	}
	b, err := readFile(it.path, limit)
	if err != nil {
		return nil
	}
	v, err := it.decode(b)
	if err != nil || !c.now().Before(it.expiry(v)) {
		return nil
	}
	return v
}

// store writes b to path atomically: to a temporary file in the same
// directory, then renamed over path.
func (c *Cache) store(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
