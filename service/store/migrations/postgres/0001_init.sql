-- Initial schema (PostgreSQL). Names that are listed in order use the "C"
-- collation so that the order is by bytes, as in SQLite, whatever the
-- collation of the database.

CREATE TABLE sessions (
	id      text        NOT NULL PRIMARY KEY,
	nonce   bytea       NOT NULL,
	accept  text        NOT NULL, -- JSON array of media types
	status  text        NOT NULL CHECK (status IN ('waiting', 'processing', 'complete', 'failed')),
	created timestamptz NOT NULL,
	expires timestamptz NOT NULL,
	result  text        NOT NULL,
	problem bytea       NOT NULL
);

CREATE INDEX sessions_expires ON sessions (expires);

CREATE TABLE documents (
	kind    text        NOT NULL,
	name    text        COLLATE "C" NOT NULL,
	version integer     NOT NULL CHECK (version >= 1),
	body    bytea       NOT NULL,
	created timestamptz NOT NULL,
	author  text        NOT NULL,
	PRIMARY KEY (kind, name, version)
);

CREATE TABLE tokens (
	id      text        NOT NULL PRIMARY KEY,
	name    text        COLLATE "C" NOT NULL UNIQUE,
	role    text        NOT NULL CHECK (role IN ('read', 'write', 'admin')),
	hash    bytea       NOT NULL,
	created timestamptz NOT NULL
);

CREATE TABLE appraisals (
	id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	logged_at     timestamptz NOT NULL,
	session_id    text        NOT NULL,
	client        text        NOT NULL,
	media_type    text        NOT NULL,
	tee           text        NOT NULL,
	status        text        NOT NULL,
	policy_id     text        NOT NULL,
	reasons       bytea       NOT NULL,
	evidence_hash bytea       NOT NULL
);

CREATE TABLE audit (
	id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	logged_at timestamptz NOT NULL,
	actor     text        NOT NULL,
	action    text        NOT NULL,
	target    text        NOT NULL,
	detail    text        NOT NULL
);

CREATE TABLE signing_keys (
	id      text        COLLATE "C" NOT NULL PRIMARY KEY,
	jwk     bytea       NOT NULL,
	created timestamptz NOT NULL
);

CREATE TABLE collateral (
	cache_key   text        COLLATE "C" NOT NULL PRIMARY KEY,
	body        bytea       NOT NULL,
	fetched_at  timestamptz NOT NULL,
	next_update timestamptz NOT NULL
);
