// Package store is the persistence of the verification service: sessions
// and their nonces, versioned policies and reference values, API tokens,
// the appraisal and audit logs, the EAR signing keys of all replicas and the
// shared collateral cache.
//
// Everything a replica needs lives in a Store, so replicas are stateless and
// any number of them can share one PostgreSQL database. SQLite is the
// embedded default for a single replica. Open picks the implementation from
// the data source name.
//
// Operations that decide something (claiming a session, numbering a new
// version) are atomic in the database, never read-then-write in Go, so they
// hold across replicas.
//
// # Implementations
//
// Both databases share one implementation on database/sql with the same SQL
// text; what differs (the schema, how times are stored, how a unique
// violation is reported, the migration lock) is a small dialect. Times are
// stored in UTC with microsecond precision and returned as UTC: as
// timestamptz in PostgreSQL, as integer microseconds since the epoch in
// SQLite.
//
// ClaimSession is one UPDATE ... WHERE status = 'waiting' AND expires > now
// RETURNING, so of concurrent claims the database lets exactly one change
// the row. PutDocument computes the next version inside its INSERT; when two
// PostgreSQL transactions compute the same one, the primary key (kind,
// name, version) rejects the second, which tries again. PutCollateral is an
// upsert whose update is conditional on the stored NextUpdate.
// FinishSession is an UPDATE ... WHERE status = 'processing' AND deadline >
// now, which also writes the submitted evidence, and the INSERT of the
// appraisal log entry in one transaction, so a session is complete, and
// shows its evidence, exactly when its entry is logged; AbandonSessions is
// the UPDATE for the other side of the deadline, so of a late finish and an
// abandonment exactly one wins.
// AddAppraisals inserts up to 100 entries per multi-row INSERT, and uses a
// transaction only for larger batches.
//
// # Schema versions
//
// The schema is a numbered series of SQL steps embedded in the program
// (migrations/sqlite, migrations/postgres, the same steps for both). Open
// applies the missing ones, each in its own transaction recorded in
// schema_migrations. The transaction first takes a lock, so that replicas
// starting together apply each step once: pg_advisory_xact_lock keyed by the
// current schema in PostgreSQL, the database write lock (BEGIN IMMEDIATE) in
// SQLite. Open refuses a database whose schema is newer than the program.
//
// # SQLite
//
// The database runs in WAL mode with synchronous=NORMAL: a committed
// transaction survives a crash of the process, as it is in the WAL file,
// but the last transactions before a crash of the operating system or a
// power loss may be lost (the database stays consistent). That is the
// usual trade for a write-heavy log; PostgreSQL is the choice for stronger
// guarantees. Foreign keys are enforced and busy_timeout is 5 s.
//
// SQLite allows one writer at a time. A store writes through a single
// connection, so its goroutines queue in Go rather than contend for the file
// lock (which is where "database is locked" comes from); transactions begin
// with BEGIN IMMEDIATE so they never have to upgrade a read lock. Other
// processes on the same file wait up to busy_timeout. Reads use a pool of
// read-only (query_only) connections and are not blocked by the writer.
//
// # PostgreSQL
//
// Connections come from the pgx driver through database/sql; the pool size
// follows pool_max_conns in the URL (default: the greater of 4 and the
// number of CPUs). Statements run in autocommit or short transactions at
// the default READ COMMITTED isolation; the atomic statements above do not
// need more. Log IDs come from identity columns: they increase in the order
// of insertion, which for concurrent transactions need not be the order of
// commit, so a listing may briefly miss an entry with a smaller ID than the
// newest one shown.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every implementation returns (wrapped) so callers can use errors.Is.
var (
	// ErrNotFound: no such session, document, token or collateral entry.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the operation lost to another one, e.g. a session that
	// is no longer waiting (its nonce was already redeemed) or has expired,
	// or an ID that already exists.
	ErrConflict = errors.New("store: conflict")
)

// Session states, in the order a session goes through them.
const (
	SessionWaiting    = "waiting"
	SessionProcessing = "processing"
	SessionComplete   = "complete"
	SessionFailed     = "failed"
)

// Session is a challenge-response session: a nonce issued to an attester,
// redeemable once until Expires.
type Session struct {
	ID      string
	Nonce   []byte
	Accept  []string // evidence media types offered
	Status  string   // one of the Session* states
	Created time.Time
	Expires time.Time
	// Result is the signed EAR (a JWT) once the session is complete.
	Result string
	// Problem is the RFC 9457 problem document (JSON) of a failed session.
	Problem []byte
	// EvidenceType and Evidence are the evidence submitted to the session,
	// recorded with its outcome (SessionOutcome); empty before.
	EvidenceType string
	Evidence     []byte
	// Deadline is when the appraisal of a processing session must have
	// finished: after it the session can only fail. Zero until claimed.
	Deadline time.Time
}

// SessionOutcome is how a processing session ends.
type SessionOutcome struct {
	// Status is SessionComplete, with Result, or SessionFailed, with
	// Problem.
	Status  string
	Result  string
	Problem []byte
	// EvidenceType and Evidence are the evidence submitted to the session,
	// which the session then shows, as Veraison's sessions do. They are
	// written with the outcome, so a session shows the evidence its result
	// (or problem) is about, and no other.
	EvidenceType string
	Evidence     []byte
	// Appraisal, when set, is appended to the appraisal log in the same
	// transaction that finishes the session: the log holds an entry for
	// every EAR a session delivers, and for no other.
	Appraisal *Appraisal
}

// Document kinds.
const (
	KindPolicy          = "policy"
	KindReferenceValues = "reference-values"
)

// Document is one version of a named policy or reference value set. Versions
// are numbered from 1 and never overwritten or deleted.
type Document struct {
	Kind    string
	Name    string
	Version int
	Body    []byte // JSON
	Created time.Time
	Author  string // name of the token that created it
}

// Token roles, each including the ones before it.
const (
	RoleRead  = "read"
	RoleWrite = "write"
	RoleAdmin = "admin"
)

// Token is a management API token. The secret itself is never stored, only
// its SHA-256 hash.
type Token struct {
	ID      string // public identifier, part of the bearer token
	Name    string
	Role    string
	Hash    []byte // SHA-256 of the secret
	Created time.Time
}

// Appraisal is one entry of the appraisal log.
type Appraisal struct {
	ID        int64 // assigned by the store, increasing
	Time      time.Time
	SessionID string // empty for the native API
	Client    string // client address
	MediaType string
	TEE       string // sgx, tdx, sev_snp, cca; empty for evidence that could not be read
	Status    string // EAR status: affirming, warning, contraindicated, none
	PolicyID  string // name@version(s) as in the EAR
	// Reasons is the JSON array of appraise.Reason. Every EAR issued has
	// an entry: evidence a session could not read too (TEE empty, the
	// reason "evidence"); evidence /v1/attest refused with a problem
	// document has none.
	Reasons      []byte
	EvidenceHash []byte // SHA-256 of the evidence as received
}

// Audit is one entry of the audit log of management changes.
type Audit struct {
	ID     int64
	Time   time.Time
	Actor  string // token name, or "bootstrap"
	Action string // e.g. "policy.create", "token.delete"
	Target string // e.g. "policy/default@3", "token/ab12"
	Detail string
}

// Key is the public EAR signing key of one replica.
type Key struct {
	ID      string // JWK thumbprint (kid)
	JWK     []byte // JSON
	Created time.Time
}

// Collateral is one entry of the shared collateral cache: an opaque encoded
// collateral bundle under a key such as "intel/sgx/00906ED50000/processor/standard".
type Collateral struct {
	Key        string
	Body       []byte
	FetchedAt  time.Time
	NextUpdate time.Time
}

// Store is implemented by the SQLite and PostgreSQL stores. All methods are
// safe for concurrent use, also from several processes on one database.
type Store interface {
	// CreateSession stores a new session (ErrConflict if its ID exists).
	CreateSession(ctx context.Context, s *Session) error
	// Session returns a session (ErrNotFound if absent or deleted).
	Session(ctx context.Context, id string) (*Session, error)
	// ClaimSession atomically moves a waiting session whose expiry is after
	// now to processing, with the given processing deadline, and returns
	// it. Of concurrent claims, on any replicas, exactly one succeeds; the
	// others, and claims of expired or already used sessions, get
	// ErrConflict. Absent sessions: ErrNotFound.
	ClaimSession(ctx context.Context, id string, now, deadline time.Time) (*Session, error)
	// FinishSession records the outcome of a processing session whose
	// deadline is after now, with the evidence submitted, and its
	// appraisal log entry if any, in one transaction. A session that is not processing, or whose deadline has
	// passed, gets ErrConflict and nothing is written.
	FinishSession(ctx context.Context, id string, now time.Time, out *SessionOutcome) error
	// AbandonSessions fails the processing sessions whose deadline is at
	// or before now, recording problem, and returns how many. Sessions
	// claimed without a deadline are held to their expiry.
	AbandonSessions(ctx context.Context, now time.Time, problem []byte) (int64, error)
	// DeleteSession removes a session: ErrNotFound if absent, ErrConflict
	// while it is processing (its appraisal would have nowhere to go).
	DeleteSession(ctx context.Context, id string) error
	// PurgeSessions deletes sessions that expired before the given time and
	// returns how many.
	PurgeSessions(ctx context.Context, before time.Time) (int64, error)

	// PutDocument stores body as the next version of kind/name and returns
	// the stored document. Concurrent puts get distinct versions.
	PutDocument(ctx context.Context, kind, name string, body []byte, author string, now time.Time) (*Document, error)
	// Document returns one version; version 0 means the latest.
	Document(ctx context.Context, kind, name string, version int) (*Document, error)
	// Documents lists the latest version of every document of kind, by name.
	Documents(ctx context.Context, kind string) ([]*Document, error)
	// Versions lists all versions of kind/name, oldest first.
	Versions(ctx context.Context, kind, name string) ([]*Document, error)

	// CreateToken stores a token (ErrConflict if its ID or name exists).
	CreateToken(ctx context.Context, t *Token) error
	// Token returns a token by ID (ErrNotFound if absent).
	Token(ctx context.Context, id string) (*Token, error)
	// Tokens lists all tokens, by name.
	Tokens(ctx context.Context) ([]*Token, error)
	// DeleteToken removes a token (ErrNotFound if absent).
	DeleteToken(ctx context.Context, id string) error

	// AddAppraisals appends entries to the appraisal log, assigning IDs.
	AddAppraisals(ctx context.Context, a ...*Appraisal) error
	// Appraisals lists up to limit entries with ID below before (0: the
	// newest), newest first.
	Appraisals(ctx context.Context, before int64, limit int) ([]*Appraisal, error)

	// AddAudit appends an entry to the audit log, assigning its ID.
	AddAudit(ctx context.Context, a *Audit) error
	// AuditLog lists up to limit entries with ID below before (0: the
	// newest), newest first.
	AuditLog(ctx context.Context, before int64, limit int) ([]*Audit, error)

	// PutKey records a replica's public signing key; an existing ID is kept.
	PutKey(ctx context.Context, k *Key) error
	// Keys lists all keys, oldest first.
	Keys(ctx context.Context) ([]*Key, error)

	// Collateral returns a cache entry (ErrNotFound if absent).
	Collateral(ctx context.Context, key string) (*Collateral, error)
	// PutCollateral inserts or replaces an entry; an entry with a later
	// NextUpdate already stored is kept (another replica was faster).
	PutCollateral(ctx context.Context, c *Collateral) error
	// CollateralEntries lists the entries without their bodies, by key.
	CollateralEntries(ctx context.Context) ([]*Collateral, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
