package ear

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrKey is wrapped by errors about a JWK or a signing key.
var ErrKey = errors.New("ear: invalid key")

// JWK is an elliptic-curve public JSON Web Key (RFC 7517, RFC 7518 §6.2).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

// curveParams ties a JWK curve name to its curve, coordinate size and JWS
// algorithm.
type curveParams struct {
	crv   string
	curve elliptic.Curve
	size  int
	alg   string
}

var curves = []curveParams{
	{"P-256", elliptic.P256(), 32, "ES256"},
	{"P-384", elliptic.P384(), 48, "ES384"},
}

func paramsForCurve(c elliptic.Curve) (curveParams, bool) {
	for _, p := range curves {
		if p.curve == c {
			return p, true
		}
	}
	return curveParams{}, false
}

func paramsForName(crv string) (curveParams, bool) {
	for _, p := range curves {
		if p.crv == crv {
			return p, true
		}
	}
	return curveParams{}, false
}

// NewJWK returns the JWK of a P-256 or P-384 key, with alg, use "sig" and
// kid set to its RFC 7638 thumbprint. For other curves it returns a JWK
// whose PublicKey method fails.
func NewJWK(pub *ecdsa.PublicKey) JWK {
	p, ok := paramsForCurve(pub.Curve)
	if !ok {
		return JWK{Kty: "EC", Crv: pub.Curve.Params().Name}
	}
	raw, err := pub.Bytes() // 0x04 || X || Y, fixed width
	if err != nil {
		return JWK{Kty: "EC", Crv: p.crv}
	}
	enc := base64.RawURLEncoding
	j := JWK{Kty: "EC", Crv: p.crv, X: enc.EncodeToString(raw[1 : 1+p.size]), Y: enc.EncodeToString(raw[1+p.size:]), Alg: p.alg, Use: "sig"}
	j.Kid = j.Thumbprint()
	return j
}

// PublicKey decodes the key and checks that the point is on its curve.
func (j JWK) PublicKey() (*ecdsa.PublicKey, error) {
	if j.Kty != "EC" {
		return nil, fmt.Errorf("%w: kty: want EC, got %q", ErrKey, j.Kty)
	}
	p, ok := paramsForName(j.Crv)
	if !ok {
		return nil, fmt.Errorf("%w: crv: want P-256 or P-384, got %q", ErrKey, j.Crv)
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("%w: use: want sig, got %q", ErrKey, j.Use)
	}
	if j.Alg != "" && j.Alg != p.alg {
		return nil, fmt.Errorf("%w: alg: want %s for %s, got %q", ErrKey, p.alg, p.crv, j.Alg)
	}
	point := make([]byte, 1, 1+2*p.size)
	point[0] = 4
	for _, c := range []struct{ name, val string }{{"x", j.X}, {"y", j.Y}} {
		b, err := base64.RawURLEncoding.Strict().DecodeString(c.val)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: want unpadded base64url: %v", ErrKey, c.name, err)
		}
		if len(b) != p.size {
			return nil, fmt.Errorf("%w: %s: want %d bytes for %s, got %d", ErrKey, c.name, p.size, p.crv, len(b))
		}
		point = append(point, b...)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(p.curve, point)
	if err != nil {
		return nil, fmt.Errorf("%w: point is not on %s: %v", ErrKey, p.crv, err)
	}
	return pub, nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint, base64url without
// padding: the hash of {"crv","kty","x","y"} in that order, no spaces.
func (j JWK) Thumbprint() string {
	// The members are fixed strings and base64url text, none of which need
	// JSON escaping, except a foreign crv/kty; quote those safely.
	canon := `{"crv":` + quote(j.Crv) + `,"kty":` + quote(j.Kty) + `,"x":` + quote(j.X) + `,"y":` + quote(j.Y) + `}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// JWKSet is a JSON Web Key Set ({"keys":[...]}).
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// Find returns the key whose kid is kid. With an empty kid it returns the
// only key of a one-key set.
func (s *JWKSet) Find(kid string) (JWK, error) {
	if s == nil || len(s.Keys) == 0 {
		return JWK{}, fmt.Errorf("%w: key set is empty", ErrUnknownKey)
	}
	if kid == "" {
		if len(s.Keys) == 1 {
			return s.Keys[0], nil
		}
		return JWK{}, fmt.Errorf("%w: token has no kid and the set has %d keys", ErrUnknownKey, len(s.Keys))
	}
	for _, k := range s.Keys {
		if k.Kid == kid {
			return k, nil
		}
	}
	return JWK{}, fmt.Errorf("%w: kid %q is not in the key set", ErrUnknownKey, kid)
}

func quote(s string) string {
	b, _ := json.Marshal(s) // marshaling a string cannot fail
	return string(b)
}
