package service_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
	"github.com/ratls/ratls/service/store/storetest"
)

// slowStore holds appraisal log writes until released.
type slowStore struct {
	store.Store
	entered chan struct{}
	release chan struct{}
}

func (s *slowStore) AddAppraisals(ctx context.Context, a ...*store.Appraisal) error {
	s.entered <- struct{}{}
	<-s.release
	return s.Store.AddAppraisals(ctx, a...)
}

// TestGracefulShutdown stops the server while a request is in flight: the
// request completes, its appraisal is logged, the server stops taking new
// connections and is not ready meanwhile.
func TestGracefulShutdown(t *testing.T) {
	simu := testSim(t)
	st := &slowStore{Store: storetest.Open(t, storetest.SQLite(t)), entered: make(chan struct{}, 1), release: make(chan struct{})}
	cfg, err := service.Throwaway(service.Config{Store: st, Rate: -1, Verify: simu.VerifyOptions(nil)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := service.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, service.ServeConfig{ShutdownGrace: 10 * time.Second}) }()

	a, err := simu.Attester("sgx", sim.Measurements{})
	if err != nil {
		t.Fatal(err)
	}
	q := quote(t, a, nil)
	type result struct {
		code int
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Post(base+api.PathAttest, api.MediaDCAPQuote, bytes.NewReader(q))
		if err != nil {
			inflight <- result{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		inflight <- result{code: resp.StatusCode}
	}()
	<-st.entered // the request is being logged
	cancel()     // SIGTERM
	// Not ready while draining.
	deadline := time.Now().Add(5 * time.Second)
	for srv.Ready(context.Background()) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the server is still ready while shutting down")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// New connections are refused once the listener is closed.
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections while shutting down")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(st.release)
	if r := <-inflight; r.err != nil || r.code != http.StatusOK {
		t.Fatalf("in-flight request: %d %v; want it finished with 200", r.code, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	apps, err := st.Appraisals(context.Background(), 0, 10)
	if err != nil || len(apps) != 1 {
		t.Fatalf("appraisal log after shutdown: %d entries, %v; want the in-flight one", len(apps), err)
	}
}
