package evidence

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"sort"

	"github.com/fxamacker/cbor/v2"
)

// HashAlg is an IANA Named Information hash algorithm identifier, as used in
// the claims buffer's pubkey-hash entry.
type HashAlg uint64

// Hash algorithms every Interoperable RA-TLS verifier must support.
const (
	SHA256 HashAlg = 1
	SHA384 HashAlg = 7
	SHA512 HashAlg = 8
)

// Size returns the digest length, or 0 for an unsupported algorithm.
func (a HashAlg) Size() int {
	switch a {
	case SHA256:
		return sha256.Size
	case SHA384:
		return sha512.Size384
	case SHA512:
		return sha512.Size
	}
	return 0
}

// String returns the algorithm's Named Information name.
func (a HashAlg) String() string {
	switch a {
	case SHA256:
		return "sha-256"
	case SHA384:
		return "sha-384"
	case SHA512:
		return "sha-512"
	}
	return fmt.Sprintf("hash-alg-%d", uint64(a))
}

// Sum hashes data with the algorithm. It returns nil for an unsupported one.
func (a HashAlg) Sum(data []byte) []byte {
	switch a {
	case SHA256:
		h := sha256.Sum256(data)
		return h[:]
	case SHA384:
		h := sha512.Sum384(data)
		return h[:]
	case SHA512:
		h := sha512.Sum512(data)
		return h[:]
	}
	return nil
}

// Claim names defined by Interoperable RA-TLS.
const (
	claimPubKeyHash = "pubkey-hash"
	claimNonce      = "nonce"
)

// maxClaimsSize bounds a claims buffer. Real ones are 50–200 bytes.
const maxClaimsSize = 16 << 10

// Claims is a decoded Interoperable RA-TLS claims buffer:
//
//	{ "pubkey-hash": bstr .cbor [hash-alg-id, hash], ? "nonce": bstr, * tstr => any }
type Claims struct {
	// Raw is the buffer exactly as received; bindings hash these bytes.
	Raw []byte
	// PubKeyHashAlg and PubKeyHash are the hash of the certificate's DER
	// SubjectPublicKeyInfo that the evidence vouches for.
	PubKeyHashAlg HashAlg
	PubKeyHash    []byte
	// Nonce is the freshness claim; nil when absent.
	Nonce []byte
	// Unknown holds any other claims, raw CBOR values keyed by name. They are
	// reported for information and never trusted.
	Unknown map[string]cbor.RawMessage
}

// UnknownNames returns the names of unknown claims in sorted order.
func (c *Claims) UnknownNames() []string {
	names := make([]string, 0, len(c.Unknown))
	for k := range c.Unknown {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// ParseClaims decodes a claims buffer strictly: a definite-length CBOR map
// with text keys, no duplicates, a well-formed pubkey-hash entry (mandatory),
// and an optional byte-string nonce.
func ParseClaims(b []byte) (*Claims, error) {
	if len(b) > maxClaimsSize {
		return nil, fmt.Errorf("claims buffer: %d bytes exceeds the limit of %d", len(b), maxClaimsSize)
	}
	if len(b) == 0 || b[0]>>5 != majorMap {
		return nil, fmt.Errorf("claims buffer: want a CBOR map, got %s", cborMajor(b))
	}
	var m map[string]cbor.RawMessage
	if err := decMode.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("claims buffer: want a map with text keys: %w", err)
	}
	c := &Claims{Raw: bytes.Clone(b)}
	for name, raw := range m {
		switch name {
		case claimPubKeyHash:
			if err := c.parsePubKeyHash(raw); err != nil {
				return nil, err
			}
		case claimNonce:
			n, err := decodeBytes(raw, "claims buffer: nonce")
			if err != nil {
				return nil, err
			}
			c.Nonce = n
		default:
			if c.Unknown == nil {
				c.Unknown = make(map[string]cbor.RawMessage)
			}
			c.Unknown[name] = raw
		}
	}
	if c.PubKeyHash == nil {
		return nil, fmt.Errorf("claims buffer: no %q claim; the evidence would not bind any key", claimPubKeyHash)
	}
	return c, nil
}

func (c *Claims) parsePubKeyHash(raw cbor.RawMessage) error {
	inner, err := decodeBytes(raw, "claims buffer: pubkey-hash")
	if err != nil {
		return err
	}
	entry, err := decodeArray(inner, "claims buffer: pubkey-hash hash-entry")
	if err != nil {
		return err
	}
	if len(entry) != 2 {
		return fmt.Errorf("claims buffer: pubkey-hash hash-entry: want [hash-alg-id, hash], got %d elements", len(entry))
	}
	if len(entry[0]) == 0 || entry[0][0]>>5 != majorUint {
		return fmt.Errorf("claims buffer: pubkey-hash algorithm: want an unsigned integer, got %s", cborMajor(entry[0]))
	}
	var alg uint64
	if err := decMode.Unmarshal(entry[0], &alg); err != nil {
		return fmt.Errorf("claims buffer: pubkey-hash algorithm: %w", err)
	}
	a := HashAlg(alg)
	if a.Size() == 0 {
		return fmt.Errorf("claims buffer: pubkey-hash algorithm: want 1 (sha-256), 7 (sha-384) or 8 (sha-512), got %d", alg)
	}
	h, err := decodeBytes(entry[1], "claims buffer: pubkey-hash value")
	if err != nil {
		return err
	}
	if len(h) != a.Size() {
		return fmt.Errorf("claims buffer: pubkey-hash value: want %d bytes for %s, got %d", a.Size(), a, len(h))
	}
	c.PubKeyHashAlg, c.PubKeyHash = a, h
	return nil
}

// NewClaims encodes a claims buffer binding the DER SubjectPublicKeyInfo spki
// with hash algorithm alg, plus an optional nonce (omitted when nil). The
// encoding is deterministic, so equal inputs give equal buffers.
func NewClaims(spki []byte, alg HashAlg, nonce []byte) ([]byte, error) {
	if alg.Size() == 0 {
		return nil, fmt.Errorf("claims buffer: unsupported pubkey-hash algorithm %d", uint64(alg))
	}
	entry, err := encMode.Marshal([]any{uint64(alg), alg.Sum(spki)})
	if err != nil {
		return nil, err
	}
	m := map[string][]byte{claimPubKeyHash: entry}
	if nonce != nil {
		m[claimNonce] = nonce
	}
	return encMode.Marshal(m)
}
