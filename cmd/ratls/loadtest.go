package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/client"
	"github.com/ratls/ratls/service/store"
	"github.com/ratls/ratls/verify/intel"
)

// loadDisturbance is the CPU, in cores, that other processes may use
// during a phase before the report calls its figures disturbed.
const loadDisturbance = 0.2

// Limits of the loadtest flags.
const (
	maxLoadPool        = 65536
	maxLoadPlatforms   = 1 << 20
	maxLoadConcurrency = 4096
	minLoadSlice       = 100 * time.Millisecond
)

type loadtestFlags struct {
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	concurrency int
	workers     int
	db          string
	url         string
	token       string
	sessions    bool
	pool        int
	simDir      string
	cpuProfile  string
	asJSON      bool
	platforms   int
	cacheMiB    int64
}

func newLoadtestCommand() *cobra.Command {
	var f loadtestFlags
	cmd := &cobra.Command{
		Use:   "loadtest [flags]",
		Short: "Measure the verification service's throughput against in-process verification",
		Long: `Loadtest measures, in one run on this machine:

  1. in-process verification: ratls.VerifyEvidence of simulated SGX quotes
     (parsed from bytes each time, nonce checked) with warm collateral, on
     --workers goroutines (default GOMAXPROCS);
  2. the same quotes through the verification service, POST /v1/attest with
     the quote's nonce, from --concurrency clients over HTTP/1.1 keep-alive;
  3. with --sessions, challenge-response: newSession with the quote's nonce,
     then the quote posted to the session (two requests per appraisal).

Each phase runs --warmup, then --duration; with --rounds N the measured
time is cut into N slices and the phases take turns (in-process, service,
sessions, in-process, ...), so that another program disturbing the machine
for a while affects all phases alike. The quotes come from a pool of
--pool quotes with distinct random nonces, from an in-memory simulated TEE
(or the one in --sim-dir). The service is started in this process on
127.0.0.1 with the database --db (default: SQLite in a temporary directory;
postgres://... for PostgreSQL, whose tables are created if missing), no rate
limit and no logs; or, with --url, an external service is used, which must
trust the simulated TEE (e.g. "ratls sim init DIR", then "ratls verifier
serve --trust-root DIR/root.pem --collateral DIR/sgx --offline --rate -1" and
"ratls loadtest --url http://127.0.0.1:8080 --sim-dir DIR").

The report gives operations per second, the ratio service / in-process,
latency percentiles, errors (any answer other than 200 or
201 is one), the mean cost of each appraisal stage (parse, verify, sign,
store) read from the service's /metrics histograms over the measured
period, and the HTTP overhead: mean request latency minus the stage sum.
CPU figures are read from /proc (Linux) and include this process's load
generator; a database server's CPU shows only in the host figure.

--platforms N simulates a fleet: N machines of the simulated platform, each
with a PCK certificate and attestation key of its own, one quote each (the
pool). The verifier (its platform cache bounded by --cache-mib) first
verifies every machine once ("first pass": each is new to it); the phases
then measure a fleet whose machines attest again, as every few minutes.
Collateral comes through a collateral cache, and the report gives the
collateral fetches per quote, the platform cache's hits and size, and the
heap after the run.

--cpuprofile writes a CPU profile of the measurement; samples carry the
label side=inprocess (in-process verification), side=service (the
service's goroutines), side=client (the load generator) or none (the
runtime): "go tool pprof -tagfocus side=service".

Exit status: 0 when every request succeeded, 1 when some failed, 2 for
unusable flags or a service that cannot appraise the simulated quotes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLoadtest(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "measured time of each phase")
	fl.DurationVar(&f.warmup, "warmup", 2*time.Second, "unmeasured time before each phase")
	fl.IntVar(&f.rounds, "rounds", 1, "run the phases in turn this many times, a slice of --duration each")
	fl.IntVar(&f.concurrency, "concurrency", 4*runtime.GOMAXPROCS(0), "concurrent HTTP clients")
	fl.IntVar(&f.workers, "workers", runtime.GOMAXPROCS(0), "in-process verification goroutines")
	fl.StringVar(&f.db, "db", "", "database of the in-process service: sqlite:PATH or postgres://... (default: SQLite in a temporary directory)")
	fl.StringVar(&f.url, "url", "", "load an external service at this URL instead of an in-process one")
	fl.StringVar(&f.token, "token", "", "with --url: API token, if the service requires one for verification")
	fl.BoolVar(&f.sessions, "sessions", false, "also measure challenge-response sessions (newSession + evidence)")
	fl.IntVar(&f.pool, "pool", 256, "number of distinct quotes (and nonces) to cycle through")
	fl.StringVar(&f.simDir, "sim-dir", "", "simulated TEE from \"ratls sim init\" (default: a new in-memory one)")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured phases to this file")
	fl.BoolVar(&f.asJSON, "json", false, "print the report as JSON")
	fl.IntVar(&f.platforms, "platforms", 0, "simulate a fleet of this many distinct machines, one quote each (replaces --pool)")
	fl.Int64Var(&f.cacheMiB, "cache-mib", 64, "memory bound of the verifier's platform cache and of the collateral cache, in MiB")
	return cmd
}

// ---- report ----

type loadReport struct {
	Machine    loadMachine `json:"machine"`
	Loaded     string      `json:"loaded"` // the service under load
	Pool       int         `json:"pool"`
	QuoteBytes int         `json:"quote_bytes"`
	WarmupSec  float64     `json:"warmup_seconds"`
	Rounds     int         `json:"rounds"`
	InProcess  *loadPhase  `json:"in_process"`
	Service    *loadPhase  `json:"service"`
	Sessions   *loadPhase  `json:"sessions,omitempty"`
	// Ratio is service / in-process operations per second;
	// SessionsRatio the same for sessions (appraisals per second).
	Ratio         float64 `json:"ratio"`
	SessionsRatio float64 `json:"sessions_ratio,omitempty"`
	// CPURatio is in-process / service CPU time per operation (the load
	// generator's included): what Ratio would be with the machine to
	// this process alone, whatever else runs.
	CPURatio float64 `json:"cpu_ratio,omitempty"`
	// Fleet describes a run with --platforms.
	Fleet *loadFleet `json:"fleet,omitempty"`
}

// loadFleet is what a run with --platforms measured of the fleet.
type loadFleet struct {
	Platforms int `json:"platforms"`
	// FirstPass is the verification of every machine once, each new to
	// the verifier, on GOMAXPROCS goroutines.
	FirstPassSeconds     float64 `json:"first_pass_seconds"`
	FirstPassPerSec      float64 `json:"first_pass_per_second"`
	FirstPassCPUPerMicro float64 `json:"first_pass_cpu_us_per_platform,omitempty"`
	// CollateralLookups counts the verifications' requests for collateral
	// (one per quote), CollateralFetches those the collateral cache
	// passed on to the source.
	CollateralLookups int64   `json:"collateral_lookups"`
	CollateralFetches int64   `json:"collateral_fetches"`
	FetchesPerQuote   float64 `json:"fetches_per_quote"`
	// PlatformCache is the verifier's cache of platforms at the end;
	// MeasuredHitPercent the share of its lookups that hit during the
	// measured phases.
	PlatformCache      intel.CacheStats `json:"platform_cache"`
	MeasuredHitPercent float64          `json:"measured_hit_percent"`
	// HeapBytes is the live heap after the run, which holds the quote
	// pool (QuotePoolBytes) besides the verifier and the service.
	HeapBytes      uint64 `json:"heap_bytes"`
	QuotePoolBytes int64  `json:"quote_pool_bytes"`
}

type loadMachine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model,omitempty"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Go         string `json:"go"`
}

// loadPhase is the outcome of one measured phase. An operation is one
// appraisal: one request for /v1/attest, two for a session.
type loadPhase struct {
	Name        string           `json:"name"`
	Concurrency int              `json:"concurrency"`
	Seconds     float64          `json:"seconds"`
	Operations  int64            `json:"operations"`
	Requests    int64            `json:"requests"`
	Errors      int64            `json:"errors"`
	ErrorKinds  map[string]int64 `json:"error_kinds,omitempty"`
	OpsPerSec   float64          `json:"ops_per_second"`
	ReqPerSec   float64          `json:"requests_per_second"`
	// Latency of an operation, in microseconds.
	Latency loadLatency `json:"latency_us"`
	// CPU: this process's CPU time per operation and the host's busy
	// fraction (all cores), from /proc; absent elsewhere.
	CPUPerOpMicros float64 `json:"process_cpu_us_per_op,omitempty"`
	HostBusy       float64 `json:"host_cpu_busy,omitempty"`
	// OtherCores is the CPU other processes used meanwhile, in cores: a
	// database server's share, or disturbance.
	OtherCores float64 `json:"other_cpu_cores,omitempty"`
	// Service side, from /metrics deltas over the measured period.
	Stages         map[string]loadStage `json:"stages,omitempty"`
	StageSumMicros float64              `json:"stage_sum_us,omitempty"`
	// ServerMicros is the mean time in the service's handlers per
	// operation (ratls_http_request_duration_seconds).
	ServerMicros float64 `json:"server_handler_us,omitempty"`
	// HTTPOverheadMicros is the mean operation latency minus the stage
	// sum: HTTP handling, transport, the load generator and waiting for a
	// CPU.
	HTTPOverheadMicros float64 `json:"http_overhead_us,omitempty"`
	// LogCommits is the number of appraisal log writes (group commits)
	// of an in-process service, LogBatchMean their mean size.
	LogCommits   int64   `json:"log_commits,omitempty"`
	LogBatchMean float64 `json:"log_batch_mean,omitempty"`
}

type loadLatency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

type loadStage struct {
	Count      int64   `json:"count"`
	MeanMicros float64 `json:"mean_us"`
}

// loadStages are the appraisal stages the service measures.
var loadStages = []string{"parse", "verify", "sign", "store"}

// ---- quotes ----

// loadQuote is a quote and the nonce its report data carries.
type loadQuote struct {
	quote []byte
	nonce []byte
	// attestPath and sessionPath are the request paths with the nonce.
	attestPath  string
	sessionPath string
}

func makeQuotes(ctx context.Context, a *sim.Attester, n int) ([]*loadQuote, error) {
	out := make([]*loadQuote, n)
	for i := range out {
		nonce := make([]byte, 32)
		rand.Read(nonce)
		var rd [64]byte
		copy(rd[:], nonce)
		ev, err := a.Attest(ctx, rd)
		if err != nil {
			return nil, fmt.Errorf("simulated quote %d: %w", i, err)
		}
		q := url.Values{"nonce": {base64.URLEncoding.EncodeToString(nonce)}}.Encode()
		out[i] = &loadQuote{quote: ev.Data, nonce: nonce, attestPath: api.PathAttest + "?" + q, sessionPath: api.PathNewSession + "?" + q}
	}
	return out, nil
}

// ---- running ----

func runLoadtest(cmd *cobra.Command, f *loadtestFlags) error {
	switch {
	case f.duration <= 0:
		return inputErr("--duration: want more than 0, got %s", f.duration)
	case f.warmup < 0:
		return inputErr("--warmup: want 0 or more, got %s", f.warmup)
	case f.rounds < 1 || f.duration/time.Duration(f.rounds) < minLoadSlice:
		return inputErr("--rounds: want 1 or more, with slices of --duration of at least %s, got %d", minLoadSlice, f.rounds)
	case f.concurrency < 1 || f.concurrency > maxLoadConcurrency:
		return inputErr("--concurrency: want 1 to %d, got %d", maxLoadConcurrency, f.concurrency)
	case f.workers < 1 || f.workers > maxLoadConcurrency:
		return inputErr("--workers: want 1 to %d, got %d", maxLoadConcurrency, f.workers)
	case f.pool < 1 || f.pool > maxLoadPool:
		return inputErr("--pool: want 1 to %d, got %d", maxLoadPool, f.pool)
	case f.platforms < 0 || f.platforms > maxLoadPlatforms:
		return inputErr("--platforms: want 0 to %d, got %d", maxLoadPlatforms, f.platforms)
	case f.cacheMiB < 1:
		return inputErr("--cache-mib: want 1 or more, got %d", f.cacheMiB)
	case f.url != "" && f.db != "":
		return inputErr("--url and --db are exclusive: --db configures the in-process service")
	case f.token != "" && f.url == "":
		return inputErr("--token needs --url")
	}
	ctx, stop := signal.NotifyContext(contextOf(cmd), os.Interrupt)
	defer stop()
	rep, err := loadtest(ctx, f, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	if f.asJSON {
		if err := writeJSONReport(cmd.OutOrStdout(), rep); err != nil {
			return err
		}
	} else {
		writeLoadReport(cmd.OutOrStdout(), rep)
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	var failed int64
	for _, p := range []*loadPhase{rep.InProcess, rep.Service, rep.Sessions} {
		if p != nil {
			failed += p.Errors
		}
	}
	if failed > 0 {
		return &exitError{code: exitRejected, err: fmt.Errorf("%d operations failed (see error_kinds)", failed)}
	}
	return nil
}

var errInterrupted = &exitError{code: exitInput, err: errors.New("interrupted")}

// loadtest runs the phases; progress goes to logw.
func loadtest(ctx context.Context, f *loadtestFlags, logw io.Writer) (*loadReport, error) {
	var s *sim.Sim
	var err error
	if f.simDir != "" {
		s, err = sim.Load(f.simDir)
	} else {
		s, err = sim.New(sim.InitOptions{})
	}
	if err != nil {
		return nil, inputErr("simulated TEE: %v", err)
	}
	att, err := s.Attester(sim.TEESGX, sim.Measurements{})
	if err != nil {
		return nil, inputErr("simulated TEE: %v", err)
	}
	cacheBytes := f.cacheMiB << 20
	// Warm collateral: the simulation's provider answers every request with
	// the same parsed collateral, as a warm cache does; one verifier, whose
	// caches both sides share.
	opt := s.VerifyOptions(&intel.Config{CacheBytes: cacheBytes})
	var quotes []*loadQuote
	var fleet *loadFleet
	var lookups, fetches *countingProvider
	if f.platforms > 0 {
		fmt.Fprintf(logw, "loadtest: minting %d machines\n", f.platforms)
		if quotes, err = makeFleetQuotes(ctx, att, f.platforms); err != nil {
			return nil, inputErr("%v", err)
		}
		fetches = &countingProvider{next: s.Provider()}
		lookups = &countingProvider{next: pcs.NewCache(fetches, pcs.CacheConfig{MaxBytes: cacheBytes})}
		opt.Collateral = lookups
		fleet = &loadFleet{Platforms: f.platforms}
		fmt.Fprintf(logw, "loadtest: first pass, every machine new to the verifier\n")
		if err := firstPass(ctx, quotes, &opt, fleet); err != nil {
			return nil, err
		}
	} else if quotes, err = makeQuotes(ctx, att, f.pool); err != nil {
		return nil, inputErr("%v", err)
	}
	rep := &loadReport{Machine: machineInfo(), Pool: len(quotes), QuoteBytes: len(quotes[0].quote),
		WarmupSec: f.warmup.Seconds(), Rounds: f.rounds, Fleet: fleet}
	inproc, err := inProcessDriver(ctx, f, quotes, &opt)
	if err != nil {
		return nil, err
	}

	base, token := strings.TrimRight(f.url, "/"), f.token
	var ls *loadService
	if f.url == "" {
		if ls, err = startLoadService(ctx, f.db, &opt); err != nil {
			return nil, err
		}
		defer ls.stop()
		base, rep.Loaded = ls.url, ls.target
	} else {
		rep.Loaded = "external " + base
	}
	h := newLoadHTTP(base, token, f.concurrency)
	if ls != nil {
		h.log = ls.log
	}
	defer h.tr.CloseIdleConnections()
	if err := h.check(ctx, quotes[0]); err != nil {
		return nil, err
	}
	drivers := []*loadDriver{inproc, h.driver(quotes, false, f.concurrency)}
	if f.sessions {
		drivers = append(drivers, h.driver(quotes, true, f.concurrency))
	}

	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return nil, inputErr("--cpuprofile: %v", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return nil, inputErr("--cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(logw, "loadtest: service: %s\n", rep.Loaded)
	for _, d := range drivers {
		fmt.Fprintf(logw, "loadtest: %s, %d %s, %s warm-up\n", d.name, d.n, d.unit, f.warmup)
		if f.warmup > 0 {
			drive(ctx, d.n, f.warmup, d.label, d.op, nil)
		}
	}
	platformsBefore := opt.Intel.CacheStats()["platforms"]
	// The phases take turns, a slice of the duration each, so that a
	// disturbance of the machine hits them alike.
	slice := f.duration / time.Duration(f.rounds)
	for round := range f.rounds {
		fmt.Fprintf(logw, "loadtest: round %d of %d, %s per phase\n", round+1, f.rounds, slice)
		for _, d := range drivers {
			if err := d.slice(ctx, slice); err != nil {
				return nil, err
			}
		}
	}
	phases := make([]*loadPhase, len(drivers))
	for i, d := range drivers {
		if phases[i], err = d.report(ctx); err != nil {
			return nil, err
		}
	}
	rep.InProcess, rep.Service = phases[0], phases[1]
	if f.sessions {
		rep.Sessions = phases[2]
	}
	if r := rep.InProcess.OpsPerSec; r > 0 {
		rep.Ratio = rep.Service.OpsPerSec / r
		if rep.Sessions != nil {
			rep.SessionsRatio = rep.Sessions.OpsPerSec / r
		}
	}
	if c := rep.Service.CPUPerOpMicros; c > 0 {
		rep.CPURatio = rep.InProcess.CPUPerOpMicros / c
	}
	if fleet != nil {
		after := opt.Intel.CacheStats()["platforms"]
		fleet.PlatformCache = after
		if n := (after.Hits - platformsBefore.Hits) + (after.Misses - platformsBefore.Misses); n > 0 {
			fleet.MeasuredHitPercent = 100 * float64(after.Hits-platformsBefore.Hits) / float64(n)
		}
		fleet.CollateralLookups, fleet.CollateralFetches = lookups.n.Load(), fetches.n.Load()
		if fleet.CollateralLookups > 0 {
			fleet.FetchesPerQuote = float64(fleet.CollateralFetches) / float64(fleet.CollateralLookups)
		}
		for _, q := range quotes {
			fleet.QuotePoolBytes += int64(len(q.quote))
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fleet.HeapBytes = ms.HeapAlloc
		runtime.KeepAlive(quotes)
	}
	return rep, nil
}

// makeFleetQuotes returns one quote of each of n new machines of the
// platform of a, minted on GOMAXPROCS goroutines.
func makeFleetQuotes(ctx context.Context, a *sim.Attester, n int) ([]*loadQuote, error) {
	out := make([]*loadQuote, n)
	var next atomic.Int64
	errs := make(chan error, runtime.GOMAXPROCS(0))
	for range cap(errs) {
		go func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				m, err := a.NewMachine()
				if err == nil {
					var qs []*loadQuote
					if qs, err = makeQuotes(ctx, m, 1); err == nil {
						out[i] = qs[0]
					}
				}
				if err != nil {
					next.Store(int64(n)) // stop the others
					errs <- fmt.Errorf("simulated machine %d: %w", i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range cap(errs) {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return out, first
}

// firstPass verifies every quote once on GOMAXPROCS goroutines: each comes
// from a machine the verifier has not seen.
func firstPass(ctx context.Context, quotes []*loadQuote, opt *ratls.VerifyOptions, fleet *loadFleet) error {
	var next atomic.Int64
	var failed atomic.Pointer[string]
	c0, t0 := readCPU(), time.Now()
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(quotes) && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if kind := verifyLoadQuote(ctx, quotes[i], opt); kind != "" {
					failed.CompareAndSwap(nil, &kind)
					return
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return errInterrupted
	}
	if k := failed.Load(); k != nil {
		return inputErr("first pass over the simulated machines: %s", *k)
	}
	fleet.FirstPassSeconds = time.Since(t0).Seconds()
	fleet.FirstPassPerSec = float64(len(quotes)) / fleet.FirstPassSeconds
	if c := readCPU(); c.ok && c0.ok {
		fleet.FirstPassCPUPerMicro = (c.process - c0.process).Seconds() * 1e6 / float64(len(quotes))
	}
	return nil
}

// countingProvider counts the requests it passes on.
type countingProvider struct {
	next pcs.Provider
	n    atomic.Int64
}

func (p *countingProvider) Collateral(ctx context.Context, req pcs.Request) (*pcs.Collateral, error) {
	p.n.Add(1)
	return p.next.Collateral(ctx, req)
}

// loadOp is one operation; it returns an error kind ("" for success) and
// the number of requests it made.
type loadOp func(ctx context.Context, worker, i int) (kind string, reqs int)

// loadDriver is a phase: its operation and load, and, for the service
// phases, what is read from the service around each measured slice.
type loadDriver struct {
	name, label, unit string // unit: "workers" or "clients"
	n                 int
	op                loadOp
	run               *loadRun

	h       *loadHTTP // nil in-process
	routes  []string
	metrics map[string]float64 // summed over the measured slices
	commits int64
	entries int64
	// sample keeps one successful answer per client, verified at the end.
	sample []string
}

// loadRun is what the measured slices of a phase record.
type loadRun struct {
	ops, reqs, errs atomic.Int64
	mu              sync.Mutex
	kinds           map[string]int64
	lat             [][]time.Duration
	seconds         float64
	// CPU time of this process and jiffies of the host, summed over the
	// slices; cpuOK when every slice could read them.
	process           time.Duration
	hostBusy, hostAll uint64
	cpuOK             bool
	slices            int
}

// drive runs op on n goroutines for d; with r set it records the
// operations, their latencies and the CPU time.
func drive(ctx context.Context, n int, d time.Duration, label string, op loadOp, r *loadRun) {
	var c0 loadCPU
	if r != nil {
		c0 = readCPU()
	}
	t0 := time.Now()
	end := t0.Add(d)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			pprof.Do(ctx, pprof.Labels("side", label), func(ctx context.Context) {
				var lat []time.Duration
				for i := w; ctx.Err() == nil; i += n {
					t := time.Now()
					if !t.Before(end) {
						break
					}
					kind, reqs := op(ctx, w, i)
					el := time.Since(t)
					if r == nil {
						continue
					}
					r.ops.Add(1)
					r.reqs.Add(int64(reqs))
					if kind != "" {
						r.errs.Add(1)
						r.mu.Lock()
						r.kinds[kind]++
						r.mu.Unlock()
					}
					lat = append(lat, el)
				}
				if r != nil {
					r.mu.Lock()
					r.lat = append(r.lat, lat)
					r.mu.Unlock()
				}
			})
		})
	}
	wg.Wait()
	if r == nil {
		return
	}
	r.seconds += time.Since(t0).Seconds()
	c := readCPU()
	ok := c.ok && c0.ok && c.all > c0.all
	if r.slices == 0 {
		r.cpuOK = ok
	}
	r.cpuOK = r.cpuOK && ok
	if ok {
		r.process += c.process - c0.process
		r.hostBusy += c.busy - c0.busy
		r.hostAll += c.all - c0.all
	}
	r.slices++
}

// slice runs one measured slice of the phase.
func (d *loadDriver) slice(ctx context.Context, dur time.Duration) error {
	var before map[string]float64
	var c0, e0 int64
	if d.h != nil {
		var err error
		if before, err = readMetrics(ctx, d.h.client); err != nil {
			return err
		}
		if d.h.log != nil {
			c0, e0 = d.h.log.commits.Load(), d.h.log.entries.Load()
		}
	}
	drive(ctx, d.n, dur, d.label, d.op, d.run)
	if ctx.Err() != nil {
		return errInterrupted
	}
	if d.h != nil {
		after, err := readMetrics(ctx, d.h.client)
		if err != nil {
			return err
		}
		for k, v := range after {
			d.metrics[k] += v - before[k]
		}
		if d.h.log != nil {
			d.commits += d.h.log.commits.Load() - c0
			d.entries += d.h.log.entries.Load() - e0
		}
	}
	return nil
}

// report summarizes the phase; for a service phase it checks that every
// client's first answer is an EAR the service's keys verify.
func (d *loadDriver) report(ctx context.Context) (*loadPhase, error) {
	r := d.run
	p := &loadPhase{Name: d.name, Concurrency: d.n, Seconds: r.seconds, Operations: r.ops.Load(),
		Requests: r.reqs.Load(), Errors: r.errs.Load()}
	if len(r.kinds) > 0 {
		p.ErrorKinds = r.kinds
	}
	if r.seconds > 0 {
		p.OpsPerSec = float64(p.Operations) / r.seconds
		p.ReqPerSec = float64(p.Requests) / r.seconds
	}
	all := slices.Concat(r.lat...)
	slices.Sort(all)
	if len(all) > 0 {
		var sum time.Duration
		for _, l := range all {
			sum += l
		}
		us := func(l time.Duration) float64 { return float64(l) / float64(time.Microsecond) }
		at := func(q float64) float64 { return us(all[int(q*float64(len(all)-1))]) }
		p.Latency = loadLatency{Mean: us(sum) / float64(len(all)), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: us(all[len(all)-1])}
	}
	if r.cpuOK && p.Operations > 0 && r.seconds > 0 && r.hostAll > 0 {
		p.CPUPerOpMicros = r.process.Seconds() * 1e6 / float64(p.Operations)
		p.HostBusy = float64(r.hostBusy) / float64(r.hostAll)
		p.OtherCores = max(0, p.HostBusy*float64(runtime.NumCPU())-r.process.Seconds()/r.seconds)
	}
	if d.h == nil {
		return p, nil
	}
	p.serviceCosts(d.metrics, d.routes)
	if d.commits > 0 {
		p.LogCommits, p.LogBatchMean = d.commits, float64(d.entries)/float64(d.commits)
	}
	for _, tok := range d.sample {
		if tok == "" {
			continue
		}
		if _, err := d.h.client.VerifyEAR(ctx, tok); err != nil {
			if ctx.Err() != nil {
				return nil, errInterrupted
			}
			p.Errors++
			if p.ErrorKinds == nil {
				p.ErrorKinds = map[string]int64{}
			}
			p.ErrorKinds["EAR does not verify: "+err.Error()]++
		}
	}
	return p, nil
}

// verifyLoadQuote verifies and appraises a quote in-process, returning an
// error kind ("" when accepted).
func verifyLoadQuote(ctx context.Context, q *loadQuote, opt *ratls.VerifyOptions) string {
	items, err := evidence.ParseRaw(q.quote)
	if err != nil {
		return "parse: " + err.Error()
	}
	o := *opt
	o.Nonce = q.nonce
	v := ratls.VerifyEvidence(ctx, items[0], &o)
	if !v.Accepted() {
		return "rejected: " + firstReason(v.Appraisal)
	}
	return ""
}

func inProcessDriver(ctx context.Context, f *loadtestFlags, quotes []*loadQuote, opt *ratls.VerifyOptions) (*loadDriver, error) {
	op := func(ctx context.Context, _, i int) (string, int) {
		return verifyLoadQuote(ctx, quotes[i%len(quotes)], opt), 0
	}
	// One verification first: a simulation the verifier refuses is a
	// setup error, not a measurement.
	if kind, _ := op(ctx, 0, 0); kind != "" {
		return nil, inputErr("in-process verification of a simulated quote: %s", kind)
	}
	return &loadDriver{name: "in-process verification", label: "inprocess", unit: "workers", n: f.workers, op: op,
		run: &loadRun{kinds: map[string]int64{}}}, nil
}

// ---- the in-process service ----

type loadService struct {
	url, target string
	log         *countingStore
	stop        func()
}

// countingStore counts the appraisal log's writes, to report the size of
// its group commits. A session's entry is written with its completion.
type countingStore struct {
	store.Store
	commits, entries atomic.Int64
}

func (s *countingStore) AddAppraisals(ctx context.Context, a ...*store.Appraisal) error {
	s.commits.Add(1)
	s.entries.Add(int64(len(a)))
	return s.Store.AddAppraisals(ctx, a...)
}

func (s *countingStore) FinishSession(ctx context.Context, id string, now time.Time, out *store.SessionOutcome) error {
	if out != nil && out.Appraisal != nil {
		s.commits.Add(1)
		s.entries.Add(1)
	}
	return s.Store.FinishSession(ctx, id, now, out)
}

// startLoadService starts a service on 127.0.0.1 with the given database
// ("" for SQLite in a temporary directory), no rate limit and no logs.
func startLoadService(ctx context.Context, dsn string, opt *ratls.VerifyOptions) (*loadService, error) {
	var tmp string
	target := "in-process, "
	if dsn == "" {
		var err error
		if tmp, err = os.MkdirTemp("", "ratls-loadtest-"); err != nil {
			return nil, err
		}
		dsn = "sqlite:" + filepath.Join(tmp, "loadtest.db")
	}
	cleanup := func() {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}
	if strings.HasPrefix(dsn, "sqlite:") {
		target += "SQLite " + strings.TrimPrefix(dsn, "sqlite:")
	} else {
		target += "PostgreSQL " + redactURL(dsn)
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		cleanup()
		return nil, inputErr("--db %s: %v", redactURL(dsn), err)
	}
	st := &countingStore{Store: db}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		st.Close()
		cleanup()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		cleanup()
		return nil, err
	}
	// The service's goroutines, including those it starts, carry the
	// profile label side=service.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var srv *service.Server
	pprof.Do(sctx, pprof.Labels("side", "service"), func(context.Context) {
		srv, err = service.New(ctx, service.Config{
			Store: st, Signer: key, Verify: *opt, Rate: -1, Version: buildVersion().Version,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	})
	if err != nil {
		cancel()
		ln.Close()
		st.Close()
		cleanup()
		return nil, err
	}
	done := make(chan error, 1)
	go pprof.Do(sctx, pprof.Labels("side", "service"), func(ctx context.Context) {
		done <- srv.Serve(ctx, ln, service.ServeConfig{ShutdownGrace: 10 * time.Second})
	})
	return &loadService{url: "http://" + ln.Addr().String(), target: target, log: st, stop: func() {
		cancel()
		<-done
		st.Close()
		cleanup()
	}}, nil
}

// redactURL hides a password in a database URL.
func redactURL(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsn
}

// ---- HTTP load ----

type loadHTTP struct {
	base string
	tr   *http.Transport
	hc   *http.Client
	auth string
	log  *countingStore // nil for an external service
	// client reads the metrics and keys.
	client *client.Client
}

func newLoadHTTP(base, token string, concurrency int) *loadHTTP {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	h := &loadHTTP{base: base, tr: tr, hc: hc, client: &client.Client{BaseURL: base, HTTPClient: hc, Token: token}}
	if token != "" {
		h.auth = "Bearer " + token
	}
	return h
}

// check appraises one quote through the service's client API and verifies
// the EAR: a service that cannot appraise the simulated quotes (one that
// does not trust the simulation) would only measure failures.
func (h *loadHTTP) check(ctx context.Context, q *loadQuote) error {
	c := h.client
	res, err := c.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q.quote, Nonce: q.nonce})
	if err != nil {
		return inputErr("the service cannot appraise the simulated quotes (does it trust the simulation's root and collateral?): %v", err)
	}
	if _, err := c.VerifyEAR(ctx, res.EAR); err != nil {
		return inputErr("the service's EAR: %v", err)
	}
	if _, err := c.Metrics(ctx); err != nil {
		return inputErr("the service's metrics: %v", err)
	}
	return nil
}

// post sends one request and returns an error kind ("" for the wanted
// status), the Location header and the body.
func (h *loadHTTP) post(ctx context.Context, path, contentType string, body []byte, want int) (string, string, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+path, bytes.NewReader(body))
	if err != nil {
		return "request: " + err.Error(), "", nil
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if h.auth != "" {
		req.Header.Set("Authorization", h.auth)
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "interrupted", "", nil
		}
		return "transport: " + err.Error(), "", nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, client.MaxResponseSize))
	if err != nil {
		return "reading the answer: " + err.Error(), "", nil
	}
	if resp.StatusCode != want {
		kind := fmt.Sprintf("HTTP %d", resp.StatusCode)
		var p api.Problem
		if json.Unmarshal(b, &p) == nil && p.Type != "" {
			kind += " " + strings.TrimPrefix(p.Type, api.ProblemTypeBase)
		}
		return kind, "", nil
	}
	return "", resp.Header.Get("Location"), b
}

// driver returns the phase of POST /v1/attest, or of sessions.
func (h *loadHTTP) driver(quotes []*loadQuote, sessions bool, concurrency int) *loadDriver {
	d := &loadDriver{name: "service POST " + api.PathAttest, label: "client", unit: "clients", n: concurrency,
		run: &loadRun{kinds: map[string]int64{}}, h: h, routes: []string{"POST " + api.PathAttest},
		metrics: map[string]float64{}, sample: make([]string, concurrency)}
	if sessions {
		d.name, d.routes = "service sessions", []string{"POST " + api.PathNewSession, "POST " + api.PathSession + "{id}"}
		d.op = func(ctx context.Context, w, i int) (string, int) {
			q := quotes[i%len(quotes)]
			kind, loc, _ := h.post(ctx, q.sessionPath, "", nil, http.StatusCreated)
			if kind != "" {
				return "newSession: " + kind, 1
			}
			id, ok := api.SessionIDFromLocation(loc)
			if !ok {
				return "newSession: no session Location", 1
			}
			kind, _, b := h.post(ctx, api.PathSession+id, api.MediaDCAPQuote, q.quote, http.StatusOK)
			if kind != "" {
				return "session: " + kind, 2
			}
			if d.sample[w] == "" {
				var s api.Session
				if json.Unmarshal(b, &s) != nil || s.Result == nil {
					return "session: no result", 2
				}
				d.sample[w] = *s.Result
			}
			return "", 2
		}
		return d
	}
	d.op = func(ctx context.Context, w, i int) (string, int) {
		q := quotes[i%len(quotes)]
		kind, _, b := h.post(ctx, q.attestPath, api.MediaDCAPQuote, q.quote, http.StatusOK)
		if kind == "" && d.sample[w] == "" {
			var res api.AttestResult
			if json.Unmarshal(b, &res) != nil || res.EAR == "" {
				return "attest: no EAR", 1
			}
			d.sample[w] = res.EAR
		}
		return kind, 1
	}
	return d
}

func readMetrics(ctx context.Context, c *client.Client) (map[string]float64, error) {
	b, err := c.Metrics(ctx)
	if err != nil {
		return nil, &exitError{code: exitInput, err: fmt.Errorf("the service's metrics: %w", err)}
	}
	m, err := parseMetrics(b)
	if err != nil {
		return nil, &exitError{code: exitInput, err: fmt.Errorf("the service's metrics: %w", err)}
	}
	return m, nil
}

// serviceCosts fills the stage costs and the time in the service's
// handlers from the /metrics deltas summed over the measured slices.
func (p *loadPhase) serviceCosts(delta map[string]float64, routes []string) {
	get := func(name, label, value string) float64 { return delta[fmt.Sprintf("%s{%s=%q}", name, label, value)] }
	p.Stages = map[string]loadStage{}
	for _, s := range loadStages {
		const h = "ratls_appraisal_stage_duration_seconds"
		n, sum := get(h+"_count", "stage", s), get(h+"_sum", "stage", s)
		st := loadStage{Count: int64(n)}
		if n > 0 {
			st.MeanMicros = sum / n * 1e6
		}
		p.Stages[s] = st
		p.StageSumMicros += st.MeanMicros
	}
	for _, r := range routes {
		const h = "ratls_http_request_duration_seconds"
		if n := get(h+"_count", "route", r); n > 0 {
			p.ServerMicros += get(h+"_sum", "route", r) / n * 1e6
		}
	}
	p.HTTPOverheadMicros = p.Latency.Mean - p.StageSumMicros
}

// ---- /metrics ----

// parseMetrics reads the samples of a Prometheus text exposition, keyed
// by name and labels as written ("name{label=\"v\"}").
func parseMetrics(b []byte) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("metrics: want \"name value\", got %q", line)
		}
		key := line[:i]
		name, labels, hasLabels := strings.Cut(key, "{")
		if name == "" || strings.ContainsAny(name, " \t") || (hasLabels && !strings.HasSuffix(labels, "}")) {
			return nil, fmt.Errorf("metrics: want \"name{labels} value\", got %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: %q: %v", line, err)
		}
		out[key] = v
	}
	return out, sc.Err()
}

// ---- CPU accounting (Linux /proc) ----

type loadCPU struct {
	ok        bool
	process   time.Duration // user + system time of this process
	busy, all uint64        // jiffies of all CPUs: busy and in all
}

// clockTicks is USER_HZ, the unit of /proc CPU times on Linux.
const clockTicks = 100

func readCPU() loadCPU {
	var c loadCPU
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return c
	}
	// The command name (field 2) may contain spaces: count fields after
	// its closing parenthesis; utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(self, ')')
	if i < 0 {
		return c
	}
	fs := strings.Fields(string(self[i+1:]))
	if len(fs) < 13 {
		return c
	}
	ut, err1 := strconv.ParseUint(fs[11], 10, 64)
	st, err2 := strconv.ParseUint(fs[12], 10, 64)
	if err1 != nil || err2 != nil {
		return c
	}
	c.process = time.Duration(ut+st) * time.Second / clockTicks
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	fs = strings.Fields(line)
	if len(fs) < 8 || fs[0] != "cpu" {
		return c
	}
	var total, idle uint64
	for j, s := range fs[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return c
		}
		if j >= 8 { // guest time is already counted in user time
			break
		}
		total += v
		if j == 3 || j == 4 { // idle, iowait
			idle += v
		}
	}
	c.busy, c.all, c.ok = total-idle, total, true
	return c
}

func machineInfo() loadMachine {
	m := loadMachine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS, Arch: runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// ---- text report ----

func writeLoadReport(w io.Writer, r *loadReport) {
	m := r.Machine
	fmt.Fprintf(w, "Machine:  %d CPUs (GOMAXPROCS %d) %s, %s/%s, %s\n", m.CPUs, m.GOMAXPROCS, m.CPUModel, m.OS, m.Arch, m.Go)
	fmt.Fprintf(w, "Service:  %s\n", r.Loaded)
	fmt.Fprintf(w, "Evidence: %d simulated SGX quotes of %d bytes with distinct nonces, warm collateral\n", r.Pool, r.QuoteBytes)
	if fl := r.Fleet; fl != nil {
		fmt.Fprintf(w, "Fleet:    %d machines, one quote each; first pass (each new to the verifier): %.1f s, %.0f/s, %s CPU each\n",
			fl.Platforms, fl.FirstPassSeconds, fl.FirstPassPerSec, fmtMicros(fl.FirstPassCPUPerMicro))
	}
	fmt.Fprintf(w, "Phases:   %g s warm-up each, then %d round(s) in turn\n\n", r.WarmupSec, r.Rounds)
	fmt.Fprintf(w, "%-34s %5s %9s %8s %8s %8s %8s %7s %8s %5s %6s\n", "phase", "conc", "ops/s", "mean", "p50", "p90", "p99", "errors", "CPU/op", "busy", "other")
	for _, p := range []*loadPhase{r.InProcess, r.Service, r.Sessions} {
		if p == nil {
			continue
		}
		cpu, busy, other := "-", "-", "-"
		if p.CPUPerOpMicros > 0 {
			cpu, busy, other = fmtMicros(p.CPUPerOpMicros), fmt.Sprintf("%.0f%%", 100*p.HostBusy), fmt.Sprintf("%.2f", p.OtherCores)
		}
		fmt.Fprintf(w, "%-34s %5d %9.0f %8s %8s %8s %8s %7d %8s %5s %6s\n", p.Name, p.Concurrency, p.OpsPerSec,
			fmtMicros(p.Latency.Mean), fmtMicros(p.Latency.P50), fmtMicros(p.Latency.P90), fmtMicros(p.Latency.P99), p.Errors, cpu, busy, other)
	}
	fmt.Fprintln(w, "(CPU/op: this process, load generator included; busy: all CPUs of the host; other: cores used by other processes)")
	for _, p := range []*loadPhase{r.InProcess, r.Service, r.Sessions} {
		// Only a database server should share the machine, and not
		// during the in-process phase.
		if p != nil && p.OtherCores > loadDisturbance && (p == r.InProcess || strings.HasPrefix(r.Loaded, "in-process, SQLite")) {
			fmt.Fprintf(w, "WARNING: other processes used %.2f cores during %s: its figures, and the ratios, are disturbed\n", p.OtherCores, p.Name)
		}
	}
	fmt.Fprintf(w, "\nRatio service / in-process: %.2f (operations per second)\n", r.Ratio)
	if r.CPURatio > 0 {
		fmt.Fprintf(w, "CPU per operation, in-process / service: %.2f\n", r.CPURatio)
	}
	if r.Sessions != nil {
		fmt.Fprintf(w, "Ratio sessions / in-process: %.2f (appraisals per second; 2 requests each)\n", r.SessionsRatio)
	}
	for _, p := range []*loadPhase{r.Service, r.Sessions} {
		if p == nil || p.Stages == nil {
			continue
		}
		fmt.Fprintf(w, "\n%s, mean per appraisal (from /metrics):\n", p.Name)
		for _, s := range loadStages {
			st := p.Stages[s]
			fmt.Fprintf(w, "  %-26s %9s  (%d)\n", "stage "+s, fmtMicros(st.MeanMicros), st.Count)
		}
		fmt.Fprintf(w, "  %-26s %9s\n", "stage sum", fmtMicros(p.StageSumMicros))
		fmt.Fprintf(w, "  %-26s %9s  (outside the stages: %s)\n", "in the service's handlers", fmtMicros(p.ServerMicros), fmtMicros(p.ServerMicros-p.StageSumMicros))
		fmt.Fprintf(w, "  %-26s %9s  (latency %s - stage sum)\n", "HTTP overhead", fmtMicros(p.HTTPOverheadMicros), fmtMicros(p.Latency.Mean))
		if p.LogCommits > 0 {
			fmt.Fprintf(w, "  %-26s %9d  (%.1f entries each)\n", "appraisal log commits", p.LogCommits, p.LogBatchMean)
		}
	}
	if fl := r.Fleet; fl != nil {
		pc := fl.PlatformCache
		fmt.Fprintf(w, "\nFleet of %d machines:\n", fl.Platforms)
		fmt.Fprintf(w, "  collateral fetches per quote  %.4f  (%d fetches for %d lookups)\n", fl.FetchesPerQuote, fl.CollateralFetches, fl.CollateralLookups)
		fmt.Fprintf(w, "  platform cache                %d platforms, %.1f MiB of %.0f MiB, %d evictions; %.1f%% hits while measured\n",
			pc.Entries, float64(pc.Bytes)/(1<<20), float64(pc.MaxBytes)/(1<<20), pc.Evictions, fl.MeasuredHitPercent)
		fmt.Fprintf(w, "  heap after the run            %.1f MiB, of which the quote pool %.1f MiB\n",
			float64(fl.HeapBytes)/(1<<20), float64(fl.QuotePoolBytes)/(1<<20))
	}
	for _, p := range []*loadPhase{r.InProcess, r.Service, r.Sessions} {
		if p == nil || len(p.ErrorKinds) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nErrors of %s:\n", p.Name)
		for _, k := range slices.Sorted(maps.Keys(p.ErrorKinds)) {
			fmt.Fprintf(w, "  %6d  %s\n", p.ErrorKinds[k], k)
		}
	}
}

func fmtMicros(us float64) string {
	switch {
	case us >= 10000:
		return fmt.Sprintf("%.1fms", us/1000)
	case us >= 1000:
		return fmt.Sprintf("%.2fms", us/1000)
	}
	return fmt.Sprintf("%.0fµs", us)
}
