package loadgen

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/internal/loadgen/loadgentest"
	"github.com/ratls/ratls/service/store/storetest"
)

var (
	testSimOnce sync.Once
	testSimInst *sim.Sim
	testSimErr  error
)

// testSim is an in-memory simulated TEE shared by the tests (creating one
// costs key generation).
func testSim(t *testing.T) *sim.Sim {
	t.Helper()
	testSimOnce.Do(func() { testSimInst, testSimErr = sim.New(sim.InitOptions{}) })
	if testSimErr != nil {
		t.Fatal(testSimErr)
	}
	return testSimInst
}

// testConfig is a short run on an in-process service over SQLite.
func testConfig(t *testing.T) Config {
	return Config{
		Sim: testSim(t), Duration: time.Second, Warmup: 200 * time.Millisecond, Rounds: 1,
		Concurrency: 4, Workers: runtime.GOMAXPROCS(0), Pool: 16, CacheBytes: 64 << 20,
		Store: storetest.Open(t, storetest.SQLite(t)), StoreName: "SQLite test",
	}
}

// progressLog collects the progress lines of a run.
type progressLog struct {
	mu    sync.Mutex
	lines []string
}

func (p *progressLog) add(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, line)
}

func (p *progressLog) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// runBounded runs with a deadline well above the phases' durations.
func runBounded(t *testing.T, cfg Config) (*Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if ctx.Err() != nil {
		t.Fatalf("Run: still running after 2 minutes")
	}
	return rep, err
}

// checkPhase checks that a phase ran, without errors, with sane numbers.
func checkPhase(t *testing.T, p *Phase, name string, reqsPerOp int64, service bool) {
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
	for _, s := range Stages {
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

func checkReport(t *testing.T, r *Report, target string, sessions bool) {
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
		t.Error("sessions measured without Sessions")
	}
	if r.Failed() != 0 {
		t.Errorf("failed: %d", r.Failed())
	}
}

func TestRunSQLite(t *testing.T) {
	cfg := testConfig(t)
	cfg.Rounds, cfg.Sessions = 2, true
	var progress progressLog
	cfg.Progress = progress.add
	r, err := runBounded(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r, "in-process, SQLite test", true)
	if r.Rounds != 2 || !strings.Contains(progress.String(), "round 2 of 2, 500ms per phase") {
		t.Errorf("rounds: %d\n%s", r.Rounds, progress.String())
	}
	// The in-process service reports its group commits.
	for _, p := range []*Phase{r.Service, r.Sessions} {
		if p.LogCommits <= 0 || p.LogCommits > p.Operations+int64(p.Concurrency) || p.LogBatchMean < 1 {
			t.Errorf("%s: appraisal log commits %d of mean size %.2f for %d operations", p.Name, p.LogCommits, p.LogBatchMean, p.Operations)
		}
	}
	for _, want := range []string{fmt.Sprintf("in-process verification, %d workers", r.Machine.GOMAXPROCS), "service sessions, 4 clients"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q: %s", want, progress.String())
		}
	}
}

func TestRunPostgres(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	cfg := testConfig(t)
	cfg.Store, cfg.StoreName = storetest.Open(t, dsn), "PostgreSQL test"
	r, err := runBounded(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r, "in-process, PostgreSQL", false)
}

func TestRunExternal(t *testing.T) {
	url := loadgentest.Service(t, testSim(t), nil)
	cfg := testConfig(t)
	cfg.Store, cfg.URL, cfg.Warmup = nil, url, 100*time.Millisecond
	r, err := runBounded(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r, "external "+url, false)
	if r.Service.LogCommits != 0 {
		t.Errorf("an external service's commits cannot be counted: %d", r.Service.LogCommits)
	}

	// A service that does not trust the simulation is refused up front.
	other, err := sim.New(sim.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sim = other
	if _, err := runBounded(t, cfg); err == nil || !strings.Contains(err.Error(), "cannot appraise the simulated quotes") {
		t.Errorf("untrusting service: %v", err)
	}
}

// TestRunErrors checks that failed requests are counted and reported by
// kind.
func TestRunErrors(t *testing.T) {
	var fail atomic.Bool
	url := loadgentest.Service(t, testSim(t), &fail)
	cfg := testConfig(t)
	cfg.Store, cfg.URL = nil, url
	cfg.Duration, cfg.Warmup, cfg.Concurrency, cfg.Pool = 500*time.Millisecond, 0, 2, 4
	// The first check must pass; failures start with the load.
	go func() {
		time.Sleep(50 * time.Millisecond)
		fail.Store(true)
	}()
	r, err := runBounded(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := r.Service
	if p.Errors == 0 || p.ErrorKinds["HTTP 500 internal-error"] != p.Errors || p.Errors > p.Operations/2 {
		t.Errorf("errors: want about a third of %d operations as HTTP 500 internal-error, got %d: %v", p.Operations, p.Errors, p.ErrorKinds)
	}
	if r.Failed() != p.Errors+r.InProcess.Errors {
		t.Errorf("failed: %d, want %d", r.Failed(), p.Errors+r.InProcess.Errors)
	}
}

func TestRunBadConfig(t *testing.T) {
	good := testConfig(t)
	for name, mutate := range map[string]func(*Config){
		"no sim":        func(c *Config) { c.Sim = nil },
		"no duration":   func(c *Config) { c.Duration = 0 },
		"short slices":  func(c *Config) { c.Rounds = 11 },
		"no clients":    func(c *Config) { c.Concurrency = 0 },
		"many workers":  func(c *Config) { c.Workers = MaxConcurrency + 1 },
		"no pool":       func(c *Config) { c.Pool = 0 },
		"platforms":     func(c *Config) { c.Platforms = -1 },
		"no cache":      func(c *Config) { c.CacheBytes = 0 },
		"url and store": func(c *Config) { c.URL = "http://127.0.0.1:1" },
		"neither":       func(c *Config) { c.Store = nil },
	} {
		cfg := good
		mutate(&cfg)
		if _, err := Run(context.Background(), cfg); err == nil || !strings.HasPrefix(err.Error(), "loadgen: ") {
			t.Errorf("%s: want a loadgen error, got %v", name, err)
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
	// A histogram always has its +Inf bucket, which counts every sample.
	if m[`ratls_appraisal_stage_duration_seconds_sum{stage="verify"}`] != 0.25 || m[`ratls_appraisal_stage_duration_seconds_count{stage="verify"}`] != 1000 ||
		m[`ratls_appraisal_stage_duration_seconds_bucket{le="+Inf", stage="verify"}`] != 1000 ||
		m[`ratls_http_request_duration_seconds_sum{route="POST /v1/attest"}`] != 0.15 || m["ratls_http_in_flight_requests"] != 3 || len(m) != 5 {
		t.Errorf("parsed: %v", m)
	}
	p := &Phase{Latency: Latency{Mean: 500}}
	p.serviceCosts(m, []string{"POST /v1/attest"})
	if v := p.Stages["verify"]; v.Count != 1000 || v.MeanMicros != 250 || p.StageSumMicros != 250 || p.HTTPOverheadMicros != 250 {
		t.Errorf("costs: %+v", p)
	}
	for _, bad := range []string{"novalue", "x{a=\"b\"} NaNx", "x 1 2 3", "novalue\n", "x{a=\"b\"} NaNx\n", "x 1 2 3\n", "x{a=\"b} 1\n"} {
		if _, err := parseMetrics([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

// TestRunFleet drives a fleet of distinct simulated machines: every
// machine is verified once before the phases, which then find every
// platform cached, and the collateral is fetched once.
func TestRunFleet(t *testing.T) {
	cfg := testConfig(t)
	cfg.Platforms, cfg.Warmup, cfg.Concurrency = 40, 0, 2
	var progress progressLog
	cfg.Progress = progress.add
	r, err := runBounded(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
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
	if !strings.Contains(progress.String(), "minting 40 machines") || !strings.Contains(progress.String(), "first pass") {
		t.Errorf("progress: %s", progress.String())
	}
}

// TestRunInterrupted checks that a run whose context ends during the
// phases returns ErrInterrupted.
func TestRunInterrupted(t *testing.T) {
	cfg := testConfig(t)
	cfg.Duration, cfg.Warmup = time.Minute, 0
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Progress = func(line string) {
		if strings.HasPrefix(line, "round 1") {
			time.AfterFunc(300*time.Millisecond, cancel)
		}
	}
	done := make(chan error, 1)
	go func() { _, err := Run(ctx, cfg); done <- err }()
	select {
	case err := <-done:
		if err != ErrInterrupted {
			t.Errorf("want ErrInterrupted, got %v", err)
		}
	case <-time.After(time.Minute):
		cancel()
		t.Fatal("Run did not stop when its context ended")
	}
}
