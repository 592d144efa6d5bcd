-- The evidence submitted to a session, which GET shows, as Veraison's
-- sessions do.

ALTER TABLE sessions ADD COLUMN evidence_type text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN evidence bytea NOT NULL DEFAULT '';
