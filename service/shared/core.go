package shared

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ratls/ratls/internal/fetchcache"
	"github.com/ratls/ratls/internal/retry"
	"github.com/ratls/ratls/service/store"
)

const (
	// maxMemo bounds the decoded entries kept per provider for pointer
	// stability; beyond it the least recently used are dropped, which only
	// costs a decode and a new pointer.
	maxMemo = 4096
	// retryInterval spaces refresh attempts of an entry that is still valid
	// but due (Config.RefreshBefore), after a failure or when upstream
	// still serves collateral that is due.
	retryInterval = time.Minute
)

// Config configures Intel and AMD.
type Config struct {
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// Logger receives store and upstream failures; default: discarded.
	Logger *slog.Logger
	// RefreshBefore is how long before its expiry an entry is fetched
	// again; the stored entry is still served while that fails. Set it to
	// the in-memory cache's RefreshBefore, or the refresh that cache starts
	// early only gets the stored entry back until it expires. Default 0:
	// fetch at expiry.
	RefreshBefore time.Duration
}

// Stats are counters since the provider was created, for metrics.
type Stats struct {
	// StoreHits counts lookups answered from the store.
	StoreHits uint64
	// UpstreamFetches counts fetches from upstream.
	UpstreamFetches uint64
	// StoreErrors counts failed store reads and writes and entries that
	// do not decode or do not answer their request.
	StoreErrors uint64
	// UpstreamErrors counts failed fetches and refused upstream results
	// (expired, incomplete, not answering the request).
	UpstreamErrors uint64
}

// Map returns the counters by name ("store_hits", "upstream_fetches",
// "store_errors", "upstream_errors").
func (s Stats) Map() map[string]uint64 {
	return map[string]uint64{
		"store_hits":       s.StoreHits,
		"upstream_fetches": s.UpstreamFetches,
		"store_errors":     s.StoreErrors,
		"upstream_errors":  s.UpstreamErrors,
	}
}

// codec adapts core to one kind of collateral.
type codec[T comparable] struct {
	kind         string // "intel" or "amd": key prefix, log and error messages
	fetchTimeout time.Duration
	encode       func(T) ([]byte, error)
	decode       func([]byte) (T, error)
	// missing is the error for a key neither the store nor upstream has.
	missing func(key string) error
	// expired is the sentinel of expired collateral.
	expired error
	// outage is the sentinel of an unavailable upstream.
	outage error
}

// lookup is one request: its store key, how to check a value against the
// request and the clock, and how to fetch it.
type lookup[T comparable] struct {
	key string
	// check returns when v stops being served, or an error when v is
	// incomplete, expired at now (matching codec.expired) or does not
	// answer the request.
	check func(v T, now time.Time) (time.Time, error)
	// fetch is nil when there is no upstream.
	fetch func(ctx context.Context) (T, error)
	// unavailable is the error while upstream is unavailable: err, and
	// how long until upstream is asked again.
	unavailable func(err error, retryAfter time.Duration) error
}

// core is the store-backed provider logic shared by Intel and AMD.
type core[T comparable] struct {
	codec         codec[T]
	st            store.Store
	now           func() time.Time
	log           *slog.Logger
	refreshBefore time.Duration

	// fc runs the lookups (by key) and remembers upstream outages; its
	// entries are the decoded values, least recently used dropped first.
	fc *fetchcache.Cache[string, *memoEntry[T]]

	// waiting, when set, is called as each caller of get starts waiting
	// for its key's flight (the one it started or joined), so that tests
	// know when concurrent callers share a lookup instead of guessing
	// with sleeps. Set before the first lookup.
	waiting func(key string)

	storeHits, upstreamFetches, storeErrors, upstreamErrors atomic.Uint64
}

// memoEntry is the decoded value of the last body seen for a key.
type memoEntry[T comparable] struct {
	hash    [sha256.Size]byte // of the encoded body
	val     T
	expires time.Time
	retryAt time.Time // no refresh before this while the entry is valid
}

func newCore[T comparable](c codec[T], st store.Store, cfg Config) *core[T] {
	k := &core[T]{
		codec:         c,
		st:            st,
		now:           cfg.Now,
		log:           cfg.Logger,
		refreshBefore: max(cfg.RefreshBefore, 0),
		// Bounded by count only: pointer stability, not memory, is the point.
		fc: fetchcache.New[string, *memoEntry[T]](fetchcache.Config{
			MaxBytes: math.MaxInt64, MaxEntries: maxMemo, MaxOutages: maxMemo, FetchTimeout: c.fetchTimeout,
		}),
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	return k
}

func (k *core[T]) stats() Stats {
	return Stats{
		StoreHits:       k.storeHits.Load(),
		UpstreamFetches: k.upstreamFetches.Load(),
		StoreErrors:     k.storeErrors.Load(),
		UpstreamErrors:  k.upstreamErrors.Load(),
	}
}

// entries lists the store entries of this kind, without bodies.
func (k *core[T]) entries(ctx context.Context) ([]*store.Collateral, error) {
	all, err := k.st.CollateralEntries(ctx)
	if err != nil {
		return nil, fmt.Errorf("shared: %s entries: %w", k.codec.kind, err)
	}
	var out []*store.Collateral
	for _, e := range all {
		if strings.HasPrefix(e.Key, k.codec.kind+"/") {
			out = append(out, e)
		}
	}
	return out, nil
}

// get resolves l, sharing one resolution among concurrent callers. The
// resolution runs detached from ctx, so that one caller giving up does not
// fail the others; each caller stops waiting when its ctx ends.
func (k *core[T]) get(ctx context.Context, l lookup[T]) (T, error) {
	done := k.fc.Fetch(ctx, l.key, func(ctx context.Context) (any, error) { return k.resolve(ctx, l) })
	if k.waiting != nil {
		k.waiting(l.key)
	}
	var zero T
	select {
	case res := <-done:
		if res.Err != nil {
			return zero, res.Err
		}
		v, _ := res.Val.(T)
		return v, nil
	case <-ctx.Done():
		return zero, fmt.Errorf("shared: %s: %w", l.key, context.Cause(ctx))
	}
}

// resolve serves l from the store, or fetches, stores and returns it.
func (k *core[T]) resolve(ctx context.Context, l lookup[T]) (T, error) {
	var zero T
	now := k.now()

	// stored is the valid stored value, if any; storeErr a store failure,
	// expiredErr the expiry of an expired entry and rejectErr why an entry
	// was rejected, for the error when upstream cannot help.
	var (
		stored     T
		storedExp  time.Time
		have       bool
		due        bool
		storeErr   error
		expiredErr error
		rejectErr  error
	)
	e, err := k.st.Collateral(ctx, l.key)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		k.storeErrors.Add(1)
		k.log.WarnContext(ctx, "collateral store read failed; asking upstream", "key", l.key, "err", err)
		storeErr = err
	case e == nil:
		k.storeErrors.Add(1)
		storeErr = errors.New("the store returned no entry and no error")
	default:
		v, exp, err := k.decode(l, e, now)
		switch {
		case errors.Is(err, k.codec.expired):
			expiredErr = err
		case err != nil:
			k.storeErrors.Add(1)
			k.log.WarnContext(ctx, "stored collateral rejected; fetching it again", "key", l.key,
				"fetched_at", e.FetchedAt, "err", err)
			rejectErr = err
		case now.Before(exp.Add(-k.refreshBefore)):
			k.storeHits.Add(1)
			return v, nil
		default:
			stored, storedExp, have, due = v, exp, true, true
		}
	}

	// A valid entry due for refresh is refreshed at most every
	// retryInterval; meanwhile, and when the refresh fails, it is served.
	serveStored := func() (T, error) {
		k.storeHits.Add(1)
		return stored, nil
	}
	if due {
		if l.fetch == nil || now.Before(k.retryAt(l.key)) {
			return serveStored()
		}
		k.setRetry(l.key, now.Add(retryInterval))
	}
	if l.fetch == nil {
		switch {
		case storeErr != nil:
			return zero, fmt.Errorf("shared: %s: no upstream and the store failed: %w", l.key, storeErr)
		case expiredErr != nil:
			return zero, fmt.Errorf("shared: %s: no upstream to fetch from: %w", l.key, expiredErr)
		case rejectErr != nil:
			return zero, fmt.Errorf("shared: %w; the stored entry was rejected: %v", k.codec.missing(l.key), rejectErr)
		}
		return zero, fmt.Errorf("shared: %w", k.codec.missing(l.key))
	}

	// During an upstream outage the store is still read (another replica
	// may have fetched meanwhile), but upstream is not asked until the
	// backoff has passed.
	if fl := k.outage(l.key, now); fl != nil {
		if have && now.Before(storedExp) {
			return serveStored()
		}
		return zero, l.unavailable(fl.Err, fl.Until.Sub(now))
	}

	k.upstreamFetches.Add(1)
	v, err := l.fetch(ctx)
	now = k.now()
	var exp time.Time
	if err == nil {
		if exp, err = l.check(v, now); err != nil {
			err = fmt.Errorf("refused upstream collateral: %w", err)
		}
	}
	if err != nil {
		k.upstreamErrors.Add(1)
		if have && now.Before(storedExp) {
			k.log.WarnContext(ctx, "collateral refresh failed; serving the stored entry", "key", l.key, "err", err)
			return serveStored()
		}
		var e error
		switch {
		case storeErr != nil:
			e = fmt.Errorf("shared: %s: %w; the store failed too: %w", l.key, err, storeErr)
		case expiredErr != nil:
			e = fmt.Errorf("shared: %s: %v, and the refetch failed: %w", l.key, expiredErr, err)
		default:
			e = fmt.Errorf("shared: %s: %w", l.key, err)
		}
		if errors.Is(err, k.codec.outage) {
			return zero, l.unavailable(e, k.addOutage(l.key, e, now))
		}
		return zero, e
	}
	k.clearOutage(l.key)

	body, err := k.codec.encode(v)
	if err != nil {
		// Served, not shared: the other replicas fetch it themselves.
		k.storeErrors.Add(1)
		k.log.ErrorContext(ctx, "collateral not encodable; not stored", "key", l.key, "err", err)
		return v, nil
	}
	v = k.remember(l.key, sha256.Sum256(body), v, exp, now)
	err = k.st.PutCollateral(ctx, &store.Collateral{Key: l.key, Body: body, FetchedAt: now, NextUpdate: exp})
	if err != nil {
		k.storeErrors.Add(1)
		k.log.WarnContext(ctx, "collateral store write failed", "key", l.key, "err", err)
	}
	return v, nil
}

// decode returns the value of a store entry and when it stops being served:
// the earlier of the entry's NextUpdate and the value's own expiry. An
// expired entry gives an error matching codec.expired.
func (k *core[T]) decode(l lookup[T], e *store.Collateral, now time.Time) (T, time.Time, error) {
	var zero T
	h := sha256.Sum256(e.Body)
	k.fc.Mu.Lock()
	m, ok := k.fc.Entries.Get(l.key)
	if ok && m.hash == h {
		v, exp := m.val, m.expires
		k.fc.Mu.Unlock()
		return k.window(v, earliest(exp, e.NextUpdate), now)
	}
	k.fc.Mu.Unlock()

	v, err := k.codec.decode(e.Body)
	if err != nil {
		return zero, time.Time{}, err
	}
	exp, err := l.check(v, now)
	if err != nil { // expired (matching codec.expired) or not acceptable
		return zero, time.Time{}, fmt.Errorf("stored collateral: %w", err)
	}
	v = k.remember(l.key, h, v, exp, time.Time{})
	return k.window(v, earliest(exp, e.NextUpdate), now)
}

func (k *core[T]) window(v T, exp, now time.Time) (T, time.Time, error) {
	if !now.Before(exp) {
		var zero T
		return zero, time.Time{}, fmt.Errorf("stored collateral: %w at %s", k.codec.expired, exp.UTC().Format(time.RFC3339))
	}
	return v, exp, nil
}

// remember records v as the value of body hash h under key and returns the
// value to serve: the one already recorded for the same bytes, if any, so
// that unchanged collateral keeps its pointer. A non-zero fetched (a fresh
// fetch) clears any refresh backoff unless the value is itself due.
func (k *core[T]) remember(key string, h [sha256.Size]byte, v T, exp, fetched time.Time) T {
	k.fc.Mu.Lock()
	defer k.fc.Mu.Unlock()
	m, ok := k.fc.Entries.Get(key)
	if !ok {
		m = &memoEntry[T]{}
		k.fc.Entries.Add(key, m, 0)
	}
	if m.hash != h {
		m.hash, m.val = h, v
	}
	m.expires = exp
	if !fetched.IsZero() && fetched.Before(exp.Add(-k.refreshBefore)) {
		m.retryAt = time.Time{}
	}
	return m.val
}

func (k *core[T]) retryAt(key string) time.Time {
	k.fc.Mu.Lock()
	defer k.fc.Mu.Unlock()
	if m, ok := k.fc.Entries.Peek(key); ok {
		return m.retryAt
	}
	return time.Time{}
}

// setRetry records the backoff of a refresh; the entry exists, as the
// stored value was just decoded and remembered.
func (k *core[T]) setRetry(key string, t time.Time) {
	k.fc.Mu.Lock()
	defer k.fc.Mu.Unlock()
	if m, ok := k.fc.Entries.Peek(key); ok {
		m.retryAt = t
	}
}

// outage returns the upstream outage of key while its backoff lasts.
func (k *core[T]) outage(key string, now time.Time) *retry.Failure {
	k.fc.Mu.Lock()
	defer k.fc.Mu.Unlock()
	return k.fc.Outage(key, now)
}

// addOutage records an upstream outage for key and returns how long
// upstream is not asked again.
func (k *core[T]) addOutage(key string, err error, now time.Time) time.Duration {
	k.fc.Mu.Lock()
	defer k.fc.Mu.Unlock()
	return k.fc.Unavailable(key, err, now)
}

func (k *core[T]) clearOutage(key string) {
	k.fc.Mu.Lock()
	defer k.fc.Mu.Unlock()
	k.fc.Available(key)
}

// earliest returns the earlier of a and b, ignoring a zero one.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}
