package service_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
)

// oidcProvider is an OpenID Connect provider as Keycloak serves one to
// Veraison deployments: a discovery document and a JWKS, and access tokens
// with realm roles in realm_access.roles.
type oidcProvider struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	rsa    *rsa.PrivateKey
	kid    string
	ec     *ecdsa.PrivateKey
	served int // JWKS fetches
}

func newOIDCProvider(t *testing.T) *oidcProvider {
	p := &oidcProvider{t: t, kid: "rsa-1"}
	var err error
	if p.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if p.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /realms/veraison/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": p.issuer(), "jwks_uri": p.issuer() + "/protocol/openid-connect/certs"})
	})
	mux.HandleFunc("GET /realms/veraison/protocol/openid-connect/certs", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.served++
		b64 := base64.RawURLEncoding.EncodeToString
		pt, err := p.ec.PublicKey.Bytes() // 0x04 || x || y
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		ecx, ecy := pt[1:33], pt[33:]
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{
			{"kty": "RSA", "kid": p.kid, "use": "sig", "alg": "RS256", "n": b64(p.rsa.N.Bytes()), "e": b64(big.NewInt(int64(p.rsa.E)).Bytes())},
			{"kty": "EC", "kid": "ec-1", "use": "sig", "crv": "P-256", "x": b64(ecx), "y": b64(ecy)},
			{"kty": "RSA", "kid": "enc-1", "use": "enc", "n": b64(p.rsa.N.Bytes()), "e": "AQAB"},
		}})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *oidcProvider) issuer() string { return p.srv.URL + "/realms/veraison" }

// token signs claims with the RSA key (RS256) or, with alg ES256, the EC key.
func (p *oidcProvider) token(alg string, claims map[string]any) string {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	kid := p.kid
	if alg == "ES256" {
		kid = "ec-1"
	}
	h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "kid": kid})
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, p.rsa, crypto.SHA256, sum[:])
	case "ES256":
		r, s, e := ecdsa.Sign(rand.Reader, p.ec, sum[:])
		sig, err = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...), e
	case "none":
	}
	if err != nil {
		p.t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// rotate replaces the RSA key under a new kid.
func (p *oidcProvider) rotate() {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.rsa, p.kid = k, "rsa-2"
	p.mu.Unlock()
}

// Bearer tokens of an OIDC provider (Keycloak's access tokens, as Veraison
// deployments use) are accepted on the verification endpoints, and only
// when genuine, current, for this service and of the configured role;
// ratls's API tokens are still accepted.
func TestOIDCBearer(t *testing.T) {
	p := newOIDCProvider(t)
	f := newFixture(t, fixtureOptions{mutate: func(c *service.Config) {
		c.VerifyAuth = service.VerifyAuthAll
		c.OIDC = &service.OIDCConfig{Issuer: p.issuer(), Audience: "ratls-verifier", Role: "verifier"}
	}})
	now := f.clock()
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": p.issuer(), "aud": "account", "azp": "ratls-verifier", "exp": now.Add(5 * time.Minute).Unix(),
			"iat": now.Unix(), "realm_access": map[string]any{"roles": []string{"offline_access", "verifier"}}}
		if edit != nil {
			edit(c)
		}
		return c
	}
	good := p.token("RS256", claims(nil))
	for _, tc := range []struct {
		name, token string
		code        int
	}{
		{"RS256", good, 201},
		{"ES256", p.token("ES256", claims(nil)), 201},
		{"audience in aud", p.token("RS256", claims(func(c map[string]any) { c["aud"] = []string{"x", "ratls-verifier"}; delete(c, "azp") })), 201},
		{"roles claim", p.token("RS256", claims(func(c map[string]any) { delete(c, "realm_access"); c["roles"] = []string{"verifier"} })), 201},
		{"API token", f.admin, 201},
		{"no token", "", 401},
		{"expired", p.token("RS256", claims(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() })), 401},
		{"not yet valid", p.token("RS256", claims(func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() })), 401},
		{"no expiry", p.token("RS256", claims(func(c map[string]any) { delete(c, "exp") })), 401},
		{"other issuer", p.token("RS256", claims(func(c map[string]any) { c["iss"] = "https://evil.example/realms/veraison" })), 401},
		{"other audience", p.token("RS256", claims(func(c map[string]any) { c["azp"] = "other-client" })), 401},
		{"alg none", p.token("none", claims(nil)), 401},
		{"forged signature", good[:len(good)-4] + "AAAA", 401},
		{"garbage", "not.a.jwt", 401},
		{"without the role", p.token("RS256", claims(func(c map[string]any) { c["realm_access"] = map[string]any{"roles": []string{"provisioner"}} })), 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := f.do("POST", api.PathNewSession, tc.token, "", nil); r.code != tc.code {
				t.Errorf("want %d, got %d: %s", tc.code, r.code, r.body)
			}
		})
	}
	// The scheme name is case-insensitive (RFC 9110).
	req, _ := http.NewRequest("POST", f.http.URL+api.PathNewSession, nil)
	req.Header.Set("Authorization", "bearer "+good)
	if x := (&apiclient{t: t}).send(req); x.code != 201 {
		t.Errorf("lowercase bearer: %d %s", x.code, x.body)
	}
	// A key the provider rotated in is fetched once; the old one's tokens
	// stop working.
	fetched := p.served
	p.rotate()
	f.advance(time.Minute) // past the minimum time between fetches
	if r := f.do("POST", api.PathNewSession, p.token("RS256", claims(nil)), "", nil); r.code != 201 {
		t.Errorf("token of a rotated key: %d %s", r.code, r.body)
	}
	if r := f.do("POST", api.PathNewSession, p.token("RS256", claims(nil)), "", nil); r.code != 201 || p.served != fetched+1 {
		t.Errorf("second token of the new key: %d, JWKS fetched %d times since the rotation, want 1", r.code, p.served-fetched)
	}
	if r := f.do("POST", api.PathNewSession, good, "", nil); r.code != 401 {
		t.Errorf("token of the retired key: want 401, got %d", r.code)
	}
	// Management stays with ratls's API tokens.
	f.do("GET", api.PathPolicies, p.token("RS256", claims(nil)), "", nil).problem(t, 401, "unauthorized")
	if strings.Contains(string(f.do("POST", api.PathNewSession, "x.y.z", "", nil).body), p.srv.URL) {
		t.Error("an answer names the OIDC provider")
	}
}
