// Package differential runs ratls's verifiers side by side with independent
// implementations (google/go-tdx-guest for TDX, google/go-sev-guest for
// SEV-SNP) on the same real vectors. It is a module of its own so that the
// library does not depend on the libraries it is compared with.
package differential

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ratls/ratls/internal/testvectors"
)

// The real vectors are the repository's shared testdata, each folder with
// its PROVENANCE.md and EXPECTED.json (the independently computed results).
var vectorDir = testvectors.Dir()

// readAMD reads a vector file of the SEV-SNP comparison, path relative to
// vectorDir.
func readAMD(tb testing.TB, path string) []byte {
	tb.Helper()
	return read(tb, filepath.Join(vectorDir, path))
}

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
