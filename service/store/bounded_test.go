package store_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratls/ratls/service/store"
	"github.com/ratls/ratls/service/store/storetest"
)

// pgProxy forwards TCP connections to PostgreSQL until it is told to drop
// what it receives (a black hole: connections stay open, nothing arrives)
// or to refuse connections (the server is down).
type pgProxy struct {
	ln        net.Listener
	target    string
	blackHole atomic.Bool
	mu        sync.Mutex
	conns     []net.Conn
}

func newPGProxy(t *testing.T, dsn string) (*pgProxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: u.Host}
	t.Cleanup(p.refuse)
	go p.serve()
	u.Host = ln.Addr().String()
	return p, u.String()
}

func (p *pgProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst, discarding instead while black-holed.
func (p *pgProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.blackHole.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				dst.Close()
			}
			return
		}
	}
}

// refuse closes the listener and every connection.
func (p *pgProxy) refuse() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// A PostgreSQL database that drops packets or refuses connections makes a
// Bounded store fail with ErrUnavailable within its deadline.
func TestBoundedPostgresOutage(t *testing.T) {
	proxy, dsn := newPGProxy(t, storetest.PostgresDSN(t))
	st := store.Bounded(storetest.Open(t, dsn), 300*time.Millisecond)
	ctx := t.Context()
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("Ping through the proxy: %v", err)
	}

	proxy.blackHole.Store(true)
	start := time.Now()
	_, err := st.Session(ctx, "x")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Session with the database black-holed: error %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Session with the database black-holed took %v, want about the 300ms deadline", d)
	}

	proxy.refuse()
	_, err = st.Session(ctx, "x")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Session with the database refusing connections: error %v, want ErrUnavailable", err)
	}
	// Answers of a working database are not unavailability.
	if errors.Is(store.Bounded(storetest.Open(t, storetest.PostgresDSN(t)), 0).DeleteSession(ctx, "absent"), store.ErrUnavailable) {
		t.Error("DeleteSession(absent) on a working database matches ErrUnavailable")
	}
}

// A store that does not answer is cut short by the deadline; the
// caller's own, earlier deadline still applies.
func TestBoundedDeadline(t *testing.T) {
	st := store.Bounded(&hangingStore{}, 100*time.Millisecond)
	start := time.Now()
	err := st.Ping(t.Context())
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping of a hanging store: error %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > time.Second {
		t.Errorf("Ping of a hanging store returned after %v, want about 100ms", d)
	}
	// Errors that are answers pass unchanged.
	st = store.Bounded(storetest.Open(t, storetest.SQLite(t)), time.Second)
	if _, err := st.Session(t.Context(), "absent"); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Session(absent): error %v, want ErrNotFound only", err)
	}
}

// hangingStore's Ping waits for its context.
type hangingStore struct{ store.Store }

func (*hangingStore) Ping(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}
