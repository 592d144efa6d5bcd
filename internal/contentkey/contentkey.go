// Package contentkey names a value by its content, for caches of work done
// on bytes (signature checks, parsing): the SHA-256 of a kind and of each
// part with its length before it, so that no two different lists of parts
// share a key.
package contentkey

import (
	"crypto/sha256"
	"encoding/binary"
)

// Of returns the key of parts of the given kind.
func Of(kind string, parts ...[]byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, p := range parts {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(p))))
		h.Write(p)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}
