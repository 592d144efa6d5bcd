-- Initial schema (SQLite). Times are INTEGER microseconds since the Unix
-- epoch, UTC. STRICT tables reject values of the wrong type.

CREATE TABLE sessions (
	id      TEXT    NOT NULL PRIMARY KEY,
	nonce   BLOB    NOT NULL,
	accept  TEXT    NOT NULL, -- JSON array of media types
	status  TEXT    NOT NULL CHECK (status IN ('waiting', 'processing', 'complete', 'failed')),
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL,
	result  TEXT    NOT NULL,
	problem BLOB    NOT NULL
) STRICT;

CREATE INDEX sessions_expires ON sessions (expires);

CREATE TABLE documents (
	kind    TEXT    NOT NULL,
	name    TEXT    NOT NULL,
	version INTEGER NOT NULL CHECK (version >= 1),
	body    BLOB    NOT NULL,
	created INTEGER NOT NULL,
	author  TEXT    NOT NULL,
	PRIMARY KEY (kind, name, version)
) STRICT;

CREATE TABLE tokens (
	id      TEXT    NOT NULL PRIMARY KEY,
	name    TEXT    NOT NULL UNIQUE,
	role    TEXT    NOT NULL CHECK (role IN ('read', 'write', 'admin')),
	hash    BLOB    NOT NULL,
	created INTEGER NOT NULL
) STRICT;

-- AUTOINCREMENT: IDs are never reused, even after the newest rows are gone.
CREATE TABLE appraisals (
	id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	logged_at     INTEGER NOT NULL,
	session_id    TEXT    NOT NULL,
	client        TEXT    NOT NULL,
	media_type    TEXT    NOT NULL,
	tee           TEXT    NOT NULL,
	status        TEXT    NOT NULL,
	policy_id     TEXT    NOT NULL,
	reasons       BLOB    NOT NULL,
	evidence_hash BLOB    NOT NULL
) STRICT;

CREATE TABLE audit (
	id        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	logged_at INTEGER NOT NULL,
	actor     TEXT    NOT NULL,
	action    TEXT    NOT NULL,
	target    TEXT    NOT NULL,
	detail    TEXT    NOT NULL
) STRICT;

CREATE TABLE signing_keys (
	id      TEXT    NOT NULL PRIMARY KEY,
	jwk     BLOB    NOT NULL,
	created INTEGER NOT NULL
) STRICT;

CREATE TABLE collateral (
	cache_key   TEXT    NOT NULL PRIMARY KEY,
	body        BLOB    NOT NULL,
	fetched_at  INTEGER NOT NULL,
	next_update INTEGER NOT NULL
) STRICT;
