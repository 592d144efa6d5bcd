package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/internal/loadgen"
	"github.com/ratls/ratls/service/store"
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

// ---- running ----

func runLoadtest(cmd *cobra.Command, f *loadtestFlags) error {
	switch {
	case f.duration <= 0:
		return inputErr("--duration: want more than 0, got %s", f.duration)
	case f.warmup < 0:
		return inputErr("--warmup: want 0 or more, got %s", f.warmup)
	case f.rounds < 1 || f.duration/time.Duration(f.rounds) < loadgen.MinSlice:
		return inputErr("--rounds: want 1 or more, with slices of --duration of at least %s, got %d", loadgen.MinSlice, f.rounds)
	case f.concurrency < 1 || f.concurrency > loadgen.MaxConcurrency:
		return inputErr("--concurrency: want 1 to %d, got %d", loadgen.MaxConcurrency, f.concurrency)
	case f.workers < 1 || f.workers > loadgen.MaxConcurrency:
		return inputErr("--workers: want 1 to %d, got %d", loadgen.MaxConcurrency, f.workers)
	case f.pool < 1 || f.pool > loadgen.MaxPool:
		return inputErr("--pool: want 1 to %d, got %d", loadgen.MaxPool, f.pool)
	case f.platforms < 0 || f.platforms > loadgen.MaxPlatforms:
		return inputErr("--platforms: want 0 to %d, got %d", loadgen.MaxPlatforms, f.platforms)
	case f.cacheMiB < 1:
		return inputErr("--cache-mib: want 1 or more, got %d", f.cacheMiB)
	case f.url != "" && f.db != "":
		return inputErr("--url and --db are exclusive: --db configures the in-process service")
	case f.token != "" && f.url == "":
		return inputErr("--token needs --url")
	}
	ctx, stop := signal.NotifyContext(contextOf(cmd), os.Interrupt)
	defer stop()
	stderr := cmd.ErrOrStderr()
	cfg := loadgen.Config{
		Duration: f.duration, Warmup: f.warmup, Rounds: f.rounds,
		Concurrency: f.concurrency, Workers: f.workers, Pool: f.pool, Platforms: f.platforms,
		CacheBytes: f.cacheMiB << 20, Sessions: f.sessions,
		URL: f.url, Token: f.token, Version: buildVersion().Version,
		Progress: func(line string) { fmt.Fprintf(stderr, "loadtest: %s\n", line) },
	}
	var err error
	if f.simDir != "" {
		cfg.Sim, err = sim.Load(f.simDir)
	} else {
		cfg.Sim, err = sim.New(sim.InitOptions{})
	}
	if err != nil {
		return inputErr("simulated TEE: %v", err)
	}
	if f.url == "" {
		st, name, closeStore, err := openLoadStore(ctx, f.db)
		if err != nil {
			return err
		}
		defer closeStore()
		cfg.Store, cfg.StoreName = st, name
	}
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return inputErr("--cpuprofile: %v", err)
		}
		defer pf.Close()
		cfg.CPUProfile = pf
	}
	rep, err := loadgen.Run(ctx, cfg)
	if errors.Is(err, loadgen.ErrInterrupted) {
		return errInterrupted
	}
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
	if failed := rep.Failed(); failed > 0 {
		return &exitError{code: exitRejected, err: fmt.Errorf("%d operations failed (see error_kinds)", failed)}
	}
	return nil
}

var errInterrupted = &exitError{code: exitInput, err: loadgen.ErrInterrupted}

// openLoadStore opens the in-process service's database ("" for SQLite
// in a temporary directory) and names it for the report; closeStore closes
// it and removes the temporary directory.
func openLoadStore(ctx context.Context, dsn string) (st store.Store, name string, closeStore func(), err error) {
	var tmp string
	if dsn == "" {
		if tmp, err = os.MkdirTemp("", "ratls-loadtest-"); err != nil {
			return nil, "", nil, err
		}
		dsn = "sqlite:" + filepath.Join(tmp, "loadtest.db")
	}
	if strings.HasPrefix(dsn, "sqlite:") {
		name = "SQLite " + strings.TrimPrefix(dsn, "sqlite:")
	} else {
		name = "PostgreSQL " + redactURL(dsn)
	}
	st, err = store.Open(ctx, dsn)
	if err != nil {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
		return nil, "", nil, inputErr("--db %s: %v", redactURL(dsn), err)
	}
	return st, name, func() {
		st.Close()
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}, nil
}

// redactURL hides a password in a database URL.
func redactURL(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsn
}

// ---- text report ----

func writeLoadReport(w io.Writer, r *loadgen.Report) {
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
	for _, p := range r.Phases() {
		cpu, busy, other := "-", "-", "-"
		if p.CPUPerOpMicros > 0 {
			cpu, busy, other = fmtMicros(p.CPUPerOpMicros), fmt.Sprintf("%.0f%%", 100*p.HostBusy), fmt.Sprintf("%.2f", p.OtherCores)
		}
		fmt.Fprintf(w, "%-34s %5d %9.0f %8s %8s %8s %8s %7d %8s %5s %6s\n", p.Name, p.Concurrency, p.OpsPerSec,
			fmtMicros(p.Latency.Mean), fmtMicros(p.Latency.P50), fmtMicros(p.Latency.P90), fmtMicros(p.Latency.P99), p.Errors, cpu, busy, other)
	}
	fmt.Fprintln(w, "(CPU/op: this process, load generator included; busy: all CPUs of the host; other: cores used by other processes)")
	for _, p := range r.Phases() {
		// Only a database server should share the machine, and not
		// during the in-process phase.
		if p.OtherCores > loadgen.Disturbance && (p == r.InProcess || strings.HasPrefix(r.Loaded, "in-process, SQLite")) {
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
	for _, p := range []*loadgen.Phase{r.Service, r.Sessions} {
		if p == nil || p.Stages == nil {
			continue
		}
		fmt.Fprintf(w, "\n%s, mean per appraisal (from /metrics):\n", p.Name)
		for _, s := range loadgen.Stages {
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
	for _, p := range r.Phases() {
		if len(p.ErrorKinds) == 0 {
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
