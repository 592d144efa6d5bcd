package cca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/ratls/ratls/internal/testvectors"
)

// computedFields mirrors the "computed" object of a vector in EXPECTED.json.
type computedFields struct {
	Len              int            `json:"len"`
	OuterTag         uint64         `json:"outer_tag"`
	PlatformCMWCF    *uint64        `json:"platform_cmw_cf"`
	PlatformAlg      int64          `json:"platform_alg"`
	RealmAlg         *int64         `json:"realm_alg"`
	RAKFormat        *string        `json:"rak_format"`
	PlatformSigValid bool           `json:"platform_sig_valid"`
	RealmSigValid    *bool          `json:"realm_sig_valid"`
	BindingOK        *bool          `json:"binding_ok"`
	RAKHashAlg       *string        `json:"rak_hash_alg"`
	PlatformClaims   map[string]any `json:"platform_claims"`
	RealmClaims      map[string]any `json:"realm_claims"`
}

// expectedFile mirrors the parts of testdata/*/EXPECTED.json the tests use.
type expectedFile struct {
	Vectors []struct {
		ID          string         `json:"id"`
		Token       string         `json:"token"`
		PlatformKey string         `json:"platform_key"`
		Computed    computedFields `json:"computed"`
	} `json:"vectors"`
}

type tokenVector struct {
	id, dir, keyFile string
	raw              []byte
	want             *computedFields
}

// readToken reads a token file; .hex files hold the token hex-encoded.
func readToken(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".hex") {
		if b, err = hex.DecodeString(strings.TrimSpace(string(b))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return b
}

// loadVectors returns every token listed in the copied EXPECTED.json files.
func loadVectors(t testing.TB) []tokenVector {
	t.Helper()
	var out []tokenVector
	for _, dir := range []string{"cca-tfm", "cca-veraison"} {
		js, err := os.ReadFile(testvectors.Path(dir, "EXPECTED.json"))
		if err != nil {
			t.Fatal(err)
		}
		exp := new(expectedFile)
		if err := json.Unmarshal(js, exp); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for i, v := range exp.Vectors {
			out = append(out, tokenVector{id: v.ID, dir: dir, keyFile: v.PlatformKey,
				raw: readToken(t, dir, v.Token), want: &exp.Vectors[i].Computed})
		}
	}
	if len(out) != 14 {
		t.Fatalf("loaded %d vectors, want 14", len(out))
	}
	return out
}

func vectorByID(t testing.TB, id string) tokenVector {
	t.Helper()
	for _, v := range loadVectors(t) {
		if v.id == id {
			return v
		}
	}
	t.Fatalf("no vector %s", id)
	return tokenVector{}
}

// loadPublicKey reads a PEM SubjectPublicKeyInfo or an EC JWK.
func loadPublicKey(t testing.TB, dir, name string) *ecdsa.PublicKey {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return k.(*ecdsa.PublicKey)
	}
	var jwk struct{ Kty, Crv, X, Y string }
	if err := json.Unmarshal(b, &jwk); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[jwk.Crv]
	x, err1 := base64.RawURLEncoding.DecodeString(jwk.X)
	y, err2 := base64.RawURLEncoding.DecodeString(jwk.Y)
	if jwk.Kty != "EC" || curve == nil || err1 != nil || err2 != nil {
		t.Fatalf("%s: unsupported JWK", name)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return pub
}

// Minimal CBOR builders for synthetic tokens. They write exactly what they
// are given, so tests can produce duplicate keys and unusual layouts.

func bstr(b []byte) []byte { return append(appendHead(nil, majorBytes, uint64(len(b))), b...) }
func tstr(s string) []byte { return append(appendHead(nil, majorText, uint64(len(s))), s...) }
func uintItem(n uint64) []byte {
	return appendHead(nil, majorUint, n)
}
func intItem(n int64) []byte {
	if n < 0 {
		return appendHead(nil, majorNegInt, uint64(-1-n))
	}
	return appendHead(nil, majorUint, uint64(n))
}
func tagItem(n uint64, item []byte) []byte { return append(appendHead(nil, majorTag, n), item...) }

func arrayItem(items ...[]byte) []byte {
	out := appendHead(nil, majorArray, uint64(len(items)))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

type pair struct{ k, v []byte }

func mapItem(pairs ...pair) []byte {
	out := appendHead(nil, majorMap, uint64(len(pairs)))
	for _, p := range pairs {
		out = append(append(out, p.k...), p.v...)
	}
	return out
}

// claimMap is an editable claims map that encodes in ascending key order.
type claimMap map[int64]cbor.RawMessage

func (m claimMap) encode() []byte {
	var pairs []pair
	for _, k := range slices.Sorted(maps.Keys(m)) {
		pairs = append(pairs, pair{intItem(k), m[k]})
	}
	return mapItem(pairs...)
}

// parts holds the pieces of a vector token for rebuilding variants.
type parts struct {
	platformProtected, platformSig []byte
	realmProtected, realmSig       []byte
	platform, realm                claimMap
}

func splitVector(t testing.TB, raw []byte) parts {
	t.Helper()
	tok, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var p parts
	p.platformProtected, p.platformSig = tok.Platform.Protected, tok.Platform.Signature
	m, err := decodeIntMap(tok.Platform.Payload, "test")
	if err != nil {
		t.Fatal(err)
	}
	p.platform = m
	if tok.Realm != nil {
		p.realmProtected, p.realmSig = tok.Realm.Protected, tok.Realm.Signature
		if m, err = decodeIntMap(tok.Realm.Payload, "test"); err != nil {
			t.Fatal(err)
		}
		p.realm = m
	}
	return p
}

func sign1(protected, payload, sig []byte) []byte {
	return tagItem(tagCOSESign1, arrayItem(bstr(protected), mapItem(), bstr(payload), bstr(sig)))
}

func (p parts) platformToken() []byte {
	return sign1(p.platformProtected, p.platform.encode(), p.platformSig)
}

func (p parts) realmToken() []byte {
	return sign1(p.realmProtected, p.realm.encode(), p.realmSig)
}

func cmwCollection(platform, realm []byte) []byte {
	return tagItem(TagCollectionCMW, mapItem(
		pair{uintItem(KeyPlatformToken), arrayItem(uintItem(CollectionContentFormat), bstr(platform))},
		pair{uintItem(KeyRealmToken), arrayItem(uintItem(CollectionContentFormat), bstr(realm))},
	))
}

func legacyCollection(platform, realm []byte) []byte {
	return tagItem(TagCollectionLegacy, mapItem(
		pair{uintItem(KeyPlatformToken), bstr(platform)},
		pair{uintItem(KeyRealmToken), bstr(realm)},
	))
}

// cmw rebuilds the parts as a CMW collection token.
func (p parts) cmw() []byte { return cmwCollection(p.platformToken(), p.realmToken()) }
