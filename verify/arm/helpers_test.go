package arm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/ratls/ratls/evidence/cca"
	"github.com/ratls/ratls/internal/testvectors"
	cose "github.com/veraison/go-cose"
)

// computed mirrors the "computed" object of a vector in EXPECTED.json.
type computed struct {
	OuterTag         uint64         `json:"outer_tag"`
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

type vector struct {
	ID          string   `json:"id"`
	Token       string   `json:"token"`
	PlatformKey string   `json:"platform_key"`
	Expected    string   `json:"expected"`
	Computed    computed `json:"computed"`

	dir string
	raw []byte
}

var vectorDirs = []string{"cca-tfm", "cca-veraison"}

// loadVectors returns every vector listed in the copied EXPECTED.json files.
func loadVectors(t testing.TB) []vector {
	t.Helper()
	var out []vector
	for _, dir := range vectorDirs {
		js, err := os.ReadFile(testvectors.Path(dir, "EXPECTED.json"))
		if err != nil {
			t.Fatal(err)
		}
		var exp struct{ Vectors []vector }
		if err := json.Unmarshal(js, &exp); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, v := range exp.Vectors {
			v.dir = dir
			v.raw = readToken(t, dir, v.Token)
			out = append(out, v)
		}
	}
	if len(out) != 14 {
		t.Fatalf("loaded %d vectors, want 14", len(out))
	}
	return out
}

func vectorByID(t testing.TB, id string) vector {
	t.Helper()
	for _, v := range loadVectors(t) {
		if v.ID == id {
			return v
		}
	}
	t.Fatalf("no vector %s", id)
	return vector{}
}

// readToken reads a token file; .hex files hold the token hex-encoded.
func readToken(t testing.TB, dir, name string) []byte {
	t.Helper()
	b := readFile(t, dir, name)
	if strings.HasSuffix(name, ".hex") {
		var err error
		if b, err = hex.DecodeString(strings.TrimSpace(string(b))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return b
}

func readFile(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadKey reads a PEM SubjectPublicKeyInfo or an EC JWK.
func loadKey(t testing.TB, dir, name string) *ecdsa.PublicKey {
	t.Helper()
	b := readFile(t, dir, name)
	if blk, _ := pem.Decode(b); blk != nil {
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return k.(*ecdsa.PublicKey)
	}
	var j jwk
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	k, err := j.publicKey()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k
}

// jwk is an EC public JSON Web Key (RFC 7518 section 6.2.1).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func (j jwk) coordinates() (elliptic.Curve, []byte, []byte, error) {
	curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[j.Crv]
	if j.Kty != "EC" || curve == nil {
		return nil, nil, nil, fmt.Errorf("jwk: want kty EC on P-256, P-384 or P-521, got kty %q crv %q", j.Kty, j.Crv)
	}
	x, err := base64.RawURLEncoding.DecodeString(j.X)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("jwk: x: %v", err)
	}
	y, err := base64.RawURLEncoding.DecodeString(j.Y)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("jwk: y: %v", err)
	}
	size := (curve.Params().BitSize + 7) / 8
	if len(x) != size || len(y) != size {
		return nil, nil, nil, fmt.Errorf("jwk: coordinates: want %d bytes each, got %d and %d", size, len(x), len(y))
	}
	return curve, x, y, nil
}

// publicKey returns the key, rejecting points not on the curve.
func (j jwk) publicKey() (*ecdsa.PublicKey, error) {
	curve, x, y, err := j.coordinates()
	if err != nil {
		return nil, err
	}
	return ecdsa.ParseUncompressedPublicKey(curve, slices.Concat([]byte{4}, x, y))
}

// unvalidatedKey returns the key as given, even if the point is not on the
// curve, so that tests can hand such keys to the verifier.
func (j jwk) unvalidatedKey() (*ecdsa.PublicKey, error) {
	curve, x, y, err := j.coordinates()
	if err != nil {
		return nil, err
	}
	return pointKey(curve, x, y), nil
}

// pointKey builds a key from coordinates without validating them; the
// coordinate fields are the only way to make an invalid key to test with.
func pointKey(curve elliptic.Curve, x, y []byte) *ecdsa.PublicKey {
	//lint:ignore SA1019 tests need keys that are not points on the curve
	return &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
}

// offCurve returns k with the last byte of its y coordinate changed, which
// takes it off the curve.
func offCurve(t testing.TB, k *ecdsa.PublicKey) *ecdsa.PublicKey {
	t.Helper()
	b, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	n := (len(b) - 1) / 2
	y := slices.Clone(b[1+n:])
	y[n-1] ^= 1
	return pointKey(k.Curve, b[1:1+n], y)
}

var errNotFound = errors.New("test key store: instance not found")

// loadKeyStore reads a rust-ccatoken trust anchor file (a JSON array of
// {instance-id, implementation-id, pkey}) as a KeyStore. Keys are taken
// without point validation: checking them is the verifier's job.
func loadKeyStore(t testing.TB, dir, name string) func([]byte) (crypto.PublicKey, error) {
	t.Helper()
	var entries []struct {
		InstanceID string `json:"instance-id"`
		PKey       jwk    `json:"pkey"`
	}
	if err := json.Unmarshal(readFile(t, dir, name), &entries); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	keys := make(map[string]*ecdsa.PublicKey)
	for _, e := range entries {
		k, err := e.PKey.unvalidatedKey()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		keys[strings.ToLower(e.InstanceID)] = k
	}
	return func(id []byte) (crypto.PublicKey, error) {
		if k, ok := keys[hex.EncodeToString(id)]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("%w: %x", errNotFound, id)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// failedNames returns the names of the failed checks, sorted.
func failedNames(r *Result) []string {
	var out []string
	for _, c := range r.Failed() {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

func mustCheck(t testing.TB, r *Result, name string) Check {
	t.Helper()
	c, ok := r.Check(name)
	if !ok {
		t.Fatalf("check %s not reported; checks: %+v", name, r.Checks)
	}
	return c
}

// Synthetic tokens. The vectors are signed with keys whose private parts are
// not in testdata, so cases the vectors do not cover (a zero-padded realm
// challenge, ES512) are built here: the claims of a real token with the
// fields under test replaced, signed with fresh keys.

type synthetic struct {
	cpak, rak       *ecdsa.PrivateKey
	platAlg, relAlg cose.Algorithm
	realmChallenge  []byte
	raw             []byte // the 399 collection
}

// buildSynthetic re-signs the claims of a real token: the realm token with
// a fresh P-384 RAK and the given challenge, the platform token with a
// fresh CPAK on the curve of platAlg, its challenge binding the new RAK.
func buildSynthetic(t testing.TB, base []byte, platAlg cose.Algorithm, realmChallenge []byte) *synthetic {
	t.Helper()
	tok, err := cca.Parse(base)
	if err != nil || tok.Realm == nil {
		t.Fatalf("base token: %v", err)
	}
	curve, _ := algCurve(platAlg)
	s := &synthetic{platAlg: platAlg, relAlg: cose.AlgorithmES384, realmChallenge: realmChallenge}
	if s.cpak, err = ecdsa.GenerateKey(curve, rand.Reader); err != nil {
		t.Fatal(err)
	}
	if s.rak, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	rakRaw, err := s.rak.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}

	realm := claimsOf(t, tok.Realm.Payload)
	realm[cca.ClaimChallenge] = encode(t, realmChallenge)
	realm[cca.ClaimRealmPublicKey] = encode(t, rakRaw)
	realm[cca.ClaimRealmPublicKeyHashAlgo] = encode(t, "sha-256")
	realmTok := signSynthetic(t, s.rak, s.relAlg, encode(t, realm))

	platform := claimsOf(t, tok.Platform.Payload)
	binder := hashSHA256(rakRaw)
	platform[cca.ClaimChallenge] = encode(t, binder)
	platTok := signSynthetic(t, s.cpak, platAlg, encode(t, platform))

	s.raw = encode(t, cbor.Tag{Number: cca.TagCollectionLegacy, Content: map[uint64][]byte{
		cca.KeyPlatformToken: platTok,
		cca.KeyRealmToken:    realmTok,
	}})
	return s
}

func claimsOf(t testing.TB, payload []byte) map[int64]cbor.RawMessage {
	t.Helper()
	var m map[int64]cbor.RawMessage
	if err := cbor.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signSynthetic(t testing.TB, key *ecdsa.PrivateKey, alg cose.Algorithm, payload []byte) []byte {
	t.Helper()
	signer, err := cose.NewSigner(alg, key)
	if err != nil {
		t.Fatal(err)
	}
	hdr := cose.Headers{Protected: cose.ProtectedHeader{cose.HeaderLabelAlgorithm: alg}}
	msg, err := cose.Sign1(rand.Reader, signer, hdr, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func hashSHA256(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
