package service

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
)

// VerifyAuth says which verification endpoints need a bearer token: an API
// token of role read or higher, or, with Config.OIDC, an access token of
// the OpenID Connect provider.
type VerifyAuth string

const (
	// VerifyAuthNone: all verification endpoints are open (rate limited),
	// as Veraison's verification API is.
	VerifyAuthNone VerifyAuth = ""
	// VerifyAuthEvidence: posting evidence (to a session or /v1/attest)
	// and deleting a session need a token; starting and reading a session
	// do not. These are the requests Veraison's apiclient sends its
	// authenticator's Authorization with, so it works with one.
	VerifyAuthEvidence VerifyAuth = "evidence"
	// VerifyAuthAll: every verification endpoint needs a token. Veraison's
	// apiclient cannot use it (it authenticates neither newSession nor its
	// polling GET); ratls's client and CLI can.
	VerifyAuthAll VerifyAuth = "all"
)

// ParseVerifyAuth reads a mode: none, evidence or all ("false" and "true"
// are none and all, as the boolean --verify-auth of earlier versions).
func ParseVerifyAuth(s string) (VerifyAuth, error) {
	switch s {
	case "", "none", "false":
		return VerifyAuthNone, nil
	case "evidence":
		return VerifyAuthEvidence, nil
	case "all", "true":
		return VerifyAuthAll, nil
	}
	return "", fmt.Errorf("want none, evidence or all, got %q", s)
}

// covers reports whether the mode needs a token for a route of this role
// (roleSession or roleVerify).
func (m VerifyAuth) covers(role string) bool {
	switch m {
	case VerifyAuthAll:
		return true
	case VerifyAuthEvidence:
		return role == roleVerify
	}
	return false
}

// OIDCConfig accepts access tokens of an OpenID Connect provider as bearer
// tokens on the verification endpoints, as Veraison deployments accept
// Keycloak's. Tokens are JWTs signed with a key of the provider's JWKS
// (RS256/384/512, PS256/384/512, ES256/384/512), issued by Issuer, current,
// and, when set, for Audience and with Role.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL, e.g.
	// https://keycloak.example:11111/realms/veraison; its
	// /.well-known/openid-configuration names the JWKS.
	Issuer string
	// Audience, when set, must be in the token's aud claim or be its azp
	// (Keycloak names the client there).
	Audience string
	// Role, when set, must be one of the token's roles: Keycloak's realm
	// roles (realm_access.roles), a roles array, or a scope.
	Role string
	// HTTPClient fetches the discovery document and the JWKS; nil means a
	// client with a 10 s timeout.
	HTTPClient *http.Client
}

// Limits of OIDC token checking.
const (
	maxOIDCToken    = 16 << 10
	maxOIDCDocument = 1 << 20
	oidcLeeway      = 30 * time.Second // clock skew tolerated on exp and nbf
	// oidcRefresh is how often an unknown key ID may make the JWKS be
	// fetched again (a rotation), so that made-up key IDs cannot make the
	// service hammer the provider.
	oidcRefresh = 10 * time.Second
	oidcRetry   = 10 // Retry-After, in seconds, when the provider cannot be reached
)

// oidcVerifier checks access tokens against a provider's keys, fetched on
// first use and again when a token names a key it lacks.
type oidcVerifier struct {
	cfg OIDCConfig
	now func() time.Time

	mu      sync.Mutex
	keys    map[string]crypto.PublicKey // by kid; "" for a key without one
	fetched time.Time
}

func newOIDCVerifier(cfg OIDCConfig, now func() time.Time) (*oidcVerifier, error) {
	if !strings.HasPrefix(cfg.Issuer, "https://") && !strings.HasPrefix(cfg.Issuer, "http://") {
		return nil, fmt.Errorf("service: Config.OIDC.Issuer: want an http(s) URL, got %q", cfg.Issuer)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &oidcVerifier{cfg: cfg, now: now}, nil
}

// authenticateVerify admits a request to a verification endpoint: an API
// token, or an access token of the OIDC provider.
func (s *Server) authenticateVerify(r *http.Request) error {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if s.oidc == nil || !strings.EqualFold(scheme, "Bearer") || strings.HasPrefix(token, tokenPrefix) {
		_, err := s.authenticate(r, store.RoleRead)
		return err
	}
	return s.oidc.verify(r.Context(), token, s.logger.WarnContext)
}

// oidcClaims are the claims checked.
type oidcClaims struct {
	Issuer      string          `json:"iss"`
	Expiry      *json.Number    `json:"exp"`
	NotBefore   *json.Number    `json:"nbf"`
	Audience    json.RawMessage `json:"aud"`
	AZP         string          `json:"azp"`
	Scope       string          `json:"scope"`
	Roles       []string        `json:"roles"`
	RealmAccess struct {
		Roles []string `json:"roles"`
	} `json:"realm_access"`
}

func invalidToken(format string, args ...any) error {
	return problem(http.StatusUnauthorized, probUnauthorized, "Invalid token", format, args...)
}

// jwsAlgs are the signature algorithms accepted, by JOSE name.
var jwsAlgs = map[string]struct {
	hash crypto.Hash
	kind string // "rsa", "pss" or "ec"
	size int    // EC: coordinate size
}{
	"RS256": {crypto.SHA256, "rsa", 0}, "RS384": {crypto.SHA384, "rsa", 0}, "RS512": {crypto.SHA512, "rsa", 0},
	"PS256": {crypto.SHA256, "pss", 0}, "PS384": {crypto.SHA384, "pss", 0}, "PS512": {crypto.SHA512, "pss", 0},
	"ES256": {crypto.SHA256, "ec", 32}, "ES384": {crypto.SHA384, "ec", 48}, "ES512": {crypto.SHA512, "ec", 66},
}

// verify checks a token; warn logs what the answer does not say.
func (o *oidcVerifier) verify(ctx context.Context, token string, warn func(context.Context, string, ...any)) error {
	if len(token) > maxOIDCToken {
		return invalidToken("the token exceeds %d bytes", maxOIDCToken)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return invalidToken("want an API token (ratls_...) or a JWT access token")
	}
	var hdr struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return invalidToken("JWT header: %v", err)
	}
	alg, ok := jwsAlgs[hdr.Alg]
	if !ok {
		return invalidToken("JWT alg: want one of RS256, PS256, ES256 and their 384 and 512 variants, got %.20q", hdr.Alg)
	}
	if hdr.Crit != nil {
		return invalidToken("JWT header: critical extensions are not supported")
	}
	key, err := o.key(ctx, hdr.Kid, warn)
	if err != nil {
		return err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return invalidToken("JWT signature: want base64url")
	}
	h := alg.hash.New()
	h.Write([]byte(parts[0] + "." + parts[1]))
	if !verifySignature(key, alg.kind, alg.size, alg.hash, h.Sum(nil), sig) {
		return invalidToken("the token's signature does not verify with the provider's key %.40q", hdr.Kid)
	}
	var c oidcClaims
	if err := decodeSegment(parts[1], &c); err != nil {
		return invalidToken("JWT claims: %v", err)
	}
	return o.checkClaims(&c)
}

func (o *oidcVerifier) checkClaims(c *oidcClaims) error {
	now := o.now()
	if c.Issuer != o.cfg.Issuer {
		return invalidToken("iss: the token was issued by another provider")
	}
	exp, err := numericDate(c.Expiry)
	if err != nil || c.Expiry == nil {
		return invalidToken("exp: want the expiry as a number")
	}
	if !now.Before(exp.Add(oidcLeeway)) {
		return invalidToken("exp: the token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if c.NotBefore != nil {
		nbf, err := numericDate(c.NotBefore)
		if err != nil {
			return invalidToken("nbf: want a number")
		}
		if now.Add(oidcLeeway).Before(nbf) {
			return invalidToken("nbf: the token is valid from %s", nbf.UTC().Format(time.RFC3339))
		}
	}
	if a := o.cfg.Audience; a != "" && c.AZP != a && !slices.Contains(audiences(c.Audience), a) {
		return invalidToken("aud, azp: the token is not for %q", a)
	}
	if role := o.cfg.Role; role != "" && !slices.Contains(c.RealmAccess.Roles, role) && !slices.Contains(c.Roles, role) &&
		!slices.Contains(strings.Fields(c.Scope), role) {
		return problem(http.StatusForbidden, probForbidden, "Insufficient role", "the token does not have the role %q", role)
	}
	return nil
}

// audiences reads aud, a string or an array of strings.
func audiences(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	json.Unmarshal(raw, &many)
	return many
}

func numericDate(n *json.Number) (time.Time, error) {
	if n == nil {
		return time.Time{}, nil
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(int64(f), 0), nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return errors.New("want base64url")
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errors.New("want a JSON object")
	}
	return nil
}

func verifySignature(key crypto.PublicKey, kind string, size int, h crypto.Hash, digest, sig []byte) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		switch kind {
		case "rsa":
			return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
		case "pss":
			return rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
	case *ecdsa.PublicKey:
		if kind != "ec" || (k.Curve.Params().BitSize+7)/8 != size || len(sig) != 2*size {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, digest, r, s)
	}
	return false
}

// key returns the provider's key with this ID, fetching the JWKS when it
// has none yet or, at most every oidcRefresh, when the ID is unknown.
func (o *oidcVerifier) key(ctx context.Context, kid string, warn func(context.Context, string, ...any)) (crypto.PublicKey, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if k, ok := o.keys[kid]; ok {
		return k, nil
	}
	if o.keys != nil && o.now().Sub(o.fetched) < oidcRefresh {
		return nil, invalidToken("the token's key %.40q is not one of the provider's", kid)
	}
	keys, err := o.fetchKeys(ctx)
	if err != nil {
		warn(ctx, "OIDC provider keys unavailable", "issuer", o.cfg.Issuer, "err", err)
		p := problem(http.StatusServiceUnavailable, probUnavailable, "Token check unavailable",
			"the OIDC provider's keys cannot be fetched now; retry after %d s", oidcRetry)
		p.RetryAfter = oidcRetry
		return nil, p
	}
	o.keys, o.fetched = keys, o.now()
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, invalidToken("the token's key %.40q is not one of the provider's", kid)
}

// fetchKeys reads the JWKS the provider's discovery document names.
func (o *oidcVerifier) fetchKeys(ctx context.Context) (map[string]crypto.PublicKey, error) {
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := o.getJSON(ctx, strings.TrimSuffix(o.cfg.Issuer, "/")+"/.well-known/openid-configuration", &meta); err != nil {
		return nil, err
	}
	if meta.Issuer != o.cfg.Issuer || meta.JWKSURI == "" {
		return nil, fmt.Errorf("discovery: issuer %q, jwks_uri %q: want issuer %q and a jwks_uri", meta.Issuer, meta.JWKSURI, o.cfg.Issuer)
	}
	var set struct {
		Keys []struct {
			Kty, Kid, Use, Crv, N, E, X, Y string
		} `json:"keys"`
	}
	if err := o.getJSON(ctx, meta.JWKSURI, &set); err != nil {
		return nil, err
	}
	keys := map[string]crypto.PublicKey{}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch pub, err := parseJWK(k.Kty, k.Crv, k.N, k.E, k.X, k.Y); {
		case err != nil:
			return nil, fmt.Errorf("JWKS key %q: %w", k.Kid, err)
		case pub != nil:
			keys[k.Kid] = pub
		}
	}
	return keys, nil
}

// parseJWK reads an RSA (2048 bits or more) or EC (P-256, P-384, P-521)
// public key; nil for another key type.
func parseJWK(kty, crv, n, e, x, y string) (crypto.PublicKey, error) {
	b64 := base64.RawURLEncoding.DecodeString
	switch kty {
	case "RSA":
		nb, err1 := b64(n)
		eb, err2 := b64(e)
		if err1 != nil || err2 != nil || len(eb) == 0 || len(eb) > 4 {
			return nil, errors.New("RSA n or e: want base64url")
		}
		k := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits: want 2048 or more", k.N.BitLen())
		}
		return k, nil
	case "EC":
		curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
		c, ok := curves[crv]
		if !ok {
			return nil, fmt.Errorf("EC curve %q: want P-256, P-384 or P-521", crv)
		}
		size := (c.Params().BitSize + 7) / 8
		xb, err1 := b64(x)
		yb, err2 := b64(y)
		if err1 != nil || err2 != nil || len(xb) != size || len(yb) != size {
			return nil, fmt.Errorf("EC x or y: want %d bytes of base64url", size)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(c, slices.Concat([]byte{4}, xb, yb))
		if err != nil {
			return nil, err
		}
		return pub, nil
	}
	return nil, nil
}

func (o *oidcVerifier) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", api.JSONMedia)
	resp, err := o.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxOIDCDocument+1))
	if err != nil {
		return err
	}
	if len(b) > maxOIDCDocument {
		return fmt.Errorf("GET %s: more than %d bytes", url, maxOIDCDocument)
	}
	return json.Unmarshal(b, v)
}
