package store_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/service/store"
	"github.com/ratls/ratls/service/store/storetest"
)

func TestSQLite(t *testing.T) { storetest.Run(t, storetest.SQLite) }

func TestPostgres(t *testing.T) { storetest.Run(t, storetest.PostgresDSN) }

// TestSQLiteMemory checks the in-memory database of tests: one database
// shared by all calls of a store.
func TestSQLiteMemory(t *testing.T) {
	s := storetest.Open(t, "sqlite::memory:")
	ctx := t.Context()
	if err := s.PutKey(ctx, &store.Key{ID: "k", JWK: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		ks, err := s.Keys(ctx)
		if err != nil || len(ks) != 1 {
			t.Fatalf("Keys: %d, %v; want 1 key", len(ks), err)
		}
	}
}

func TestSQLiteURLForm(t *testing.T) {
	dir := t.TempDir()
	s := storetest.Open(t, "sqlite://"+dir+"/x.db")
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestOpenBadDSN(t *testing.T) {
	for _, c := range []struct{ dsn, want string }{
		{"", "no scheme"},
		{"/tmp/x.db", "no scheme"},
		{"mysql://u@h/db", `unknown data source scheme "mysql"`},
		{"sqlite:", "empty path"},
		{"sqlite:/tmp/x.db?mode=ro", "must not contain '?'"},
		{"sqlite://host/x.db", "got a host"},
		{"sqlite:file:/tmp/x.db", "not an SQLite URI"},
		{"postgres://u:secretpw@127.0.0.1:notaport/db", "postgres data source"},
	} {
		s, err := store.Open(context.Background(), c.dsn)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", c.dsn)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q): error %q, want it to contain %q", c.dsn, err, c.want)
		}
		if strings.Contains(err.Error(), "secretpw") {
			t.Errorf("Open(%q): error %q reveals the password", c.dsn, err)
		}
	}
}

func benchAddAppraisal(b *testing.B, dsn string) {
	s := storetest.Open(b, dsn)
	ctx := b.Context()
	h := sha256.Sum256([]byte("evidence"))
	b.ReportAllocs()
	for b.Loop() {
		a := &store.Appraisal{Time: time.Now(), SessionID: "s", Client: "192.0.2.1:1", MediaType: "application/eat+cwt",
			TEE: "tdx", Status: "affirming", PolicyID: "default@1", Reasons: []byte(`[]`), EvidenceHash: h[:]}
		if err := s.AddAppraisals(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}

func benchAddAppraisalParallel(b *testing.B, dsn string) {
	s := storetest.Open(b, dsn)
	ctx := b.Context()
	h := sha256.Sum256([]byte("evidence"))
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a := &store.Appraisal{Time: time.Now(), SessionID: "s", Client: "192.0.2.1:1", MediaType: "application/eat+cwt",
				TEE: "tdx", Status: "affirming", PolicyID: "default@1", Reasons: []byte(`[]`), EvidenceHash: h[:]}
			if err := s.AddAppraisals(ctx, a); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchClaimFinish measures redeeming a session: ClaimSession and
// FinishSession. The sessions are created beforehand, untimed.
func benchClaimFinish(b *testing.B, dsn string) {
	s := storetest.Open(b, dsn)
	ctx := b.Context()
	now := time.Now()
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%d", i)
		if err := s.CreateSession(ctx, &store.Session{ID: ids[i], Nonce: []byte(ids[i]), Accept: []string{"application/eat+cwt"},
			Status: store.SessionWaiting, Created: now, Expires: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.ClaimSession(ctx, ids[i], now, now.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		if err := s.FinishSession(ctx, ids[i], now, &store.SessionOutcome{Status: store.SessionComplete, Result: "eyJhbGciOiJFUzI1NiJ9.e30.sig"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSQLiteAddAppraisal(b *testing.B) { benchAddAppraisal(b, storetest.SQLite(b)) }
func BenchmarkSQLiteAddAppraisalParallel(b *testing.B) {
	benchAddAppraisalParallel(b, storetest.SQLite(b))
}
func BenchmarkSQLiteClaimFinish(b *testing.B) { benchClaimFinish(b, storetest.SQLite(b)) }

func BenchmarkPostgresAddAppraisal(b *testing.B) { benchAddAppraisal(b, storetest.PostgresDSN(b)) }
func BenchmarkPostgresAddAppraisalParallel(b *testing.B) {
	benchAddAppraisalParallel(b, storetest.PostgresDSN(b))
}
func BenchmarkPostgresClaimFinish(b *testing.B) { benchClaimFinish(b, storetest.PostgresDSN(b)) }

// TestPostgresPoolParams checks that the pool parameters of the URL are
// taken by the store, not sent to the server (which would refuse them).
func TestPostgresPoolParams(t *testing.T) {
	s := storetest.Open(t, storetest.PostgresDSN(t)+"&pool_max_conns=2&pool_max_conn_idle_time=1m")
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}
