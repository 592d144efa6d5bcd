package arm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"github.com/ratls/ratls/internal/costtest"
	"github.com/ratls/ratls/internal/lru"
)

// TestKeyCache checks that keys are asked of the key store once, that
// failures are not remembered, and that the bound holds.
func TestKeyCache(t *testing.T) {
	keys := map[byte]*ecdsa.PublicKey{}
	for i := range byte(4) {
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = &k.PublicKey
	}
	asked := map[byte]int{}
	store := func(id []byte) (crypto.PublicKey, error) {
		asked[id[0]]++
		if k := keys[id[0]]; k != nil {
			return k, nil
		}
		return nil, errors.New("unknown platform")
	}
	id := func(i byte) []byte { b := make([]byte, 33); b[0] = i; return b }
	one := keySize(id(0), keys[0]) + lru.EntryOverhead[string, crypto.PublicKey]()
	c := NewKeyCache(store, 2*one+one/2) // room for two keys
	for _, i := range []byte{0, 0, 1, 0, 9, 9} {
		k, err := c.Lookup(id(i))
		if want := keys[i]; err != nil && want != nil || want != nil && k != want {
			t.Fatalf("platform %d: %v, %v", i, k, err)
		}
	}
	if asked[0] != 1 || asked[1] != 1 || asked[9] != 2 {
		t.Errorf("key store asked %v, want once for 0 and 1, every time for the unknown 9", asked)
	}
	c.Lookup(id(2)) // evicts 1, the least recently used
	c.Lookup(id(1))
	if asked[1] != 2 {
		t.Errorf("evicted key asked %d times, want 2", asked[1])
	}
	if s := c.Stats(); s.Entries != 2 || s.Evictions != 2 || s.Hits != 2 {
		t.Errorf("stats %+v, want 2 entries, 2 evictions, 2 hits", s)
	}
}

// TestPlatformCacheMemory measures the heap per cached platform token
// against PlatformCacheEntryBytes and the cache's own estimate.
func TestPlatformCacheMemory(t *testing.T) {
	v := NewVerifier(nil)
	const n = 20000
	before := costtest.HeapInUse()
	for i := range n {
		var key [32]byte
		binary.BigEndian.PutUint64(key[:], uint64(i))
		v.platforms.Add(key, struct{}{}, 0)
	}
	heap := float64(costtest.HeapInUse()-before) / n
	s := v.CacheStats()
	estimate := float64(s.Bytes) / float64(s.Entries)
	t.Logf("%.0f bytes of heap per platform token (estimate %.0f)", heap, estimate)
	if heap > PlatformCacheEntryBytes*1.25 || estimate < heap*0.6 {
		t.Errorf("%.0f bytes per platform token, estimate %.0f, documented %d", heap, estimate, PlatformCacheEntryBytes)
	}
	runtime.KeepAlive(v)
}
