package lru

import (
	"slices"
	"sync"
	"testing"
)

// over is the per-entry overhead of a Cache[int, string].
var over = EntryOverhead[int, string]()

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	c := New[int, string](3*(100+over), 0)
	for i := range 3 {
		c.Add(i, "v", 100)
	}
	if _, ok := c.Get(0); !ok { // 0 is now the most recently used
		t.Fatal("entry 0 missing")
	}
	c.Add(3, "v", 100) // evicts 1, the least recently used
	if _, ok := c.Peek(1); ok {
		t.Error("entry 1 kept, want it evicted")
	}
	for _, k := range []int{0, 2, 3} {
		if _, ok := c.Peek(k); !ok {
			t.Errorf("entry %d evicted", k)
		}
	}
	s := c.Stats()
	want := Stats{Hits: 1, Misses: 0, Evictions: 1, Entries: 3, Bytes: 3 * (100 + over), MaxBytes: 3 * (100 + over)}
	if s != want {
		t.Errorf("stats %+v, want %+v", s, want)
	}
	if _, ok := c.Get(1); ok || c.Stats().Misses != 1 {
		t.Error("a miss is not counted")
	}
	if _, ok := c.GetIf(2, func(v string) bool { return v != "v" }); ok || c.Stats().Misses != 2 {
		t.Error("an entry that does not match serves, or is not counted as a miss")
	}
	if v, ok := c.GetIf(2, func(v string) bool { return v == "v" }); !ok || v != "v" || c.Stats().Hits != 2 {
		t.Error("a matching entry does not serve, or is not counted as a hit")
	}
}

func TestBoundByBytesAndEntries(t *testing.T) {
	c := New[int, string](1000+3*over, 0)
	c.Add(1, "small", 100)
	c.Add(2, "large", 900)
	c.Add(3, "small", 100) // 1100 bytes: evicts 1
	if got := values(c); !slices.Equal(got, []string{"small", "large"}) || c.Stats().Bytes != 1000+2*over {
		t.Errorf("after the bytes bound: %v, %d bytes", got, c.Stats().Bytes)
	}
	c.Add(4, "huge", 5000) // larger than the bound: nothing can stay
	if n := c.Len(); n != 0 || c.Stats().Bytes != 0 {
		t.Errorf("an entry larger than the bound left %d entries, %d bytes", n, c.Stats().Bytes)
	}

	e := New[int, string](1<<30, 2)
	for i := range 5 {
		e.Add(i, "v", 1)
	}
	if e.Len() != 2 || e.Stats().Evictions != 3 {
		t.Errorf("entry bound 2: %d entries, %d evictions", e.Len(), e.Stats().Evictions)
	}
}

func TestReplaceAndRemove(t *testing.T) {
	c := New[int, string](1<<20, 0)
	c.Add(1, "a", 10)
	c.Add(1, "b", 30)
	if v, _ := c.Peek(1); v != "b" || c.Len() != 1 || c.Stats().Bytes != 30+over {
		t.Errorf("replaced: %q, %d entries, %d bytes", v, c.Len(), c.Stats().Bytes)
	}
	c.RemoveIf(1, func(v string) bool { return v == "a" })
	if c.Len() != 1 {
		t.Error("RemoveIf removed a value that does not match")
	}
	c.RemoveIf(1, func(v string) bool { return v == "b" })
	c.Remove(2)
	if c.Len() != 0 || c.Stats().Bytes != 0 {
		t.Errorf("after removal: %d entries, %d bytes", c.Len(), c.Stats().Bytes)
	}
}

func TestKeep(t *testing.T) {
	c := New[int, string](2*(1+over), 0)
	c.SetKeep(func(v string) bool { return v == "in use" })
	c.Add(1, "in use", 1)
	c.Add(2, "idle", 1)
	c.Add(3, "idle", 1) // over the bound: 2 goes, the older 1 is kept
	if _, ok := c.Peek(1); !ok || c.Len() != 2 || c.Stats().Evictions != 1 {
		t.Fatalf("kept entry: %v, %d evictions", values(c), c.Stats().Evictions)
	}
	c.Add(4, "idle", 1) // passes over the kept oldest (1) again: 3 goes
	if _, ok := c.Peek(3); ok || c.Len() != 2 {
		t.Errorf("over the bound with a kept oldest entry: %v", values(c))
	}
	c.Add(1, "idle", 1) // no longer kept, and most recently used
	c.Add(5, "idle", 1) // the oldest (4) goes
	if got := values(c); !slices.Equal(got, []string{"idle", "idle"}) || c.Stats().Evictions != 3 {
		t.Errorf("after release: %v, %d evictions", got, c.Stats().Evictions)
	}
	if _, ok := c.Peek(4); ok {
		t.Error("the oldest entry not evicted once nothing is kept")
	}

	e := New[int, string](1<<30, 1)
	e.SetKeep(func(string) bool { return true })
	e.Add(1, "in use", 1)
	e.Add(2, "in use", 1)
	if _, ok := e.Peek(1); ok || e.Len() != 1 {
		t.Errorf("the bound on entries did not hold for kept entries: %v", values(e))
	}
}

func TestConcurrent(t *testing.T) {
	c := New[int, int](50*(8+EntryOverhead[int, int]()), 0)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				k := (g*7 + i) % 100
				if v, ok := c.Get(k); ok && v != k {
					t.Errorf("key %d holds %d", k, v)
					return
				}
				c.Add(k, k, 8)
			}
		})
	}
	wg.Wait()
	if s := c.Stats(); s.Entries > 50 || s.Hits+s.Misses != 8000 {
		t.Errorf("stats %+v", s)
	}
}

func values(c *Cache[int, string]) []string { return c.Values() }

func TestOnRemove(t *testing.T) {
	c := New[int, string](2*(1+over), 0)
	var gone []string
	c.OnRemove(func(v string) { gone = append(gone, v) })
	c.Add(1, "a", 1)
	c.Add(1, "b", 1) // replaces a
	c.Add(2, "c", 1)
	c.Add(3, "d", 1) // evicts b
	c.Remove(2)      // removes c
	c.SetMaxBytes(0)
	c.Add(4, "e", 1) // nothing fits: d and e go
	if want := []string{"a", "b", "c", "d", "e"}; !slices.Equal(gone, want) {
		t.Errorf("removed %v, want %v", gone, want)
	}
}

func TestNewEntries(t *testing.T) {
	c := NewEntries[int, string](2)
	for i := range 3 {
		c.Add(i, "v", 0)
	}
	if _, ok := c.Peek(0); ok || c.Len() != 2 || c.Stats().Evictions != 1 {
		t.Errorf("bound on entries not kept: %+v", c.Stats())
	}
}
