package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Open opens the store named by dsn and brings its schema up to date (see
// the package documentation). The forms of dsn are:
//
//	sqlite:/path/to/file.db      SQLite database file, created when missing
//	sqlite:///path/to/file.db    the same
//	sqlite:relative/file.db      relative to the working directory
//	sqlite::memory:              a private in-memory database, for tests
//	postgres://user@host/db?...  PostgreSQL (also postgresql://)
//
// PostgreSQL URLs take the parameters of libpq as read by pgx, any run-time
// parameter such as search_path, and the pool parameters pool_max_conns,
// pool_max_conn_lifetime and pool_max_conn_idle_time.
func Open(ctx context.Context, dsn string) (Store, error) {
	scheme, rest, ok := strings.Cut(dsn, ":")
	if !ok {
		return nil, errors.New("store: data source name has no scheme: want sqlite:PATH or a postgres:// or postgresql:// URL")
	}
	var (
		s   *sqlStore
		err error
	)
	switch strings.ToLower(scheme) {
	case "sqlite":
		s, err = openSQLite(ctx, rest)
	case "postgres", "postgresql":
		s, err = openPostgres(dsn)
	default:
		return nil, fmt.Errorf("store: unknown data source scheme %q: want sqlite, postgres or postgresql", scheme)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// sqliteBusyTimeout is how long a write waits for another process holding
// the SQLite write lock before failing with "database is locked".
const sqliteBusyTimeout = 5 * time.Second

// openSQLite opens the SQLite database file at path with one connection
// for writes and a pool of read-only connections.
func openSQLite(ctx context.Context, path string) (*sqlStore, error) {
	if strings.HasPrefix(path, "//") {
		// sqlite:///abs/path: an empty authority followed by the path.
		path = path[2:]
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("store: sqlite data source: want sqlite:///absolute/path, got a host in %q", "sqlite://"+path)
		}
	}
	switch {
	case path == "":
		return nil, errors.New("store: sqlite data source: empty path")
	case strings.ContainsAny(path, "?\x00"):
		return nil, errors.New("store: sqlite data source: path must not contain '?' or NUL")
	case strings.HasPrefix(path, "file:"):
		return nil, errors.New("store: sqlite data source: want sqlite:PATH, not an SQLite URI")
	}

	common := fmt.Sprintf("?_busy_timeout=%d&_synchronous=NORMAL&_foreign_keys=1", sqliteBusyTimeout.Milliseconds())
	if path == ":memory:" {
		// Every connection to ":memory:" is a database of its own, so
		// there is exactly one, kept open, for reads and writes.
		db, err := sql.Open("sqlite", path+common+"&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		return &sqlStore{d: &sqliteDialect, r: db, w: db}, nil
	}

	w, err := sql.Open("sqlite", path+common+"&_journal_mode=WAL&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	// SQLite has one writer at a time per database. Queueing the writers
	// of this process on one connection is faster than letting them
	// contend for the file lock, and leaves busy_timeout for other
	// processes.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Switch the file to WAL before any reader opens it.
	if err := pingSQLite(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", path+common+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(5 * time.Minute)
	return &sqlStore{d: &sqliteDialect, r: r, w: w}, nil
}

// pingSQLite opens the first connection of the write pool, retrying while
// SQLite reports the database busy. Switching a new database file to WAL
// needs an exclusive lock, and when several processes try at once SQLite
// fails all but one at once instead of waiting (busy_timeout does not apply
// where waiting could deadlock).
func pingSQLite(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, sqliteBusyTimeout)
	defer cancel()
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		err := db.PingContext(ctx)
		var e *sqlite.Error
		if err == nil || !errors.As(err, &e) || e.Code()&0xff != sqlite3.SQLITE_BUSY {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
	}
}

// openPostgres opens a pool of connections to the PostgreSQL database
// named by the URL dsn.
func openPostgres(dsn string) (*sqlStore, error) {
	// pgxpool's parser takes the pool_* parameters out of the URL, which
	// would otherwise be sent to the server as run-time parameters.
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, fmt.Errorf("store: postgres data source: %w", redactPassword(err, dsn))
	}
	db := stdlib.OpenDB(*pc.ConnConfig)
	db.SetMaxOpenConns(int(pc.MaxConns))
	db.SetMaxIdleConns(int(pc.MaxConns))
	db.SetConnMaxLifetime(pc.MaxConnLifetime)
	db.SetConnMaxIdleTime(pc.MaxConnIdleTime)
	return &sqlStore{d: &postgresDialect, r: db, w: db}, nil
}

// redactPassword returns err, or an error with the same text minus the
// password of dsn when it contains it.
func redactPassword(err error, dsn string) error {
	u, uerr := url.Parse(dsn)
	if uerr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}

// dialect is what differs between the databases; the SQL text is shared,
// with $n placeholders, which SQLite reads as numbered parameters too.
type dialect struct {
	name string
	// versionTable creates schema_migrations if it does not exist.
	versionTable string
	// migrationLock, when not empty, is run first in every migration
	// transaction to keep concurrently starting replicas apart.
	migrationLock string
	// timeArg converts a time to the argument for a time column.
	timeArg func(time.Time) any
	// isUnique reports a violated primary key or unique constraint.
	isUnique func(error) bool
}

var sqliteDialect = dialect{
	name: "sqlite",
	versionTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	applied_at INTEGER NOT NULL
) STRICT`,
	// The write connection begins transactions with BEGIN IMMEDIATE,
	// which takes the database's write lock at once.
	migrationLock: "",
	timeArg:       func(t time.Time) any { return t.UnixMicro() },
	isUnique: func(err error) bool {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return false
		}
		c := e.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	},
}

var postgresDialect = dialect{
	name: "postgres",
	versionTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     NOT NULL PRIMARY KEY,
	applied_at timestamptz NOT NULL
)`,
	// Keyed by schema, so that stores in different schemas of one
	// database (tests) do not wait for each other.
	migrationLock: `SELECT pg_advisory_xact_lock(hashtext('ratls/store/migrate'), hashtext(current_schema()))`,
	timeArg:       func(t time.Time) any { return t },
	isUnique: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23505" // unique_violation
	},
}
