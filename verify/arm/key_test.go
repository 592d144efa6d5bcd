package arm

import (
	"strings"
	"testing"
)

// A CPAK reads as PEM or as Veraison's JWK form (ccatoken's and evcli's key
// files), and both forms of the same key are the same key.
func TestParsePublicKey(t *testing.T) {
	pemKey := readFile(t, "cca-tfm", "cca_platform_CPAK.pub.pem")
	jwkKey := readFile(t, "cca-veraison/go", "testRMMCPAK.pub.jwk.json")
	a, err := ParsePublicKey(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParsePublicKey(jwkKey)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(b) {
		t.Fatal("the PEM and JWK forms of the tf-m-tools CPAK differ")
	}
	// A private JWK, as evcli's --iak files are, gives its public part.
	priv := strings.Replace(string(jwkKey), `"kty"`, `"d": "AAAA", "kty"`, 1)
	if k, private, err := ParseJWK([]byte(priv)); err != nil || !private || !k.Equal(a) {
		t.Errorf("private JWK: %v, private %v", err, private)
	}
	for name, bad := range map[string]string{
		"RSA":          `{"kty":"RSA","n":"AQAB","e":"AQAB"}`,
		"secp256k1":    `{"kty":"EC","crv":"secp256k1","x":"AA","y":"AA"}`,
		"short x":      `{"kty":"EC","crv":"P-384","x":"AAAA","y":"AAAA"}`,
		"off curve":    strings.Replace(string(jwkKey), `"x": "I`, `"x": "J`, 1),
		"not JSON":     `{`,
		"PEM of junk":  "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
		"neither form": "hello",
	} {
		if _, err := ParsePublicKey([]byte(bad)); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
