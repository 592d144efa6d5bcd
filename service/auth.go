package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
)

// API tokens look like "ratls_<16 hex digits of ID>_<43 base64url characters
// of secret>". The ID finds the stored token; only SHA-256 of the secret is
// stored, and it is compared in constant time.
const (
	tokenPrefix    = "ratls_"
	tokenIDLen     = 16
	tokenSecretLen = 32
	maxTokenName   = 64
)

var roleRank = map[string]int{store.RoleRead: 1, store.RoleWrite: 2, store.RoleAdmin: 3}

// CreateToken creates an API token with a role (read, write or admin),
// records it in the audit log as done by actor, and returns it with its
// secret, which is shown only this once.
func CreateToken(ctx context.Context, st store.Store, name, role, actor string, now time.Time) (*api.Token, error) {
	if roleRank[role] == 0 {
		return nil, problem(http.StatusBadRequest, probBadRequest, "Invalid token", "role: want read, write or admin, got %q", clip(role))
	}
	if err := checkName("token name", name, maxTokenName); err != nil {
		return nil, err
	}
	var id [tokenIDLen / 2]byte
	secret := make([]byte, tokenSecretLen)
	rand.Read(id[:])
	rand.Read(secret)
	sum := sha256.Sum256(secret)
	t := &store.Token{ID: hex.EncodeToString(id[:]), Name: name, Role: role, Hash: sum[:], Created: now.UTC().Truncate(time.Microsecond)}
	if err := st.CreateToken(ctx, t); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, problem(http.StatusConflict, probConflict, "Token exists", "a token named %q exists", name)
		}
		return nil, err
	}
	if err := st.AddAudit(ctx, &store.Audit{Time: now.UTC(), Actor: actor, Action: "token.create", Target: "token/" + t.ID,
		Detail: fmt.Sprintf("name %q, role %s", name, role)}); err != nil {
		return nil, err
	}
	return &api.Token{ID: t.ID, Name: name, Role: role, Created: t.Created,
		Secret: tokenPrefix + t.ID + "_" + base64.RawURLEncoding.EncodeToString(secret)}, nil
}

// dummyHash is compared against when a token ID is unknown, so that the
// time taken does not depend on whether the ID exists.
var dummyHash = sha256.Sum256([]byte("ratls: no such token"))

// authenticate returns the token presented in the Authorization header if
// it exists, its secret matches and its role is at least role.
func (s *Server) authenticate(r *http.Request, role string) (*store.Token, error) {
	// The scheme is case-insensitive (RFC 9110, section 11.1).
	scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, problem(http.StatusUnauthorized, probUnauthorized, "Authentication required",
			"this endpoint needs an API token with role %s or higher: Authorization: Bearer ratls_...", role)
	}
	id, secret, err := parseToken(strings.TrimSpace(raw))
	if err != nil {
		return nil, problem(http.StatusUnauthorized, probUnauthorized, "Invalid token", "%v", err)
	}
	sum := sha256.Sum256(secret)
	t, err := s.st.Token(r.Context(), id)
	want := dummyHash[:]
	switch {
	case err == nil:
		want = t.Hash
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	if subtle.ConstantTimeCompare(sum[:], want) != 1 || t == nil {
		return nil, problem(http.StatusUnauthorized, probUnauthorized, "Invalid token", "the token is unknown, revoked or wrong")
	}
	if roleRank[t.Role] < roleRank[role] {
		return nil, problem(http.StatusForbidden, probForbidden, "Insufficient role",
			"token %q has role %s; this needs %s", t.Name, t.Role, role)
	}
	return t, nil
}

func parseToken(s string) (id string, secret []byte, err error) {
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok || len(rest) < tokenIDLen+1 || rest[tokenIDLen] != '_' {
		return "", nil, errors.New("want ratls_<id>_<secret>")
	}
	id = rest[:tokenIDLen]
	if _, err := hex.DecodeString(id); err != nil {
		return "", nil, errors.New("token ID: want 16 hex digits")
	}
	secret, err = base64.RawURLEncoding.DecodeString(rest[tokenIDLen+1:])
	if err != nil || len(secret) != tokenSecretLen {
		return "", nil, fmt.Errorf("token secret: want %d base64url bytes", tokenSecretLen)
	}
	return id, secret, nil
}

// checkName accepts names of letters, digits, '-', '_' and '.', so they are
// safe in paths, logs and policy IDs.
func checkName(what, name string, maxLen int) error {
	if name == "" || len(name) > maxLen {
		return problem(http.StatusBadRequest, probBadRequest, "Invalid name", "%s: want 1 to %d characters, got %d", what, maxLen, len(name))
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return problem(http.StatusBadRequest, probBadRequest, "Invalid name", "%s %q: only letters, digits, '-', '_' and '.' are allowed", what, name)
		}
	}
	return nil
}
