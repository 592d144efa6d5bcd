package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/client"
)

// loadHTTP sends the load to a service: raw requests for the phases, and
// the service's client for checks, metrics and keys.
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
func (h *loadHTTP) check(ctx context.Context, q *quote) error {
	c := h.client
	res, err := c.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: q.quote, Nonce: q.nonce})
	if err != nil {
		return fmt.Errorf("the service cannot appraise the simulated quotes (does it trust the simulation's root and collateral?): %v", err)
	}
	if _, err := c.VerifyEAR(ctx, res.EAR); err != nil {
		return fmt.Errorf("the service's EAR: %v", err)
	}
	if _, err := c.Metrics(ctx); err != nil {
		return fmt.Errorf("the service's metrics: %v", err)
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
func (h *loadHTTP) driver(quotes []*quote, sessions bool, concurrency int) *driver {
	d := &driver{name: "service POST " + api.PathAttest, label: "client", unit: "clients", n: concurrency,
		run: &run{kinds: map[string]int64{}}, h: h, routes: []string{"POST " + api.PathAttest},
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

// metrics reads the service's /metrics.
func (h *loadHTTP) metrics(ctx context.Context) (map[string]float64, error) {
	b, err := h.client.Metrics(ctx)
	if err != nil {
		return nil, fmt.Errorf("the service's metrics: %w", err)
	}
	m, err := parseMetrics(b)
	if err != nil {
		return nil, fmt.Errorf("the service's metrics: %w", err)
	}
	return m, nil
}
