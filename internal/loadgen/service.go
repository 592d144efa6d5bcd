package loadgen

import (
	"context"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/store"
)

// inProcessService is a service started by Run.
type inProcessService struct {
	url  string
	log  *countingStore
	stop func()
}

// countingStore counts the appraisal log's writes, to report the size of
// its group commits. A session's entry is written with its completion.
type countingStore struct {
	store.Store
	commits, entries atomic.Int64
}

func (s *countingStore) AddAppraisals(ctx context.Context, a ...*store.Appraisal) error {
	s.commits.Add(1)
	s.entries.Add(int64(len(a)))
	return s.Store.AddAppraisals(ctx, a...)
}

func (s *countingStore) FinishSession(ctx context.Context, id string, now time.Time, out *store.SessionOutcome) error {
	if out != nil && out.Appraisal != nil {
		s.commits.Add(1)
		s.entries.Add(1)
	}
	return s.Store.FinishSession(ctx, id, now, out)
}

// startService starts a service on 127.0.0.1 over db, with no rate limit
// and no logs. Its stop leaves db open.
func startService(ctx context.Context, db store.Store, opt *ratls.VerifyOptions, version string) (*inProcessService, error) {
	st := &countingStore{Store: db}
	// The service's goroutines, including those it starts, carry the
	// profile label side=service.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var url string
	var wait func() error
	var err error
	pprof.Do(sctx, pprof.Labels("side", "service"), func(ctx context.Context) {
		var cfg service.Config
		if cfg, err = service.Throwaway(service.Config{Store: st, Verify: *opt, Rate: -1, Version: version}); err != nil {
			return
		}
		var srv *service.Server
		if srv, err = service.New(ctx, cfg); err != nil {
			return
		}
		url, wait, err = srv.ServeLoopback(ctx, 10*time.Second)
	})
	if err != nil {
		cancel()
		return nil, err
	}
	return &inProcessService{url: url, log: st, stop: func() {
		cancel()
		_ = wait()
	}}, nil
}
