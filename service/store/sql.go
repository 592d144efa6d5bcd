package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sqlStore implements Store on database/sql for SQLite and PostgreSQL.
type sqlStore struct {
	d *dialect
	r *sql.DB // reads
	w *sql.DB // writes; the same pool as r for PostgreSQL

	// inserts holds the prepared INSERTs of the appraisal log by row
	// count: the log is written on every appraisal, and the SQLite driver
	// would compile the statement each time.
	insertMu sync.Mutex
	inserts  map[int]*sql.Stmt
}

var _ Store = (*sqlStore)(nil)

// Limits of the log listings.
const (
	minListLimit = 1
	maxListLimit = 1000
)

// appraisalChunk is the number of rows per INSERT statement of
// AddAppraisals, well below the parameter limits of both databases.
const appraisalChunk = 100

// putDocumentAttempts bounds the retries of PutDocument after losing the
// race for a version number to a concurrent put.
const putDocumentAttempts = 100

// dbTime is t as stored: UTC with microsecond precision (PostgreSQL's).
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// timeScanner scans a time column of either database into *t, as UTC.
type timeScanner struct{ t *time.Time }

func (s timeScanner) Scan(v any) error {
	switch x := v.(type) {
	case time.Time: // PostgreSQL timestamptz
		*s.t = x.UTC()
	case int64: // SQLite: microseconds since the epoch
		*s.t = time.UnixMicro(x).UTC()
	default:
		return fmt.Errorf("store: time column: unexpected %T", v)
	}
	return nil
}

// nullTimeScanner scans a time column that may be NULL, which is the zero
// time.
type nullTimeScanner struct{ t *time.Time }

func (s nullTimeScanner) Scan(v any) error {
	if v == nil {
		*s.t = time.Time{}
		return nil
	}
	return timeScanner(s).Scan(v)
}

// nullTimeArg is the argument for a time column that may be NULL: the zero
// time is NULL.
func (s *sqlStore) nullTimeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.d.timeArg(dbTime(t))
}

// blob returns b, or an empty slice for nil, as columns are NOT NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// nilIfEmpty returns nil for an empty slice, so that callers see the same
// for "nothing" whatever the database returned.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func clampLimit(n int) int { return min(max(n, minListLimit), maxListLimit) }

// beforeID maps the "before" argument of the log listings to an exclusive
// upper bound of IDs: 0 (or less) means from the newest.
func beforeID(before int64) int64 {
	if before <= 0 {
		return math.MaxInt64
	}
	return before
}

// rowsAffected returns the count of changed rows of res, or
// ErrNotFound-wrapping what when there were none.
func rowsAffected(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return nil
}

// Sessions.

const sessionCols = `id, nonce, accept, status, created, expires, result, problem, deadline, evidence_type, evidence`

func validSessionStatus(s string) bool {
	switch s {
	case SessionWaiting, SessionProcessing, SessionComplete, SessionFailed:
		return true
	}
	return false
}

func scanSession(row interface{ Scan(...any) error }) (*Session, error) {
	var (
		s      Session
		accept string
	)
	if err := row.Scan(&s.ID, &s.Nonce, &accept, &s.Status, timeScanner{&s.Created},
		timeScanner{&s.Expires}, &s.Result, &s.Problem, nullTimeScanner{&s.Deadline}, &s.EvidenceType, &s.Evidence); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(accept), &s.Accept); err != nil {
		return nil, fmt.Errorf("store: session %q: accept column: %w", s.ID, err)
	}
	if len(s.Accept) == 0 {
		s.Accept = nil
	}
	s.Nonce = nilIfEmpty(s.Nonce)
	s.Problem = nilIfEmpty(s.Problem)
	s.Evidence = nilIfEmpty(s.Evidence)
	return &s, nil
}

// CreateSession stores s. An empty Status is stored as SessionWaiting.
func (s *sqlStore) CreateSession(ctx context.Context, ss *Session) error {
	if ss == nil || ss.ID == "" {
		return errors.New("store: create session: empty ID")
	}
	status := ss.Status
	if status == "" {
		status = SessionWaiting
	}
	if !validSessionStatus(status) {
		return fmt.Errorf("store: create session %q: status %q is not one of waiting, processing, complete, failed", ss.ID, status)
	}
	accept, err := json.Marshal(ss.Accept)
	if err != nil {
		return fmt.Errorf("store: create session %q: %w", ss.ID, err)
	}
	if ss.Accept == nil {
		accept = []byte("[]")
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		ss.ID, blob(ss.Nonce), string(accept), status, s.d.timeArg(dbTime(ss.Created)),
		s.d.timeArg(dbTime(ss.Expires)), ss.Result, blob(ss.Problem), s.nullTimeArg(ss.Deadline), ss.EvidenceType, blob(ss.Evidence))
	if s.d.isUnique(err) {
		return fmt.Errorf("%w: session %q exists", ErrConflict, ss.ID)
	}
	if err != nil {
		return fmt.Errorf("store: create session %q: %w", ss.ID, err)
	}
	return nil
}

func (s *sqlStore) Session(ctx context.Context, id string) (*Session, error) {
	ss, err := scanSession(s.r.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: session %q", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: session %q: %w", id, err)
	}
	return ss, nil
}

// ClaimSession is one conditional UPDATE, so that of concurrent claims
// exactly one changes the row; a second query only tells the losers why.
func (s *sqlStore) ClaimSession(ctx context.Context, id string, now, deadline time.Time) (*Session, error) {
	if !deadline.After(now) {
		return nil, fmt.Errorf("store: claim session %q: the deadline %s is not after now", id, deadline.Format(time.RFC3339Nano))
	}
	ss, err := scanSession(s.w.QueryRowContext(ctx, `UPDATE sessions SET status = 'processing', deadline = $3
		WHERE id = $1 AND status = 'waiting' AND expires > $2
		RETURNING `+sessionCols, id, s.d.timeArg(dbTime(now)), s.d.timeArg(dbTime(deadline))))
	if err == nil {
		return ss, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: claim session %q: %w", id, err)
	}
	cur, err := s.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	if cur.Status != SessionWaiting {
		return nil, fmt.Errorf("%w: session %q is %s, not waiting", ErrConflict, id, cur.Status)
	}
	return nil, fmt.Errorf("%w: session %q expired at %s", ErrConflict, id, cur.Expires.Format(time.RFC3339Nano))
}

// sessionDeadline is the deadline of a processing session in SQL: sessions
// claimed by an earlier release have none and are held to their expiry.
const sessionDeadline = `COALESCE(deadline, expires)`

// FinishSession updates the session and inserts the log entry in one
// transaction. The INSERT statement is prepared before the transaction
// begins: the SQLite writer has one connection, which the transaction
// holds.
func (s *sqlStore) FinishSession(ctx context.Context, id string, now time.Time, out *SessionOutcome) (err error) {
	switch {
	case out == nil:
		return fmt.Errorf("store: finish session %q: no outcome", id)
	case out.Status != SessionComplete && out.Status != SessionFailed:
		return fmt.Errorf("store: finish session %q: status %q is not complete or failed", id, out.Status)
	}
	var insert *sql.Stmt
	if out.Appraisal != nil {
		if insert, err = s.insertStmt(ctx, 1); err != nil {
			return fmt.Errorf("store: finish session %q: %w", id, err)
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: finish session %q: begin: %w", id, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	res, err := tx.ExecContext(ctx, `UPDATE sessions SET status = $2, result = $3, problem = $4, evidence_type = $6, evidence = $7
		WHERE id = $1 AND status = 'processing' AND `+sessionDeadline+` > $5`,
		id, out.Status, out.Result, blob(out.Problem), s.d.timeArg(dbTime(now)), out.EvidenceType, blob(out.Evidence))
	if err != nil {
		return fmt.Errorf("store: finish session %q: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: finish session %q: %w", id, err)
	}
	if n == 0 {
		tx.Rollback()
		return s.whyNotFinished(ctx, id)
	}
	if insert != nil {
		st := tx.StmtContext(ctx, insert)
		defer st.Close()
		if err := s.addAppraisals(ctx, st, []*Appraisal{out.Appraisal}); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: finish session %q: commit: %w", id, err)
	}
	return nil
}

// whyNotFinished is the error of a FinishSession that changed no row.
func (s *sqlStore) whyNotFinished(ctx context.Context, id string) error {
	cur, err := s.Session(ctx, id)
	if err != nil {
		return err
	}
	if cur.Status == SessionProcessing {
		deadline := cur.Deadline
		if deadline.IsZero() {
			deadline = cur.Expires
		}
		return fmt.Errorf("%w: session %q: its processing deadline passed at %s", ErrConflict, id, deadline.Format(time.RFC3339Nano))
	}
	return fmt.Errorf("%w: session %q is %s, not processing", ErrConflict, id, cur.Status)
}

func (s *sqlStore) AbandonSessions(ctx context.Context, now time.Time, problem []byte) (int64, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE sessions SET status = 'failed', result = '', problem = $2
		WHERE status = 'processing' AND `+sessionDeadline+` <= $1`, s.d.timeArg(dbTime(now)), blob(problem))
	if err != nil {
		return 0, fmt.Errorf("store: abandon sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: abandon sessions: %w", err)
	}
	return n, nil
}

// DeleteSession leaves a processing session alone; a second query only
// tells why nothing was deleted.
func (s *sqlStore) DeleteSession(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1 AND status <> 'processing'`, id)
	if err != nil {
		return fmt.Errorf("store: delete session %q: %w", id, err)
	}
	err = rowsAffected(res, fmt.Sprintf("session %q", id))
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	if _, err := s.Session(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("%w: session %q is processing; it can be deleted once complete or failed", ErrConflict, id)
}

func (s *sqlStore) PurgeSessions(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires < $1`, s.d.timeArg(dbTime(before)))
	if err != nil {
		return 0, fmt.Errorf("store: purge sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: purge sessions: %w", err)
	}
	return n, nil
}

// Documents.

const documentCols = `kind, name, version, body, created, author`

func checkKind(op, kind string) error {
	if kind != KindPolicy && kind != KindReferenceValues {
		return fmt.Errorf("store: %s: kind %q is not %q or %q", op, kind, KindPolicy, KindReferenceValues)
	}
	return nil
}

func scanDocument(row interface{ Scan(...any) error }) (*Document, error) {
	var d Document
	if err := row.Scan(&d.Kind, &d.Name, &d.Version, &d.Body, timeScanner{&d.Created}, &d.Author); err != nil {
		return nil, err
	}
	return &d, nil
}

// PutDocument numbers the version in the INSERT itself. SQLite runs the
// statement under its write lock; in PostgreSQL two puts may compute the
// same number, and the loser hits the primary key and tries again.
func (s *sqlStore) PutDocument(ctx context.Context, kind, name string, body []byte, author string, now time.Time) (*Document, error) {
	if err := checkKind("put document", kind); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("store: put %s: empty name", kind)
	}
	created := dbTime(now)
	for range putDocumentAttempts {
		var v int
		err := s.w.QueryRowContext(ctx, `INSERT INTO documents (`+documentCols+`)
			VALUES ($1, $2, (SELECT COALESCE(MAX(version), 0) + 1 FROM documents WHERE kind = $1 AND name = $2), $3, $4, $5)
			RETURNING version`, kind, name, blob(body), s.d.timeArg(created), author).Scan(&v)
		if s.d.isUnique(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: put %s %q: %w", kind, name, err)
		}
		return &Document{Kind: kind, Name: name, Version: v, Body: body, Created: created, Author: author}, nil
	}
	return nil, fmt.Errorf("%w: put %s %q: lost the race for a version number %d times", ErrConflict, kind, name, putDocumentAttempts)
}

func (s *sqlStore) Document(ctx context.Context, kind, name string, version int) (*Document, error) {
	if err := checkKind("document", kind); err != nil {
		return nil, err
	}
	if version < 0 {
		return nil, fmt.Errorf("store: %s %q: version %d is negative", kind, name, version)
	}
	var row *sql.Row
	if version == 0 {
		row = s.r.QueryRowContext(ctx, `SELECT `+documentCols+` FROM documents
			WHERE kind = $1 AND name = $2 ORDER BY version DESC LIMIT 1`, kind, name)
	} else {
		row = s.r.QueryRowContext(ctx, `SELECT `+documentCols+` FROM documents
			WHERE kind = $1 AND name = $2 AND version = $3`, kind, name, version)
	}
	d, err := scanDocument(row)
	if errors.Is(err, sql.ErrNoRows) {
		if version == 0 {
			return nil, fmt.Errorf("%w: %s %q", ErrNotFound, kind, name)
		}
		return nil, fmt.Errorf("%w: %s %q version %d", ErrNotFound, kind, name, version)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s %q: %w", kind, name, err)
	}
	return d, nil
}

func (s *sqlStore) Documents(ctx context.Context, kind string) ([]*Document, error) {
	if err := checkKind("documents", kind); err != nil {
		return nil, err
	}
	return s.documents(ctx, "list "+kind, `SELECT `+documentCols+` FROM documents d
		WHERE kind = $1 AND version = (SELECT MAX(version) FROM documents m WHERE m.kind = d.kind AND m.name = d.name)
		ORDER BY name`, kind)
}

// Versions returns an empty list for a name without versions.
func (s *sqlStore) Versions(ctx context.Context, kind, name string) ([]*Document, error) {
	if err := checkKind("versions", kind); err != nil {
		return nil, err
	}
	return s.documents(ctx, fmt.Sprintf("versions of %s %q", kind, name), `SELECT `+documentCols+` FROM documents
		WHERE kind = $1 AND name = $2 ORDER BY version`, kind, name)
}

func (s *sqlStore) documents(ctx context.Context, what, query string, args ...any) ([]*Document, error) {
	return queryAll(ctx, s.r, what, scanDocument, query, args...)
}

// queryAll runs query and scans every row with scan.
func queryAll[T any](ctx context.Context, db *sql.DB, what string, scan func(interface{ Scan(...any) error }) (*T, error), query string, args ...any) ([]*T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// Tokens.

const tokenCols = `id, name, role, hash, created`

func scanToken(row interface{ Scan(...any) error }) (*Token, error) {
	var t Token
	if err := row.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, timeScanner{&t.Created}); err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateToken requires an ID, a name, a known role and a 32-byte hash.
func (s *sqlStore) CreateToken(ctx context.Context, t *Token) error {
	switch {
	case t == nil || t.ID == "":
		return errors.New("store: create token: empty ID")
	case t.Name == "":
		return fmt.Errorf("store: create token %q: empty name", t.ID)
	case t.Role != RoleRead && t.Role != RoleWrite && t.Role != RoleAdmin:
		return fmt.Errorf("store: create token %q: role %q is not read, write or admin", t.ID, t.Role)
	case len(t.Hash) != 32:
		return fmt.Errorf("store: create token %q: hash is %d bytes, want 32 (SHA-256)", t.ID, len(t.Hash))
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5)`,
		t.ID, t.Name, t.Role, t.Hash, s.d.timeArg(dbTime(t.Created)))
	if s.d.isUnique(err) {
		return fmt.Errorf("%w: a token with ID %q or name %q exists", ErrConflict, t.ID, t.Name)
	}
	if err != nil {
		return fmt.Errorf("store: create token %q: %w", t.ID, err)
	}
	return nil
}

func (s *sqlStore) Token(ctx context.Context, id string) (*Token, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: token %q", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: token %q: %w", id, err)
	}
	return t, nil
}

func (s *sqlStore) Tokens(ctx context.Context) ([]*Token, error) {
	return queryAll(ctx, s.r, "list tokens", scanToken, `SELECT `+tokenCols+` FROM tokens ORDER BY name`)
}

func (s *sqlStore) DeleteToken(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM tokens WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: delete token %q: %w", id, err)
	}
	return rowsAffected(res, fmt.Sprintf("token %q", id))
}

// Appraisals.

const (
	appraisalCols       = `logged_at, session_id, client, media_type, tee, status, policy_id, reasons, evidence_hash`
	appraisalColsN      = 9
	appraisalSelectCols = `id, ` + appraisalCols
)

// insertStmt returns the prepared INSERT of n appraisal rows.
func (s *sqlStore) insertStmt(ctx context.Context, n int) (*sql.Stmt, error) {
	s.insertMu.Lock()
	defer s.insertMu.Unlock()
	if st := s.inserts[n]; st != nil {
		return st, nil
	}
	st, err := s.w.PrepareContext(ctx, insertAppraisals(n))
	if err != nil {
		return nil, err
	}
	if s.inserts == nil {
		s.inserts = map[int]*sql.Stmt{}
	}
	s.inserts[n] = st
	return st, nil
}

// insertAppraisals returns an INSERT of n rows returning their IDs.
func insertAppraisals(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO appraisals (` + appraisalCols + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range appraisalColsN {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(i*appraisalColsN + j + 1))
		}
		b.WriteByte(')')
	}
	b.WriteString(` RETURNING id`)
	return b.String()
}

// AddAppraisals inserts the entries with multi-row INSERTs, in one
// transaction when there are more than fit one statement. Both databases
// number the rows of one INSERT in the order of its VALUES, so the sorted
// returned IDs belong to the entries in order.
func (s *sqlStore) AddAppraisals(ctx context.Context, a ...*Appraisal) (err error) {
	for i, e := range a {
		if e == nil {
			return fmt.Errorf("store: add appraisals: entry %d is nil", i)
		}
	}
	if len(a) == 0 {
		return nil
	}
	if len(a) <= appraisalChunk {
		st, err := s.insertStmt(ctx, len(a))
		if err != nil {
			return fmt.Errorf("store: add appraisals: %w", err)
		}
		return s.addAppraisals(ctx, st, a)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: add appraisals: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	for chunk := range slices.Chunk(a, appraisalChunk) {
		// Prepared on the transaction: the SQLite writer has one
		// connection, which the transaction holds.
		st, err := tx.PrepareContext(ctx, insertAppraisals(len(chunk)))
		if err != nil {
			return fmt.Errorf("store: add appraisals: %w", err)
		}
		err = s.addAppraisals(ctx, st, chunk)
		st.Close()
		if err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: add appraisals: commit: %w", err)
	}
	return nil
}

// addAppraisals inserts up to appraisalChunk entries with st, the INSERT of
// len(a) rows.
func (s *sqlStore) addAppraisals(ctx context.Context, st *sql.Stmt, a []*Appraisal) error {
	args := make([]any, 0, len(a)*appraisalColsN)
	for _, e := range a {
		args = append(args, s.d.timeArg(dbTime(e.Time)), e.SessionID, e.Client, e.MediaType, e.TEE,
			e.Status, e.PolicyID, blob(e.Reasons), blob(e.EvidenceHash))
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("store: add appraisals: %w", err)
	}
	defer rows.Close()
	ids := make([]int64, 0, len(a))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("store: add appraisals: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: add appraisals: %w", err)
	}
	if len(ids) != len(a) {
		return fmt.Errorf("store: add appraisals: %d IDs returned for %d entries", len(ids), len(a))
	}
	slices.Sort(ids)
	for i, e := range a {
		e.ID = ids[i]
	}
	return nil
}

func scanAppraisal(row interface{ Scan(...any) error }) (*Appraisal, error) {
	var a Appraisal
	if err := row.Scan(&a.ID, timeScanner{&a.Time}, &a.SessionID, &a.Client, &a.MediaType, &a.TEE,
		&a.Status, &a.PolicyID, &a.Reasons, &a.EvidenceHash); err != nil {
		return nil, err
	}
	a.Reasons = nilIfEmpty(a.Reasons)
	a.EvidenceHash = nilIfEmpty(a.EvidenceHash)
	return &a, nil
}

// Appraisals clamps limit to [1, 1000].
func (s *sqlStore) Appraisals(ctx context.Context, before int64, limit int) ([]*Appraisal, error) {
	return queryAll(ctx, s.r, "list appraisals", scanAppraisal, `SELECT `+appraisalSelectCols+` FROM appraisals
		WHERE id < $1 ORDER BY id DESC LIMIT $2`, beforeID(before), clampLimit(limit))
}

// Audit log.

const auditCols = `logged_at, actor, action, target, detail`

func (s *sqlStore) AddAudit(ctx context.Context, a *Audit) error {
	if a == nil {
		return errors.New("store: add audit: nil entry")
	}
	err := s.w.QueryRowContext(ctx, `INSERT INTO audit (`+auditCols+`) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		s.d.timeArg(dbTime(a.Time)), a.Actor, a.Action, a.Target, a.Detail).Scan(&a.ID)
	if err != nil {
		return fmt.Errorf("store: add audit: %w", err)
	}
	return nil
}

func scanAudit(row interface{ Scan(...any) error }) (*Audit, error) {
	var a Audit
	if err := row.Scan(&a.ID, timeScanner{&a.Time}, &a.Actor, &a.Action, &a.Target, &a.Detail); err != nil {
		return nil, err
	}
	return &a, nil
}

// AuditLog clamps limit to [1, 1000].
func (s *sqlStore) AuditLog(ctx context.Context, before int64, limit int) ([]*Audit, error) {
	return queryAll(ctx, s.r, "list audit log", scanAudit, `SELECT id, `+auditCols+` FROM audit
		WHERE id < $1 ORDER BY id DESC LIMIT $2`, beforeID(before), clampLimit(limit))
}

// Signing keys.

func (s *sqlStore) PutKey(ctx context.Context, k *Key) error {
	if k == nil || k.ID == "" {
		return errors.New("store: put key: empty ID")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO signing_keys (id, jwk, created) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING`, k.ID, blob(k.JWK), s.d.timeArg(dbTime(k.Created)))
	if err != nil {
		return fmt.Errorf("store: put key %q: %w", k.ID, err)
	}
	return nil
}

func scanKey(row interface{ Scan(...any) error }) (*Key, error) {
	var k Key
	if err := row.Scan(&k.ID, &k.JWK, timeScanner{&k.Created}); err != nil {
		return nil, err
	}
	return &k, nil
}

func (s *sqlStore) Keys(ctx context.Context) ([]*Key, error) {
	return queryAll(ctx, s.r, "list keys", scanKey, `SELECT id, jwk, created FROM signing_keys ORDER BY created, id`)
}

// Collateral cache.

func (s *sqlStore) Collateral(ctx context.Context, key string) (*Collateral, error) {
	var c Collateral
	err := s.r.QueryRowContext(ctx, `SELECT cache_key, body, fetched_at, next_update FROM collateral WHERE cache_key = $1`, key).
		Scan(&c.Key, &c.Body, timeScanner{&c.FetchedAt}, timeScanner{&c.NextUpdate})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: collateral %q", ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("store: collateral %q: %w", key, err)
	}
	return &c, nil
}

// PutCollateral is one upsert whose update is conditional on the stored
// NextUpdate not being later; of equal ones the new entry wins.
func (s *sqlStore) PutCollateral(ctx context.Context, c *Collateral) error {
	if c == nil || c.Key == "" {
		return errors.New("store: put collateral: empty key")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO collateral (cache_key, body, fetched_at, next_update) VALUES ($1, $2, $3, $4)
		ON CONFLICT (cache_key) DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at, next_update = excluded.next_update
		WHERE collateral.next_update <= excluded.next_update`,
		c.Key, blob(c.Body), s.d.timeArg(dbTime(c.FetchedAt)), s.d.timeArg(dbTime(c.NextUpdate)))
	if err != nil {
		return fmt.Errorf("store: put collateral %q: %w", c.Key, err)
	}
	return nil
}

func (s *sqlStore) CollateralEntries(ctx context.Context) ([]*Collateral, error) {
	return queryAll(ctx, s.r, "list collateral", func(row interface{ Scan(...any) error }) (*Collateral, error) {
		var c Collateral
		if err := row.Scan(&c.Key, timeScanner{&c.FetchedAt}, timeScanner{&c.NextUpdate}); err != nil {
			return nil, err
		}
		return &c, nil
	}, `SELECT cache_key, fetched_at, next_update FROM collateral ORDER BY cache_key`)
}

// Ping runs a query on the read pool and checks the write connection.
func (s *sqlStore) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	if s.w != s.r {
		if err := s.w.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping: %w", err)
		}
	}
	return nil
}

func (s *sqlStore) Close() error {
	s.insertMu.Lock()
	for _, st := range s.inserts {
		st.Close()
	}
	s.inserts = nil
	s.insertMu.Unlock()
	err := s.r.Close()
	if s.w != s.r {
		err = errors.Join(err, s.w.Close())
	}
	return err
}
