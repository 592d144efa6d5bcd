package loadgen

import "github.com/ratls/ratls/verify/intel"

// Report is the outcome of a run.
type Report struct {
	Machine    Machine `json:"machine"`
	Loaded     string  `json:"loaded"` // the service under load
	Pool       int     `json:"pool"`
	QuoteBytes int     `json:"quote_bytes"`
	WarmupSec  float64 `json:"warmup_seconds"`
	Rounds     int     `json:"rounds"`
	InProcess  *Phase  `json:"in_process"`
	Service    *Phase  `json:"service"`
	Sessions   *Phase  `json:"sessions,omitempty"`
	// Ratio is service / in-process operations per second;
	// SessionsRatio the same for sessions (appraisals per second).
	Ratio         float64 `json:"ratio"`
	SessionsRatio float64 `json:"sessions_ratio,omitempty"`
	// CPURatio is in-process / service CPU time per operation (the load
	// generator's included): what Ratio would be with the machine to
	// this process alone, whatever else runs.
	CPURatio float64 `json:"cpu_ratio,omitempty"`
	// Fleet describes a run with Config.Platforms.
	Fleet *Fleet `json:"fleet,omitempty"`
}

// Phases returns the phases that ran, in their order.
func (r *Report) Phases() []*Phase {
	var out []*Phase
	for _, p := range []*Phase{r.InProcess, r.Service, r.Sessions} {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// Failed returns the number of failed operations of all phases.
func (r *Report) Failed() int64 {
	var n int64
	for _, p := range r.Phases() {
		n += p.Errors
	}
	return n
}

// Fleet is what a run with Config.Platforms measured of the fleet.
type Fleet struct {
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

// Machine describes the machine the run measured.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model,omitempty"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Go         string `json:"go"`
}

// Phase is the outcome of one measured phase. An operation is one
// appraisal: one request for /v1/attest, two for a session.
type Phase struct {
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
	Latency Latency `json:"latency_us"`
	// CPU: this process's CPU time per operation and the host's busy
	// fraction (all cores), from /proc; absent elsewhere.
	CPUPerOpMicros float64 `json:"process_cpu_us_per_op,omitempty"`
	HostBusy       float64 `json:"host_cpu_busy,omitempty"`
	// OtherCores is the CPU other processes used meanwhile, in cores: a
	// database server's share, or disturbance.
	OtherCores float64 `json:"other_cpu_cores,omitempty"`
	// Service side, from /metrics deltas over the measured period.
	Stages         map[string]Stage `json:"stages,omitempty"`
	StageSumMicros float64          `json:"stage_sum_us,omitempty"`
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

// Latency holds latency figures, in microseconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

// Stage is the cost of one appraisal stage.
type Stage struct {
	Count      int64   `json:"count"`
	MeanMicros float64 `json:"mean_us"`
}

// Stages are the appraisal stages the service measures, in order.
var Stages = []string{"parse", "verify", "sign", "store"}
