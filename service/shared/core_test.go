package shared

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// testSharedLookup checks that concurrent lookups of one key, in a store
// without it, share one store read and one upstream fetch, and that the
// caller that started the fetch giving up fails neither the fetch nor the
// others. get looks the key up on k, whose upstream is up and store st.
//
// Nothing depends on timing: the upstream reports when the fetch started
// and holds it until released, and the core's waiting hook reports each
// caller waiting for the fetch, so the fetch is released only once every
// caller shares it.
func testSharedLookup[T comparable](t *testing.T, k *core[T], up *upstream[T], st *fakeStore, get func(context.Context) (T, error)) {
	const n = 16
	entered, release := up.block(t)
	waiting := make(chan string, 2*n) // n callers and one later lookup: never full
	k.waiting = func(key string) { waiting <- key }
	var wg sync.WaitGroup
	// Registered after block's, so run before it: release here, so that
	// the callers can return, then wait for them.
	t.Cleanup(func() {
		release()
		wg.Wait()
	})

	// The first caller starts the fetch, and gives up while it runs.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	quit := make(chan error, 1)
	wg.Go(func() {
		_, err := get(ctx)
		quit <- err
	})
	receive(t, entered, "the fetch to start")
	results := make([]T, n)
	errs := make([]error, n)
	for i := 1; i < n; i++ {
		wg.Go(func() { results[i], errs[i] = get(t.Context()) })
	}
	key := receive(t, waiting, "the first caller to wait")
	for i := 1; i < n; i++ {
		if got := receive(t, waiting, "the callers to wait"); got != key {
			t.Fatalf("caller waiting for %q, want %q", got, key)
		}
	}
	cancel()
	if err := receive(t, quit, "the cancelled caller to return"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v, want context.Canceled", err)
	}
	release()
	wg.Wait()

	var zero T
	if errs[1] != nil || results[1] == zero {
		t.Fatalf("caller 1: %v, %v", results[1], errs[1])
	}
	for i := 2; i < n; i++ {
		if errs[i] != nil || results[i] != results[1] {
			t.Errorf("caller %d: %v, %v; want %v", i, results[i], errs[i], results[1])
		}
	}
	if c := up.count(); c != 1 {
		t.Errorf("upstream calls %d, want 1", c)
	}
	if r, w := st.counts(); r != 1 || w != 1 {
		t.Errorf("store reads %d, writes %d; want 1 and 1", r, w)
	}
	wantStats(t, k.stats(), Stats{UpstreamFetches: 1})

	// The flight is over: a later lookup reads the store, and gets the
	// same value.
	if v, err := get(t.Context()); err != nil || v != results[1] {
		t.Errorf("later lookup: %v, %v; want %v", v, err, results[1])
	}
	if c := up.count(); c != 1 {
		t.Errorf("upstream calls %d after a later lookup, want 1", c)
	}
	wantStats(t, k.stats(), Stats{StoreHits: 1, UpstreamFetches: 1})
}
