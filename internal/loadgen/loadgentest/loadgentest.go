// Package loadgentest starts a verification service for the load
// generator's tests and the CLI's: one that trusts a simulated TEE and,
// once armed, fails some appraisals the way a service in trouble does.
package loadgentest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store/storetest"
)

// Service runs a service on httptest over SQLite that trusts s and returns
// its URL. While fail is set (it may be nil), every third appraisal
// answers 500 with a problem document.
func Service(tb testing.TB, s *sim.Sim, fail *atomic.Bool) string {
	tb.Helper()
	cfg, err := service.Throwaway(service.Config{Store: storetest.Open(tb, storetest.SQLite(tb)), Verify: s.VerifyOptions(nil), Rate: -1})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := service.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	var n atomic.Int64
	h := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail != nil && fail.Load() && r.URL.Path == api.PathAttest && n.Add(1)%3 == 0 {
			w.Header().Set("Content-Type", api.ProblemMedia)
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"type":"https://ratls.dev/problems/internal-error","title":"Internal error","status":500}`)
			return
		}
		h.ServeHTTP(w, r)
	}))
	tb.Cleanup(func() { hs.Close(); srv.Close() })
	return hs.URL
}
