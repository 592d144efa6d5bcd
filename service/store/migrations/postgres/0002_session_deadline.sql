-- Sessions get a processing deadline: a claimed session whose appraisal has
-- not finished by then is failed rather than left processing for good.
-- NULL for sessions that were never claimed, and for those claimed by a
-- replica of an earlier release, which are held to their expiry instead.

ALTER TABLE sessions ADD COLUMN deadline timestamptz;

CREATE INDEX sessions_processing ON sessions (status) WHERE status = 'processing';
