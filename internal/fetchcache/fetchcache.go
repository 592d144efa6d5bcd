// Package fetchcache is the machinery the collateral caches
// (collateral/pcs.Cache, collateral/kds.Cache, and the store-backed
// providers of service/shared) share: entries in an LRU
// bounded by memory, one fetch per key at a time that runs detached from
// the callers' contexts (so that one caller giving up does not fail the
// others waiting for it), and the source's outages remembered, so that
// during one the requests for a key fail at once instead of each waiting
// on the source. What an entry is, when it may be served, and how it is
// fetched, checked and kept on disk stay with each cache.
package fetchcache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/ratls/ratls/internal/lru"
	"github.com/ratls/ratls/internal/neterr"
	"github.com/ratls/ratls/internal/retry"
)

// Config sizes a Cache.
type Config struct {
	MaxBytes   int64 // bound on the entries' estimated memory
	MaxEntries int   // when positive, bound on the number of entries
	// MaxOutages bounds the outages remembered (one per key).
	MaxOutages int
	// FetchTimeout bounds one fetch.
	FetchTimeout time.Duration
}

// Cache holds entries of type E by key K, and runs their fetches.
type Cache[K comparable, E any] struct {
	// Mu guards what the owner changes in its entries, the order of
	// Entries it relies on, and the outages.
	Mu sync.Mutex
	// Entries holds the entries in order of use.
	Entries *lru.Cache[K, E]

	outages  *retry.Failures[K]
	flights  singleflight.Group
	timeout  time.Duration
	fetching atomic.Int32 // callers of Fetch not done yet

	hits, misses atomic.Uint64
}

// New returns an empty cache.
func New[K comparable, E any](cfg Config) *Cache[K, E] {
	return &Cache[K, E]{
		Entries: lru.New[K, E](cfg.MaxBytes, cfg.MaxEntries),
		outages: retry.NewFailures[K](cfg.MaxOutages),
		timeout: cfg.FetchTimeout,
	}
}

// Request is one request to a cache, with what the owner decides.
type Request[K comparable] struct {
	Key K
	// Flight names the fetch of Key that concurrent requests share.
	Flight string
	// Now is the time of the request.
	Now time.Time
	// Hit returns the value to serve from memory, if any. It is called
	// with Mu held.
	Hit func() (any, bool)
	// Outage is the error of a request while the source is in an outage
	// for Key: it fails with err for another retryAfter.
	Outage func(retryAfter time.Duration, err error) error
	// Gone is the error of a caller whose context ended (with cause)
	// before the fetch did.
	Gone func(cause error) error
	// Fill fetches the value, installs it and returns it (see Fetch).
	Fill func(ctx context.Context) (any, error)
}

// Get serves r from memory when r.Hit does; otherwise, unless the source
// is in an outage for r.Key, it waits for r.Fill, which concurrent requests
// of the same flight share. Hits and misses are counted: a request that
// waits for a fetch, or fails at once during an outage, is a miss.
func (c *Cache[K, E]) Get(ctx context.Context, r Request[K]) (any, error) {
	c.Mu.Lock()
	if v, ok := r.Hit(); ok {
		c.Mu.Unlock()
		c.hits.Add(1)
		return v, nil
	}
	c.misses.Add(1)
	if f := c.outages.Active(r.Key, r.Now); f != nil {
		c.Mu.Unlock()
		return nil, r.Outage(f.Until.Sub(r.Now), f.Err)
	}
	c.Mu.Unlock()

	select {
	case res := <-c.Fetch(ctx, r.Flight, r.Fill):
		return res.Val, res.Err
	case <-ctx.Done():
		return nil, r.Gone(context.Cause(ctx))
	}
}

// CountHit counts a request served from memory without Get: an owner that
// looks its entry up first, so that a hit builds no Request.
func (c *Cache[K, E]) CountHit() { c.hits.Add(1) }

// Fetch starts fill under the name flight, or joins the fetch of that name
// in progress (before it returns), and delivers its result on the
// channel. fill runs detached from the cancellation of ctx and bounded by
// the fetch timeout. It may be called with Mu held (to refresh an entry in
// the background).
func (c *Cache[K, E]) Fetch(ctx context.Context, flight string, fill func(ctx context.Context) (any, error)) <-chan singleflight.Result {
	ctx = context.WithoutCancel(ctx)
	c.fetching.Add(1)
	res := c.flights.DoChan(flight, func() (any, error) {
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		return fill(ctx)
	})
	done := make(chan singleflight.Result, 1)
	go func() {
		r := <-res
		c.fetching.Add(-1)
		done <- r
	}()
	return done
}

// Fetching reports how many callers of Fetch are not done yet.
func (c *Cache[K, E]) Fetching() int { return int(c.fetching.Load()) }

// Unavailable records that the source is unavailable for key at now, err
// being its failure, and returns how long requests for key now fail at
// once: a backoff that grows with consecutive failures, or the source's
// Retry-After when it sent a longer one. Mu must be held.
func (c *Cache[K, E]) Unavailable(key K, err error, now time.Time) time.Duration {
	return c.outages.Add(key, err, neterr.RetryAfter(err), now).Sub(now)
}

// Available forgets the outage of key, after a fetch that succeeded. Mu
// must be held.
func (c *Cache[K, E]) Available(key K) { c.outages.Clear(key) }

// Outage returns the outage of key active at now, or nil. Mu must be held.
func (c *Cache[K, E]) Outage(key K, now time.Time) *retry.Failure { return c.outages.Active(key, now) }

// Stats returns the counters and the size of the entries.
func (c *Cache[K, E]) Stats() lru.Stats {
	s := c.Entries.Stats()
	s.Hits, s.Misses = c.hits.Load(), c.misses.Load()
	return s
}
