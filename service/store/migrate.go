package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the schema of each database as numbered steps,
// migrations/<dialect>/NNNN_description.sql. Both dialects have the same
// steps. A step, once released, is never changed; changes are new steps.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migration is one numbered schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the steps of dialect d in order, checking that they
// are numbered 1, 2, 3, ... without gaps.
func migrations(d *dialect) ([]migration, error) {
	dir := path.Join("migrations", d.name)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries { // sorted by name
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || len(num) != 4 || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("store: migration file %s/%s: want NNNN_name.sql", dir, e.Name())
		}
		if want := len(ms) + 1; v != want {
			return nil, fmt.Errorf("store: migration file %s/%s: version %d, want %d", dir, e.Name(), v, want)
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: read migration: %w", err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("store: no migrations in %s", dir)
	}
	return ms, nil
}

// migrate applies the steps the database lacks, each in a transaction of
// its own that first takes the lock keeping concurrent migrations apart, so
// that replicas starting at once apply every step exactly once. A database
// whose schema is newer than the newest step known here is refused: this
// program might misread or damage it.
func (s *sqlStore) migrate(ctx context.Context) error {
	ms, err := migrations(s.d)
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].version
	for _, m := range ms {
		if err := s.migrateStep(ctx, m, latest); err != nil {
			return err
		}
	}
	return nil
}

// migrateStep applies m unless it is already applied.
func (s *sqlStore) migrateStep(ctx context.Context, m migration, latest int) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if s.d.migrationLock != "" {
		if _, err := tx.ExecContext(ctx, s.d.migrationLock); err != nil {
			return fmt.Errorf("store: migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.versionTable); err != nil {
		return fmt.Errorf("store: migrate: create schema_migrations: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
		return fmt.Errorf("store: migrate: read schema version: %w", err)
	}
	switch {
	case cur > latest:
		return fmt.Errorf("store: database schema version is %d, newer than %d, the newest this program knows; refusing to use it", cur, latest)
	case cur >= m.version:
		return tx.Commit()
	case cur != m.version-1:
		return fmt.Errorf("store: migrate: database schema version is %d, cannot apply %s", cur, m.name)
	}
	if err := execScript(ctx, tx, m.sql); err != nil {
		return fmt.Errorf("store: migrate: apply %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		m.version, s.d.timeArg(now())); err != nil {
		return fmt.Errorf("store: migrate: record version %d: %w", m.version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate: commit %s: %w", m.name, err)
	}
	return nil
}

// execScript runs a script of several statements. Both drivers accept them
// in one Exec without arguments (pgx then uses the simple query protocol).
func execScript(ctx context.Context, tx *sql.Tx, script string) error {
	_, err := tx.ExecContext(ctx, script)
	return err
}

// now is the current time as stored: UTC, in microseconds.
func now() time.Time { return dbTime(time.Now()) }
