// Package loadgen measures the verification service's throughput against
// in-process verification on one machine: the work of "ratls loadtest".
//
// Run verifies simulated SGX quotes in-process (ratls.VerifyEvidence), then
// has a service appraise the same quotes over HTTP (POST /v1/attest, and
// optionally challenge-response sessions), and reports operations per
// second, latency percentiles, errors by kind, the cost of each appraisal
// stage read from the service's /metrics, and CPU figures from /proc
// (Linux). The phases take turns in slices of the measured time, so that a
// disturbance of the machine affects them alike.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/service/store"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/verify/intel"
)

// Limits of a Config.
const (
	MaxPool        = 65536
	MaxPlatforms   = 1 << 20
	MaxConcurrency = 4096 // of Concurrency and Workers
	MinSlice       = 100 * time.Millisecond
)

// Disturbance is the CPU, in cores, that other processes may use during a
// phase before its figures should be called disturbed (Phase.OtherCores).
const Disturbance = 0.2

// ErrInterrupted is returned when the context ends during a measurement.
var ErrInterrupted = errors.New("interrupted")

// Config describes a run.
type Config struct {
	// Sim is the simulated TEE whose SGX quotes are verified.
	Sim *sim.Sim
	// Duration is the measured time of each phase, cut into Rounds
	// slices of at least MinSlice; each phase first runs Warmup.
	Duration, Warmup time.Duration
	Rounds           int
	// Concurrency is the number of HTTP clients, Workers the number of
	// in-process verification goroutines.
	Concurrency, Workers int
	// Pool is the number of distinct quotes (and nonces) cycled through.
	// Platforms, when above 0, replaces it: a fleet of that many
	// simulated machines, one quote each, each verified once before the
	// phases.
	Pool, Platforms int
	// CacheBytes bounds the verifier's platform cache and the collateral
	// cache of a fleet.
	CacheBytes int64
	// Sessions adds the phase of challenge-response sessions.
	Sessions bool

	// URL, when set, is an external service to load (with Token, if it
	// requires one); it must trust Sim. Otherwise a service is started in
	// this process on 127.0.0.1, on Store (which Run does not close),
	// described in the report as StoreName, with no rate limit and no
	// logs, reporting Version.
	URL, Token string
	Store      store.Store
	StoreName  string
	Version    string

	// CPUProfile, when set, receives a CPU profile of the warm-ups and
	// the measured phases. Samples carry the label side=inprocess,
	// side=service or side=client.
	CPUProfile io.Writer
	// Progress, when set, is called with a line for each step.
	Progress func(line string)
}

func (c *Config) check() error {
	switch {
	case c.Sim == nil:
		return errors.New("loadgen: no simulated TEE")
	case c.Duration <= 0 || c.Warmup < 0 || c.Rounds < 1 || c.Duration/time.Duration(c.Rounds) < MinSlice:
		return fmt.Errorf("loadgen: want Duration above 0 in Rounds slices of at least %s, Warmup 0 or more", MinSlice)
	case c.Concurrency < 1 || c.Concurrency > MaxConcurrency || c.Workers < 1 || c.Workers > MaxConcurrency:
		return fmt.Errorf("loadgen: want Concurrency and Workers of 1 to %d", MaxConcurrency)
	case c.Platforms < 0 || c.Platforms > MaxPlatforms || (c.Platforms == 0 && (c.Pool < 1 || c.Pool > MaxPool)):
		return fmt.Errorf("loadgen: want Pool of 1 to %d, or Platforms of 1 to %d", MaxPool, MaxPlatforms)
	case c.CacheBytes < 1:
		return errors.New("loadgen: want CacheBytes above 0")
	case (c.URL == "") == (c.Store == nil):
		return errors.New("loadgen: want either URL or Store")
	}
	return nil
}

// Run measures; progress goes to cfg.Progress. Errors before the phases
// (an unusable simulation, a service that cannot appraise its quotes)
// end it; failed operations during the phases are counted in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			cfg.Progress(fmt.Sprintf(format, args...))
		}
	}
	s := cfg.Sim
	att, err := s.Attester(sim.TEESGX, sim.Measurements{})
	if err != nil {
		return nil, fmt.Errorf("simulated TEE: %v", err)
	}
	coll, err := s.Collateral(sim.TEESGX)
	if err != nil {
		return nil, fmt.Errorf("simulated TEE: %v", err)
	}
	// Warm collateral: the same parsed collateral for every request, as a
	// warm cache gives; one verifier, whose caches both sides share.
	opt := s.VerifyOptions(&intel.Config{CacheBytes: cfg.CacheBytes})
	intelOpt := tee.Edit[dcap.Options](&opt.TEE)
	intelOpt.Collateral = pcs.Static{C: coll}
	var quotes []*quote
	var fleet *Fleet
	var lookups, fetches *countingProvider
	if cfg.Platforms > 0 {
		progress("minting %d machines", cfg.Platforms)
		if quotes, err = makeFleetQuotes(ctx, att, cfg.Platforms); err != nil {
			return nil, err
		}
		fetches = &countingProvider{next: s.Provider()}
		lookups = &countingProvider{next: pcs.NewCache(fetches, pcs.CacheConfig{MaxBytes: cfg.CacheBytes})}
		intelOpt.Collateral = lookups
		fleet = &Fleet{Platforms: cfg.Platforms}
		progress("first pass, every machine new to the verifier")
		if err := firstPass(ctx, quotes, &opt, fleet); err != nil {
			return nil, err
		}
	} else if quotes, err = makeQuotes(ctx, att, cfg.Pool); err != nil {
		return nil, err
	}
	rep := &Report{Machine: machineInfo(), Pool: len(quotes), QuoteBytes: len(quotes[0].quote),
		WarmupSec: cfg.Warmup.Seconds(), Rounds: cfg.Rounds, Fleet: fleet}
	inproc, err := inProcessDriver(ctx, cfg.Workers, quotes, &opt)
	if err != nil {
		return nil, err
	}

	base := strings.TrimRight(cfg.URL, "/")
	var ls *inProcessService
	if cfg.URL == "" {
		if ls, err = startService(ctx, cfg.Store, &opt, cfg.Version); err != nil {
			return nil, err
		}
		defer ls.stop()
		base, rep.Loaded = ls.url, "in-process, "+cfg.StoreName
	} else {
		rep.Loaded = "external " + base
	}
	h := newLoadHTTP(base, cfg.Token, cfg.Concurrency)
	if ls != nil {
		h.log = ls.log
	}
	defer h.tr.CloseIdleConnections()
	if err := h.check(ctx, quotes[0]); err != nil {
		return nil, err
	}
	drivers := []*driver{inproc, h.driver(quotes, false, cfg.Concurrency)}
	if cfg.Sessions {
		drivers = append(drivers, h.driver(quotes, true, cfg.Concurrency))
	}

	if cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			return nil, fmt.Errorf("CPU profile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	progress("service: %s", rep.Loaded)
	for _, d := range drivers {
		progress("%s, %d %s, %s warm-up", d.name, d.n, d.unit, cfg.Warmup)
		if cfg.Warmup > 0 {
			drive(ctx, d.n, cfg.Warmup, d.label, d.op, nil)
		}
	}
	platformsBefore := intelOpt.Verifier.CacheStats()["platforms"]
	// The phases take turns, a slice of the duration each, so that a
	// disturbance of the machine hits them alike.
	slice := cfg.Duration / time.Duration(cfg.Rounds)
	for round := range cfg.Rounds {
		progress("round %d of %d, %s per phase", round+1, cfg.Rounds, slice)
		for _, d := range drivers {
			if err := d.slice(ctx, slice); err != nil {
				return nil, err
			}
		}
	}
	phases := make([]*Phase, len(drivers))
	for i, d := range drivers {
		if phases[i], err = d.report(ctx); err != nil {
			return nil, err
		}
	}
	rep.InProcess, rep.Service = phases[0], phases[1]
	if cfg.Sessions {
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
		after := intelOpt.Verifier.CacheStats()["platforms"]
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
