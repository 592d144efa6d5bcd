package retry

import (
	"time"

	"github.com/ratls/ratls/internal/lru"
)

// Backoff of the collateral caches after a failed fetch: the fetch is not
// tried again for FailureBackoff, doubled with each consecutive failure up
// to MaxFailureBackoff, or for as long as the source's Retry-After asked,
// up to MaxRetryAfter.
const (
	FailureBackoff    = 5 * time.Second
	MaxFailureBackoff = 5 * time.Minute
	MaxRetryAfter     = time.Hour
)

// Failures remembers failed fetches by key, so that during an outage a
// burst of requests does not wait on the source's retries each time: the
// first request asks the source, the following ones get its failure at
// once until the backoff has passed. It is not safe for concurrent use:
// callers hold their own lock.
type Failures[K comparable] struct {
	m *lru.Cache[K, *Failure]
}

// Failure is a remembered failed fetch.
type Failure struct {
	Err   error
	Until time.Time // the fetch is not tried again before
	count int       // consecutive failures
}

// NewFailures returns an empty record holding at most max keys, dropping
// the least recently failed first.
func NewFailures[K comparable](max int) *Failures[K] {
	return &Failures[K]{m: lru.NewEntries[K, *Failure](max)}
}

// Active returns the failure of key while its backoff lasts at now, or nil.
func (f *Failures[K]) Active(key K, now time.Time) *Failure {
	if fl, _ := f.m.Peek(key); fl != nil && now.Before(fl.Until) {
		return fl
	}
	return nil
}

// Add records a failed fetch of key at now; retryAfter is the source's
// Retry-After, 0 when it sent none. It returns when the fetch may be tried
// again.
func (f *Failures[K]) Add(key K, err error, retryAfter time.Duration, now time.Time) time.Time {
	fl, _ := f.m.Peek(key)
	// Failures that long apart are not one outage: start over.
	if fl == nil || now.After(fl.Until.Add(MaxFailureBackoff)) {
		fl = &Failure{}
	}
	f.m.Add(key, fl, 0)
	fl.count++
	wait := min(FailureBackoff<<min(fl.count-1, 16), MaxFailureBackoff)
	wait = max(wait, min(retryAfter, MaxRetryAfter))
	fl.Err, fl.Until = err, now.Add(wait)
	return fl.Until
}

// Clear forgets the failures of key, after a successful fetch.
func (f *Failures[K]) Clear(key K) { f.m.Remove(key) }
