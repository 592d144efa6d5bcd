package main

// Tests of "ratls verify --verifier": the evidence goes to an in-process
// verification service (httptest) that trusts a simulated TEE.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/client"
	"github.com/ratls/ratls/service/store"
	"github.com/ratls/ratls/service/store/storetest"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/armcca"
	"github.com/ratls/ratls/testing/ccatest"
)

var (
	remoteSimOnce sync.Once
	remoteSimInst *sim.Sim
	remoteSimErr  error
)

// remoteSim is an in-memory simulation whose time is now, shared by these
// tests (creating one costs key generation).
func remoteSim(t *testing.T) *sim.Sim {
	t.Helper()
	remoteSimOnce.Do(func() { remoteSimInst, remoteSimErr = sim.New(sim.InitOptions{Validity: 30 * 24 * time.Hour}) })
	if remoteSimErr != nil {
		t.Fatal(remoteSimErr)
	}
	return remoteSimInst
}

// remoteService is a verification service trusting the simulation.
type remoteService struct {
	url   string
	srv   *service.Server
	admin *client.Client
	sgx   *sim.Attester
	tdx   *sim.Attester
	dir   string // for evidence files
}

func startRemoteService(t *testing.T, mutate func(*service.Config), wrap func(http.Handler) http.Handler) *remoteService {
	t.Helper()
	s := remoteSim(t)
	st := storetest.Open(t, storetest.SQLite(t))
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
	h := srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	tok, err := service.CreateToken(context.Background(), st, "admin", store.RoleAdmin, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := &remoteService{url: hs.URL, srv: srv, admin: &client.Client{BaseURL: hs.URL, Token: tok.Secret}, dir: t.TempDir()}
	if r.sgx, err = s.Attester("sgx", sim.Measurements{}); err != nil {
		t.Fatal(err)
	}
	if r.tdx, err = s.Attester("tdx", sim.Measurements{}); err != nil {
		t.Fatal(err)
	}
	return r
}

// writeEvidence writes b to a file and returns its path.
func (r *remoteService) writeEvidence(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(r.dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// quoteFile writes a simulated quote to a file.
func (r *remoteService) quoteFile(t *testing.T, a *sim.Attester, name string) (string, []byte) {
	t.Helper()
	ev, err := a.Attest(context.Background(), [64]byte{})
	if err != nil {
		t.Fatal(err)
	}
	return r.writeEvidence(t, name, ev.Data), ev.Data
}

func decodeRemote(t *testing.T, stdout string) *remoteReport {
	t.Helper()
	var rep remoteReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	return &rep
}

func TestVerifyRemoteQuote(t *testing.T) {
	r := startRemoteService(t, nil, nil)
	path, q := r.quoteFile(t, r.sgx, "quote.bin")
	code, out, stderr := runBounded(t, "verify", "--verifier", r.url, path)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"sent as:", api.MediaDCAPQuote, "signature verified with key " + r.srv.KeyID(),
		"TEE:", "sgx", "Appraisal (policy ratls-default)", "Result: WARNING"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// The same quote as hex text and as a TDX quote, with --json.
	hexPath := r.writeEvidence(t, "quote.hex", []byte(hex.EncodeToString(q)+"\n"))
	tdxPath, _ := r.quoteFile(t, r.tdx, "tdx.bin")
	for path, tee := range map[string]string{hexPath: "sgx", tdxPath: "tdx"} {
		code, out, stderr = runBounded(t, "verify", "--json", "--verifier", r.url+"/", path)
		if code != exitOK {
			t.Fatalf("%s: exit %d\n%s\n%s", path, code, out, stderr)
		}
		rep := decodeRemote(t, out)
		if rep.Result == nil || rep.Result.Status != ear.StatusWarning || rep.Result.TEE != tee || rep.Result.PolicyID != "ratls-default" ||
			rep.MediaType != api.MediaDCAPQuote || rep.KeyID != r.srv.KeyID() || rep.Token == "" || rep.Problem != nil {
			t.Errorf("%s: report %+v", path, rep)
		}
		if rep.EAR == nil || rep.EAR.Submods[tee] == nil || rep.EAR.Submods[tee].Status != ear.StatusWarning || len(rep.Result.Reasons) == 0 {
			t.Errorf("%s: EAR claims %+v", path, rep.EAR)
		}
	}
	// The service logged what it was sent: the quote's bytes as given.
	apps, err := r.admin.Appraisals(context.Background(), 0, 10)
	if err != nil || len(apps) != 3 {
		t.Fatalf("appraisals: %+v, %v", apps, err)
	}
	// The two SGX entries (binary, then hex in either order with the TDX
	// quote) must be of the same bytes.
	var sgx []api.Appraisal
	for _, a := range apps {
		if a.TEE == "sgx" {
			sgx = append(sgx, a)
		}
	}
	if len(sgx) != 2 || sgx[0].MediaType != api.MediaDCAPQuote || sgx[0].EvidenceHash != sgx[1].EvidenceHash {
		t.Errorf("binary and hex input should reach the service as the same bytes: %+v", apps)
	}
}

func TestVerifyRemoteCertificate(t *testing.T) {
	r := startRemoteService(t, nil, nil)
	cert, err := ratls.NewIssuer(r.tdx, nil).Certificate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	path := r.writeEvidence(t, "cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))
	code, out, stderr := runBounded(t, "verify", "--json", "--verifier", r.url, path)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if rep := decodeRemote(t, out); rep.MediaType != api.MediaCertificateDER || rep.Source != "certificate" || rep.Result.TEE != "tdx" {
		t.Errorf("report: %+v", rep)
	}
}

func TestVerifyRemoteRejected(t *testing.T) {
	r := startRemoteService(t, nil, nil)
	ctx := context.Background()
	if _, err := r.admin.PutPolicy(ctx, "strict", []byte(`{"sgx":{"mrenclave":["`+strings.Repeat("00", 32)+`"]}}`)); err != nil {
		t.Fatal(err)
	}
	path, _ := r.quoteFile(t, r.sgx, "quote.bin")
	code, out, stderr := runBounded(t, "verify", "--verifier", r.url, "--policy-name", "strict", path)
	if code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitRejected, out, stderr)
	}
	if !strings.Contains(out, "Result: CONTRAINDICATED") || !strings.Contains(out, "policy strict@1") || !strings.Contains(stderr, "sgx.mrenclave") {
		t.Errorf("output:\n%s\nstderr: %s", out, stderr)
	}
	code, out, _ = runBounded(t, "verify", "--json", "--verifier", r.url, "--policy-name", "strict@1", path)
	rep := decodeRemote(t, out)
	if code != exitRejected || rep.Problem == nil || rep.Problem.Status != 422 || rep.Problem.Check != "sgx.mrenclave" ||
		rep.Result.Status != ear.StatusContraindicated || rep.Token != rep.Problem.EAR {
		t.Errorf("exit %d, report %+v, problem %+v", code, rep, rep.Problem)
	}
}

func TestVerifyRemoteAuth(t *testing.T) {
	r := startRemoteService(t, func(c *service.Config) { c.VerifyAuth = service.VerifyAuthAll }, nil)
	path, _ := r.quoteFile(t, r.sgx, "quote.bin")
	code, out, stderr := runBounded(t, "verify", "--verifier", r.url, path)
	if code != exitInput || !strings.Contains(stderr, "Authentication required") {
		t.Errorf("without a token: exit %d\n%s\n%s", code, out, stderr)
	}
	if code, out, stderr := runBounded(t, "verify", "--verifier", r.url, "--verifier-token", r.admin.Token, path); code != exitOK {
		t.Errorf("with --verifier-token: exit %d\n%s\n%s", code, out, stderr)
	}
	t.Setenv(envVerifierToken, r.admin.Token)
	if code, out, stderr := runBounded(t, "verify", "--verifier", r.url, path); code != exitOK {
		t.Errorf("with $%s: exit %d\n%s\n%s", envVerifierToken, code, out, stderr)
	}
}

func TestVerifyRemoteBadInput(t *testing.T) {
	r := startRemoteService(t, nil, nil)
	path, _ := r.quoteFile(t, r.sgx, "quote.bin")
	policy := r.writeEvidence(t, "policy.json", []byte(`{}`))
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--verifier", r.url, "/does/not/exist"}, "does/not/exist"},
		{[]string{"--verifier", r.url, r.writeEvidence(t, "garbage.bin", bytes.Repeat([]byte{0x01}, 100))}, "not a certificate, quote, report, token, CMW or collateral document"},
		{[]string{"--verifier", r.url, r.writeEvidence(t, "report.bin", make([]byte, 432))}, "cannot be sent to a verification service"},
		{[]string{"--verifier", r.url, "--policy-name", "nosuch", path}, "Unknown policy"},
		{[]string{"--verifier", r.url, "--policy-name", "bad/name", path}, "Invalid name"},
		{[]string{"--verifier", deadURL, path}, "/v1/attest"},
		{[]string{"--verifier", "ftp://example", path}, "BaseURL"},
		{[]string{"--verifier", r.url, "--policy", policy, path}, "--policy configures local verification"},
		{[]string{"--verifier", r.url, "--offline", path}, "--offline configures local verification"},
		{[]string{"--policy-name", "strict", path}, "--policy-name needs --verifier"},
		{[]string{"--verifier-token", "x", path}, "--verifier-token needs --verifier"},
	} {
		code, out, stderr := runBounded(t, append([]string{"verify"}, tc.args...)...)
		if code != exitInput || !strings.Contains(stderr, tc.want) || !strings.HasPrefix(stderr, "ratls: ") {
			t.Errorf("%v: want exit 2 and %q, got exit %d\n%s\nstderr: %s", tc.args, tc.want, code, out, stderr)
		}
	}
}

// TestVerifyRemoteUntrusted checks that a result the service cannot back
// with a valid signature, or whose unsigned summary disagrees with the
// signed EAR, is refused.
func TestVerifyRemoteUntrusted(t *testing.T) {
	stranger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKeys := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path == api.PathKeys {
				w.Header().Set("Content-Type", api.KeysMedia)
				json.NewEncoder(w).Encode(&ear.JWKSet{Keys: []ear.JWK{ear.NewJWK(&stranger.PublicKey)}})
				return
			}
			h.ServeHTTP(w, req)
		})
	}
	// rewrite changes the JSON answer of POST /v1/attest.
	rewrite := func(edit func(map[string]any)) func(http.Handler) http.Handler {
		return func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.URL.Path != api.PathAttest {
					h.ServeHTTP(w, req)
					return
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				var m map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
					t.Errorf("service answer: %v", err)
				}
				edit(m)
				w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
				w.WriteHeader(rec.Code)
				json.NewEncoder(w).Encode(m)
			})
		}
	}
	for _, tc := range []struct {
		name string
		wrap func(http.Handler) http.Handler
		code int
		want string
	}{
		{"unknown key", otherKeys, exitInput, "cannot be trusted"},
		{"status disagrees", rewrite(func(m map[string]any) { m["status"] = "affirming" }), exitInput, "disagrees with its signed EAR"},
		{"TEE disagrees", rewrite(func(m map[string]any) { m["tee"] = "tdx" }), exitInput, "disagrees with its signed EAR"},
		{"token tampered", rewrite(func(m map[string]any) { m["ear"] = m["ear"].(string) + "A" }), exitInput, "cannot be trusted"},
		{"rejection without EAR", func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				w.Header().Set("Content-Type", api.ProblemMedia)
				w.WriteHeader(422)
				fmt.Fprint(w, `{"type":"https://ratls.dev/problems/unsupported-evidence","title":"Unsupported evidence","status":422}`)
			})
		}, exitRejected, "Unsupported evidence"},
		{"not a service", func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { fmt.Fprint(w, "hello") })
		}, exitInput, "want a JSON answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startRemoteService(t, nil, tc.wrap)
			path, _ := r.quoteFile(t, r.sgx, "quote.bin")
			code, out, stderr := runBounded(t, "verify", "--verifier", r.url, path)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("want exit %d and %q, got exit %d\n%s\nstderr: %s", tc.code, tc.want, code, out, stderr)
			}
		})
	}
}

// An Arm CCA token's EAR has Veraison's two submodules; the report reads
// them as one CCA result, the worse of the two.
func TestVerifyRemoteCCA(t *testing.T) {
	p, err := ccatest.NewPlatform()
	if err != nil {
		t.Fatal(err)
	}
	r := startRemoteService(t, func(c *service.Config) { tee.Edit[armcca.Options](&c.Verify.TEE).Key = p.Public() }, nil)
	token, err := p.Token(ccatest.NewRealm(nil))
	if err != nil {
		t.Fatal(err)
	}
	path := r.writeEvidence(t, "cca.cbor", token)
	code, out, stderr := runBounded(t, "verify", "--json", "--verifier", r.url, path)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	rep := decodeRemote(t, out)
	if rep.Result == nil || rep.Result.TEE != "cca" || rep.Result.Status != ear.StatusWarning || rep.MediaType != api.MediaCCAToken ||
		rep.EAR.Submods[api.SubmodCCAPlatform] == nil || rep.EAR.Submods[api.SubmodCCARealm] == nil {
		t.Fatalf("report: %s", out)
	}
	checks := map[string]int{}
	for _, rs := range rep.Result.Reasons {
		checks[rs.Check]++
	}
	if checks["reference_values"] != 1 {
		t.Errorf("reasons: want reference_values once, got %+v", rep.Result.Reasons)
	}
	code, out, _ = runBounded(t, "verify", "--verifier", r.url, path)
	if code != exitOK || !strings.Contains(out, "TEE:") || !strings.Contains(out, "CCA_REALM") || !strings.Contains(out, "Result: WARNING") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
