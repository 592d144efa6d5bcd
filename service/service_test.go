package service_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
	"github.com/ratls/ratls/service/store/storetest"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/verify/intel"
)

// fixture is a running service with a simulated TEE whose root it trusts.
type fixture struct {
	t     testing.TB
	srv   *service.Server
	http  *httptest.Server
	st    store.Store
	sim   *sim.Sim
	sgx   *sim.Attester
	tdx   *sim.Attester
	admin string // admin token
	now   time.Time
	mu    sync.Mutex
}

// simulation is shared: creating one costs key generation.
var (
	simOnce sync.Once
	simInst *sim.Sim
)

func testSim(t testing.TB) *sim.Sim {
	simOnce.Do(func() {
		// The simulation's time is now because RA-TLS certificates are
		// issued at the current time.
		s, err := sim.New(sim.InitOptions{Validity: 60 * 24 * time.Hour})
		if err != nil {
			panic(err)
		}
		simInst = s
	})
	return simInst
}

type fixtureOptions struct {
	dsn    string
	mutate func(*service.Config)
}

func newFixture(t testing.TB, o fixtureOptions) *fixture {
	t.Helper()
	if o.dsn == "" {
		o.dsn = storetest.SQLite(t)
	}
	s := testSim(t)
	f := &fixture{t: t, sim: s, now: s.Now().Add(time.Hour)}
	f.st = storetest.Open(t, o.dsn)
	var err error
	if f.sgx, err = s.Attester("sgx", sim.Measurements{}); err != nil {
		t.Fatal(err)
	}
	if f.tdx, err = s.Attester("tdx", sim.Measurements{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := service.Throwaway(service.Config{Store: f.st, Verify: s.VerifyOptions(nil), Now: f.clock, Rate: -1})
	if err != nil {
		t.Fatal(err)
	}
	if o.mutate != nil {
		o.mutate(&cfg)
	}
	if f.srv, err = service.New(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	f.http = httptest.NewServer(f.srv.Handler())
	t.Cleanup(func() { f.http.Close(); f.srv.Close() })
	// Replicas on one database each get their own admin token.
	name := "admin"
	tok, err := service.CreateToken(context.Background(), f.st, name, store.RoleAdmin, "test", f.clock())
	for i := 2; err != nil && i < 10; i++ {
		tok, err = service.CreateToken(context.Background(), f.st, fmt.Sprintf("admin-%d", i), store.RoleAdmin, "test", f.clock())
	}
	if err != nil {
		t.Fatal(err)
	}
	f.admin = tok.Secret
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
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

type response struct {
	code int
	hdr  http.Header
	body []byte
}

func (r *response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// problem decodes a problem document and checks its status and type.
func (r *response) problem(t testing.TB, code int, typ string) *api.Problem {
	t.Helper()
	if r.code != code {
		t.Fatalf("status: want %d, got %d: %s", code, r.code, r.body)
	}
	if ct := r.hdr.Get("Content-Type"); ct != api.ProblemMedia {
		t.Fatalf("content type: want %s, got %q", api.ProblemMedia, ct)
	}
	var p api.Problem
	r.json(t, &p)
	if p.Type != api.ProblemTypeBase+typ || p.Status != code || p.Title == "" {
		t.Fatalf("problem: want type %s status %d, got %+v", typ, code, p)
	}
	return &p
}

func (f *fixture) do(method, path, token, contentType string, body []byte) *response {
	f.t.Helper()
	return do(f.t, f.http.URL, method, path, token, contentType, body)
}

func do(t testing.TB, base, method, path, token, contentType string, body []byte) *response {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{code: resp.StatusCode, hdr: resp.Header, body: b}
}

func (f *fixture) newSession(query string) (string, *api.Session) {
	f.t.Helper()
	r := f.do("POST", api.PathNewSession+query, "", "", nil)
	if r.code != http.StatusCreated {
		f.t.Fatalf("newSession: want 201, got %d: %s", r.code, r.body)
	}
	id, ok := api.SessionIDFromLocation(r.hdr.Get("Location"))
	if !ok {
		f.t.Fatalf("Location: want session/<id>, got %q", r.hdr.Get("Location"))
	}
	var s api.Session
	r.json(f.t, &s)
	return api.PathSession + id, &s
}

// verifyEAR checks an EAR against the service's published keys.
func (f *fixture) verifyEAR(token string) *ear.EAR {
	f.t.Helper()
	return verifyEARAt(f.t, f.http.URL, token, f.clock())
}

func verifyEARAt(t testing.TB, base, token string, now time.Time) *ear.EAR {
	t.Helper()
	r := do(t, base, "GET", api.PathKeys, "", "", nil)
	var set ear.JWKSet
	r.json(t, &set)
	e, err := ear.Verify([]byte(token), &set, now)
	if err != nil {
		t.Fatalf("EAR does not verify against %s: %v", api.PathKeys, err)
	}
	return e
}

func TestChallengeResponse(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	loc, s := f.newSession("")
	if len(s.Nonce) != service.DefaultNonceSize || s.Status != store.SessionWaiting || len(s.Accept) == 0 {
		t.Fatalf("new session: %+v", s)
	}
	if !s.Expiry.Equal(f.clock().Add(service.DefaultSessionTTL)) {
		t.Errorf("expiry: want %v, got %v", f.clock().Add(service.DefaultSessionTTL), s.Expiry)
	}
	q := quote(t, f.sgx, s.Nonce)
	r := f.do("POST", loc, "", api.MediaDCAPQuote, q)
	if r.code != http.StatusOK || r.hdr.Get("Content-Type") != api.SessionMedia {
		t.Fatalf("evidence: want 200 %s, got %d %s: %s", api.SessionMedia, r.code, r.hdr.Get("Content-Type"), r.body)
	}
	var done api.Session
	r.json(t, &done)
	if done.Status != store.SessionComplete || done.Result == nil || done.Evidence == nil || !bytes.Equal(done.Evidence.Value, q) {
		t.Fatalf("completed session: %+v", done)
	}
	e := f.verifyEAR(*done.Result)
	sub := e.Submods["sgx"]
	if sub == nil {
		t.Fatalf("EAR submods: want sgx, got %v", e.Submods)
	}
	// A simulated root is accepted with a warning, never affirming.
	if sub.Status != ear.StatusWarning {
		t.Errorf("EAR status: want warning (simulated root), got %s: %+v", sub.Status, sub.Reasons)
	}
	if e.Nonce != base64.URLEncoding.EncodeToString(s.Nonce) {
		t.Errorf("eat_nonce: want the session nonce, got %q", e.Nonce)
	}
	if sub.PolicyID != "ratls-default" {
		t.Errorf("policy id: want ratls-default (built-in), got %q", sub.PolicyID)
	}
	m := f.sgx.Measurements()
	if got := sub.AnnotatedEvidence["mrenclave"]; got != hex.EncodeToString(m.SGX.MREnclave[:]) {
		t.Errorf("annotated mrenclave: want %x, got %v", m.SGX.MREnclave, got)
	}

	// GET shows the result; the nonce cannot be redeemed again.
	r = f.do("GET", loc, "", "", nil)
	var got api.Session
	r.json(t, &got)
	if r.code != 200 || got.Status != store.SessionComplete || got.Result == nil || *got.Result != *done.Result {
		t.Fatalf("GET session: %d %s", r.code, r.body)
	}
	p := f.do("POST", loc, "", api.MediaDCAPQuote, quote(t, f.tdx, s.Nonce)).problem(t, http.StatusConflict, "nonce-redeemed")
	if !strings.Contains(p.Detail, "complete") {
		t.Errorf("nonce-redeemed detail: %q", p.Detail)
	}

	// DELETE, then it is gone.
	if r := f.do("DELETE", loc, "", "", nil); r.code != http.StatusNoContent {
		t.Fatalf("DELETE: want 204, got %d", r.code)
	}
	f.do("GET", loc, "", "", nil).problem(t, http.StatusNotFound, "not-found")
	if r := f.do("DELETE", loc, "", "", nil); r.code != http.StatusNoContent {
		t.Errorf("DELETE of a deleted session: want 204, as Veraison, got %d", r.code)
	}
	f.do("POST", loc, "", api.MediaDCAPQuote, q).problem(t, http.StatusNotFound, "not-found")
}

func TestSessionTDXWrongNonce(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	loc, _ := f.newSession("?nonceSize=16")
	r := f.do("POST", loc, "", api.MediaDCAPQuote, quote(t, f.tdx, []byte("not the session nonce")))
	var done api.Session
	r.json(t, &done)
	if r.code != 200 || done.Status != store.SessionComplete || done.Result == nil {
		t.Fatalf("want a complete session with a contraindicated result, got %d %s", r.code, r.body)
	}
	sub := f.verifyEAR(*done.Result).Submods["tdx"]
	if sub == nil || sub.Status != ear.StatusContraindicated {
		t.Fatalf("want tdx contraindicated, got %+v", sub)
	}
	found := false
	for _, rs := range sub.Reasons {
		found = found || rs.Check == "nonce"
	}
	if !found {
		t.Errorf("want a nonce reason, got %+v", sub.Reasons)
	}
}

func TestSessionParameters(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	nonce := []byte("0123456789abcdef")
	_, s := f.newSession("?nonce=" + base64.URLEncoding.EncodeToString(nonce))
	if !bytes.Equal(s.Nonce, nonce) {
		t.Errorf("nonce: want %q, got %q", nonce, s.Nonce)
	}
	_, s = f.newSession("?nonceSize=64")
	if len(s.Nonce) != 64 {
		t.Errorf("nonceSize=64: got %d bytes", len(s.Nonce))
	}
	for _, q := range []string{"?nonceSize=7", "?nonceSize=65", "?nonceSize=x", "?nonce=@@@", "?nonce=AAAA", "?nonce=AAAAAAAAAAAA&nonceSize=8"} {
		f.do("POST", api.PathNewSession+q, "", "", nil).problem(t, http.StatusBadRequest, "bad-request")
	}
	f.do("GET", api.PathNewSession, "", "", nil).problem(t, http.StatusNotFound, "not-found")
}

func TestSessionExpiry(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	loc, s := f.newSession("")
	f.advance(service.DefaultSessionTTL + time.Second)
	p := f.do("POST", loc, "", api.MediaDCAPQuote, quote(t, f.sgx, s.Nonce)).problem(t, http.StatusNotFound, "stale-nonce")
	if !strings.Contains(p.Detail, "expired") {
		t.Errorf("detail: %q", p.Detail)
	}
}

func TestBadEvidence(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	q := quote(t, f.sgx, nil)
	flipped := bytes.Clone(q)
	flipped[100] ^= 1 // inside the report body: the signature no longer matches
	// submod is the EAR submodule a session's contraindicated result
	// names, "" for a protocol error that leaves the session waiting.
	cases := []struct {
		name, mt string
		body     []byte
		code     int
		typ      string
		submod   string
	}{
		{"unknown media type", "application/x-unknown", q, 415, "unsupported-media-type", ""},
		{"no media type", "", q, 415, "unsupported-media-type", ""},
		{"CCA without profile", "application/eat-collection", q, 415, "unsupported-media-type", ""},
		{"too large", api.MediaDCAPQuote, make([]byte, service.DefaultMaxBody+1), 413, "request-too-large", ""},
		{"truncated quote", api.MediaDCAPQuote, q[:100], 400, "malformed-evidence", "ERROR"},
		{"garbage", api.MediaDCAPQuote, bytes.Repeat([]byte{0xA5}, 2000), 400, "malformed-evidence", "ERROR"},
		{"quote as SNP report", api.MediaSNPReport, q, 400, "media-type-mismatch", "SEVSNP"},
		{"quote as CCA token", api.MediaCCAToken, q, 400, "media-type-mismatch", "ARM_CCA"},
		{"bad DER certificate", api.MediaCertificateDER, []byte{0x30, 0x03, 1, 2, 3}, 400, "malformed-evidence", "ERROR"},
		{"PEM without certificate", api.MediaCertificatePEM, []byte("hello"), 400, "malformed-evidence", "ERROR"},
		{"tsm report not JSON", api.MediaTSMReport, []byte("{"), 400, "malformed-evidence", "ERROR"},
		{"tsm report unknown provider", api.MediaTSMReport, []byte(`{"provider":"x","outblob":"AA=="}`), 422, "unsupported-evidence", "ERROR"},
		{"tsm report wrong blob", api.MediaTSMReport, fmt.Appendf(nil, `{"provider":"sev_guest","outblob":%q}`, base64.StdEncoding.EncodeToString(q)), 400, "media-type-mismatch", "SEVSNP"},
		{"tsm report wrong CCA blob", api.MediaTSMReport, fmt.Appendf(nil, `{"provider":"arm_cca_guest\n","outblob":%q}`, base64.StdEncoding.EncodeToString(q)), 400, "media-type-mismatch", "ARM_CCA"},
		{"quote as Trustee TDX evidence", api.MediaTrusteeTDX, q, 400, "media-type-mismatch", "tdx"},
		{"quote as Azure vTPM evidence", api.MediaAzureVTPM, q, 400, "media-type-mismatch", "azure_vtpm"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The native API answers with the problem.
			f.do("POST", api.PathAttest, "", c.mt, c.body).problem(t, c.code, c.typ)
			loc, s := f.newSession("")
			r := f.do("POST", loc, "", c.mt, c.body)
			if c.submod == "" {
				// A protocol error: the session is untouched.
				r.problem(t, c.code, c.typ)
				var got api.Session
				f.do("GET", loc, "", "", nil).json(t, &got)
				if got.Status != store.SessionWaiting {
					t.Errorf("session after a protocol error: want waiting, got %s", got.Status)
				}
				return
			}
			f.checkUnreadable(t, r, s.Nonce, c.submod, c.typ)
			// The nonce was redeemed: the session is done.
			f.do("POST", loc, "", api.MediaDCAPQuote, q).problem(t, http.StatusConflict, "nonce-redeemed")
		})
	}
	// An empty body is a protocol error: the session stays usable.
	loc, s := f.newSession("")
	f.do("POST", loc, "", api.MediaDCAPQuote, nil).problem(t, 400, "bad-request")
	if r := f.do("POST", loc, "", api.MediaDCAPQuote, quote(t, f.sgx, s.Nonce)); r.code != 200 {
		t.Errorf("evidence after an empty body: want 200, got %d %s", r.code, r.body)
	}
	f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, nil).problem(t, 400, "malformed-evidence")

	// A quote with a flipped byte parses but fails its signature: a
	// rejection with the reason, not a malformed request.
	p := f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, flipped).problem(t, 422, "policy-rejection")
	if p.EAR == "" || len(p.Reasons) == 0 || !strings.Contains(p.Detail, "signature") {
		t.Fatalf("flipped quote: want reasons naming the signature and a signed EAR, got %+v", p)
	}
	if s := f.verifyEAR(p.EAR).Submods["sgx"]; s.Status != ear.StatusContraindicated || s.TrustVector.InstanceIdentity != 97 || s.TrustVector.Hardware != 97 {
		t.Errorf("flipped quote EAR: want contraindicated with instance-identity and hardware 97, got %s %+v", s.Status, s.TrustVector)
	}
	// In a session, the same: complete, contraindicated.
	loc, _ = f.newSession("")
	var done api.Session
	r := f.do("POST", loc, "", api.MediaDCAPQuote, flipped)
	r.json(t, &done)
	if r.code != 200 || done.Status != store.SessionComplete || done.Result == nil ||
		f.verifyEAR(*done.Result).Submods["sgx"].Status != ear.StatusContraindicated {
		t.Fatalf("flipped quote in a session: want 200 complete contraindicated, got %d %s", r.code, r.body)
	}
	// Every EAR issued is in the appraisal log, unreadable evidence too.
	var apps struct{ Appraisals []api.Appraisal }
	f.do("GET", api.PathAppraisals+"?limit=1000", f.admin, "", nil).json(t, &apps)
	unreadable := 0
	for _, a := range apps.Appraisals {
		if a.Session != "" && a.TEE == "" && a.Status == "contraindicated" {
			unreadable++
		}
	}
	if want := len(cases) - 4; unreadable != want {
		t.Errorf("appraisal log: want %d entries of unreadable session evidence, got %d", want, unreadable)
	}
}

// checkUnreadable checks the answer to evidence that cannot be read: it
// completes the session with a contraindicated EAR, as Veraison answers:
// every claim 99 (cryptographic validation failed), the reason in
// ear.veraison.policy-claims' "problem" and in ratls.reasons.
func (f *fixture) checkUnreadable(t *testing.T, r *response, nonce []byte, submod, typ string) {
	t.Helper()
	var done api.Session
	r.json(t, &done)
	if r.code != 200 || done.Status != store.SessionComplete || done.Result == nil || done.Problem != nil {
		t.Fatalf("want 200 and a complete session with a result, got %d %s", r.code, r.body)
	}
	e := f.verifyEAR(*done.Result)
	sub := e.Submods[submod]
	if len(e.Submods) != 1 || sub == nil {
		t.Fatalf("submods: want only %s, got %v", submod, e.Submods)
	}
	if e.Nonce != base64.URLEncoding.EncodeToString(nonce) {
		t.Errorf("eat_nonce: want the session's nonce, got %q", e.Nonce)
	}
	tv := sub.TrustVector
	if sub.Status != ear.StatusContraindicated || tv == nil || *tv != (ear.TrustVector{InstanceIdentity: 99, Configuration: 99,
		Executables: 99, FileSystem: 99, Hardware: 99, RuntimeOpaque: 99, StorageOpaque: 99, SourcedData: 99}) {
		t.Errorf("want contraindicated with every claim 99, got %s %+v", sub.Status, tv)
	}
	if len(sub.Reasons) != 1 || sub.Reasons[0].Check != "evidence" || sub.Reasons[0].Actual != typ || sub.Reasons[0].Status != ear.StatusContraindicated {
		t.Fatalf("reasons: want one evidence reason naming %s, got %+v", typ, sub.Reasons)
	}
	if p, _ := sub.PolicyClaims["problem"].(string); !strings.Contains(p, sub.Reasons[0].Message) {
		t.Errorf("policy-claims problem: want it to say %q, got %v", sub.Reasons[0].Message, sub.PolicyClaims)
	}
	if sub.PolicyID != "ratls-default" {
		t.Errorf("policy: want ratls-default, got %q", sub.PolicyID)
	}
}

func TestAttest(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	nonce := []byte("a nonce of mine")
	q := quote(t, f.tdx, nonce)
	r := f.do("POST", api.PathAttest+"?nonce="+url.QueryEscape(base64.StdEncoding.EncodeToString(nonce)), "", api.MediaDCAPQuote, q)
	var res api.AttestResult
	r.json(t, &res)
	if r.code != 200 || res.Status != "warning" || res.TEE != "tdx" || res.PolicyID != "ratls-default" {
		t.Fatalf("raw attest: %d %s", r.code, r.body)
	}
	if e := f.verifyEAR(res.EAR); e.Nonce != base64.URLEncoding.EncodeToString(nonce) || e.Submods["tdx"].Status != ear.StatusWarning {
		t.Errorf("EAR: %+v", e)
	}
	// JSON envelope, same result.
	body, _ := json.Marshal(api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q, Nonce: nonce})
	r = f.do("POST", api.PathAttest, "", "application/json", body)
	if r.code != 200 {
		t.Fatalf("JSON attest: %d %s", r.code, r.body)
	}
	// Another nonce: rejected, reasons name the nonce.
	body, _ = json.Marshal(api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q, Nonce: []byte("another nonce")})
	p := f.do("POST", api.PathAttest, "", "application/json", body).problem(t, 422, "policy-rejection")
	if p.Check != "nonce" || p.Expected != hex.EncodeToString([]byte("another nonce")) {
		t.Errorf("nonce rejection: %+v", p)
	}
	for _, bad := range []string{`{"evidence":"AAAA"}`, `{"media_type":"x","evidence":"AAAA","extra":1}`, `{`} {
		f.do("POST", api.PathAttest, "", "application/json", []byte(bad)).problem(t, 400, "bad-request")
	}
	f.do("POST", api.PathAttest+"?policy=nosuch", "", api.MediaDCAPQuote, q).problem(t, 400, "bad-request")
	f.do("POST", api.PathAttest+"?policy=bad/name", "", api.MediaDCAPQuote, q).problem(t, 400, "bad-request")
}

func TestPoliciesAndReferenceValues(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	m := f.sgx.Measurements()
	q := quote(t, f.sgx, nil)
	f.do("POST", api.PathPolicies+"/default", "", "application/json", []byte(`{}`)).problem(t, 401, "unauthorized")
	f.do("POST", api.PathPolicies+"/default", "ratls_0123456789abcdef_AAAA", "application/json", []byte(`{}`)).problem(t, 401, "unauthorized")
	reader, err := service.CreateToken(context.Background(), f.st, "reader", store.RoleRead, "test", f.clock())
	if err != nil {
		t.Fatal(err)
	}
	f.do("POST", api.PathPolicies+"/default", reader.Secret, "application/json", []byte(`{}`)).problem(t, 403, "forbidden")
	f.do("POST", api.PathPolicies+"/default", f.admin, "application/json", []byte(`{"accepted_tcb_statuses":["Revoked"]}`)).problem(t, 422, "invalid-policy")
	f.do("POST", api.PathPolicies+"/default", f.admin, "application/json", []byte(`{"nonsense":1}`)).problem(t, 422, "invalid-policy")

	// Version 1 expects other code; version 2 the right one.
	for i, mr := range []string{strings.Repeat("00", 32), hex.EncodeToString(m.SGX.MREnclave[:])} {
		r := f.do("POST", api.PathPolicies+"/default", f.admin, "application/json", fmt.Appendf(nil, `{"sgx":{"mrenclave":[%q]}}`, mr))
		var d api.Document
		r.json(t, &d)
		if r.code != 201 || d.Version != i+1 || d.Author != "admin" || r.hdr.Get("Location") != fmt.Sprintf("%s/default/versions/%d", api.PathPolicies, i+1) {
			t.Fatalf("put version %d: %d %s", i+1, r.code, r.body)
		}
	}
	attest := func(policy string) (int, string, string) {
		r := f.do("POST", api.PathAttest+"?policy="+policy, "", api.MediaDCAPQuote, q)
		if r.code == 200 {
			var res api.AttestResult
			r.json(t, &res)
			return 200, res.PolicyID, f.verifyEAR(res.EAR).Submods["sgx"].PolicyID
		}
		p := r.problem(t, 422, "policy-rejection")
		return 422, p.Detail, f.verifyEAR(p.EAR).Submods["sgx"].PolicyID
	}
	if code, id, earID := attest(""); code != 200 || id != "default@2" || earID != "default@2" {
		t.Errorf("latest default: want 200 default@2, got %d %s %s", code, id, earID)
	}
	if code, detail, earID := attest("default@1"); code != 422 || earID != "default@1" || !strings.Contains(detail, "sgx.mrenclave") {
		t.Errorf("default@1: want a rejection naming sgx.mrenclave, got %d %s %s", code, detail, earID)
	}
	f.do("POST", api.PathAttest+"?policy=default@3", "", api.MediaDCAPQuote, q).problem(t, 400, "bad-request")

	// Reference values of the same name replace the policy's.
	r := f.do("POST", api.PathReferences+"/default", f.admin, "application/json", []byte(`{"sgx":{"mrsigner":["`+strings.Repeat("11", 32)+`"]}}`))
	if r.code != 201 {
		t.Fatalf("put reference values: %d %s", r.code, r.body)
	}
	f.do("POST", api.PathReferences+"/default", f.admin, "application/json", []byte(`{"accepted_tcb_statuses":["UpToDate"]}`)).problem(t, 422, "invalid-policy")
	f.advance(2 * service.DefaultPolicyTTL)
	if code, detail, earID := attest(""); code != 422 || earID != "default@2+refs@1" || !strings.Contains(detail, "sgx.mrsigner") {
		t.Errorf("with reference values: want a rejection by default@2+refs@1 naming sgx.mrsigner, got %d %s %s", code, detail, earID)
	}

	// Listing and reading.
	var list struct{ Documents []api.Document }
	f.do("GET", api.PathPolicies, reader.Secret, "", nil).json(t, &list)
	if len(list.Documents) != 1 || list.Documents[0].Version != 2 {
		t.Errorf("list: %+v", list)
	}
	f.do("GET", api.PathPolicies+"/default/versions", reader.Secret, "", nil).json(t, &list)
	if len(list.Documents) != 2 || list.Documents[0].Version != 1 {
		t.Errorf("versions: %+v", list)
	}
	var d api.Document
	f.do("GET", api.PathPolicies+"/default/versions/1", reader.Secret, "", nil).json(t, &d)
	if !strings.Contains(string(d.Body), strings.Repeat("00", 32)) {
		t.Errorf("version 1 body: %s", d.Body)
	}
	f.do("GET", api.PathPolicies+"/nosuch", reader.Secret, "", nil).problem(t, 404, "not-found")
	f.do("GET", api.PathPolicies+"/default/versions/0", reader.Secret, "", nil).problem(t, 400, "bad-request")
	f.do("GET", api.PathPolicies+"/default/versions/9", reader.Secret, "", nil).problem(t, 404, "not-found")

	// Every change is audited; only admins read the audit log.
	f.do("GET", api.PathAudit, reader.Secret, "", nil).problem(t, 403, "forbidden")
	var audit struct{ Audit []api.Audit }
	f.do("GET", api.PathAudit, f.admin, "", nil).json(t, &audit)
	var actions []string
	for _, a := range audit.Audit {
		actions = append(actions, a.Action+" "+a.Target)
	}
	for _, want := range []string{"policy.create policy/default@1", "policy.create policy/default@2", "reference-values.create reference-values/default@1"} {
		if !strings.Contains(strings.Join(actions, "\n"), want) {
			t.Errorf("audit log lacks %q: %v", want, actions)
		}
	}
}

func TestTokens(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	r := f.do("POST", api.PathTokens, f.admin, "application/json", []byte(`{"name":"ci","role":"write"}`))
	var tok api.Token
	r.json(t, &tok)
	if r.code != 201 || !strings.HasPrefix(tok.Secret, "ratls_"+tok.ID+"_") || tok.Role != "write" {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	f.do("POST", api.PathTokens, f.admin, "application/json", []byte(`{"name":"ci","role":"read"}`)).problem(t, 409, "conflict")
	f.do("POST", api.PathTokens, f.admin, "application/json", []byte(`{"name":"x","role":"root"}`)).problem(t, 400, "bad-request")
	f.do("POST", api.PathTokens, f.admin, "application/json", []byte(`{"name":"a b","role":"read"}`)).problem(t, 400, "bad-request")
	f.do("GET", api.PathTokens, tok.Secret, "", nil).problem(t, 403, "forbidden")
	var list struct{ Tokens []api.Token }
	f.do("GET", api.PathTokens, f.admin, "", nil).json(t, &list)
	if len(list.Tokens) != 2 {
		t.Fatalf("list: %+v", list)
	}
	for _, l := range list.Tokens {
		if l.Secret != "" {
			t.Errorf("a listed token shows its secret")
		}
	}
	// The write token works until deleted. A wrong secret for its ID fails.
	if r := f.do("POST", api.PathPolicies+"/p", tok.Secret, "application/json", []byte(`{}`)); r.code != 201 {
		t.Fatalf("write token: %d %s", r.code, r.body)
	}
	wrong := tok.Secret[:len(tok.Secret)-2] + "AA"
	if wrong == tok.Secret {
		wrong = tok.Secret[:len(tok.Secret)-2] + "BA"
	}
	f.do("GET", api.PathPolicies, wrong, "", nil).problem(t, 401, "unauthorized")
	if r := f.do("DELETE", api.PathTokens+"/"+tok.ID, f.admin, "", nil); r.code != 204 {
		t.Fatalf("delete: %d", r.code)
	}
	f.do("GET", api.PathPolicies, tok.Secret, "", nil).problem(t, 401, "unauthorized")
	f.do("DELETE", api.PathTokens+"/"+tok.ID, f.admin, "", nil).problem(t, 404, "not-found")
}

func TestObservability(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	q := quote(t, f.sgx, nil)
	f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q)
	f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q[:10])

	var d api.Discovery
	r := f.do("GET", api.PathDiscovery, "", "", nil)
	r.json(t, &d)
	var jwk ear.JWK
	if err := json.Unmarshal(d.EARVerificationKey, &jwk); err != nil || jwk.Kid != f.srv.KeyID() || d.ServiceState != "READY" || len(d.MediaTypes) != len(api.EvidenceMedia) {
		t.Fatalf("discovery: %s", r.body)
	}
	var apps struct{ Appraisals []api.Appraisal }
	f.do("GET", api.PathAppraisals, f.admin, "", nil).json(t, &apps)
	if len(apps.Appraisals) != 1 || apps.Appraisals[0].TEE != "sgx" || apps.Appraisals[0].Status != "warning" || len(apps.Appraisals[0].EvidenceHash) != 64 {
		t.Fatalf("appraisal log: %+v", apps)
	}
	f.do("GET", api.PathAppraisals+"?limit=0", f.admin, "", nil).problem(t, 400, "bad-request")
	f.do("GET", api.PathAppraisals, "", "", nil).problem(t, 401, "unauthorized")
	for p, media := range map[string]string{api.PathHealth: "application/json", api.PathReady: "application/json",
		api.PathOpenAPI: "application/yaml", api.PathKeys: "application/jwk-set+json"} {
		if r := f.do("GET", p, "", "", nil); r.code != 200 || r.hdr.Get("Content-Type") != media {
			t.Errorf("%s: %d %q, want 200 %s", p, r.code, r.hdr.Get("Content-Type"), media)
		}
	}
	m := string(f.do("GET", api.PathMetrics, "", "", nil).body)
	for _, want := range []string{
		`ratls_appraisals_total{status="warning",tee="sgx"} 1`,
		`ratls_http_requests_total{code="400",method="POST",route="POST /v1/attest"} 1`,
		`ratls_appraisal_stage_duration_seconds_count{stage="verify"} 1`,
		`ratls_appraisal_stage_duration_seconds_count{stage="sign"} 1`,
		`ratls_appraisal_stage_duration_seconds_count{stage="store"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	f.do("GET", "/nothing/here", "", "", nil).problem(t, 404, "not-found")
	f.do("PUT", api.PathAttest, "", "", nil).problem(t, 405, "method-not-allowed")
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, fixtureOptions{mutate: func(c *service.Config) { c.Rate, c.Burst = 1, 3 }})
	codes := map[int]int{}
	for range 6 {
		codes[f.do("GET", api.PathKeys, "", "", nil).code]++
	}
	if codes[200] != 3 || codes[429] != 3 {
		t.Fatalf("want 3 served and 3 limited, got %v", codes)
	}
	r := f.do("GET", api.PathKeys, "", "", nil)
	r.problem(t, 429, "rate-limited")
	if r.hdr.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	f.advance(time.Second)
	if r := f.do("GET", api.PathKeys, "", "", nil); r.code != 200 {
		t.Errorf("after a second: %d", r.code)
	}
}

func TestVerifyAuth(t *testing.T) {
	f := newFixture(t, fixtureOptions{mutate: func(c *service.Config) { c.VerifyAuth = service.VerifyAuthAll }})
	f.do("POST", api.PathNewSession, "", "", nil).problem(t, 401, "unauthorized")
	f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, quote(t, f.sgx, nil)).problem(t, 401, "unauthorized")
	if r := f.do("POST", api.PathAttest, f.admin, api.MediaDCAPQuote, quote(t, f.sgx, nil)); r.code != 200 {
		t.Fatalf("with a token: %d %s", r.code, r.body)
	}
}

func TestRATLSCertificate(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	loc, s := f.newSession("")
	// An RA-TLS certificate whose claims carry the session nonce.
	iss := ratls.NewIssuer(f.tdx, &ratls.IssuerOptions{AllowNonce: true})
	cert, err := iss.FreshCertificate(context.Background(), s.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	r := f.do("POST", loc, "", api.MediaCertificatePEM, pemCert)
	var done api.Session
	r.json(t, &done)
	if r.code != 200 || done.Result == nil {
		t.Fatalf("certificate: %d %s", r.code, r.body)
	}
	if sub := f.verifyEAR(*done.Result).Submods["tdx"]; sub.Status != ear.StatusWarning {
		t.Fatalf("certificate EAR: want warning, got %s %+v", sub.Status, sub.Reasons)
	}
	// DER without the nonce (plain issuer certificate): rejected for the nonce.
	plain, err := ratls.NewIssuer(f.tdx, nil).Certificate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := f.do("POST", api.PathAttest+"?nonce="+url.QueryEscape(base64.StdEncoding.EncodeToString(s.Nonce)), "", api.MediaCertificateDER, plain.Certificate[0]).problem(t, 422, "policy-rejection")
	if p.Check != "nonce" {
		t.Errorf("want the nonce check named, got %+v", p)
	}
}

// TestCacheMetrics checks that the caches of Config.CacheStats are on
// /metrics: a quote verified twice is one miss and one hit of the
// verifier's platform cache.
func TestCacheMetrics(t *testing.T) {
	var v *intel.Verifier
	f := newFixture(t, fixtureOptions{mutate: func(c *service.Config) {
		v = tee.Find[*dcap.Options](c.Verify.TEE).Verifier
		c.CacheStats = func() map[string]intel.CacheStats {
			out := map[string]intel.CacheStats{}
			for name, s := range v.CacheStats() {
				out["intel_"+name] = s
			}
			return out
		}
	}})
	for range 2 {
		f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, quote(t, f.sgx, nil))
	}
	m := string(f.do("GET", api.PathMetrics, "", "", nil).body)
	for _, want := range []string{
		"# TYPE ratls_cache_hits_total counter",
		`ratls_cache_hits_total{cache="intel_platforms"} 1`,
		`ratls_cache_misses_total{cache="intel_platforms"} 1`,
		`ratls_cache_evictions_total{cache="intel_platforms"} 0`,
		`ratls_cache_entries{cache="intel_platforms"} 1`,
		// intel.DefaultCacheBytes, 64 MiB, as Prometheus writes floats.
		`ratls_cache_max_bytes{cache="intel_platforms"} 6.7108864e+07`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
