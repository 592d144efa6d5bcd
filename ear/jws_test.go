package ear

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

var testNow = time.Unix(1700000000, 0)

func testEAR() *EAR {
	return &EAR{
		IssuedAt:    testNow.Unix(),
		Expiry:      testNow.Add(time.Hour).Unix(),
		VerifierID:  VerifierID{Build: "ratls-test", Developer: "ratls"},
		Nonce:       "abcdefgh12345678",
		RawEvidence: []byte{1, 2, 3},
		Submods: map[string]*Appraisal{"tdx": {
			Status:      StatusAffirming,
			TrustVector: &TrustVector{InstanceIdentity: 2, Hardware: 2},
			PolicyID:    "p1",
		}},
	}
}

func newKey(t testing.TB, c elliptic.Curve) (*ecdsa.PrivateKey, *JWKSet) {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k, &JWKSet{Keys: []JWK{NewJWK(&k.PublicKey)}}
}

var b64 = base64.RawURLEncoding

// forge assembles a compact JWS from a header, payload and signature.
func forge(header string, payload []byte, sig []byte) []byte {
	return []byte(b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(payload) + "." + b64.EncodeToString(sig))
}

// ecSign signs the signing input of header.payload with h, raw R||S of size n.
func ecSign(t *testing.T, k *ecdsa.PrivateKey, h crypto.Hash, n int, header string, payload []byte) []byte {
	t.Helper()
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(payload)
	d := h.New()
	d.Write([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, d.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 2*n)
	r.FillBytes(sig[:n])
	s.FillBytes(sig[n:])
	return []byte(input + "." + b64.EncodeToString(sig))
}

func TestSignVerify(t *testing.T) {
	for _, tc := range []struct {
		curve   elliptic.Curve
		alg     string
		sigSize int
	}{{elliptic.P256(), "ES256", 64}, {elliptic.P384(), "ES384", 96}} {
		t.Run(tc.alg, func(t *testing.T) {
			k, keys := newKey(t, tc.curve)
			tok, err := testEAR().Sign(k)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(string(tok), ".")
			if len(parts) != 3 {
				t.Fatalf("token has %d parts", len(parts))
			}
			hb, _ := b64.DecodeString(parts[0])
			var h map[string]string
			if err := json.Unmarshal(hb, &h); err != nil {
				t.Fatal(err)
			}
			if h["alg"] != tc.alg || h["typ"] != "JWT" || h["kid"] != keys.Keys[0].Kid || len(h) != 3 {
				t.Errorf("header = %v", h)
			}
			if sig, _ := b64.DecodeString(parts[2]); len(sig) != tc.sigSize {
				t.Errorf("signature is %d bytes, want %d", len(sig), tc.sigSize)
			}
			got, err := Verify(tok, keys, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if got.Nonce != "abcdefgh12345678" || got.Submods["tdx"].PolicyID != "p1" || got.Profile != ProfileVeraison {
				t.Errorf("claims = %+v", got)
			}
			// Within the clock skew, iat may be slightly ahead.
			if _, err := Verify(tok, keys, testNow.Add(-maxClockSkew)); err != nil {
				t.Errorf("iat at now+skew: %v", err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	k, keys := newKey(t, elliptic.P256())
	tok, err := testEAR().Sign(k)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(tok), ".")
	payload, _ := b64.DecodeString(parts[1])
	kid := keys.Keys[0].Kid
	hdr := func(alg string) string { return `{"alg":"` + alg + `","typ":"JWT","kid":"` + kid + `"}` }
	sig, _ := b64.DecodeString(parts[2])

	tamperedPayload := strings.Replace(string(payload), `"p1"`, `"p2"`, 1)
	flipped := append([]byte(nil), sig...)
	flipped[10] ^= 1
	mac := hmac.New(sha256.New, []byte(keys.Keys[0].X))
	mac.Write([]byte(b64.EncodeToString([]byte(hdr("HS256"))) + "." + parts[1]))
	k384, _ := newKey(t, elliptic.P384())
	other, otherKeys := newKey(t, elliptic.P256())
	_ = other
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	der, _ := asn1Sig(r, s)

	future := testEAR()
	future.IssuedAt = testNow.Add(maxClockSkew + time.Second).Unix()
	future.Expiry = 0
	futureTok, _ := future.Sign(k)
	noExp := testEAR()
	noExp.Expiry = 0
	noExpTok, _ := noExp.Sign(k)

	tests := []struct {
		name  string
		token []byte
		keys  *JWKSet
		now   time.Time
		want  error
	}{
		{"tampered payload", []byte(parts[0] + "." + b64.EncodeToString([]byte(tamperedPayload)) + "." + parts[2]), keys, testNow, ErrSignature},
		{"tampered header", []byte(b64.EncodeToString([]byte(hdr("ES256")+" ")) + "." + parts[1] + "." + parts[2]), keys, testNow, ErrSignature},
		{"tampered signature", []byte(parts[0] + "." + parts[1] + "." + b64.EncodeToString(flipped)), keys, testNow, ErrSignature},
		{"truncated signature", []byte(parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig[:63])), keys, testNow, ErrSignature},
		{"DER signature", []byte(parts[0] + "." + parts[1] + "." + b64.EncodeToString(der)), keys, testNow, ErrSignature},
		{"zero signature", forge(hdr("ES256"), payload, make([]byte, 64)), keys, testNow, ErrSignature},
		{"ES384 header, P-256 key", ecSign(t, k, crypto.SHA384, 32, hdr("ES384"), payload), keys, testNow, ErrAlgorithm},
		{"ES256 header, P-384 key", ecSign(t, k384, crypto.SHA256, 48, `{"alg":"ES256"}`, payload), &JWKSet{Keys: []JWK{NewJWK(&k384.PublicKey)}}, testNow, ErrAlgorithm},
		{"alg none", []byte(b64.EncodeToString([]byte(hdr("none"))) + "." + parts[1] + "."), keys, testNow, ErrAlgorithm},
		{"alg HS256", forge(hdr("HS256"), payload, mac.Sum(nil)), keys, testNow, ErrAlgorithm},
		{"alg missing", forge(`{"kid":"`+kid+`"}`, payload, sig), keys, testNow, ErrAlgorithm},
		{"alg upper-case member", forge(`{"ALG":"ES256","kid":"`+kid+`"}`, payload, sig), keys, testNow, ErrAlgorithm},
		{"crit", ecSign(t, k, crypto.SHA256, 32, `{"alg":"ES256","crit":["b64"],"b64":false}`, payload), keys, testNow, ErrMalformed},
		{"typ", ecSign(t, k, crypto.SHA256, 32, `{"alg":"ES256","typ":"JOSE+JSON"}`, payload), keys, testNow, ErrMalformed},
		{"wrong kid", tok, otherKeys, testNow, ErrUnknownKey},
		{"unknown kid", ecSign(t, k, crypto.SHA256, 32, hdr("ES256")[:len(hdr("ES256"))-2]+`x"}`, payload), keys, testNow, ErrUnknownKey},
		{"no key set", tok, nil, testNow, ErrUnknownKey},
		{"right kid, wrong key", tok, &JWKSet{Keys: []JWK{{Kty: "EC", Crv: "P-256", X: otherKeys.Keys[0].X, Y: otherKeys.Keys[0].Y, Kid: kid}}}, testNow, ErrSignature},
		{"future iat", futureTok, keys, testNow, ErrNotYetValid},
		{"expired", tok, keys, testNow.Add(time.Hour), ErrExpired},
		{"two parts", []byte(parts[0] + "." + parts[1]), keys, testNow, ErrMalformed},
		{"four parts", append(append([]byte(nil), tok...), '.'), keys, testNow, ErrMalformed},
		{"padded part", []byte(parts[0] + "." + parts[1] + "." + parts[2] + "=="), keys, testNow, ErrMalformed},
		{"header not JSON", forge(`ES256`, payload, sig), keys, testNow, ErrMalformed},
		{"payload not EAR", ecSign(t, k, crypto.SHA256, 32, hdr("ES256"), []byte(`{"iat":1}`)), keys, testNow, ErrClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Verify(tc.token, tc.keys, tc.now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, %v; want %v", e, err, tc.want)
			}
		})
	}
	if _, err := Verify(noExpTok, keys, testNow.Add(100*365*24*time.Hour)); err != nil {
		t.Errorf("token without exp: %v", err)
	}
}

func asn1Sig(r, s *big.Int) ([]byte, error) {
	type sig struct{ R, S *big.Int }
	return asn1.Marshal(sig{r, s})
}

func TestSignRejectsKeys(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := testEAR().Sign(edKey); !errors.Is(err, ErrKey) {
		t.Errorf("Ed25519: %v, want ErrKey", err)
	}
	k521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if _, err := testEAR().Sign(k521); !errors.Is(err, ErrKey) {
		t.Errorf("P-521: %v, want ErrKey", err)
	}
	k, _ := newKey(t, elliptic.P256())
	bad := testEAR()
	bad.Submods = nil
	if _, err := bad.Sign(k); !errors.Is(err, ErrClaims) {
		t.Errorf("invalid EAR: %v, want ErrClaims", err)
	}
}

// rfc7517A1 is the EC public key of RFC 7517 Appendix A.1.
var rfc7517A1 = JWK{Kty: "EC", Crv: "P-256",
	X: "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", Y: "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM", Kid: "1"}

func TestJWK(t *testing.T) {
	// SHA-256 of {"crv":"P-256","kty":"EC","x":"MKBC…","y":"4Etl…"},
	// computed with openssl dgst -sha256 | base64url.
	const want = "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s"
	if got := rfc7517A1.Thumbprint(); got != want {
		t.Errorf("Thumbprint = %s, want %s", got, want)
	}
	pub, err := rfc7517A1.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	round := NewJWK(pub)
	if round.X != rfc7517A1.X || round.Y != rfc7517A1.Y || round.Kid != want || round.Alg != "ES256" || round.Use != "sig" {
		t.Errorf("NewJWK = %+v", round)
	}
	k, _ := newKey(t, elliptic.P384())
	j := NewJWK(&k.PublicKey)
	if len(j.Kid) != 43 || j.Crv != "P-384" || j.Alg != "ES384" {
		t.Errorf("P-384 JWK = %+v", j)
	}
	if back, err := j.PublicKey(); err != nil || !back.Equal(&k.PublicKey) {
		t.Errorf("P-384 round trip: %v", err)
	}
	offCurve := rfc7517A1
	yb, _ := b64.DecodeString(offCurve.Y)
	yb[31] ^= 1
	offCurve.Y = b64.EncodeToString(yb)
	short := rfc7517A1
	short.X = b64.EncodeToString(make([]byte, 31))
	for name, bad := range map[string]JWK{
		"off curve":  offCurve,
		"short x":    short,
		"kty RSA":    {Kty: "RSA", Crv: "P-256", X: rfc7517A1.X, Y: rfc7517A1.Y},
		"crv P-521":  {Kty: "EC", Crv: "P-521", X: rfc7517A1.X, Y: rfc7517A1.Y},
		"alg ES384":  {Kty: "EC", Crv: "P-256", X: rfc7517A1.X, Y: rfc7517A1.Y, Alg: "ES384"},
		"use enc":    {Kty: "EC", Crv: "P-256", X: rfc7517A1.X, Y: rfc7517A1.Y, Use: "enc"},
		"padded x":   {Kty: "EC", Crv: "P-256", X: rfc7517A1.X + "=", Y: rfc7517A1.Y},
		"x on P-384": {Kty: "EC", Crv: "P-384", X: rfc7517A1.X, Y: rfc7517A1.Y},
		"missing y":  {Kty: "EC", Crv: "P-256", X: rfc7517A1.X},
		"empty":      {},
	} {
		if _, err := bad.PublicKey(); !errors.Is(err, ErrKey) {
			t.Errorf("%s: error = %v, want ErrKey", name, err)
		}
	}
	set := &JWKSet{Keys: []JWK{rfc7517A1, j}}
	if got, err := set.Find("1"); err != nil || got.X != rfc7517A1.X {
		t.Errorf("Find(1) = %v, %v", got, err)
	}
	if _, err := set.Find(""); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Find(\"\") in a two-key set: %v", err)
	}
	if got, err := (&JWKSet{Keys: []JWK{j}}).Find(""); err != nil || got.Kid != j.Kid {
		t.Errorf("Find(\"\") in a one-key set: %v", err)
	}
	var parsed JWKSet
	if err := json.Unmarshal([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"`+rfc7517A1.X+`","y":"`+rfc7517A1.Y+`","use":"enc","kid":"1"}]}`), &parsed); err != nil || parsed.Keys[0].Use != "enc" {
		t.Errorf("JWKSet JSON: %+v, %v", parsed, err)
	}
}
