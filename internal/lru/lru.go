// Package lru is a cache bounded by memory that drops its least recently
// used entries first, and counts its hits, misses and evictions.
//
// Sizes are estimates given by the caller for each entry (what the entry
// holds that nothing else does); the cache adds its own bookkeeping per
// entry (EntryOverhead).
package lru

import (
	"math"
	"sync"
	"unsafe"
)

// Stats are a cache's counters since it was created, and its size now.
type Stats struct {
	Hits      uint64 `json:"hits"`
	Misses    uint64 `json:"misses"`
	Evictions uint64 `json:"evictions"` // entries dropped to stay within the bound
	Entries   int    `json:"entries"`
	Bytes     int64  `json:"bytes"`     // estimated memory held
	MaxBytes  int64  `json:"max_bytes"` // the bound
}

// Add returns the sum of s and o, for caches reported together; MaxBytes
// adds up too.
func (s Stats) Add(o Stats) Stats {
	return Stats{Hits: s.Hits + o.Hits, Misses: s.Misses + o.Misses, Evictions: s.Evictions + o.Evictions,
		Entries: s.Entries + o.Entries, Bytes: s.Bytes + o.Bytes, MaxBytes: s.MaxBytes + o.MaxBytes}
}

// Cache maps keys to values within a memory bound. It is safe for
// concurrent use.
type Cache[K comparable, V any] struct {
	maxBytes   int64
	maxEntries int
	// keep, when set, reports whether an entry must stay although the
	// cache is over its bound (see SetKeep).
	keep func(V) bool
	// gone, when set, is called with each value that leaves the cache.
	gone func(V)

	mu    sync.Mutex
	m     map[K]*node[K, V]
	head  node[K, V] // sentinel of the recency list: head.next is the most recent
	bytes int64

	hits, misses, evictions uint64
}

type node[K comparable, V any] struct {
	key        K
	val        V
	size       int64
	prev, next *node[K, V]
}

// New returns a cache holding at most maxBytes of estimated memory and,
// when maxEntries > 0, at most maxEntries entries.
func New[K comparable, V any](maxBytes int64, maxEntries int) *Cache[K, V] {
	c := &Cache[K, V]{maxBytes: maxBytes, maxEntries: maxEntries, m: make(map[K]*node[K, V])}
	c.head.prev, c.head.next = &c.head, &c.head
	return c
}

// NewEntries returns a cache bounded by its number of entries only, for
// values whose memory does not matter: Add them with size 0.
func NewEntries[K comparable, V any](maxEntries int) *Cache[K, V] {
	return New[K, V](math.MaxInt64, maxEntries)
}

// EntryOverhead is the memory the cache itself uses per entry: the list
// node (key, value, size, links, rounded up as the allocator does) and its
// slot in the map (key, pointer and control byte, at the map's average
// load of two thirds).
func EntryOverhead[K comparable, V any]() int64 {
	var k K
	nodeSize := (int64(unsafe.Sizeof(node[K, V]{})) + 15) &^ 15
	slot := (int64(unsafe.Sizeof(k)) + int64(unsafe.Sizeof(uintptr(0))) + 1) * 3 / 2
	return nodeSize + slot
}

// SetKeep makes the cache keep the entries for which keep reports true,
// even over its memory bound: eviction for memory passes over them to the
// least recently used entry that may go, and stops when there is none (the
// bound on entries, when set, still holds). Set it before the cache is
// used.
func (c *Cache[K, V]) SetKeep(keep func(V) bool) { c.keep = keep }

// OnRemove makes the cache call gone with each value that leaves it:
// evicted, removed, or replaced by Add. It is called with the cache's lock
// held, so it must not use the cache. Set it before the cache is used.
func (c *Cache[K, V]) OnRemove(gone func(V)) { c.gone = gone }

// SetMaxBytes changes the memory bound; the next Add applies it.
func (c *Cache[K, V]) SetMaxBytes(n int64) {
	c.mu.Lock()
	c.maxBytes = n
	c.mu.Unlock()
}

// Get returns the value of k and marks it most recently used; it counts a
// hit or a miss.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.m[k]
	if n == nil {
		c.misses++
		var zero V
		return zero, false
	}
	c.hits++
	c.moveToFront(n)
	return n.val, true
}

// GetIf is Get for an entry that serves only when match reports true for
// its value; otherwise it counts a miss and returns false.
func (c *Cache[K, V]) GetIf(k K, match func(V) bool) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.m[k]
	if n == nil || !match(n.val) {
		c.misses++
		var zero V
		return zero, false
	}
	c.hits++
	c.moveToFront(n)
	return n.val, true
}

// Peek returns the value of k without counting or reordering anything.
func (c *Cache[K, V]) Peek(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.m[k]; n != nil {
		return n.val, true
	}
	var zero V
	return zero, false
}

// Add stores v under k as the most recently used entry, size being the
// estimated memory v holds (EntryOverhead is added), and then evicts the
// least recently used entries beyond the bounds.
func (c *Cache[K, V]) Add(k K, v V, size int64) {
	size += EntryOverhead[K, V]()
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.m[k]; n != nil {
		old := n.val
		c.bytes += size - n.size
		n.val, n.size = v, size
		c.moveToFront(n)
		if c.gone != nil {
			c.gone(old)
		}
	} else {
		n = &node[K, V]{key: k, val: v, size: size}
		c.m[k] = n
		c.bytes += size
		c.link(n)
	}
	c.evict()
}

// Remove drops the entry of k, if any.
func (c *Cache[K, V]) Remove(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.m[k]; n != nil {
		c.drop(n)
	}
}

// RemoveIf drops the entry of k if match reports true for its value.
func (c *Cache[K, V]) RemoveIf(k K, match func(V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.m[k]; n != nil && match(n.val) {
		c.drop(n)
	}
}

// Len returns the number of entries.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Values returns the values, most recently used first.
func (c *Cache[K, V]) Values() []V {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]V, 0, len(c.m))
	for n := c.head.next; n != &c.head; n = n.next {
		out = append(out, n.val)
	}
	return out
}

// Stats returns the counters and the size.
func (c *Cache[K, V]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Hits: c.hits, Misses: c.misses, Evictions: c.evictions, Entries: len(c.m), Bytes: c.bytes, MaxBytes: c.maxBytes}
}

// evict drops least recently used entries until the cache is within its
// bounds, or within its bound on entries and keep holds for every entry
// left; c.mu must be held.
func (c *Cache[K, V]) evict() {
	for len(c.m) > 0 && (c.bytes > c.maxBytes || c.maxEntries > 0 && len(c.m) > c.maxEntries) {
		victim := c.head.prev
		if overEntries := c.maxEntries > 0 && len(c.m) > c.maxEntries; !overEntries && c.keep != nil {
			for victim != &c.head && c.keep(victim.val) {
				victim = victim.prev
			}
			if victim == &c.head {
				return
			}
		}
		c.drop(victim)
		c.evictions++
	}
}

func (c *Cache[K, V]) drop(n *node[K, V]) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
	delete(c.m, n.key)
	c.bytes -= n.size
	if c.gone != nil {
		c.gone(n.val)
	}
}

func (c *Cache[K, V]) link(n *node[K, V]) {
	n.prev, n.next = &c.head, c.head.next
	n.next.prev = n
	c.head.next = n
}

func (c *Cache[K, V]) moveToFront(n *node[K, V]) {
	if c.head.next == n {
		return
	}
	n.prev.next, n.next.prev = n.next, n.prev
	c.link(n)
}
