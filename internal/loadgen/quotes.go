package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/service/api"
)

// quote is a quote and the nonce its report data carries.
type quote struct {
	quote []byte
	nonce []byte
	// attestPath and sessionPath are the request paths with the nonce.
	attestPath  string
	sessionPath string
}

func makeQuotes(ctx context.Context, a *sim.Attester, n int) ([]*quote, error) {
	out := make([]*quote, n)
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
		out[i] = &quote{quote: ev.Data, nonce: nonce, attestPath: api.PathAttest + "?" + q, sessionPath: api.PathNewSession + "?" + q}
	}
	return out, nil
}

// makeFleetQuotes returns one quote of each of n new machines of the
// platform of a, minted on GOMAXPROCS goroutines.
func makeFleetQuotes(ctx context.Context, a *sim.Attester, n int) ([]*quote, error) {
	out := make([]*quote, n)
	var next atomic.Int64
	errs := make(chan error, runtime.GOMAXPROCS(0))
	for range cap(errs) {
		go func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				m, err := a.NewMachine()
				if err == nil {
					var qs []*quote
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
func firstPass(ctx context.Context, quotes []*quote, opt *ratls.VerifyOptions, fleet *Fleet) error {
	var next atomic.Int64
	var failed atomic.Pointer[string]
	c0, t0 := readCPU(), time.Now()
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(quotes) && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if kind := verifyQuote(ctx, quotes[i], opt); kind != "" {
					failed.CompareAndSwap(nil, &kind)
					return
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ErrInterrupted
	}
	if k := failed.Load(); k != nil {
		return fmt.Errorf("first pass over the simulated machines: %s", *k)
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

// verifyQuote verifies and appraises a quote in-process, returning an
// error kind ("" when accepted).
func verifyQuote(ctx context.Context, q *quote, opt *ratls.VerifyOptions) string {
	items, err := evidence.ParseRaw(q.quote)
	if err != nil {
		return "parse: " + err.Error()
	}
	o := *opt
	o.Nonce = q.nonce
	v := ratls.VerifyEvidence(ctx, items[0], &o)
	if !v.Accepted() {
		return "rejected: " + appraise.RejectionSummary(v.Appraisal.Status, v.Appraisal.Reasons)
	}
	return ""
}

func inProcessDriver(ctx context.Context, workers int, quotes []*quote, opt *ratls.VerifyOptions) (*driver, error) {
	op := func(ctx context.Context, _, i int) (string, int) {
		return verifyQuote(ctx, quotes[i%len(quotes)], opt), 0
	}
	// One verification first: a simulation the verifier refuses is a
	// setup error, not a measurement.
	if kind, _ := op(ctx, 0, 0); kind != "" {
		return nil, fmt.Errorf("in-process verification of a simulated quote: %s", kind)
	}
	return &driver{name: "in-process verification", label: "inprocess", unit: "workers", n: workers, op: op,
		run: &run{kinds: map[string]int64{}}}, nil
}
