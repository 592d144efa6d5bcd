package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store/storetest"
)

// runLoadtestCLI runs "ratls loadtest" with a deadline well above its
// phases' durations.
func runLoadtestCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb syncBuffer
	code := runContext(ctx, append([]string{"loadtest"}, args...), &out, &errb)
	if ctx.Err() != nil {
		t.Fatalf("loadtest %v: still running after 2 minutes", args)
	}
	return code, out.String(), errb.String()
}

func decodeLoadReport(t *testing.T, stdout string) *loadReport {
	t.Helper()
	var r loadReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("loadtest --json: %v\n%s", err, stdout)
	}
	return &r
}

// checkPhase checks that a phase ran, without errors, with sane numbers.
func checkPhase(t *testing.T, p *loadPhase, name string, reqsPerOp int64, service bool) {
	t.Helper()
	if p == nil {
		t.Fatalf("%s: missing", name)
	}
	if p.Operations <= 0 || p.OpsPerSec <= 0 || p.Seconds < 0.5 || p.Errors != 0 || len(p.ErrorKinds) != 0 {
		t.Errorf("%s: want operations and no errors, got %+v", name, p)
	}
	if p.Requests != reqsPerOp*p.Operations {
		t.Errorf("%s: requests: want %d per operation, got %d for %d", name, reqsPerOp, p.Requests, p.Operations)
	}
	l := p.Latency
	if !(l.P50 > 0 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max && l.Mean > 0 && l.Mean <= l.Max) {
		t.Errorf("%s: latency percentiles out of order: %+v", name, l)
	}
	if !service {
		return
	}
	for _, s := range loadStages {
		st, ok := p.Stages[s]
		// Every measured operation went through every stage (operations
		// still in flight when the metrics were read may add a few).
		if !ok || st.Count < p.Operations || st.Count > p.Operations+int64(p.Concurrency) || st.MeanMicros <= 0 {
			t.Errorf("%s: stage %s: want about %d appraisals with a cost, got %+v", name, s, p.Operations, st)
		}
	}
	if p.StageSumMicros <= 0 || p.ServerMicros < p.StageSumMicros*0.9 || p.HTTPOverheadMicros != p.Latency.Mean-p.StageSumMicros {
		t.Errorf("%s: stage sum %.0f µs, handlers %.0f µs, HTTP overhead %.0f µs (latency %.0f µs)", name,
			p.StageSumMicros, p.ServerMicros, p.HTTPOverheadMicros, p.Latency.Mean)
	}
}

func checkLoadReport(t *testing.T, r *loadReport, target string, sessions bool) {
	t.Helper()
	checkPhase(t, r.InProcess, "in-process", 0, false)
	checkPhase(t, r.Service, "service", 1, true)
	if !strings.Contains(r.Loaded, target) || r.Pool != 16 || r.QuoteBytes < 1000 {
		t.Errorf("report: loaded %q (want %q), pool %d, quote %d bytes", r.Loaded, target, r.Pool, r.QuoteBytes)
	}
	if want := r.Service.OpsPerSec / r.InProcess.OpsPerSec; r.Ratio <= 0 || r.Ratio != want {
		t.Errorf("ratio: want %.3f, got %.3f", want, r.Ratio)
	}
	if r.Machine.CPUs < 1 || r.Machine.GOMAXPROCS < 1 || r.Machine.Go == "" {
		t.Errorf("machine: %+v", r.Machine)
	}
	if sessions {
		checkPhase(t, r.Sessions, "sessions", 2, true)
		if r.SessionsRatio <= 0 {
			t.Errorf("sessions ratio: %v", r.SessionsRatio)
		}
	} else if r.Sessions != nil {
		t.Error("sessions measured without --sessions")
	}
}

func TestLoadtestSQLite(t *testing.T) {
	code, out, stderr := runLoadtestCLI(t, "--duration", "1s", "--rounds", "2", "--warmup", "200ms", "--concurrency", "4", "--pool", "16", "--sessions", "--json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	r := decodeLoadReport(t, out)
	checkLoadReport(t, r, "in-process, SQLite", true)
	if r.Rounds != 2 || !strings.Contains(stderr, "round 2 of 2, 500ms per phase") {
		t.Errorf("rounds: %d\n%s", r.Rounds, stderr)
	}
	// The in-process service reports its group commits.
	for _, p := range []*loadPhase{r.Service, r.Sessions} {
		if p.LogCommits <= 0 || p.LogCommits > p.Operations+int64(p.Concurrency) || p.LogBatchMean < 1 {
			t.Errorf("%s: appraisal log commits %d of mean size %.2f for %d operations", p.Name, p.LogCommits, p.LogBatchMean, p.Operations)
		}
	}
	for _, want := range []string{fmt.Sprintf("in-process verification, %d workers", r.Machine.GOMAXPROCS), "service sessions, 4 clients"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q: %s", want, stderr)
		}
	}
}

func TestLoadtestPostgres(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	code, out, stderr := runLoadtestCLI(t, "--duration", "1s", "--warmup", "200ms", "--concurrency", "4", "--pool", "16", "--db", dsn, "--json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	r := decodeLoadReport(t, out)
	checkLoadReport(t, r, "in-process, PostgreSQL", false)
	if strings.Contains(out, "password") {
		t.Error("the report shows the database password")
	}
}

func TestLoadtestText(t *testing.T) {
	code, out, stderr := runLoadtestCLI(t, "--duration", "500ms", "--warmup", "0s", "--concurrency", "2", "--pool", "4")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"Machine:", "in-process verification", "service POST /v1/attest", "Ratio service / in-process:",
		"stage parse", "stage verify", "stage sign", "stage store", "stage sum", "HTTP overhead", "appraisal log commits"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	// Measurements only: no project-internal goals.
	if strings.Contains(out, "target") {
		t.Errorf("text report speaks of targets:\n%s", out)
	}
}

// externalService runs a service on httptest that trusts the simulation
// in dir; fail makes it answer some appraisals with a 500 once armed.
func externalService(t *testing.T, dir string, fail *atomic.Bool) string {
	t.Helper()
	s, err := sim.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := service.New(context.Background(), service.Config{
		Store:  storetest.Open(t, storetest.SQLite(t)),
		Signer: key,
		Verify: s.VerifyOptions(nil),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Rate:   -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	h := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail != nil && fail.Load() && r.URL.Path == api.PathAttest && n.Add(1)%3 == 0 {
			w.Header().Set("Content-Type", api.ProblemMedia)
			w.WriteHeader(500)
			fmt.Fprint(w, `{"type":"https://ratls.dev/problems/internal-error","title":"Internal error","status":500}`)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return hs.URL
}

func TestLoadtestExternal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sim")
	if err := sim.Init(dir, sim.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	url := externalService(t, dir, nil)
	code, out, stderr := runLoadtestCLI(t, "--url", url, "--sim-dir", dir, "--duration", "1s", "--warmup", "100ms", "--concurrency", "4", "--pool", "16", "--json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	r := decodeLoadReport(t, out)
	checkLoadReport(t, r, "external "+url, false)
	if r.Service.LogCommits != 0 {
		t.Errorf("an external service's commits cannot be counted: %d", r.Service.LogCommits)
	}

	// A service that does not trust the simulation is refused up front.
	code, out, stderr = runLoadtestCLI(t, "--url", url, "--duration", "1s", "--warmup", "0s")
	if code != exitInput || !strings.Contains(stderr, "cannot appraise the simulated quotes") {
		t.Errorf("untrusting service: exit %d\n%s\n%s", code, out, stderr)
	}
}

// TestLoadtestErrors checks that failed requests are counted, reported
// by kind and fail the run.
func TestLoadtestErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sim")
	if err := sim.Init(dir, sim.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	var fail atomic.Bool
	url := externalService(t, dir, &fail)
	// The first check must pass; failures start with the load.
	go func() {
		time.Sleep(50 * time.Millisecond)
		fail.Store(true)
	}()
	code, out, stderr := runLoadtestCLI(t, "--url", url, "--sim-dir", dir, "--duration", "500ms", "--warmup", "0s", "--concurrency", "2", "--pool", "4", "--json")
	if code != exitRejected || !strings.Contains(stderr, "operations failed") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	r := decodeLoadReport(t, out)
	p := r.Service
	if p.Errors == 0 || p.ErrorKinds["HTTP 500 internal-error"] != p.Errors || p.Errors > p.Operations/2 {
		t.Errorf("errors: want about a third of %d operations as HTTP 500 internal-error, got %d: %v", p.Operations, p.Errors, p.ErrorKinds)
	}
}

func TestLoadtestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--warmup", "-1s"}, "--warmup"},
		{[]string{"--rounds", "0"}, "--rounds"},
		{[]string{"--duration", "1s", "--rounds", "11"}, "--rounds"},
		{[]string{"--concurrency", "0"}, "--concurrency"},
		{[]string{"--workers", "100000"}, "--workers"},
		{[]string{"--pool", "0"}, "--pool"},
		{[]string{"--url", "http://127.0.0.1:1", "--db", "sqlite:/tmp/x.db"}, "exclusive"},
		{[]string{"--token", "x"}, "--token needs --url"},
		{[]string{"--sim-dir", "/does/not/exist", "--duration", "1s"}, "simulated TEE"},
		{[]string{"--db", "mysql://x", "--duration", "100ms", "--warmup", "0s", "--pool", "1"}, "--db mysql://x"},
		{[]string{"--db", "postgres://u:secret@127.0.0.1:1/x?connect_timeout=1", "--duration", "100ms", "--warmup", "0s", "--pool", "1"}, "--db postgres://u:xxxxx@"},
		{[]string{"extra"}, "unknown command"},
	} {
		code, out, stderr := runLoadtestCLI(t, tc.args...)
		if code != exitInput || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "secret") {
			t.Errorf("%v: want exit 2 and %q, got exit %d\n%s\nstderr: %s", tc.args, tc.want, code, out, stderr)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics([]byte(`# HELP x y
# TYPE ratls_appraisal_stage_duration_seconds histogram
ratls_appraisal_stage_duration_seconds_sum{stage="verify"} 0.25
ratls_appraisal_stage_duration_seconds_count{stage="verify"} 1000
ratls_http_request_duration_seconds_sum{route="POST /v1/attest"} 1.5e-1

ratls_http_in_flight_requests 3
`))
	if err != nil {
		t.Fatal(err)
	}
	if m[`ratls_appraisal_stage_duration_seconds_sum{stage="verify"}`] != 0.25 || m[`ratls_appraisal_stage_duration_seconds_count{stage="verify"}`] != 1000 ||
		m[`ratls_http_request_duration_seconds_sum{route="POST /v1/attest"}`] != 0.15 || m["ratls_http_in_flight_requests"] != 3 || len(m) != 4 {
		t.Errorf("parsed: %v", m)
	}
	p := &loadPhase{Latency: loadLatency{Mean: 500}}
	p.serviceCosts(m, []string{"POST /v1/attest"})
	if v := p.Stages["verify"]; v.Count != 1000 || v.MeanMicros != 250 || p.StageSumMicros != 250 || p.HTTPOverheadMicros != 250 {
		t.Errorf("costs: %+v", p)
	}
	for _, bad := range []string{"novalue", "x{a=\"b\"} NaNx", "x 1 2 3"} {
		if _, err := parseMetrics([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

// TestLoadtestFleet drives a fleet of distinct simulated machines: every
// machine is verified once before the phases, which then find every
// platform cached, and the collateral is fetched once.
func TestLoadtestFleet(t *testing.T) {
	code, out, stderr := runLoadtestCLI(t, "--platforms", "40", "--duration", "1s", "--warmup", "0s", "--concurrency", "2", "--json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	r := decodeLoadReport(t, out)
	checkPhase(t, r.InProcess, "in-process", 0, false)
	checkPhase(t, r.Service, "service", 1, true)
	fl := r.Fleet
	if fl == nil || fl.Platforms != 40 || r.Pool != 40 || fl.FirstPassSeconds <= 0 || fl.FirstPassPerSec <= 0 {
		t.Fatalf("fleet: %+v, pool %d", fl, r.Pool)
	}
	if fl.CollateralFetches != 1 || fl.CollateralLookups < 40+r.InProcess.Operations+r.Service.Operations {
		t.Errorf("collateral: %d fetches for %d lookups, want 1 fetch for every quote verified", fl.CollateralFetches, fl.CollateralLookups)
	}
	if pc := fl.PlatformCache; pc.Entries != 40 || pc.Evictions != 0 || pc.Bytes <= 0 || pc.MaxBytes != 64<<20 || fl.MeasuredHitPercent != 100 {
		t.Errorf("platform cache: %+v, %.1f%% hits while measured", pc, fl.MeasuredHitPercent)
	}
	if fl.HeapBytes == 0 || fl.QuotePoolBytes < 40*1000 {
		t.Errorf("heap %d, quote pool %d bytes", fl.HeapBytes, fl.QuotePoolBytes)
	}
	code, out, _ = runLoadtestCLI(t, "--platforms", "8", "--duration", "200ms", "--warmup", "0s", "--concurrency", "1")
	if code != exitOK || !strings.Contains(out, "Fleet of 8 machines:") || !strings.Contains(out, "collateral fetches per quote") {
		t.Errorf("text report (exit %d):\n%s", code, out)
	}
	if code, _, stderr := runLoadtestCLI(t, "--platforms", "-1"); code != exitInput || !strings.Contains(stderr, "--platforms") {
		t.Errorf("--platforms -1: exit %d, %s", code, stderr)
	}
}
