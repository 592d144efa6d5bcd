package ear

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Verification errors; Verify wraps one of these (or ErrClaims / ErrKey).
var (
	ErrMalformed   = errors.New("ear: malformed token")
	ErrAlgorithm   = errors.New("ear: unacceptable algorithm")
	ErrUnknownKey  = errors.New("ear: unknown key")
	ErrSignature   = errors.New("ear: bad signature")
	ErrNotYetValid = errors.New("ear: issued in the future")
	ErrExpired     = errors.New("ear: expired")
)

// maxClockSkew is how far in the future iat may be.
const maxClockSkew = 5 * time.Minute

// maxTokenSize bounds a compact JWS: the base64 of the payload plus header
// and signature.
const maxTokenSize = maxPayloadSize*4/3 + 4096

type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

// parseHeader matches member names exactly (encoding/json would also take
// "ALG" for "alg") and refuses crit: no extension is understood.
func parseHeader(b []byte) (header, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return header{}, fmt.Errorf("%w: header: want a JSON object, got %.40q", ErrMalformed, b)
	}
	if _, ok := m["crit"]; ok {
		return header{}, fmt.Errorf("%w: header: crit is not supported", ErrMalformed)
	}
	var h header
	for name, dst := range map[string]*string{"alg": &h.Alg, "typ": &h.Typ, "kid": &h.Kid} {
		raw, ok := m[name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, dst); err != nil || isNull(raw) {
			return header{}, fmt.Errorf("%w: header %s: want a string, got %.40s", ErrMalformed, name, raw)
		}
	}
	if h.Alg == "" {
		return header{}, fmt.Errorf("%w: header alg: missing", ErrAlgorithm)
	}
	return h, nil
}

// Sign serializes the EAR as a JWT in JWS compact serialization. The key
// must be ECDSA P-256 (ES256) or P-384 (ES384); kid is the RFC 7638
// thumbprint of its public key. To sign many EARs with one key, use a
// Signer.
func (e *EAR) Sign(key crypto.Signer) ([]byte, error) {
	s, err := NewSigner(key)
	if err != nil {
		return nil, err
	}
	return s.Sign(e)
}

// Signer signs EARs with one key. Its JWS header (alg and kid) is encoded
// once, so a service signing every result pays only for the claims and the
// signature. It is safe for concurrent use if its key is.
type Signer struct {
	key    crypto.Signer
	p      curveParams
	header string // base64url of the JWS header
}

// NewSigner returns a Signer for an ECDSA P-256 (ES256) or P-384 (ES384)
// key.
func NewSigner(key crypto.Signer) (*Signer, error) {
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: want an ECDSA key, got %T", ErrKey, key.Public())
	}
	p, ok := paramsForCurve(pub.Curve)
	if !ok {
		return nil, fmt.Errorf("%w: want P-256 or P-384, got %s", ErrKey, pub.Curve.Params().Name)
	}
	h, err := json.Marshal(header{Alg: p.alg, Typ: "JWT", Kid: NewJWK(pub).Thumbprint()})
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, p: p, header: base64.RawURLEncoding.EncodeToString(h)}, nil
}

// Sign serializes e as a JWT signed with the Signer's key.
func (s *Signer) Sign(e *EAR) ([]byte, error) {
	payload, err := e.MarshalJSON()
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	signingInput := s.header + "." + enc.EncodeToString(payload)
	hash := hashFor(s.p)
	d := hash.New()
	d.Write([]byte(signingInput))
	der, err := s.key.Sign(rand.Reader, d.Sum(nil), hash)
	if err != nil {
		return nil, fmt.Errorf("ear: sign: %w", err)
	}
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("ear: sign: signer returned a malformed ECDSA signature")
	}
	size := s.p.size
	raw := make([]byte, 2*size) // JWS wants R || S, each left-padded
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 8*size || sig.S.BitLen() > 8*size {
		return nil, fmt.Errorf("ear: sign: signer returned an out-of-range ECDSA signature")
	}
	sig.R.FillBytes(raw[:size])
	sig.S.FillBytes(raw[size:])
	return []byte(signingInput + "." + enc.EncodeToString(raw)), nil
}

func hashFor(p curveParams) crypto.Hash {
	if p.size == 48 {
		return crypto.SHA384
	}
	return crypto.SHA256
}

// Verify checks a compact-serialized EAR JWT against keys and returns its
// claims. It accepts only ES256 with P-256 keys and ES384 with P-384 keys,
// a raw R||S signature of the exact length, iat no later than five minutes
// after now (clock skew) and, when present, exp after now.
func Verify(token []byte, keys *JWKSet, now time.Time) (*EAR, error) {
	if len(token) > maxTokenSize {
		return nil, fmt.Errorf("%w: want at most %d bytes, got %d", ErrMalformed, maxTokenSize, len(token))
	}
	parts := bytes.Split(token, []byte("."))
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: want 3 dot-separated parts, got %d", ErrMalformed, len(parts))
	}
	dec := base64.RawURLEncoding.Strict()
	names := []string{"header", "payload", "signature"}
	decoded := make([][]byte, 3)
	for i, part := range parts {
		b := make([]byte, dec.DecodedLen(len(part)))
		n, err := dec.Decode(b, part)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: want unpadded base64url: %v", ErrMalformed, names[i], err)
		}
		decoded[i] = b[:n]
	}
	h, err := parseHeader(decoded[0])
	if err != nil {
		return nil, err
	}
	if h.Typ != "" && !strings.EqualFold(h.Typ, "JWT") && !strings.EqualFold(h.Typ, "application/eat+jwt") {
		return nil, fmt.Errorf("%w: header typ: want JWT, got %q", ErrMalformed, h.Typ)
	}
	jwk, err := keys.Find(h.Kid)
	if err != nil {
		return nil, err
	}
	pub, err := jwk.PublicKey()
	if err != nil {
		return nil, err
	}
	p, _ := paramsForCurve(pub.Curve)
	if h.Alg != p.alg {
		return nil, fmt.Errorf("%w: header alg: want %s for a %s key, got %q", ErrAlgorithm, p.alg, p.crv, h.Alg)
	}
	sig := decoded[2]
	if len(sig) != 2*p.size {
		return nil, fmt.Errorf("%w: want %d bytes for %s, got %d", ErrSignature, 2*p.size, p.alg, len(sig))
	}
	hash := hashFor(p).New()
	hash.Write(token[:len(parts[0])+1+len(parts[1])])
	r := new(big.Int).SetBytes(sig[:p.size])
	s := new(big.Int).SetBytes(sig[p.size:])
	if !ecdsa.Verify(pub, hash.Sum(nil), r, s) {
		return nil, fmt.Errorf("%w: %s verification failed with key %q", ErrSignature, p.alg, jwk.Kid)
	}
	e := new(EAR)
	if err := e.UnmarshalJSON(decoded[1]); err != nil {
		return nil, err
	}
	if latest := now.Add(maxClockSkew).Unix(); e.IssuedAt > latest {
		return nil, fmt.Errorf("%w: iat %d is after now+%s (%d)", ErrNotYetValid, e.IssuedAt, maxClockSkew, latest)
	}
	if e.Expiry != 0 && now.Unix() >= e.Expiry {
		return nil, fmt.Errorf("%w: exp %d is not after now (%d)", ErrExpired, e.Expiry, now.Unix())
	}
	return e, nil
}
