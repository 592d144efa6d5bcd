package fetchcache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type entry struct{ v string }

// request asks c for key: a hit when the key has an entry, else a fetch
// by fill that installs the entry.
func request(c *Cache[string, *entry], key string, now time.Time, fill func(ctx context.Context) (any, error)) Request[string] {
	return Request[string]{
		Key: key, Flight: key, Now: now,
		Hit: func() (any, bool) {
			if e, ok := c.Entries.Get(key); ok {
				return e.v, true
			}
			return nil, false
		},
		Outage: func(retryAfter time.Duration, err error) error { return &outageError{retryAfter, err} },
		Gone:   func(cause error) error { return errors.Join(errGone, cause) },
		Fill:   fill,
	}
}

type outageError struct {
	retryAfter time.Duration
	err        error
}

func (e *outageError) Error() string { return "outage: " + e.err.Error() }

var errGone = errors.New("caller gone")

func TestGet(t *testing.T) {
	c := New[string, *entry](Config{MaxBytes: 1 << 20, MaxOutages: 8, FetchTimeout: time.Minute})
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()

	// Concurrent requests share one fetch; the next is a hit.
	release := make(chan struct{})
	var mu sync.Mutex
	fetches := 0
	fill := func(ctx context.Context) (any, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("fetch without the fetch timeout")
		}
		mu.Lock()
		fetches++
		mu.Unlock()
		<-release
		c.Mu.Lock()
		c.Entries.Add("a", &entry{"A"}, 1)
		c.Mu.Unlock()
		return "A", nil
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if v, err := c.Get(ctx, request(c, "a", now, fill)); v != "A" || err != nil {
				t.Errorf("got %v, %v", v, err)
			}
		})
	}
	for c.Fetching() < 4 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if v, err := c.Get(ctx, request(c, "a", now, nil)); v != "A" || err != nil {
		t.Errorf("hit: got %v, %v", v, err)
	}
	if s := c.Stats(); fetches != 1 || s.Hits != 1 || s.Misses != 4 || s.Entries != 1 {
		t.Errorf("%d fetches, stats %+v", fetches, s)
	}

	// An outage makes the following requests fail at once.
	down := errors.New("down")
	failing := func(ctx context.Context) (any, error) {
		c.Mu.Lock()
		defer c.Mu.Unlock()
		return nil, &outageError{c.Unavailable("b", down, now), down}
	}
	if _, err := c.Get(ctx, request(c, "b", now, failing)); err == nil {
		t.Fatal("failed fetch without error")
	}
	var oe *outageError
	_, err := c.Get(ctx, request(c, "b", now.Add(time.Second), nil))
	if !errors.As(err, &oe) || oe.err != down || oe.retryAfter <= 0 {
		t.Errorf("during the outage: %v", err)
	}
	c.Mu.Lock()
	c.Available("b")
	gone := c.Outage("b", now.Add(time.Second)) == nil
	c.Mu.Unlock()
	if !gone {
		t.Error("outage not forgotten")
	}

	// A caller that gives up gets its cause; the fetch goes on for the
	// others, detached from the caller's context.
	release = make(chan struct{})
	done := make(chan error, 1)
	slow := func(ctx context.Context) (any, error) {
		<-release
		done <- ctx.Err()
		return "C", nil
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Get(cctx, request(c, "c", now, slow)); !errors.Is(err, errGone) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("the fetch saw its caller's cancellation: %v", err)
	}
}
