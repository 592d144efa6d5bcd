// Package storetest checks implementations of store.Store against the
// contract documented there, and gives tests of other packages a fresh
// database: SQLite returns the data source name of an SQLite file in a
// temporary directory, PostgresDSN one of a new, empty schema in the
// PostgreSQL database named by the environment variable RATLS_TEST_POSTGRES.
//
// Run runs the same suite against any data source name that store.Open
// accepts:
//
//	func TestSQLite(t *testing.T)   { storetest.Run(t, storetest.SQLite) }
//	func TestPostgres(t *testing.T) { storetest.Run(t, storetest.PostgresDSN) }
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/service/store"

	// The drivers, for the direct access of some tests and of the
	// schema setup; store registers them too.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// EnvPostgres names the environment variable with the URL of the PostgreSQL
// database for tests, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvPostgres = "RATLS_TEST_POSTGRES"

// SQLite returns the data source name of a new SQLite database file in a
// temporary directory removed when the test ends.
func SQLite(tb testing.TB) string {
	tb.Helper()
	return "sqlite:" + filepath.Join(tb.TempDir(), "store.db")
}

// PostgresDSN returns the data source name of a new, empty schema in the
// database named by RATLS_TEST_POSTGRES, set as the search_path of every
// connection, so that tests, also of packages run in parallel, do not see
// each other's tables. The schema is dropped when the test ends; close the
// stores opened on it before then (cleanups registered later run first).
//
// Without RATLS_TEST_POSTGRES the test is skipped, or fails when the
// environment variable CI is "true".
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set; it is required when CI=true", EnvPostgres)
		}
		tb.Skipf("%s is not set", EnvPostgres)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s: want a postgres:// URL", EnvPostgres)
	}
	var r [8]byte
	rand.Read(r[:])
	schema := "t_" + hex.EncodeToString(r[:])

	admin := func(query string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", base)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, query)
		return err
	}
	if err := admin("CREATE SCHEMA " + schema); err != nil {
		tb.Fatalf("create schema %s in %s: %v", schema, EnvPostgres, err)
	}
	tb.Cleanup(func() {
		if err := admin("DROP SCHEMA IF EXISTS " + schema + " CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens a store on dsn and closes it when the test ends.
func Open(tb testing.TB, dsn string) store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("store.Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawDB opens the database of dsn directly, without store, for the tests
// that look behind its back. It returns the database and whether it is
// SQLite.
func rawDB(tb testing.TB, dsn string) (*sql.DB, bool) {
	tb.Helper()
	var (
		db     *sql.DB
		err    error
		sqlite bool
	)
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		sqlite = true
		path = strings.TrimPrefix(path, "//")
		db, err = sql.Open("sqlite", path+"?_busy_timeout=5000")
	} else {
		db, err = sql.Open("pgx", dsn)
	}
	if err != nil {
		tb.Fatalf("open database directly: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, sqlite
}
