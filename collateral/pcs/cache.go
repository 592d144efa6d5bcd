package pcs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ratls/ratls/internal/fetchcache"
	"github.com/ratls/ratls/internal/lru"
)

// Cache defaults and limits.
const (
	// DefaultCacheBytes is the default CacheConfig.MaxBytes: 64 MiB, room
	// for the collateral of about 5,000 FMSPCs (Intel's TCB Info of an
	// FMSPC takes about 11 KB parsed; QE Identities, CRLs and issuer
	// chains are shared by all FMSPCs).
	DefaultCacheBytes = 64 << 20
	// DefaultCacheInUse is the default CacheConfig.InUse.
	DefaultCacheInUse = time.Hour
	// cacheRetryInterval spaces refresh attempts while an entry is still
	// valid but due for refresh (after a failure, or when the source still
	// serves collateral that is due).
	cacheRetryInterval = time.Minute
	// cacheFetchTimeout bounds one fetch from the next provider. Fetches run
	// detached from the callers' contexts so that one caller giving up does
	// not fail the others waiting for the same collateral.
	cacheFetchTimeout = 5 * time.Minute
	// cacheMetaFile records the request, the source and the fetch time of a
	// cache directory entry, next to the LoadDir files.
	cacheMetaFile    = "cache.json"
	maxCacheMetaSize = 4 << 10
	// maxCacheOutages bounds the outages remembered (one per request).
	maxCacheOutages = 4096
)

// CacheConfig configures a Cache.
type CacheConfig struct {
	// Dir, when set, keeps a copy of every entry on disk so that the cache
	// survives restarts: one subdirectory per request, named
	// "<tee>-<fmspc>-<ca>-<update>", in the LoadDir layout plus a cache.json
	// file. Entries are replaced atomically; the directory is not pruned.
	Dir string
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// MaxBytes bounds the memory of the collateral kept (an estimate of
	// the parsed collateral; parts that entries share, such as the QE
	// Identity, the CRLs and the issuer chains, count once). Least recently
	// used entries are dropped first, but never valid collateral that is in
	// use (see InUse): the cache then holds more. Default
	// DefaultCacheBytes.
	MaxBytes int64
	// MaxEntries, when positive, also bounds the number of entries, in use
	// or not.
	MaxEntries int
	// InUse is how long after it was last asked for an entry counts as in
	// use. Default DefaultCacheInUse; a negative value means never.
	InUse time.Duration
	// RefreshBefore is how long before its nextUpdate an entry is fetched
	// again. The old entry is still served while the refresh runs or when
	// it fails, until its nextUpdate. Default 0: refresh at nextUpdate.
	RefreshBefore time.Duration
}

// Cache is a Provider that keeps the collateral of another Provider (usually
// a Client) until it is due, in memory and optionally on disk.
//
// An entry is served until the earliest nextUpdate of its TCB Info, QE
// Identity and both CRLs, less RefreshBefore; then it is fetched again.
// Collateral is never served at or after that nextUpdate: when the refresh of
// an expired entry fails, the error is returned. Collateral from the source
// that is already expired is refused too (an error matching ErrExpired).
//
// When the source is unavailable (a failure matching ErrUnavailable), it is
// not asked again at once: for 5 s after the first failure, doubling with
// each further one up to 5 min, or for as long as its Retry-After asks (up
// to an hour), requests for the same collateral fail at once with an
// *UnavailableError saying when the cache asks again. A source that returns
// an *UnavailableError itself (one that backs off on its own, such as a
// store shared by replicas in front of PCS) is asked every time.
//
// The same *Collateral is returned for as long as an entry's content is
// unchanged, also across refreshes that return identical collateral, so
// verifiers can cache their verification of it by pointer. Callers must not
// modify it. Concurrent requests for the same collateral share one fetch.
//
// Memory is bounded by CacheConfig.MaxBytes (default 64 MiB, room for
// about 5,000 FMSPCs): entries share the QE Identity, CRLs and issuer
// chains that are the same for every FMSPC, so each costs about its TCB
// Info (10 to 12 KB for Intel's). Entries not asked for within
// CacheConfig.InUse (an hour) are dropped least recently used first when
// the bound is reached; valid collateral in use never is, so a verifier
// does not fetch again what it keeps needing. Stats reports hits, misses
// and evictions.
type Cache struct {
	next          Provider
	dir           string
	now           func() time.Time
	refreshBefore time.Duration
	inUse         time.Duration
	maxBytes      int64

	// fc holds the entries, in order of use, and runs their fetches (by
	// Request.String); fc.Mu guards the entries and parts.
	fc    *fetchcache.Cache[Request, *cacheEntry]
	parts parts // collateral parts the entries share
}

type cacheEntry struct {
	req        Request
	col        *Collateral
	fetchedAt  time.Time
	nextUpdate time.Time           // earliest nextUpdate of the items
	retryAt    time.Time           // no refresh before this while still valid
	err        error               // last refresh or write failure
	usedAt     time.Time           // last asked for
	parts      [][sha256.Size]byte // the shared parts it refers to
}

// CacheEntry describes a cache entry, for status reporting.
type CacheEntry struct {
	Request   Request
	Source    string // Collateral.Source
	FetchedAt time.Time
	// NextUpdate is the earliest nextUpdate of the TCB Info, QE Identity and
	// CRLs: the entry is not served from then on.
	NextUpdate time.Time
	// Err is the last failure to refresh or to write the entry to disk;
	// nil after a clean refresh.
	Err error
}

// NewCache returns a cache in front of next.
func NewCache(next Provider, cfg CacheConfig) *Cache {
	c := &Cache{
		next:          next,
		dir:           cfg.Dir,
		now:           cfg.Now,
		refreshBefore: max(cfg.RefreshBefore, 0),
		inUse:         cfg.InUse,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.inUse == 0 {
		c.inUse = DefaultCacheInUse
	}
	maxBytes := cfg.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	c.maxBytes = maxBytes
	c.fc = fetchcache.New[Request, *cacheEntry](fetchcache.Config{
		MaxBytes: maxBytes, MaxEntries: cfg.MaxEntries, MaxOutages: maxCacheOutages, FetchTimeout: cacheFetchTimeout,
	})
	c.fc.Entries.SetKeep(c.keep)
	c.fc.Entries.OnRemove(func(e *cacheEntry) { c.parts.release(e.parts) })
	c.parts.init(&c.fc.Mu)
	return c
}

// CacheStats are a cache's counters since it was created and its size now:
// Hits counts requests answered from memory, Misses those that waited for
// a fetch (or failed at once during an outage), Evictions the entries
// dropped to stay within the bounds.
type CacheStats = lru.Stats

// Stats returns the cache's counters and size.
func (c *Cache) Stats() CacheStats {
	c.fc.Mu.Lock()
	shared := c.parts.bytes
	c.fc.Mu.Unlock()
	s := c.fc.Stats()
	s.Bytes += shared
	s.MaxBytes = c.maxBytes
	return s
}

// keep reports whether e is valid collateral in use, which the bound on
// memory does not evict; c.fc.Mu is held.
func (c *Cache) keep(e *cacheEntry) bool {
	now := c.now()
	return c.inUse > 0 && now.Before(e.nextUpdate) && now.Sub(e.usedAt) < c.inUse
}

func (e *cacheEntry) refreshAt(before time.Duration) time.Time {
	return e.nextUpdate.Add(-before)
}

// Collateral returns the cached collateral for req, fetching it when it is
// absent or due. A request with an empty Update is the same as "standard".
func (c *Cache) Collateral(ctx context.Context, req Request) (*Collateral, error) {
	if c.next == nil {
		return nil, errors.New("pcs: cache: no provider to fetch from")
	}
	req, err := normalize(req)
	if err != nil {
		return nil, err
	}
	now := c.now()
	// A hit builds no request: it is the path every verification takes.
	c.fc.Mu.Lock()
	col, ok := c.hit(ctx, req, now)
	c.fc.Mu.Unlock()
	if ok {
		c.fc.CountHit()
		return col, nil
	}
	v, err := c.fc.Get(ctx, fetchcache.Request[Request]{
		Key: req, Flight: req.String(), Now: now,
		// Again, under the lock: a fetch may have ended since.
		Hit: func() (any, bool) { return c.hit(ctx, req, now) },
		Outage: func(retryAfter time.Duration, err error) error {
			return &UnavailableError{Request: req, RetryAfter: retryAfter, Err: err}
		},
		Gone: func(cause error) error {
			return timedOut(fmt.Errorf("pcs: cache: %s: %w", req, cause))
		},
		Fill: func(ctx context.Context) (any, error) { return c.fill(ctx, req) },
	})
	col, _ = v.(*Collateral)
	return col, err
}

// hit returns the collateral of req to serve from memory at now, if any,
// starting a refresh in the background when it is due. c.fc.Mu must be
// held.
func (c *Cache) hit(ctx context.Context, req Request, now time.Time) (*Collateral, bool) {
	e, ok := c.fc.Entries.Get(req)
	if !ok {
		return nil, false
	}
	e.usedAt = now
	if now.Before(e.refreshAt(c.refreshBefore)) {
		return e.col, true
	}
	if now.Before(e.nextUpdate) {
		// Due for refresh but still valid: refresh in the background and
		// serve it meanwhile. Until the refresh ends (and sets retryAt
		// again), nobody starts another.
		if !now.Before(e.retryAt) {
			e.retryAt = now.Add(cacheRetryInterval)
			c.fetch(ctx, req)
		}
		return e.col, true
	}
	return nil, false
}

// fetch starts fetching req in the background, or joins the fetch in
// progress.
func (c *Cache) fetch(ctx context.Context, req Request) {
	c.fc.Fetch(ctx, req.String(), func(ctx context.Context) (any, error) { return c.fill(ctx, req) })
}

// fill loads req from disk or from the next provider, installs the result
// and returns it.
func (c *Cache) fill(ctx context.Context, req Request) (*Collateral, error) {
	c.fc.Mu.Lock()
	old, _ := c.fc.Entries.Peek(req)
	if old != nil && c.now().Before(old.refreshAt(c.refreshBefore)) {
		// Installed by a fetch that ended after this one's caller looked.
		c.fc.Mu.Unlock()
		return old.col, nil
	}
	c.fc.Mu.Unlock()

	if old == nil && c.dir != "" {
		if e := c.load(req); e != nil {
			now := c.now()
			if now.Before(e.nextUpdate) {
				c.fc.Mu.Lock()
				c.install(e)
				if now.Before(e.refreshAt(c.refreshBefore)) {
					c.fc.Mu.Unlock()
					return e.col, nil
				}
				c.fc.Mu.Unlock()
				old = e
			}
		}
	}

	col, err := c.next.Collateral(ctx, req)
	now := c.now()
	var ne *cacheEntry
	if err == nil {
		ne, err = newCacheEntry(req, col, now)
	}
	var writeErr error
	if ne != nil {
		if old != nil && collateralEqual(old.col, col) {
			ne.col = old.col // unchanged: keep the pointer verifiers know
		} else if c.dir != "" {
			writeErr = c.store(ne)
		}
	}

	c.fc.Mu.Lock()
	defer c.fc.Mu.Unlock()
	if ne != nil {
		if !now.Before(ne.refreshAt(c.refreshBefore)) {
			// The source still serves collateral that is due.
			ne.retryAt = now.Add(cacheRetryInterval)
		}
		ne.err = writeErr
		c.install(ne)
		return ne.col, nil
	}
	if cur, _ := c.fc.Entries.Peek(req); cur != nil {
		cur.err = err
		cur.retryAt = now.Add(cacheRetryInterval)
		if now.Before(cur.nextUpdate) {
			return cur.col, nil
		}
		err = fmt.Errorf("cached collateral expired at %s and the refresh failed: %w", cur.nextUpdate.UTC().Format(time.RFC3339), err)
	}
	var backingOff *UnavailableError
	if errors.Is(err, ErrUnavailable) && !errors.As(err, &backingOff) {
		return nil, &UnavailableError{Request: req, RetryAfter: c.fc.Unavailable(req, err, now), Err: err}
	}
	return nil, fmt.Errorf("pcs: cache: %s: %w", req, err)
}

// install adds or replaces the entry of e.req, sharing its parts with the
// other entries, and drops the least recently used entries beyond the
// bounds; c.fc.Mu must be held.
func (c *Cache) install(e *cacheEntry) {
	c.fc.Available(e.req)
	e.usedAt = c.now()
	if old, ok := c.fc.Entries.Peek(e.req); ok {
		// Released first, so that parts only it held are e's own again.
		e.usedAt = old.usedAt
		c.fc.Entries.Remove(e.req)
	}
	var size int64
	e.col, e.parts, size = c.parts.share(e.col)
	// The shared parts take their share of the bound first.
	c.fc.Entries.SetMaxBytes(c.maxBytes - c.parts.bytes)
	c.fc.Entries.Add(e.req, e, size)
}

// newCacheEntry checks that col is complete and not expired at now.
func newCacheEntry(req Request, col *Collateral, now time.Time) (*cacheEntry, error) {
	if col == nil {
		return nil, fmt.Errorf("pcs: cache: %s: the provider returned no collateral", req)
	}
	if m := col.Missing(); len(m) > 0 {
		return nil, fmt.Errorf("pcs: cache: %s: %w", req, &MissingError{Source: col.Source, Items: m})
	}
	first := earliestNextUpdate(col)
	if !now.Before(first.NotAfter) {
		first.Now = now
		return nil, fmt.Errorf("pcs: cache: %s: collateral from %s: %w", req, col.Source, &first)
	}
	return &cacheEntry{req: req, col: col, fetchedAt: now, nextUpdate: first.NotAfter}, nil
}

// EarliestNextUpdate returns when the first item of complete collateral
// expires, and which item: "TCB Info", "QE Identity", "PCK CRL" or "root CA
// CRL". CRLs without a nextUpdate do not expire.
func EarliestNextUpdate(col *Collateral) (time.Time, string) {
	first := earliestNextUpdate(col)
	return first.NotAfter, first.What
}

// earliestNextUpdate returns the validity window of the item of a complete
// collateral that expires first. CRLs without a nextUpdate do not expire.
func earliestNextUpdate(col *Collateral) ValidityError {
	items := []ValidityError{
		{What: "TCB Info", NotBefore: col.TCBInfo.IssueDate, NotAfter: col.TCBInfo.NextUpdate},
		{What: "QE Identity", NotBefore: col.QEIdentity.IssueDate, NotAfter: col.QEIdentity.NextUpdate},
		{What: "PCK CRL", NotBefore: col.PCKCRL.ThisUpdate, NotAfter: col.PCKCRL.NextUpdate},
		{What: "root CA CRL", NotBefore: col.RootCACRL.ThisUpdate, NotAfter: col.RootCACRL.NextUpdate},
	}
	first := items[0]
	for _, it := range items[1:] {
		if !it.NotAfter.IsZero() && it.NotAfter.Before(first.NotAfter) {
			first = it
		}
	}
	return first
}

// collateralEqual reports whether a and b hold the same bytes.
func collateralEqual(a, b *Collateral) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	signed := func(x, y []byte, xs, ys []byte) bool { return bytes.Equal(x, y) && bytes.Equal(xs, ys) }
	chain := func(x, y []*x509.Certificate) bool {
		return slices.EqualFunc(x, y, func(p, q *x509.Certificate) bool { return bytes.Equal(p.Raw, q.Raw) })
	}
	crl := func(x, y *x509.RevocationList) bool {
		if x == nil || y == nil {
			return x == y
		}
		return bytes.Equal(x.Raw, y.Raw)
	}
	switch {
	case (a.TCBInfo == nil) != (b.TCBInfo == nil), (a.QEIdentity == nil) != (b.QEIdentity == nil):
		return false
	case a.TCBInfo != nil && !signed(a.TCBInfo.Raw, b.TCBInfo.Raw, a.TCBInfo.Signature, b.TCBInfo.Signature):
		return false
	case a.QEIdentity != nil && !signed(a.QEIdentity.Raw, b.QEIdentity.Raw, a.QEIdentity.Signature, b.QEIdentity.Signature):
		return false
	}
	return chain(a.TCBInfoIssuerChain, b.TCBInfoIssuerChain) &&
		chain(a.QEIdentityIssuerChain, b.QEIdentityIssuerChain) &&
		chain(a.PCKCRLIssuerChain, b.PCKCRLIssuerChain) &&
		crl(a.PCKCRL, b.PCKCRL) && crl(a.RootCACRL, b.RootCACRL)
}

// Entries describes the entries held in memory, ordered by request.
func (c *Cache) Entries() []CacheEntry {
	c.fc.Mu.Lock()
	defer c.fc.Mu.Unlock()
	entries := c.fc.Entries.Values()
	out := make([]CacheEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, CacheEntry{
			Request: e.req, Source: e.col.Source, FetchedAt: e.fetchedAt,
			NextUpdate: e.nextUpdate, Err: e.err,
		})
	}
	slices.SortFunc(out, func(a, b CacheEntry) int { return strings.Compare(a.Request.String(), b.Request.String()) })
	return out
}

// cacheDirName names the directory of a normalized request; its parts are
// fixed words and hex, so it is a safe path element.
func cacheDirName(req Request) string {
	return fmt.Sprintf("%s-%x-%s-%s", req.TEE, req.FMSPC[:], req.CA, req.Update)
}

// cacheMeta is the content of cache.json.
type cacheMeta struct {
	Request   string    `json:"request"` // Request.String()
	Source    string    `json:"source"`
	FetchedAt time.Time `json:"fetched_at"`
}

// load reads the disk entry of req. A missing, incomplete or unreadable
// entry is ignored: it is fetched again and overwritten.
func (c *Cache) load(req Request) *cacheEntry {
	dir := filepath.Join(c.dir, cacheDirName(req))
	f, err := os.Open(filepath.Join(dir, cacheMetaFile))
	if err != nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCacheMetaSize+1))
	f.Close()
	if err != nil || len(b) > maxCacheMetaSize {
		return nil
	}
	var m cacheMeta
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if dec.Decode(&m) != nil || m.Request != req.String() {
		return nil
	}
	col, err := LoadDir(dir)
	if err != nil {
		return nil
	}
	col.Source = m.Source
	e, err := newCacheEntry(req, col, m.FetchedAt)
	if err != nil {
		return nil
	}
	return e
}

// store writes e to its directory atomically: into a temporary directory
// that then replaces the old one. Readers in other processes may briefly
// find no entry (and fetch), never a partial one.
func (c *Cache) store(e *cacheEntry) error {
	name := cacheDirName(e.req)
	final := filepath.Join(c.dir, name)
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("pcs: cache: %w", err)
	}
	tmp, err := os.MkdirTemp(c.dir, "."+name+".tmp-")
	if err != nil {
		return fmt.Errorf("pcs: cache: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op once renamed
	if err := WriteDir(tmp, e.col); err != nil {
		return fmt.Errorf("pcs: cache: %w", err)
	}
	meta, err := json.Marshal(cacheMeta{Request: e.req.String(), Source: e.col.Source, FetchedAt: e.fetchedAt.UTC()})
	if err != nil {
		return fmt.Errorf("pcs: cache: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, cacheMetaFile), meta, 0o644); err != nil {
		return fmt.Errorf("pcs: cache: %w", err)
	}
	if err := os.Rename(tmp, final); err == nil {
		return nil
	}
	// A directory cannot be renamed over a non-empty one: move the old
	// entry aside first.
	aside := tmp + ".old"
	if err := os.Rename(final, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pcs: cache: replacing %s: %w", final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("pcs: cache: replacing %s: %w", final, err)
	}
	if err := os.RemoveAll(aside); err != nil {
		return fmt.Errorf("pcs: cache: removing the replaced entry: %w", err)
	}
	return nil
}
