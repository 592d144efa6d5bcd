package arm

import (
	"crypto"
	"crypto/ecdsa"
	"math/big"
	"unsafe"

	"github.com/ratls/ratls/internal/lru"
)

// DefaultKeyCacheBytes is the default bound of a KeyCache: 16 MiB, the
// keys of about 50,000 platforms.
const DefaultKeyCacheBytes = 16 << 20

// KeyCache remembers the platform attestation keys a key store returns, by
// platform instance ID, within a memory bound (least recently used first
// out), so that a key store that is slow to ask, such as a database or an
// endorsement service, is asked once per platform while the platform
// attests. Pass its Lookup as Options.KeyStore. Failed lookups are not
// remembered. It is safe for concurrent use.
type KeyCache struct {
	next func(instanceID []byte) (crypto.PublicKey, error)
	keys *lru.Cache[string, crypto.PublicKey]
}

// NewKeyCache returns a cache in front of the key store next, holding at
// most maxBytes (DefaultKeyCacheBytes when 0 or less).
func NewKeyCache(next func(instanceID []byte) (crypto.PublicKey, error), maxBytes int64) *KeyCache {
	if maxBytes <= 0 {
		maxBytes = DefaultKeyCacheBytes
	}
	return &KeyCache{next: next, keys: lru.New[string, crypto.PublicKey](maxBytes, 0)}
}

// Lookup returns the key of a platform instance ID, from memory or from
// the key store.
func (c *KeyCache) Lookup(instanceID []byte) (crypto.PublicKey, error) {
	if k, ok := c.keys.Get(string(instanceID)); ok {
		return k, nil
	}
	k, err := c.next(instanceID)
	if err != nil || k == nil {
		return k, err
	}
	c.keys.Add(string(instanceID), k, keySize(instanceID, k))
	return k, nil
}

// Stats returns the cache's counters and size.
func (c *KeyCache) Stats() CacheStats { return c.keys.Stats() }

// keySize estimates the memory of a cached key: the ID and, for the ECDSA
// keys CCA uses, the structure and its two coordinates.
func keySize(id []byte, k crypto.PublicKey) int64 {
	n := int64(len(id)) + 256
	if ec, ok := k.(*ecdsa.PublicKey); ok && ec.Curve != nil {
		n += int64(unsafe.Sizeof(*ec)) + 2*(int64(unsafe.Sizeof(big.Int{}))+int64(ec.Curve.Params().BitSize+7)/8)
	}
	return n
}
