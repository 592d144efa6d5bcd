package loadgen

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parseMetrics reads the samples of a Prometheus text exposition, keyed as
// model.Metric writes them: "name{label=\"v\"}" (labels sorted, joined by
// ", "). A histogram gives its _sum, _count and _bucket samples.
func parseMetrics(b []byte) (map[string]float64, error) {
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	samples, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{}, slices.Collect(maps.Values(fams))...)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	out := make(map[string]float64, len(samples))
	for _, s := range samples {
		out[s.Metric.String()] = float64(s.Value)
	}
	return out, nil
}

// serviceCosts fills the stage costs and the time in the service's
// handlers from the /metrics deltas summed over the measured slices.
func (p *Phase) serviceCosts(delta map[string]float64, routes []string) {
	get := func(name, label, value string) float64 { return delta[fmt.Sprintf("%s{%s=%q}", name, label, value)] }
	p.Stages = map[string]Stage{}
	for _, s := range Stages {
		const h = "ratls_appraisal_stage_duration_seconds"
		n, sum := get(h+"_count", "stage", s), get(h+"_sum", "stage", s)
		st := Stage{Count: int64(n)}
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
