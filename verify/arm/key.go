package arm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
)

// ParsePublicKey reads a platform attestation key (CPAK): a PEM public key
// (SubjectPublicKeyInfo) or a JWK, the form Veraison's tools use (evcli's
// key files, ccatoken's test keys), on P-256, P-384 or P-521. A JWK of a
// private key is read for its public part.
func ParsePublicKey(b []byte) (*ecdsa.PublicKey, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		k, _, err := ParseJWK(t)
		return k, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("want a PEM public key or a JWK")
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("want an EC key, got %T", pub)
	}
	return k, nil
}

// jwkCurves are the curves of CCA platform keys, by JWK name.
var jwkCurves = map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}

// ParseJWK reads an EC JWK (RFC 7518 §6.2) on P-256, P-384 or P-521 and
// reports whether it holds a private key ("d"), which callers that store
// or show keys refuse.
func ParseJWK(b []byte) (key *ecdsa.PublicKey, private bool, err error) {
	var j struct {
		Kty string  `json:"kty"`
		Crv string  `json:"crv"`
		X   string  `json:"x"`
		Y   string  `json:"y"`
		D   *string `json:"d"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, false, fmt.Errorf("JWK: %w", err)
	}
	if j.Kty != "EC" {
		return nil, false, fmt.Errorf("JWK kty: want EC, got %q", j.Kty)
	}
	curve, ok := jwkCurves[j.Crv]
	if !ok {
		return nil, false, fmt.Errorf("JWK crv: want P-256, P-384 or P-521, got %q", j.Crv)
	}
	size := (curve.Params().BitSize + 7) / 8
	x, errX := base64.RawURLEncoding.DecodeString(j.X)
	y, errY := base64.RawURLEncoding.DecodeString(j.Y)
	if errX != nil || errY != nil || len(x) != size || len(y) != size {
		return nil, false, fmt.Errorf("JWK x, y: want %d bytes each of unpadded base64url for %s", size, j.Crv)
	}
	key, err = ecdsa.ParseUncompressedPublicKey(curve, slices.Concat([]byte{4}, x, y))
	if err != nil {
		return nil, false, fmt.Errorf("JWK: the point is not on %s", j.Crv)
	}
	return key, j.D != nil, nil
}
