// Package retry holds the pieces of polite HTTP retries shared by the
// collateral clients (Intel PCS, AMD KDS): jittered exponential backoff,
// Retry-After parsing, a context-aware sleep, and the memory of failed
// fetches that keeps their caches from asking a failing source again and
// again.
package retry

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff returns the wait before retry n (1-based): initial doubled per
// attempt, capped at max, with jitter in its upper half.
func Backoff(n int, initial, max time.Duration) time.Duration {
	d := min(initial<<min(n-1, 16), max)
	return d/2 + rand.N(d/2+1)
}

// Sleep waits d or until ctx ends, returning the context's cause then.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// After parses a Retry-After header (seconds or an HTTP date) relative to
// now; 0 when absent, malformed or in the past.
func After(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Mark returns err, which errors.Is then also finds to be class; its
// message is err's.
func Mark(err, class error) error { return &marked{err: err, class: class} }

type marked struct{ err, class error }

func (m *marked) Error() string   { return m.err.Error() }
func (m *marked) Unwrap() []error { return []error{m.err, m.class} }
