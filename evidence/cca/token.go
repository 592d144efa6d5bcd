// Package cca parses Arm Confidential Compute Architecture (CCA) attestation
// tokens: the platform token, signed by the CCA platform attestation key
// (CPAK), and the realm token, signed by the realm attestation key (RAK)
// that the realm token itself carries. Both are COSE_Sign1 messages.
//
// Package evidence finds tokens in certificates and raw input and parses
// them with this package; verify/arm verifies them.
//
// Three top-level encodings are accepted:
//
//   - "cmw-907": a CMW collection 907({44234: [263, bstr platform],
//     44241: [263, bstr realm]}), used from RMM 1.1;
//   - "legacy-399": 399({44234: bstr platform, 44241: bstr realm});
//   - "platform-only": a platform token alone (COSE_Sign1 tag 18).
//
// The package checks structure strictly (duplicate map keys, indefinite
// lengths, trailing bytes, unbounded nesting and oversized input are all
// rejected) and decodes every claim by name. It verifies no signature; it
// exposes what a verifier needs instead: each token's exact signed bytes
// (Sign1.ToBeSigned), its algorithm and signature, the realm key
// (RealmClaims.PublicKey, PublicKeyECDSA) and the value the platform
// challenge must equal to bind the realm token (ExpectedPlatformChallenge).
package cca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"

	"github.com/ratls/ratls/internal/fielderr"
)

// maxTokenSize is the largest token Parse accepts, in bytes.
const maxTokenSize = 64 << 10

// CBOR tags and keys of the token collection.
const (
	TagCollectionLegacy = 399 // CCA token collection (RMM 1.0)
	TagCollectionCMW    = 907 // CMW collection (RMM 1.1)

	KeyPlatformToken = 44234
	KeyRealmToken    = 44241

	// CollectionContentFormat is the CoAP content format of both tokens in
	// the CMW collection records [263, bstr].
	CollectionContentFormat = 263
)

// Form names the top-level encoding of a token.
type Form string

// Forms returned in Token.Form.
const (
	FormCMW          Form = "cmw-907"
	FormLegacy       Form = "legacy-399"
	FormPlatformOnly Form = "platform-only"
)

// Sentinel errors wrapped by the *Error values this package returns.
var (
	ErrTooLarge        = errors.New("cca: input exceeds a size limit")
	ErrMalformed       = errors.New("cca: malformed CBOR structure")
	ErrWrongTag        = errors.New("cca: unexpected CBOR tag")
	ErrMissingClaim    = errors.New("cca: mandatory claim missing")
	ErrInvalidClaim    = errors.New("cca: invalid claim value")
	ErrNoRealmToken    = errors.New("cca: no realm token")
	ErrUnsupportedHash = errors.New("cca: unsupported hash algorithm")
	ErrUnsupportedKey  = errors.New("cca: unsupported realm public key")
	// ErrBindingMismatch is not returned by this package: it is the kind
	// of the *Error verify/arm reports when the platform challenge is not
	// ExpectedPlatformChallenge.
	ErrBindingMismatch = errors.New("cca: platform challenge does not bind the realm key")
)

// Error describes one failed check: where (Field), what was expected and
// what was found. Its Kind is one of the Err* sentinels; Cause, if set, is
// the underlying decoder error.
type Error = fielderr.Error

// Token is a parsed CCA attestation token.
type Token struct {
	Form        Form
	PlatformRaw []byte // the platform COSE_Sign1 message
	RealmRaw    []byte // the realm COSE_Sign1 message; nil for FormPlatformOnly
	Platform    *PlatformToken
	Realm       *RealmToken // nil for FormPlatformOnly
}

// PlatformToken is the platform COSE_Sign1 message and its decoded claims.
type PlatformToken struct {
	Sign1
	Claims PlatformClaims
}

// RealmToken is the realm COSE_Sign1 message and its decoded claims.
type RealmToken struct {
	Sign1
	Claims RealmClaims
}

// Parse decodes a CCA attestation token in any of the three forms. The input
// must be a single CBOR item of at most 64 KiB. Errors are
// *Error values wrapping one of the Err* sentinels.
func Parse(b []byte) (*Token, error) {
	if len(b) == 0 {
		return nil, &Error{Pkg: "cca", Kind: ErrMalformed, Field: "token", Want: "a CBOR item", Got: "empty input"}
	}
	if len(b) > maxTokenSize {
		return nil, &Error{Pkg: "cca", Kind: ErrTooLarge, Field: "token", Want: fmt.Sprintf("at most %d bytes", maxTokenSize),
			Got: fmt.Sprintf("%d bytes", len(b))}
	}
	const wantTag = "tag 907 (CMW collection), 399 (legacy collection) or 18 (platform token)"
	if b[0]>>5 != majorTag {
		return nil, &Error{Pkg: "cca", Kind: ErrWrongTag, Field: "token", Want: wantTag, Got: describe(b)}
	}
	var top cbor.RawTag
	if err := decMode.Unmarshal(b, &top); err != nil {
		return nil, cborError("token", err)
	}
	var (
		t   *Token
		err error
	)
	switch top.Number {
	case tagCOSESign1:
		t = &Token{Form: FormPlatformOnly, PlatformRaw: bytes.Clone(b)}
	case TagCollectionLegacy:
		t, err = parseCollection(top.Content, FormLegacy)
	case TagCollectionCMW:
		t, err = parseCollection(top.Content, FormCMW)
	default:
		return nil, &Error{Pkg: "cca", Kind: ErrWrongTag, Field: "token", Want: wantTag, Got: fmt.Sprintf("tag %d", top.Number)}
	}
	if err != nil {
		return nil, err
	}

	ps, err := parseSign1(t.PlatformRaw, "platform token")
	if err != nil {
		return nil, err
	}
	t.Platform = &PlatformToken{Sign1: *ps}
	if t.Platform.Claims, err = parsePlatformClaims(ps.Payload, "platform token: claims"); err != nil {
		return nil, err
	}
	if t.RealmRaw == nil {
		return t, nil
	}
	rs, err := parseSign1(t.RealmRaw, "realm token")
	if err != nil {
		return nil, err
	}
	t.Realm = &RealmToken{Sign1: *rs}
	if t.Realm.Claims, err = parseRealmClaims(rs.Payload, "realm token: claims"); err != nil {
		return nil, err
	}
	return t, nil
}

// parseCollection extracts the two tokens from a 399 or 907 collection map.
// Exactly the platform and realm entries must be present.
func parseCollection(content []byte, form Form) (*Token, error) {
	field := fmt.Sprintf("token: collection (%s)", form)
	m, err := decodeIntMap(content, field)
	if err != nil {
		return nil, err
	}
	t := &Token{Form: form}
	for _, e := range []struct {
		key  int64
		name string
		dst  *[]byte
	}{
		{KeyPlatformToken, "platform token", &t.PlatformRaw},
		{KeyRealmToken, "realm token", &t.RealmRaw},
	} {
		entryField := fmt.Sprintf("%s: %d (%s)", field, e.key, e.name)
		raw, ok := m[e.key]
		if !ok {
			return nil, &Error{Pkg: "cca", Kind: ErrMissingClaim, Field: entryField, Want: "present", Got: "missing"}
		}
		delete(m, e.key)
		if form == FormCMW {
			if raw, err = unwrapCMWRecord(raw, entryField); err != nil {
				return nil, err
			}
		}
		if *e.dst, err = decodeBytes(raw, entryField); err != nil {
			return nil, err
		}
	}
	for k := range m {
		return nil, &Error{Pkg: "cca", Kind: ErrMalformed, Field: field, Want: "only keys 44234 and 44241", Got: fmt.Sprintf("key %d", k)}
	}
	return t, nil
}

// unwrapCMWRecord checks a CMW record [263, bstr] and returns the bstr item.
func unwrapCMWRecord(raw []byte, field string) ([]byte, error) {
	rec, err := decodeArray(raw, field)
	if err != nil {
		return nil, err
	}
	if len(rec) != 2 {
		return nil, &Error{Pkg: "cca", Kind: ErrMalformed, Field: field, Want: "CMW record [content-format, bstr]", Got: fmt.Sprintf("array of %d", len(rec))}
	}
	cf, err := decodeUint(rec[0], field+": content format")
	if err != nil {
		return nil, err
	}
	if cf != CollectionContentFormat {
		return nil, &Error{Pkg: "cca", Kind: ErrInvalidClaim, Field: field + ": content format", Want: "263", Got: fmt.Sprint(cf)}
	}
	return rec[1], nil
}

// ExpectedPlatformChallenge returns the value the platform challenge must
// hold for the platform token to vouch for this realm: the hash, with the
// realm's public key hash algorithm (sha-256, sha-384 or sha-512), of the
// realm public key claim bytes exactly as carried in the token.
func (t *Token) ExpectedPlatformChallenge() ([]byte, error) {
	if t.Realm == nil {
		return nil, &Error{Pkg: "cca", Kind: ErrNoRealmToken, Field: "binding", Want: "a realm token", Got: string(t.Form)}
	}
	c := &t.Realm.Claims
	switch c.PublicKeyHashAlgo {
	case "sha-256":
		h := sha256.Sum256(c.PublicKey)
		return h[:], nil
	case "sha-384":
		h := sha512.Sum384(c.PublicKey)
		return h[:], nil
	case "sha-512":
		h := sha512.Sum512(c.PublicKey)
		return h[:], nil
	}
	return nil, &Error{Pkg: "cca", Kind: ErrUnsupportedHash, Field: "realm token: claim 44240 (public key hash algorithm)",
		Want: "sha-256, sha-384 or sha-512", Got: fmt.Sprintf("%q", c.PublicKeyHashAlgo)}
}

// PublicKeyFormat names how the realm public key claim is encoded.
type PublicKeyFormat string

// Realm public key encodings.
const (
	PublicKeyRawPoint PublicKeyFormat = "raw-ec-point" // SEC 1 uncompressed point (legacy tokens)
	PublicKeyCOSEKey  PublicKeyFormat = "cose-key"     // CBOR COSE_Key map
	PublicKeyOther    PublicKeyFormat = "unknown"
)

// PublicKeyFormat reports whether PublicKey is an uncompressed EC point
// (first byte 0x04) or a COSE_Key (a CBOR map).
func (c *RealmClaims) PublicKeyFormat() PublicKeyFormat {
	switch {
	case len(c.PublicKey) == 0:
		return PublicKeyOther
	case c.PublicKey[0] == 0x04:
		return PublicKeyRawPoint
	case c.PublicKey[0]>>5 == majorMap:
		return PublicKeyCOSEKey
	}
	return PublicKeyOther
}

// PublicKeyECDSA decodes the realm public key, in either encoding, as an
// ECDSA key on P-256, P-384 or P-521.
func (c *RealmClaims) PublicKeyECDSA() (*ecdsa.PublicKey, error) {
	const field = "realm token: claim 44237 (public key)"
	switch c.PublicKeyFormat() {
	case PublicKeyRawPoint:
		var curve elliptic.Curve
		switch len(c.PublicKey) {
		case 65:
			curve = elliptic.P256()
		case 97:
			curve = elliptic.P384()
		case 133:
			curve = elliptic.P521()
		default:
			return nil, &Error{Pkg: "cca", Kind: ErrUnsupportedKey, Field: field, Want: "65, 97 or 133 bytes (P-256, P-384, P-521 point)",
				Got: fmt.Sprintf("%d bytes", len(c.PublicKey))}
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, c.PublicKey)
		if err != nil {
			return nil, &Error{Pkg: "cca", Kind: ErrUnsupportedKey, Field: field, Cause: err}
		}
		return pub, nil
	case PublicKeyCOSEKey:
		// Check the map with the strict decoder before handing it over.
		if _, err := decodeIntMap(c.PublicKey, field); err != nil {
			return nil, err
		}
		var k cose.Key
		if err := k.UnmarshalCBOR(c.PublicKey); err != nil {
			return nil, &Error{Pkg: "cca", Kind: ErrUnsupportedKey, Field: field, Cause: err}
		}
		pub, err := k.PublicKey()
		if err != nil {
			return nil, &Error{Pkg: "cca", Kind: ErrUnsupportedKey, Field: field, Cause: err}
		}
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return nil, &Error{Pkg: "cca", Kind: ErrUnsupportedKey, Field: field, Want: "EC2 key", Got: fmt.Sprintf("%T", pub)}
		}
		return ec, nil
	}
	got := "empty"
	if len(c.PublicKey) > 0 {
		got = fmt.Sprintf("first byte 0x%02x", c.PublicKey[0])
	}
	return nil, &Error{Pkg: "cca", Kind: ErrUnsupportedKey, Field: field, Want: "uncompressed EC point or COSE_Key", Got: got}
}
