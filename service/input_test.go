package service_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/ratls/ratls/service/api"
)

// A policy or reference value set that is not valid UTF-8 is refused: it
// would be served back as invalid JSON.
func TestDocumentInvalidUTF8(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for _, path := range []string{api.PathPolicies, api.PathReferences} {
		for _, body := range [][]byte{
			[]byte("{\"sgx\":{\"mrenclave\":[\"\xff\xfe\"]}}"),
			[]byte("{\"tdx\":{}, \"\xc3\x28\":1}"),
			[]byte("{}\xed\xa0\x80"), // an encoded surrogate
		} {
			p := f.do("POST", path+"/utf8", f.admin, "application/json", body).problem(t, http.StatusUnprocessableEntity, "invalid-policy")
			if p.Detail == "" {
				t.Errorf("%s: %q refused without a detail", path, body)
			}
		}
		f.do("GET", path+"/utf8", f.admin, "", nil).problem(t, http.StatusNotFound, "not-found")
	}
	// Valid UTF-8 beyond ASCII is stored and served back as valid JSON.
	r := f.do("POST", api.PathPolicies+"/utf8", f.admin, "application/json", []byte(`{"sgx":{"mrenclave":[]}}`))
	if r.code != http.StatusCreated {
		t.Fatalf("valid policy: %d %s", r.code, r.body)
	}
	r = f.do("GET", api.PathPolicies+"/utf8", f.admin, "", nil)
	if !json.Valid(r.body) {
		t.Errorf("GET of a stored policy: invalid JSON: %q", r.body)
	}
}

// The scheme of the Authorization header is case-insensitive (RFC 9110
// section 11.1), and may be followed by more than one space.
func TestBearerSchemeCaseInsensitive(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for _, scheme := range []string{"Bearer ", "bearer ", "BEARER ", "bEaReR ", "Bearer   "} {
		req, _ := http.NewRequest("GET", f.http.URL+api.PathTokens, nil)
		req.Header.Set("Authorization", scheme+f.admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("Authorization: %q + token: want 200, got %d", scheme, resp.StatusCode)
		}
	}
	for _, h := range []string{"Basic " + f.admin, "Bearer", "Bearer" + f.admin, f.admin} {
		req, _ := http.NewRequest("GET", f.http.URL+api.PathTokens, nil)
		req.Header.Set("Authorization", h)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization: %.12q…: want 401, got %d", h, resp.StatusCode)
		}
	}
}
