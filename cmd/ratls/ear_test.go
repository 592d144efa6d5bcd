package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/ear"
)

func signedEAR(t *testing.T) (token []byte, jwks []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a := appraise.NewAppraisal("test-policy")
	a.ReferenceValuesChecked = true
	e := &ear.EAR{
		Profile: ear.ProfileVeraison, IssuedAt: time.Now().Unix(),
		VerifierID: ear.VerifierID{Build: "ratls test", Developer: "ratls"},
		Submods:    map[string]*ear.Appraisal{"tdx": a.Submodule(map[string]any{"mrtd": "00"})},
	}
	if token, err = e.Sign(key); err != nil {
		t.Fatal(err)
	}
	if jwks, err = json.Marshal(ear.JWKSet{Keys: []ear.JWK{ear.NewJWK(&key.PublicKey)}}); err != nil {
		t.Fatal(err)
	}
	return token, jwks
}

func TestEARVerify(t *testing.T) {
	token, jwks := signedEAR(t)
	dir := t.TempDir()
	tokFile, keyFile := filepath.Join(dir, "ear.jwt"), filepath.Join(dir, "jwks.json")
	os.WriteFile(tokFile, token, 0o600)
	os.WriteFile(keyFile, jwks, 0o600)

	code, out, stderr := runCLI(t, "ear", "verify", "--jwks", keyFile, tokFile)
	if code != 0 || !strings.Contains(out, "Submodule tdx") || !strings.Contains(out, "affirming") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	// The token given directly, the key set over HTTP, JSON output.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(jwks) }))
	defer srv.Close()
	code, out, _ = runCLI(t, "ear", "verify", "--json", "--jwks", srv.URL, string(token))
	if code != 0 || !strings.Contains(out, `"ear.status": "affirming"`) {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// A tampered token: exit 1.
	bad := []byte(string(token[:len(token)-4]) + "AAAA")
	os.WriteFile(tokFile, bad, 0o600)
	if code, _, stderr := runCLI(t, "ear", "verify", "--jwks", keyFile, tokFile); code != 1 {
		t.Errorf("tampered token: exit %d, %s", code, stderr)
	}
	// Another key: exit 1. Unusable key set: exit 2.
	_, otherKeys := signedEAR(t)
	os.WriteFile(keyFile, otherKeys, 0o600)
	os.WriteFile(tokFile, token, 0o600)
	if code, _, _ := runCLI(t, "ear", "verify", "--jwks", keyFile, tokFile); code != 1 {
		t.Errorf("wrong key: exit %d", code)
	}
	os.WriteFile(keyFile, []byte("{}"), 0o600)
	if code, _, _ := runCLI(t, "ear", "verify", "--jwks", keyFile, tokFile); code != 2 {
		t.Errorf("empty key set: exit %d", code)
	}
}
