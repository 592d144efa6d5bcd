package loadgen

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
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
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// The service's goroutines, including those it starts, carry the
	// profile label side=service.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var srv *service.Server
	pprof.Do(sctx, pprof.Labels("side", "service"), func(context.Context) {
		srv, err = service.New(ctx, service.Config{
			Store: st, Signer: key, Verify: *opt, Rate: -1, Version: version,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	})
	if err != nil {
		cancel()
		ln.Close()
		return nil, err
	}
	done := make(chan error, 1)
	go pprof.Do(sctx, pprof.Labels("side", "service"), func(ctx context.Context) {
		done <- srv.Serve(ctx, ln, service.ServeConfig{ShutdownGrace: 10 * time.Second})
	})
	return &inProcessService{url: "http://" + ln.Addr().String(), log: st, stop: func() {
		cancel()
		<-done
	}}, nil
}
