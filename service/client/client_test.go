package client_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/client"
	"github.com/ratls/ratls/service/store"
	"github.com/ratls/ratls/service/store/storetest"
)

// The simulation is shared: creating one costs key generation. Its time is
// now, so that EARs verify at the current time as VerifyEAR does.
var (
	simOnce sync.Once
	simInst *sim.Sim
	simErr  error
)

func testSim(t testing.TB) *sim.Sim {
	t.Helper()
	simOnce.Do(func() { simInst, simErr = sim.New(sim.InitOptions{Validity: 60 * 24 * time.Hour}) })
	if simErr != nil {
		t.Fatal(simErr)
	}
	return simInst
}

// fixture is a service with a simulated SGX platform whose root it trusts,
// on a real clock, and clients of it.
type fixture struct {
	srv    *service.Server
	http   *httptest.Server
	st     store.Store
	sgx    *sim.Attester
	anon   *client.Client // no token
	admin  *client.Client
	keyGet atomic.Int64 // GET /v1/keys requests
}

func newFixture(t *testing.T, mutate func(*service.Config)) *fixture {
	t.Helper()
	s := testSim(t)
	f := &fixture{st: storetest.Open(t, storetest.SQLite(t))}
	var err error
	if f.sgx, err = s.Attester("sgx", sim.Measurements{}); err != nil {
		t.Fatal(err)
	}
	f.srv = newServer(t, f.st, mutate)
	h := f.srv.Handler()
	f.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == api.PathKeys {
			f.keyGet.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.http.Close)
	tok, err := service.CreateToken(context.Background(), f.st, "admin", store.RoleAdmin, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.anon = &client.Client{BaseURL: f.http.URL, HTTPClient: f.http.Client()}
	f.admin = &client.Client{BaseURL: f.http.URL + "/", HTTPClient: f.http.Client(), Token: tok.Secret}
	return f
}

// newServer returns a service replica on st with a key of its own.
func newServer(t *testing.T, st store.Store, mutate func(*service.Config)) *service.Server {
	t.Helper()
	s := testSim(t)
	cfg, err := service.Throwaway(service.Config{Store: st, Verify: s.VerifyOptions(nil), Rate: -1})
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := service.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// quote returns a simulated quote whose report data is rd zero-padded.
func quote(t testing.TB, a *sim.Attester, rd []byte) []byte {
	t.Helper()
	var data [64]byte
	copy(data[:], rd)
	ev, err := a.Attest(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	return ev.Data
}

// wantProblem checks that err wraps a problem of this status and type.
func wantProblem(t *testing.T, err error, status int, typ string) *api.Problem {
	t.Helper()
	var p *api.Problem
	if !errors.As(err, &p) {
		t.Fatalf("want an *api.Problem (%d %s), got %T: %v", status, typ, err, err)
	}
	if p.Status != status || p.Type != api.ProblemTypeBase+typ || p.Title == "" {
		t.Fatalf("problem: want %d %s, got %+v", status, typ, p)
	}
	return p
}

func TestDiscoveryAndKeys(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	d, err := f.anon.Discovery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.ServiceState != "READY" || len(d.MediaTypes) != len(api.EvidenceMedia) || d.APIEndpoints["attest"] != api.PathAttest {
		t.Errorf("discovery: %+v", d)
	}
	set, err := f.anon.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 || set.Keys[0].Kid != f.srv.KeyID() {
		t.Fatalf("keys: want one with kid %s, got %+v", f.srv.KeyID(), set)
	}
}

func TestChallengeResponse(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	s, err := f.anon.NewSession(ctx, 16)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Nonce) != 16 || s.Status != store.SessionWaiting || s.ID == "" || s.URL != f.http.URL+api.PathSession+s.ID {
		t.Fatalf("new session: %+v", s)
	}
	if _, err := f.anon.NewSession(ctx, 7); err == nil {
		t.Fatal("nonce size 7: want an error")
	} else {
		wantProblem(t, err, 400, "bad-request")
	}
	q := quote(t, f.sgx, s.Nonce)
	done, err := f.anon.Submit(ctx, s.ID, api.MediaDCAPQuote, q)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != store.SessionComplete || done.Result == nil || done.Evidence == nil || !bytes.Equal(done.Evidence.Value, q) {
		t.Fatalf("submitted session: %+v", done)
	}
	e, err := f.anon.VerifyEAR(ctx, *done.Result)
	if err != nil {
		t.Fatal(err)
	}
	if sub := e.Submods["sgx"]; sub == nil || sub.Status != ear.StatusWarning || e.Nonce != base64.URLEncoding.EncodeToString(s.Nonce) {
		t.Fatalf("EAR: want sgx warning with the session nonce, got %+v", e)
	}
	got, err := f.anon.Session(ctx, s.ID)
	if err != nil || got.Status != store.SessionComplete || got.Result == nil || *got.Result != *done.Result {
		t.Fatalf("Session: %+v, %v", got, err)
	}
	// The same evidence again: the session again; other evidence: refused.
	again, err := f.anon.Submit(ctx, s.ID, api.MediaDCAPQuote, q)
	if err != nil || again.Result == nil || *again.Result != *done.Result {
		t.Fatalf("resubmission: %+v, %v", again, err)
	}
	_, err = f.anon.Submit(ctx, s.ID, api.MediaDCAPQuote, quote(t, f.sgx, append(bytes.Clone(s.Nonce), 1)))
	wantProblem(t, err, 409, "nonce-redeemed")
	if err := f.anon.DeleteSession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.anon.Session(ctx, s.ID)
	wantProblem(t, err, 404, "not-found")
	if err := f.anon.DeleteSession(ctx, s.ID); err != nil {
		t.Errorf("DELETE of a deleted session: want no error, as Veraison answers 204, got %v", err)
	}

	// A nonce of the caller's choosing; evidence that is not what its
	// media type says completes the session with a contraindicated EAR.
	nonce := []byte("0123456789abcdef")
	s, err = f.anon.NewSessionWithNonce(ctx, nonce)
	if err != nil || !bytes.Equal(s.Nonce, nonce) {
		t.Fatalf("NewSessionWithNonce: %+v, %v", s, err)
	}
	done, err = f.anon.Submit(ctx, s.ID, api.MediaSNPReport, q)
	if err != nil || done.Status != store.SessionComplete || done.Result == nil {
		t.Fatalf("mismatched evidence: want a complete session, got %+v, %v", done, err)
	}
	if e, err := f.anon.VerifyEAR(ctx, *done.Result); err != nil || e.Submods["SEVSNP"] == nil || e.Submods["SEVSNP"].Status != ear.StatusContraindicated {
		t.Fatalf("mismatched evidence: want a contraindicated SEVSNP result, got %+v, %v", e, err)
	}
	_, err = f.anon.NewSessionWithNonce(ctx, []byte("short"))
	wantProblem(t, err, 400, "bad-request")

	// Refused before sending.
	for name, err := range map[string]error{
		"empty nonce":      func() error { _, err := f.anon.NewSessionWithNonce(ctx, nil); return err }(),
		"empty ID":         func() error { _, err := f.anon.Submit(ctx, "", api.MediaDCAPQuote, q); return err }(),
		"empty media type": func() error { _, err := f.anon.Submit(ctx, s.ID, "", q); return err }(),
		"get empty ID":     func() error { _, err := f.anon.Session(ctx, ""); return err }(),
		"delete empty ID":  f.anon.DeleteSession(ctx, ""),
	} {
		var p *api.Problem
		if err == nil || errors.As(err, &p) {
			t.Errorf("%s: want a client-side error, got %v", name, err)
		}
	}
}

func TestAttest(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	nonce := []byte("a nonce of mine")
	q := quote(t, f.sgx, nonce)
	res, err := f.anon.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q, Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "warning" || res.TEE != "sgx" || res.PolicyID != "ratls-default" || res.Reasons == nil {
		t.Fatalf("attest: %+v", res)
	}
	e, err := f.anon.VerifyEAR(ctx, res.EAR)
	if err != nil || e.Nonce != base64.URLEncoding.EncodeToString(nonce) {
		t.Fatalf("EAR: %+v, %v", e, err)
	}

	// A policy rejection carries the signed result and the reasons.
	_, err = f.anon.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q, Nonce: []byte("another nonce")})
	p := wantProblem(t, err, 422, "policy-rejection")
	if p.EAR == "" || p.Check != "nonce" || p.Expected != hex.EncodeToString([]byte("another nonce")) || len(p.Reasons) == 0 {
		t.Fatalf("rejection: %+v", p)
	}
	if !strings.Contains(err.Error(), "POST "+api.PathAttest) || !strings.Contains(err.Error(), p.Title) {
		t.Errorf("error text: %q", err)
	}
	e, err = f.anon.VerifyEAR(ctx, p.EAR)
	if err != nil || e.Submods["sgx"].Status != ear.StatusContraindicated {
		t.Fatalf("rejection EAR: %+v, %v", e, err)
	}

	_, err = f.anon.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q[:100]})
	wantProblem(t, err, 400, "malformed-evidence")
	_, err = f.anon.Attest(ctx, &api.AttestRequest{MediaType: "application/x-nothing", Evidence: q})
	wantProblem(t, err, 415, "unsupported-media-type")
	_, err = f.anon.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q, Policy: "nosuch"})
	wantProblem(t, err, 400, "bad-request")
	_, err = f.anon.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: make([]byte, service.DefaultMaxBody+1)})
	wantProblem(t, err, 413, "request-too-large")
	for _, req := range []*api.AttestRequest{nil, {Evidence: q}, {MediaType: "application/json", Evidence: q}, {MediaType: "a/b; x", Evidence: q}} {
		var p *api.Problem
		if _, err := f.anon.Attest(ctx, req); err == nil || errors.As(err, &p) {
			t.Errorf("attest %+v: want a client-side error, got %v", req, err)
		}
	}
}

func TestVerifyAuth(t *testing.T) {
	f := newFixture(t, func(c *service.Config) { c.VerifyAuth = service.VerifyAuthAll })
	ctx := context.Background()
	q := quote(t, f.sgx, nil)
	_, err := f.anon.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q})
	wantProblem(t, err, 401, "unauthorized")
	_, err = f.anon.NewSession(ctx, 0)
	wantProblem(t, err, 401, "unauthorized")
	if _, err := f.admin.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q}); err != nil {
		t.Fatalf("with a token: %v", err)
	}
	bad := &client.Client{BaseURL: f.http.URL, Token: "ratls_0123456789abcdef_AAAA"}
	_, err = bad.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q})
	wantProblem(t, err, 401, "unauthorized")
}

func TestVerifyEARKeys(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	q := quote(t, f.sgx, nil)
	res, err := f.anon.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := f.anon.VerifyEAR(ctx, res.EAR); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.keyGet.Load(); n != 1 {
		t.Errorf("key set fetches for 3 verifications: want 1 (cached), got %d", n)
	}

	// A replica that started since signs with a key the cached set lacks:
	// the set is fetched again, once.
	replica := newServer(t, f.st, nil)
	rs := httptest.NewServer(replica.Handler())
	defer rs.Close()
	other := &client.Client{BaseURL: rs.URL}
	res2, err := other.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q})
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.anon.VerifyEAR(ctx, res2.EAR)
	if err != nil || e.Submods["sgx"] == nil {
		t.Fatalf("replica's EAR: %+v, %v", e, err)
	}
	if n := f.keyGet.Load(); n != 2 {
		t.Errorf("key set fetches: want 2 after a new key, got %d", n)
	}

	// A key no replica has: refused after one more fetch.
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tok, err := (&ear.EAR{IssuedAt: time.Now().Unix(), VerifierID: ear.VerifierID{Build: "x", Developer: "y"},
		Submods: map[string]*ear.Appraisal{"sgx": {Status: ear.StatusAffirming}}}).Sign(stranger)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.anon.VerifyEAR(ctx, string(tok)); !errors.Is(err, ear.ErrUnknownKey) {
		t.Errorf("stranger's EAR: want ear.ErrUnknownKey, got %v", err)
	}
	if n := f.keyGet.Load(); n != 3 {
		t.Errorf("key set fetches: want 3, got %d", n)
	}
	// A tampered token fails its signature; garbage is malformed.
	parts := strings.Split(res.EAR, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"eat_profile":"x"}`))
	if _, err := f.anon.VerifyEAR(ctx, strings.Join(parts, ".")); !errors.Is(err, ear.ErrSignature) {
		t.Errorf("tampered EAR: want ear.ErrSignature, got %v", err)
	}
	if _, err := f.anon.VerifyEAR(ctx, "not a token"); !errors.Is(err, ear.ErrMalformed) {
		t.Errorf("garbage: want ear.ErrMalformed, got %v", err)
	}
}

func TestManagement(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	m := f.sgx.Measurements()

	// Authentication and roles.
	_, err := f.anon.PutPolicy(ctx, "strict", []byte(`{}`))
	wantProblem(t, err, 401, "unauthorized")
	reader, err := f.admin.CreateToken(ctx, "reader", store.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	if reader.Role != store.RoleRead || !strings.HasPrefix(reader.Secret, "ratls_"+reader.ID+"_") {
		t.Fatalf("token: %+v", reader)
	}
	rc := &client.Client{BaseURL: f.http.URL, Token: reader.Secret}
	_, err = rc.PutPolicy(ctx, "strict", []byte(`{}`))
	wantProblem(t, err, 403, "forbidden")
	_, err = f.admin.CreateToken(ctx, "reader", store.RoleRead)
	wantProblem(t, err, 409, "conflict")
	_, err = f.admin.CreateToken(ctx, "x", "root")
	wantProblem(t, err, 400, "bad-request")
	_, err = rc.Tokens(ctx)
	wantProblem(t, err, 403, "forbidden")

	// Policies: two versions, the second matching the simulated enclave.
	_, err = f.admin.PutPolicy(ctx, "strict", []byte(`{"nonsense":1}`))
	wantProblem(t, err, 422, "invalid-policy")
	_, err = f.admin.PutPolicy(ctx, "bad/name", []byte(`{}`))
	if err == nil {
		t.Error("policy name with a slash: want an error")
	}
	for i, mr := range []string{strings.Repeat("00", 32), hex.EncodeToString(m.SGX.MREnclave[:])} {
		d, err := f.admin.PutPolicy(ctx, "strict", fmt.Appendf(nil, `{"sgx":{"mrenclave":[%q]}}`, mr))
		if err != nil || d.Version != i+1 || d.Name != "strict" || d.Author != "admin" {
			t.Fatalf("put version %d: %+v, %v", i+1, d, err)
		}
	}
	d, err := rc.Policy(ctx, "strict", 0)
	if err != nil || d.Version != 2 || !strings.Contains(string(d.Body), hex.EncodeToString(m.SGX.MREnclave[:])) {
		t.Fatalf("latest: %+v, %v", d, err)
	}
	d, err = rc.Policy(ctx, "strict", 1)
	if err != nil || d.Version != 1 || !strings.Contains(string(d.Body), strings.Repeat("00", 32)) {
		t.Fatalf("version 1: %+v, %v", d, err)
	}
	_, err = rc.Policy(ctx, "strict", 9)
	wantProblem(t, err, 404, "not-found")
	_, err = rc.Policy(ctx, "nosuch", 0)
	wantProblem(t, err, 404, "not-found")
	if _, err := rc.Policy(ctx, "strict", -1); err == nil {
		t.Error("version -1: want an error")
	}
	if _, err := rc.Policy(ctx, "", 0); err == nil {
		t.Error("empty name: want an error")
	}
	list, err := rc.Policies(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "strict" || list[0].Version != 2 || list[0].Body != nil {
		t.Fatalf("policies: %+v, %v", list, err)
	}
	list, err = rc.PolicyVersions(ctx, "strict")
	if err != nil || len(list) != 2 || list[0].Version != 1 {
		t.Fatalf("versions: %+v, %v", list, err)
	}
	_, err = rc.PolicyVersions(ctx, "nosuch")
	wantProblem(t, err, 404, "not-found")

	q := quote(t, f.sgx, nil)
	res, err := f.anon.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q, Policy: "strict"})
	if err != nil || res.PolicyID != "strict@2" {
		t.Fatalf("attest with strict: %+v, %v", res, err)
	}
	_, err = f.anon.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q, Policy: "strict@1"})
	if p := wantProblem(t, err, 422, "policy-rejection"); p.Check != "sgx.mrenclave" {
		t.Errorf("strict@1 rejection: want check sgx.mrenclave, got %+v", p)
	}

	// Reference values of the same name replace the policy's.
	rv, err := f.admin.PutReferenceValues(ctx, "strict", []byte(`{"sgx":{"mrsigner":["`+strings.Repeat("11", 32)+`"]}}`))
	if err != nil || rv.Version != 1 {
		t.Fatalf("put reference values: %+v, %v", rv, err)
	}
	_, err = f.admin.PutReferenceValues(ctx, "strict", []byte(`{"accepted_tcb_statuses":["UpToDate"]}`))
	wantProblem(t, err, 422, "invalid-policy")
	rv, err = rc.ReferenceValues(ctx, "strict", 0)
	if err != nil || rv.Version != 1 || !strings.Contains(string(rv.Body), "mrsigner") {
		t.Fatalf("reference values: %+v, %v", rv, err)
	}

	// Logs.
	apps, err := rc.Appraisals(ctx, 0, 0)
	if err != nil || len(apps) != 2 || apps[0].PolicyID != "strict@1" || apps[1].PolicyID != "strict@2" || len(apps[0].EvidenceHash) != 64 {
		t.Fatalf("appraisals: %+v, %v", apps, err)
	}
	older, err := rc.Appraisals(ctx, apps[0].ID, 1)
	if err != nil || len(older) != 1 || older[0].ID != apps[1].ID {
		t.Fatalf("appraisals before %d: %+v, %v", apps[0].ID, older, err)
	}
	_, err = rc.Appraisals(ctx, 0, 5000)
	wantProblem(t, err, 400, "bad-request")
	if _, err := rc.Appraisals(ctx, -1, 0); err == nil {
		t.Error("before -1: want an error")
	}
	_, err = f.anon.Appraisals(ctx, 0, 0)
	wantProblem(t, err, 401, "unauthorized")
	audit, err := f.admin.Audit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action+" "+a.Target)
	}
	for _, want := range []string{"policy.create policy/strict@2", "reference-values.create reference-values/strict@1", "token.create token/" + reader.ID} {
		if !strings.Contains(strings.Join(actions, "\n"), want) {
			t.Errorf("audit log lacks %q: %v", want, actions)
		}
	}
	_, err = rc.Audit(ctx, 0, 0)
	wantProblem(t, err, 403, "forbidden")
	if _, err := rc.Audit(ctx, 0, -1); err == nil {
		t.Error("limit -1: want an error")
	}

	// Collateral status (no shared cache in this service).
	cs, err := rc.Collateral(ctx)
	if err != nil || cs.Entries == nil || cs.Stats == nil {
		t.Fatalf("collateral: %+v, %v", cs, err)
	}
	_, err = f.anon.Collateral(ctx)
	wantProblem(t, err, 401, "unauthorized")

	// Tokens: listed without secrets, revoked.
	toks, err := f.admin.Tokens(ctx)
	if err != nil || len(toks) != 2 {
		t.Fatalf("tokens: %+v, %v", toks, err)
	}
	for _, tk := range toks {
		if tk.Secret != "" {
			t.Errorf("listed token %s shows its secret", tk.Name)
		}
	}
	if err := f.admin.DeleteToken(ctx, reader.ID); err != nil {
		t.Fatal(err)
	}
	_, err = rc.Policies(ctx)
	wantProblem(t, err, 401, "unauthorized")
	wantProblem(t, f.admin.DeleteToken(ctx, reader.ID), 404, "not-found")
	if err := f.admin.DeleteToken(ctx, ""); err == nil {
		t.Error("empty token ID: want an error")
	}

	// Metrics are open.
	metrics, err := f.anon.Metrics(ctx)
	if err != nil || !bytes.Contains(metrics, []byte(`ratls_appraisal_stage_duration_seconds_count{stage="verify"} 2`)) {
		t.Fatalf("metrics: %v\n%s", err, metrics)
	}
}

// TestErrors checks the answers that are not the service's problem
// documents: other errors, malformed and oversized answers, bad base URLs,
// cancellation and unreachable services.
func TestErrors(t *testing.T) {
	var answer atomic.Value // func(http.ResponseWriter)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer.Load().(func(http.ResponseWriter))(w)
	}))
	defer ts.Close()
	c := &client.Client{BaseURL: ts.URL}
	ctx := context.Background()
	reply := func(code int, ct, body string) {
		answer.Store(func(w http.ResponseWriter) {
			if ct != "" {
				w.Header().Set("Content-Type", ct)
			}
			w.WriteHeader(code)
			io.WriteString(w, body)
		})
	}
	cases := []struct {
		name         string
		code         int
		ct, body     string
		status       int    // of the HTTPError
		errSubstring string // in the error text
	}{
		{"proxy error", 502, "text/html", "<html>bad gateway</html>", 502, "bad gateway"},
		{"problem without title", 500, api.ProblemMedia, `{"status":500}`, 500, "malformed problem document"},
		{"problem not JSON", 400, api.ProblemMedia, `{`, 400, "malformed problem document"},
		{"success not JSON", 200, "text/plain", "ok", 200, "want a JSON answer"},
		{"success malformed", 200, "application/json", `{"keys":`, 200, "malformed JSON answer"},
		{"success trailing data", 200, "application/json", `{"keys":[]} {}`, 200, "trailing data"},
		{"oversized", 200, "application/json", `{"keys":[],"x":"` + strings.Repeat("a", client.MaxResponseSize) + `"}`, 200, "exceeds the limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reply(tc.code, tc.ct, tc.body)
			_, err := c.Keys(ctx)
			var he *client.HTTPError
			var p *api.Problem
			if !errors.As(err, &he) || errors.As(err, &p) {
				t.Fatalf("want an *HTTPError and no problem, got %T: %v", err, err)
			}
			if he.StatusCode != tc.status || he.Method != "GET" || he.URL != api.PathKeys || len(he.Body) > 512 {
				t.Errorf("HTTPError: %+v", he)
			}
			if !strings.Contains(err.Error(), tc.errSubstring) {
				t.Errorf("error text: want %q in %q", tc.errSubstring, err)
			}
		})
	}
	// A problem document whose status member is missing takes the HTTP
	// status; media type parameters are allowed.
	reply(503, api.ProblemMedia+"; charset=utf-8", `{"type":"`+api.ProblemTypeBase+`unavailable","title":"Not ready","detail":"store down"}`)
	_, err := c.Discovery(ctx)
	if p := wantProblem(t, err, 503, "unavailable"); p.Detail != "store down" {
		t.Errorf("problem: %+v", p)
	}
	// An empty key set is an error; a session answer without a usable
	// Location too.
	reply(200, "application/jwk-set+json", `{"keys":[]}`)
	if _, err := c.Keys(ctx); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty key set: %v", err)
	}
	reply(201, api.SessionMedia, `{"nonce":"AAAAAAAAAAA=","status":"waiting"}`)
	if _, err := c.NewSession(ctx, 0); err == nil || !strings.Contains(err.Error(), "Location") {
		t.Errorf("session without Location: %v", err)
	}
	reply(200, "application/json", `{"status":"warning"}`)
	if _, err := c.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: []byte{1}}); err == nil || !strings.Contains(err.Error(), "no EAR") {
		t.Errorf("attest answer without EAR: %v", err)
	}
	reply(201, "application/json", `{"id":"0011223344556677","name":"x","role":"read"}`)
	if _, err := c.CreateToken(ctx, "x", "read"); err == nil || !strings.Contains(err.Error(), "no token secret") {
		t.Errorf("token answer without secret: %v", err)
	}

	// Cancellation and unreachable services.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Discovery(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: want context.Canceled, got %v", err)
	}
	ln := httptest.NewServer(http.NotFoundHandler())
	dead := ln.URL
	ln.Close()
	if _, err := (&client.Client{BaseURL: dead}).Discovery(ctx); err == nil || !strings.Contains(err.Error(), api.PathDiscovery) {
		t.Errorf("unreachable: %v", err)
	}
	for _, base := range []string{"", "ftp://host", "http://", "127.0.0.1:8080", "http://host/?x=1", "http://host:bad"} {
		if _, err := (&client.Client{BaseURL: base}).Discovery(ctx); err == nil || !strings.Contains(err.Error(), "BaseURL") {
			t.Errorf("BaseURL %q: want an error naming BaseURL, got %v", base, err)
		}
	}
}

// The client reads a session as Veraison's verification service sends it,
// released (padded standard base64, an absolute Location) or on its main
// branch (unpadded base64url, Location relative to newSession), and sends
// the Accept Veraison negotiates.
func TestNewSessionVeraisonForms(t *testing.T) {
	nonce := []byte{0xfb, 0xff, 0xbf, 0x00, 0x01, 0x02, 0x03, 0xfe, 0xef, 0x10}
	const id = "6f1e7e3a-0f6a-4c59-9a54-5b9a7f6a1d2c"
	for name, form := range map[string]struct{ nonce, loc string }{
		"released":    {base64.StdEncoding.EncodeToString(nonce), api.PathSession + id},
		"main branch": {base64.RawURLEncoding.EncodeToString(nonce), "session/" + id},
	} {
		t.Run(name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Accept") != api.SessionMedia+", "+api.ProblemMedia {
					w.WriteHeader(http.StatusNotAcceptable)
					return
				}
				w.Header().Set("Location", form.loc)
				w.Header().Set("Content-Type", api.SessionMedia)
				w.WriteHeader(http.StatusCreated)
				fmt.Fprintf(w, `{"status":"waiting","nonce":%q,"expiry":"2030-01-01T00:00:00Z","accept":["application/eat-collection; profile=\"http://arm.com/CCA-SSD/1.0.0\""]}`, form.nonce)
			}))
			defer hs.Close()
			s, err := (&client.Client{BaseURL: hs.URL}).NewSession(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(s.Nonce, nonce) || s.ID != id || s.URL != hs.URL+api.PathSession+id {
				t.Errorf("session: nonce %x, ID %s, URL %s", s.Nonce, s.ID, s.URL)
			}
		})
	}
}
