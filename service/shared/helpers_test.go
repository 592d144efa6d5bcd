package shared

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/service/store"
)

// fakeStore implements the collateral methods of store.Store in memory, as
// the SQL stores do: PutCollateral keeps an entry with a later NextUpdate.
// Any other method panics (nil embedded interface).
type fakeStore struct {
	store.Store

	mu       sync.Mutex
	entries  map[string]store.Collateral
	reads    int
	writes   int
	readErr  error // when set, Collateral fails
	writeErr error // when set, PutCollateral fails
}

func newFakeStore() *fakeStore { return &fakeStore{entries: map[string]store.Collateral{}} }

func (s *fakeStore) Collateral(_ context.Context, key string) (*store.Collateral, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.readErr != nil {
		return nil, s.readErr
	}
	e, ok := s.entries[key]
	if !ok {
		return nil, fmt.Errorf("%w: collateral %q", store.ErrNotFound, key)
	}
	e.Body = bytes.Clone(e.Body)
	return &e, nil
}

func (s *fakeStore) PutCollateral(_ context.Context, c *store.Collateral) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.writeErr != nil {
		return s.writeErr
	}
	if old, ok := s.entries[c.Key]; ok && old.NextUpdate.After(c.NextUpdate) {
		return nil
	}
	e := *c
	e.Body = bytes.Clone(c.Body)
	s.entries[c.Key] = e
	return nil
}

func (s *fakeStore) CollateralEntries(context.Context) ([]*store.Collateral, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readErr != nil {
		return nil, s.readErr
	}
	var out []*store.Collateral
	for _, e := range s.entries {
		e.Body = nil
		out = append(out, &e)
	}
	slices.SortFunc(out, func(a, b *store.Collateral) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// entry returns a copy of the stored entry of key.
func (s *fakeStore) entry(key string) (store.Collateral, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	return e, ok
}

// set replaces an entry unconditionally, as another replica or a damaged
// database might.
func (s *fakeStore) set(e store.Collateral) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[e.Key] = e
}

func (s *fakeStore) setErrs(read, write error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readErr, s.writeErr = read, write
}

func (s *fakeStore) counts() (reads, writes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads, s.writes
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// upstream is a scripted upstream: each call runs next (under no lock),
// after waiting for the gate when block set one; calls are counted.
type upstream[T any] struct {
	mu      sync.Mutex
	calls   int
	next    func() (T, error)
	entered chan struct{} // set by block: receives a value as each call starts
	gate    chan struct{} // set by block: calls wait until it is closed
}

// block makes the calls that follow wait until release. entered receives a
// value as each call starts (it holds 64, more than any test makes).
// release may be called more than once, and t.Cleanup calls it too, so
// that a test failing before it releases leaves no fetch blocked.
func (u *upstream[T]) block(t testing.TB) (entered <-chan struct{}, release func()) {
	u.mu.Lock()
	defer u.mu.Unlock()
	gate := make(chan struct{})
	u.entered, u.gate = make(chan struct{}, 64), gate
	release = sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release)
	return u.entered, release
}

func (u *upstream[T]) call(ctx context.Context) (T, error) {
	u.mu.Lock()
	u.calls++
	next, entered, gate := u.next, u.entered, u.gate
	u.mu.Unlock()
	if entered != nil {
		select {
		case entered <- struct{}{}:
		default: // full: the test counts calls with count instead
		}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
	return next()
}

func (u *upstream[T]) set(next func() (T, error)) {
	u.mu.Lock()
	u.next = next
	u.mu.Unlock()
}

func (u *upstream[T]) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls
}

var errUpstream = errors.New("upstream down")

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// receive returns the next value of ch. The limit is no timing
// assumption: it only turns a signal that never comes (a broken lookup)
// into a failure naming what was awaited, instead of a hang of the whole
// test binary that names no test.
func receive[V any](t *testing.T, ch <-chan V, what string) V {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("waited a minute for %s", what)
		var zero V
		return zero
	}
}

func wantStats(t *testing.T, got, want Stats) {
	t.Helper()
	if got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}
