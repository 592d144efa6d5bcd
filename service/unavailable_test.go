package service_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
)

// Failure modes of downStore.
const (
	dbUp        = iota
	dbRefusing  // every call fails at once, as when the server is down
	dbBlackHole // every call hangs until its context ends, as when packets are dropped
)

// downStore is a store whose database can be taken down. Only the calls
// that match onlyFor (all when empty) are affected.
type downStore struct {
	store.Store
	mode    atomic.Int32
	onlyFor string
}

// refused is what the PostgreSQL driver reports when nothing listens.
var refused = &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 9, 8, 7), Port: 5432},
	Err: syscall.ECONNREFUSED}

func (d *downStore) fail(ctx context.Context, op string) error {
	if d.onlyFor != "" && d.onlyFor != op {
		return nil
	}
	switch d.mode.Load() {
	case dbRefusing:
		return &pgLikeError{"failed to connect to `user=ratls database=verifier`: 10.9.8.7:5432 (db.internal)", refused}
	case dbBlackHole:
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

type pgLikeError struct {
	msg string
	err error
}

func (e *pgLikeError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *pgLikeError) Unwrap() error { return e.err }

func (d *downStore) CreateSession(ctx context.Context, s *store.Session) error {
	if err := d.fail(ctx, "CreateSession"); err != nil {
		return err
	}
	return d.Store.CreateSession(ctx, s)
}

func (d *downStore) Session(ctx context.Context, id string) (*store.Session, error) {
	if err := d.fail(ctx, "Session"); err != nil {
		return nil, err
	}
	return d.Store.Session(ctx, id)
}

func (d *downStore) ClaimSession(ctx context.Context, id string, now, deadline time.Time) (*store.Session, error) {
	if err := d.fail(ctx, "ClaimSession"); err != nil {
		return nil, err
	}
	return d.Store.ClaimSession(ctx, id, now, deadline)
}

func (d *downStore) DeleteSession(ctx context.Context, id string) error {
	if err := d.fail(ctx, "DeleteSession"); err != nil {
		return err
	}
	return d.Store.DeleteSession(ctx, id)
}

func (d *downStore) Document(ctx context.Context, kind, name string, version int) (*store.Document, error) {
	if err := d.fail(ctx, "Document"); err != nil {
		return nil, err
	}
	return d.Store.Document(ctx, kind, name, version)
}

func (d *downStore) Token(ctx context.Context, id string) (*store.Token, error) {
	if err := d.fail(ctx, "Token"); err != nil {
		return nil, err
	}
	return d.Store.Token(ctx, id)
}

func (d *downStore) Keys(ctx context.Context) ([]*store.Key, error) {
	if err := d.fail(ctx, "Keys"); err != nil {
		return nil, err
	}
	return d.Store.Keys(ctx)
}

func (d *downStore) AddAppraisals(ctx context.Context, a ...*store.Appraisal) error {
	if err := d.fail(ctx, "AddAppraisals"); err != nil {
		return err
	}
	return d.Store.AddAppraisals(ctx, a...)
}

func (d *downStore) Ping(ctx context.Context) error {
	if err := d.fail(ctx, "Ping"); err != nil {
		return err
	}
	return d.Store.Ping(ctx)
}

func downFixture(t *testing.T, onlyFor string) (*fixture, *downStore) {
	d := &downStore{onlyFor: onlyFor}
	f := newFixture(t, fixtureOptions{mutate: func(c *service.Config) {
		d.Store = c.Store
		c.Store = d
		c.StoreTimeout = 200 * time.Millisecond
	}})
	return f, d
}

// checkDatabaseDown checks a 503 answer with Retry-After that does not
// name the database.
func checkDatabaseDown(t *testing.T, what string, r *response) {
	t.Helper()
	if r.code != http.StatusServiceUnavailable {
		t.Errorf("%s: want 503, got %d: %s", what, r.code, r.body)
		return
	}
	r.problem(t, http.StatusServiceUnavailable, "unavailable")
	if r.hdr.Get("Retry-After") == "" {
		t.Errorf("%s: 503 without Retry-After", what)
	}
	for _, leak := range []string{"10.9.8.7", "5432", "db.internal", "verifier", "ratls database", "user=", "refused", "deadline"} {
		if strings.Contains(string(r.body), leak) {
			t.Errorf("%s: the answer leaks %q: %s", what, leak, r.body)
		}
	}
}

// With the database down, every endpoint that needs it answers 503 with
// Retry-After, whether the database refuses connections or drops packets.
func TestDatabaseDown(t *testing.T) {
	for _, mode := range []struct {
		name string
		mode int32
	}{{"refusing", dbRefusing}, {"black hole", dbBlackHole}} {
		t.Run(mode.name, func(t *testing.T) {
			f, d := downFixture(t, "")
			loc, s := f.newSession("")
			q := quote(t, f.sgx, s.Nonce)
			d.mode.Store(mode.mode)
			for _, c := range []struct {
				method, path, token, ct string
				body                    []byte
			}{
				{"POST", api.PathNewSession, "", "", nil},
				{"GET", loc, "", "", nil},
				{"POST", loc, "", api.MediaDCAPQuote, q},
				{"DELETE", loc, "", "", nil},
				{"POST", api.PathAttest, "", api.MediaDCAPQuote, q},
				{"GET", api.PathKeys, "", "", nil},
				{"GET", api.PathReady, "", "", nil},
				{"GET", api.PathPolicies, f.admin, "", nil},
				{"GET", api.PathPolicies + "/default", f.admin, "", nil},
				{"POST", api.PathPolicies + "/default", f.admin, "application/json", []byte(`{}`)},
				{"GET", api.PathAppraisals, f.admin, "", nil},
				{"GET", api.PathAudit, f.admin, "", nil},
				{"GET", api.PathCollateral, f.admin, "", nil},
				{"GET", api.PathTokens, f.admin, "", nil},
			} {
				start := time.Now()
				checkDatabaseDown(t, c.method+" "+c.path, f.do(c.method, c.path, c.token, c.ct, c.body))
				if d := time.Since(start); d > 3*time.Second {
					t.Errorf("%s %s: the answer took %v; want the database deadline to cut it short", c.method, c.path, d)
				}
			}
			// Discovery still answers, saying the service is down.
			r := f.do("GET", api.PathDiscovery, "", "", nil)
			var disc api.Discovery
			r.json(t, &disc)
			if r.code != http.StatusOK || disc.ServiceState != "DOWN" {
				t.Errorf("discovery with the database down: %d, state %q; want 200 DOWN", r.code, disc.ServiceState)
			}

			// Back up: the service works again, and the session was not
			// burned by the failed attempts.
			d.mode.Store(dbUp)
			if r := f.do("POST", loc, "", api.MediaDCAPQuote, q); r.code != http.StatusOK {
				t.Errorf("evidence once the database is back: want 200, got %d: %s", r.code, r.body)
			}
		})
	}
}

// An appraisal log writer facing a database that drops packets gives up at
// the database deadline: the request gets 503 at once, and the writer goes
// on with the next entries once the database is back.
func TestAppraisalLogBlackHole(t *testing.T) {
	f, d := downFixture(t, "AddAppraisals")
	q := quote(t, f.sgx, nil)
	d.mode.Store(dbBlackHole)
	start := time.Now()
	checkDatabaseDown(t, "attest with the log black-holed", f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q))
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("attest with the log black-holed took %v", el)
	}
	d.mode.Store(dbUp)
	if r := f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q); r.code != http.StatusOK {
		t.Fatalf("attest once the database is back: want 200, got %d: %s", r.code, r.body)
	}
	list, err := f.st.Appraisals(context.Background(), 0, 10)
	if err != nil || len(list) != 1 {
		t.Errorf("appraisal log: %d entries, %v; want the one that was answered 200", len(list), err)
	}
}
