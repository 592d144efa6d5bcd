package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrUnavailable matches the errors of a Bounded store that mean the
// database could not be used just now: it did not answer within the
// deadline, refused or lost the connection, is shutting down, out of
// connections, locked by another process or failing to do I/O. The
// operation may succeed when tried again later.
var ErrUnavailable = errors.New("store: database unavailable")

// DefaultTimeout is a deadline for one database operation that a healthy
// database meets by far.
const DefaultTimeout = 5 * time.Second

// Bounded returns a Store that gives every call of st at most timeout
// (DefaultTimeout when not positive), in addition to the caller's own
// deadline, so that a database that silently drops packets fails the call
// instead of holding it until TCP gives up. Its errors that mean the
// database is unavailable (see ErrUnavailable) match ErrUnavailable; the
// others are those of st.
func Bounded(st Store, timeout time.Duration) Store {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &bounded{st: st, timeout: timeout}
}

type bounded struct {
	st      Store
	timeout time.Duration
}

// call runs f with the deadline and classifies its error.
func call[T any](b *bounded, ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	v, err := f(ctx)
	return v, classify(err)
}

func call0(b *bounded, ctx context.Context, f func(context.Context) error) error {
	_, err := call(b, ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) })
	return err
}

// classify marks the errors that mean the database is unavailable.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !unavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// unavailable reports whether err means that the database could not be
// used just now, rather than that the operation itself is wrong.
func unavailable(err error) bool {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
		return false
	}
	var (
		netErr     net.Error
		connectErr *pgconn.ConnectError
		pgErr      *pgconn.PgError
		sqliteErr  *sqlite.Error
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &netErr), errors.As(err, &connectErr), pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	case errors.As(err, &pgErr):
		switch pgErr.Code[:min(2, len(pgErr.Code))] {
		case "08", // connection exception
			"53", // insufficient resources: too many connections, disk full
			"57", // operator intervention: shutting down, cannot connect now
			"58": // system error: I/O
			return true
		}
		return pgErr.Code == "40001" || pgErr.Code == "40P01" // serialization failure, deadlock: try again
	case errors.As(err, &sqliteErr):
		switch sqliteErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_INTERRUPT:
			return true
		}
	}
	return false
}

func (b *bounded) CreateSession(ctx context.Context, s *Session) error {
	return call0(b, ctx, func(ctx context.Context) error { return b.st.CreateSession(ctx, s) })
}

func (b *bounded) Session(ctx context.Context, id string) (*Session, error) {
	return call(b, ctx, func(ctx context.Context) (*Session, error) { return b.st.Session(ctx, id) })
}

func (b *bounded) ClaimSession(ctx context.Context, id string, now, deadline time.Time) (*Session, error) {
	return call(b, ctx, func(ctx context.Context) (*Session, error) { return b.st.ClaimSession(ctx, id, now, deadline) })
}

func (b *bounded) FinishSession(ctx context.Context, id string, now time.Time, out *SessionOutcome) error {
	return call0(b, ctx, func(ctx context.Context) error { return b.st.FinishSession(ctx, id, now, out) })
}

func (b *bounded) AbandonSessions(ctx context.Context, now time.Time, problem []byte) (int64, error) {
	return call(b, ctx, func(ctx context.Context) (int64, error) { return b.st.AbandonSessions(ctx, now, problem) })
}

func (b *bounded) DeleteSession(ctx context.Context, id string) error {
	return call0(b, ctx, func(ctx context.Context) error { return b.st.DeleteSession(ctx, id) })
}

func (b *bounded) PurgeSessions(ctx context.Context, before time.Time) (int64, error) {
	return call(b, ctx, func(ctx context.Context) (int64, error) { return b.st.PurgeSessions(ctx, before) })
}

func (b *bounded) PutDocument(ctx context.Context, kind, name string, body []byte, author string, now time.Time) (*Document, error) {
	return call(b, ctx, func(ctx context.Context) (*Document, error) {
		return b.st.PutDocument(ctx, kind, name, body, author, now)
	})
}

func (b *bounded) Document(ctx context.Context, kind, name string, version int) (*Document, error) {
	return call(b, ctx, func(ctx context.Context) (*Document, error) { return b.st.Document(ctx, kind, name, version) })
}

func (b *bounded) Documents(ctx context.Context, kind string) ([]*Document, error) {
	return call(b, ctx, func(ctx context.Context) ([]*Document, error) { return b.st.Documents(ctx, kind) })
}

func (b *bounded) Versions(ctx context.Context, kind, name string) ([]*Document, error) {
	return call(b, ctx, func(ctx context.Context) ([]*Document, error) { return b.st.Versions(ctx, kind, name) })
}

func (b *bounded) CreateToken(ctx context.Context, t *Token) error {
	return call0(b, ctx, func(ctx context.Context) error { return b.st.CreateToken(ctx, t) })
}

func (b *bounded) Token(ctx context.Context, id string) (*Token, error) {
	return call(b, ctx, func(ctx context.Context) (*Token, error) { return b.st.Token(ctx, id) })
}

func (b *bounded) Tokens(ctx context.Context) ([]*Token, error) {
	return call(b, ctx, b.st.Tokens)
}

func (b *bounded) DeleteToken(ctx context.Context, id string) error {
	return call0(b, ctx, func(ctx context.Context) error { return b.st.DeleteToken(ctx, id) })
}

func (b *bounded) AddAppraisals(ctx context.Context, a ...*Appraisal) error {
	return call0(b, ctx, func(ctx context.Context) error { return b.st.AddAppraisals(ctx, a...) })
}

func (b *bounded) Appraisals(ctx context.Context, before int64, limit int) ([]*Appraisal, error) {
	return call(b, ctx, func(ctx context.Context) ([]*Appraisal, error) { return b.st.Appraisals(ctx, before, limit) })
}

func (b *bounded) AddAudit(ctx context.Context, a *Audit) error {
	return call0(b, ctx, func(ctx context.Context) error { return b.st.AddAudit(ctx, a) })
}

func (b *bounded) AuditLog(ctx context.Context, before int64, limit int) ([]*Audit, error) {
	return call(b, ctx, func(ctx context.Context) ([]*Audit, error) { return b.st.AuditLog(ctx, before, limit) })
}

func (b *bounded) PutKey(ctx context.Context, k *Key) error {
	return call0(b, ctx, func(ctx context.Context) error { return b.st.PutKey(ctx, k) })
}

func (b *bounded) Keys(ctx context.Context) ([]*Key, error) {
	return call(b, ctx, b.st.Keys)
}

func (b *bounded) Collateral(ctx context.Context, key string) (*Collateral, error) {
	return call(b, ctx, func(ctx context.Context) (*Collateral, error) { return b.st.Collateral(ctx, key) })
}

func (b *bounded) PutCollateral(ctx context.Context, c *Collateral) error {
	return call0(b, ctx, func(ctx context.Context) error { return b.st.PutCollateral(ctx, c) })
}

func (b *bounded) CollateralEntries(ctx context.Context) ([]*Collateral, error) {
	return call(b, ctx, b.st.CollateralEntries)
}

func (b *bounded) Ping(ctx context.Context) error {
	return call0(b, ctx, b.st.Ping)
}

func (b *bounded) Close() error { return b.st.Close() }
