package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ratls/ratls/internal/lru"
	"github.com/ratls/ratls/service/store"
)

// Latency buckets in seconds: from a cached verification to a PCS fetch.
var buckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// collateralScrapeTimeout bounds the store lookup of the collateral expiry
// gauge during a scrape.
const collateralScrapeTimeout = 2 * time.Second

// metrics is the server's Prometheus registry: its own metrics, the Go
// runtime's and the process's. Each Server has its own registry, so that
// servers in one process (tests) do not share counters.
type metrics struct {
	requests *prometheus.CounterVec // route, method, code
	inflight prometheus.Gauge
	latency  *prometheus.HistogramVec // route
	outcomes *prometheus.CounterVec   // tee, status
	stages   *prometheus.HistogramVec // parse, verify, sign, store
	handler  http.Handler             // GET /metrics
}

func newMetrics(st store.Store, collateralStats func() map[string]uint64, cacheStats func() map[string]lru.Stats, logger *slog.Logger) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ratls_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ratls_http_in_flight_requests", Help: "Requests being served.",
		}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ratls_http_request_duration_seconds", Help: "HTTP request latency by route.", Buckets: buckets,
		}, []string{"route"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ratls_appraisals_total", Help: "Appraisals by TEE and EAR status.",
		}, []string{"tee", "status"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ratls_appraisal_stage_duration_seconds", Help: "Time spent in each stage of an appraisal (parse, verify, sign, store).",
			Buckets: buckets,
		}, []string{"stage"}),
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.requests, m.inflight, m.latency, m.outcomes, m.stages,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collateralCollector{st: st, stats: collateralStats, logger: logger},
		cacheCollector(cacheStats))
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
	return m
}

func (m *metrics) request(route, method string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, method, fmt.Sprint(code)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) outcome(tee, status string) { m.outcomes.WithLabelValues(tee, status).Inc() }

func (m *metrics) stage(name string, d time.Duration) {
	m.stages.WithLabelValues(name).Observe(d.Seconds())
}

// collateralCollector reports, at each scrape, the collateral cache
// counters and when each entry of the shared collateral store expires.
type collateralCollector struct {
	st     store.Store
	stats  func() map[string]uint64
	logger *slog.Logger
}

var (
	collateralTotalDesc = prometheus.NewDesc("ratls_collateral_total",
		"Collateral lookups by outcome (memory and store hits, upstream fetches, errors).", []string{"outcome"}, nil)
	collateralExpiryDesc = prometheus.NewDesc("ratls_collateral_expiry_timestamp_seconds",
		"When each entry of the shared collateral store stops being served (its earliest nextUpdate), as a Unix time.",
		[]string{"key"}, nil)
)

func (c *collateralCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- collateralTotalDesc
	ch <- collateralExpiryDesc
}

func (c *collateralCollector) Collect(ch chan<- prometheus.Metric) {
	if c.stats != nil {
		for outcome, n := range c.stats() {
			ch <- prometheus.MustNewConstMetric(collateralTotalDesc, prometheus.CounterValue, float64(n), outcome)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), collateralScrapeTimeout)
	defer cancel()
	entries, err := c.st.CollateralEntries(ctx)
	if err != nil {
		// The scrape goes on without the gauge: a database outage shows
		// in /readyz and in the requests' 503s.
		c.logger.Warn("metrics: listing collateral entries", "err", err)
		return
	}
	for _, e := range entries {
		ch <- prometheus.MustNewConstMetric(collateralExpiryDesc, prometheus.GaugeValue,
			float64(e.NextUpdate.UnixMilli())/1000, e.Key)
	}
}

// cacheCollector reports, at each scrape, the counters and sizes of the
// verifiers' and collateral caches, labelled by cache name.
type cacheCollector func() map[string]lru.Stats

// cacheMetrics are the metrics of cacheCollector and how to read each from
// a cache's Stats.
var cacheMetrics = []struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(lru.Stats) float64
}{
	{cacheDesc("ratls_cache_hits_total", "Cache lookups answered from memory, by cache."),
		prometheus.CounterValue, func(s lru.Stats) float64 { return float64(s.Hits) }},
	{cacheDesc("ratls_cache_misses_total", "Cache lookups that had to verify or fetch, by cache."),
		prometheus.CounterValue, func(s lru.Stats) float64 { return float64(s.Misses) }},
	{cacheDesc("ratls_cache_evictions_total", "Entries dropped to keep a cache within its bound, by cache."),
		prometheus.CounterValue, func(s lru.Stats) float64 { return float64(s.Evictions) }},
	{cacheDesc("ratls_cache_entries", "Entries held, by cache."),
		prometheus.GaugeValue, func(s lru.Stats) float64 { return float64(s.Entries) }},
	{cacheDesc("ratls_cache_bytes", "Estimated memory held, by cache."),
		prometheus.GaugeValue, func(s lru.Stats) float64 { return float64(s.Bytes) }},
	{cacheDesc("ratls_cache_max_bytes", "Memory bound, by cache."),
		prometheus.GaugeValue, func(s lru.Stats) float64 { return float64(s.MaxBytes) }},
}

func cacheDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"cache"}, nil)
}

func (c cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range cacheMetrics {
		ch <- m.desc
	}
}

func (c cacheCollector) Collect(ch chan<- prometheus.Metric) {
	if c == nil {
		return
	}
	for name, s := range c() {
		for _, m := range cacheMetrics {
			ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(s), name)
		}
	}
}
