package store

import (
	"context"
	"path/filepath"
	"testing"
)

// TestSQLitePragmas checks the settings of both SQLite pools that the
// durability and concurrency of the store rest on.
func TestSQLitePragmas(t *testing.T) {
	st, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*sqlStore)
	ctx := t.Context()
	for _, c := range []struct {
		pool          string
		pragma, value string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "synchronous", "1"}, // NORMAL
		{"write", "foreign_keys", "1"},
		{"write", "busy_timeout", "5000"},
		{"write", "query_only", "0"},
		{"read", "journal_mode", "wal"},
		{"read", "busy_timeout", "5000"},
		{"read", "query_only", "1"},
	} {
		db := s.w
		if c.pool == "read" {
			db = s.r
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("%s pool: PRAGMA %s: %v", c.pool, c.pragma, err)
		}
		if got != c.value {
			t.Errorf("%s pool: PRAGMA %s = %s, want %s", c.pool, c.pragma, got, c.value)
		}
	}
	if _, err := s.r.ExecContext(ctx, `DELETE FROM sessions`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

func TestMigrationFiles(t *testing.T) {
	for _, d := range []*dialect{&sqliteDialect, &postgresDialect} {
		ms, err := migrations(d)
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		for i, m := range ms {
			if m.version != i+1 {
				t.Errorf("%s: migration %s has version %d, want %d", d.name, m.name, m.version, i+1)
			}
		}
	}
	s, err := migrations(&sqliteDialect)
	if err != nil {
		t.Fatal(err)
	}
	p, err := migrations(&postgresDialect)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != len(p) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL ones; want the same steps", len(s), len(p))
	}
	for i := range s {
		if s[i].name != p[i].name {
			t.Errorf("migration %d: SQLite %s, PostgreSQL %s; want the same names", i+1, s[i].name, p[i].name)
		}
	}
}
