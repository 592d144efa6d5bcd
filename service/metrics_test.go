package service_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
)

// scrape reads /metrics as Prometheus does.
func (f *fixture) scrape() map[string]*dto.MetricFamily {
	f.t.Helper()
	r := f.do("GET", api.PathMetrics, "", "", nil)
	if r.code != http.StatusOK {
		f.t.Fatalf("GET /metrics: %d %s", r.code, r.body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		f.t.Fatalf("GET /metrics: not the Prometheus text format: %v\n%s", err, r.body)
	}
	return fams
}

// sample returns the value of the series of family name with the given
// labels, and whether it exists.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	fam := fams[name]
	if fam == nil {
		return 0, false
	}
next:
	for _, m := range fam.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// The metrics keep their names and labels, and come with the Go runtime's,
// the process's and the collateral cache's.
func TestMetrics(t *testing.T) {
	stats := map[string]uint64{"intel_store_hits": 7}
	f := newFixture(t, fixtureOptions{mutate: func(c *service.Config) {
		c.CollateralStats = func() map[string]uint64 { return stats }
	}})
	next := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := f.st.PutCollateral(context.Background(), &store.Collateral{Key: "intel/sgx/00906ED50000/processor/standard",
		Body: []byte("x"), FetchedAt: next.Add(-time.Hour), NextUpdate: next}); err != nil {
		t.Fatal(err)
	}
	q := quote(t, f.sgx, nil)
	f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q)
	f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q[:10])
	fams := f.scrape()
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ratls_appraisals_total", map[string]string{"tee": "sgx", "status": "warning"}, 1},
		{"ratls_http_requests_total", map[string]string{"route": "POST /v1/attest", "method": "POST", "code": "400"}, 1},
		{"ratls_http_requests_total", map[string]string{"route": "POST /v1/attest", "method": "POST", "code": "200"}, 1},
		{"ratls_http_request_duration_seconds", map[string]string{"route": "POST /v1/attest"}, 2},
		{"ratls_appraisal_stage_duration_seconds", map[string]string{"stage": "verify"}, 1},
		{"ratls_appraisal_stage_duration_seconds", map[string]string{"stage": "sign"}, 1},
		{"ratls_appraisal_stage_duration_seconds", map[string]string{"stage": "store"}, 1},
		{"ratls_collateral_total", map[string]string{"outcome": "intel_store_hits"}, 7},
		{"ratls_collateral_expiry_timestamp_seconds", map[string]string{"key": "intel/sgx/00906ED50000/processor/standard"}, float64(next.Unix())},
		{"ratls_http_in_flight_requests", nil, 1}, // the scrape itself
	} {
		got, ok := sample(fams, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_open_fds"} {
		if fams[name] == nil {
			t.Errorf("metrics lack %s", name)
		}
	}
	if got := fams["ratls_http_requests_total"].GetType(); got != dto.MetricType_COUNTER {
		t.Errorf("ratls_http_requests_total is a %v, want a counter", got)
	}
}
