package service

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ratls/ratls/internal/lru"
)

// metrics is a small Prometheus registry (text exposition format 0.0.4):
// counters and histograms with fixed label sets, enough for this service
// without a client library.
type metrics struct {
	mu       sync.Mutex
	requests map[[3]string]uint64  // route, method, code
	latency  map[string]*histogram // route
	outcomes map[[2]string]uint64  // tee, status
	stages   map[string]*histogram // parse, verify, sign, store
	inflight atomic.Int64
	extra    func() map[string]uint64 // collateral cache counters
	caches   func() map[string]lru.Stats
}

// Latency buckets in seconds: from a cached verification to a PCS fetch.
var buckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	n      uint64
}

func (h *histogram) observe(d time.Duration) {
	v := d.Seconds()
	i, _ := slices.BinarySearch(buckets, v)
	if i < len(buckets) {
		h.counts[i]++
	}
	h.sum += v
	h.n++
}

func newMetrics(extra func() map[string]uint64, caches func() map[string]lru.Stats) *metrics {
	return &metrics{
		requests: map[[3]string]uint64{}, latency: map[string]*histogram{},
		outcomes: map[[2]string]uint64{}, stages: map[string]*histogram{}, extra: extra, caches: caches,
	}
}

func hist(m map[string]*histogram, k string) *histogram {
	h := m[k]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(buckets))}
		m[k] = h
	}
	return h
}

func (m *metrics) request(route, method string, code int, d time.Duration) {
	m.mu.Lock()
	m.requests[[3]string{route, method, fmt.Sprint(code)}]++
	hist(m.latency, route).observe(d)
	m.mu.Unlock()
}

func (m *metrics) outcome(tee, status string) {
	m.mu.Lock()
	m.outcomes[[2]string{tee, status}]++
	m.mu.Unlock()
}

func (m *metrics) stage(name string, d time.Duration) {
	m.mu.Lock()
	hist(m.stages, name).observe(d)
	m.mu.Unlock()
}

// write renders all metrics.
func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP ratls_http_requests_total HTTP requests by route, method and status code.")
	fmt.Fprintln(w, "# TYPE ratls_http_requests_total counter")
	for _, k := range sortedKeys(m.requests, func(k [3]string) string { return strings.Join(k[:], "\x00") }) {
		fmt.Fprintf(w, "ratls_http_requests_total{route=%q,method=%q,code=%q} %d\n", k[0], k[1], k[2], m.requests[k])
	}
	fmt.Fprintln(w, "# HELP ratls_http_in_flight_requests Requests being served.")
	fmt.Fprintln(w, "# TYPE ratls_http_in_flight_requests gauge")
	fmt.Fprintf(w, "ratls_http_in_flight_requests %d\n", m.inflight.Load())
	writeHists(w, "ratls_http_request_duration_seconds", "HTTP request latency by route.", "route", m.latency)
	fmt.Fprintln(w, "# HELP ratls_appraisals_total Appraisals by TEE and EAR status.")
	fmt.Fprintln(w, "# TYPE ratls_appraisals_total counter")
	for _, k := range sortedKeys(m.outcomes, func(k [2]string) string { return k[0] + "\x00" + k[1] }) {
		fmt.Fprintf(w, "ratls_appraisals_total{tee=%q,status=%q} %d\n", k[0], k[1], m.outcomes[k])
	}
	writeHists(w, "ratls_appraisal_stage_duration_seconds", "Time spent in each stage of an appraisal (parse, verify, sign, store).", "stage", m.stages)
	if m.extra != nil {
		c := m.extra()
		fmt.Fprintln(w, "# HELP ratls_collateral_total Collateral lookups by outcome (memory and store hits, upstream fetches, errors).")
		fmt.Fprintln(w, "# TYPE ratls_collateral_total counter")
		for _, k := range slices.Sorted(maps.Keys(c)) {
			fmt.Fprintf(w, "ratls_collateral_total{outcome=%q} %d\n", k, c[k])
		}
	}
	if m.caches != nil {
		writeCaches(w, m.caches())
	}
}

// writeCaches renders the counters and sizes of the caches, by cache name.
func writeCaches(w io.Writer, caches map[string]lru.Stats) {
	names := slices.Sorted(maps.Keys(caches))
	for _, f := range []struct {
		name, kind, help string
		value            func(lru.Stats) int64
	}{
		{"ratls_cache_hits_total", "counter", "Cache lookups answered from memory, by cache.", func(s lru.Stats) int64 { return int64(s.Hits) }},
		{"ratls_cache_misses_total", "counter", "Cache lookups that had to verify or fetch, by cache.", func(s lru.Stats) int64 { return int64(s.Misses) }},
		{"ratls_cache_evictions_total", "counter", "Entries dropped to keep a cache within its bound, by cache.", func(s lru.Stats) int64 { return int64(s.Evictions) }},
		{"ratls_cache_entries", "gauge", "Entries held, by cache.", func(s lru.Stats) int64 { return int64(s.Entries) }},
		{"ratls_cache_bytes", "gauge", "Estimated memory held, by cache.", func(s lru.Stats) int64 { return s.Bytes }},
		{"ratls_cache_max_bytes", "gauge", "Memory bound, by cache.", func(s lru.Stats) int64 { return s.MaxBytes }},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		for _, n := range names {
			fmt.Fprintf(w, "%s{cache=%q} %d\n", f.name, n, f.value(caches[n]))
		}
	}
}

func writeHists(w io.Writer, name, help, label string, hs map[string]*histogram) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	for _, k := range slices.Sorted(maps.Keys(hs)) {
		h := hs[k]
		var cum uint64
		for i, b := range buckets {
			cum += h.counts[i]
			fmt.Fprintf(w, "%s_bucket{%s=%q,le=\"%g\"} %d\n", name, label, k, b, cum)
		}
		fmt.Fprintf(w, "%s_bucket{%s=%q,le=\"+Inf\"} %d\n", name, label, k, h.n)
		fmt.Fprintf(w, "%s_sum{%s=%q} %g\n%s_count{%s=%q} %d\n", name, label, k, h.sum, name, label, k, h.n)
	}
}

func sortedKeys[K comparable, V any](m map[K]V, key func(K) string) []K {
	ks := slices.Collect(maps.Keys(m))
	slices.SortFunc(ks, func(a, b K) int { return strings.Compare(key(a), key(b)) })
	return ks
}
