package testvectors

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDir(t *testing.T) {
	if got, want := Dir(), filepath.Join("..", "..", "testdata"); got != want {
		t.Fatalf("Dir() = %q, want %q", got, want)
	}
	if _, err := os.Stat(Path("README.md")); err != nil {
		t.Fatal(err)
	}
}

func TestModuleOf(t *testing.T) {
	dir := t.TempDir()
	gomod := filepath.Join(dir, "go.mod")
	if err := os.WriteFile(gomod, []byte("// comment\nmodule \"example.com/x\" // trailing\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := moduleOf(gomod); got != "example.com/x" {
		t.Fatalf("moduleOf = %q", got)
	}
	if got := moduleOf(filepath.Join(dir, "missing")); got != "" {
		t.Fatalf("moduleOf(missing) = %q", got)
	}
}
