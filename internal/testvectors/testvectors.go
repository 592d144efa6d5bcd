// Package testvectors locates the repository's shared test vectors: the
// real vendor-signed evidence and collateral in testdata/ at the root of
// the module, one folder per upstream source, each with its PROVENANCE.md
// and EXPECTED.json (testdata/README.md describes the tree). Tests of every
// package read the vectors from there instead of keeping copies; only fuzz
// corpora (testdata/fuzz) and golden files stay with their package.
//
// Paths are relative to the working directory, which go test sets to the
// directory of the package under test, so that a path a test prints (or a
// command under test echoes) is the same on every machine.
package testvectors

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// module is the module whose root holds the shared testdata directory.
const module = "github.com/ratls/ratls"

var dir = sync.OnceValue(func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic("testvectors: " + err.Error())
	}
	up := "."
	for d := wd; ; d = filepath.Dir(d) {
		if moduleOf(filepath.Join(d, "go.mod")) == module {
			return filepath.Join(up, "testdata")
		}
		if filepath.Dir(d) == d {
			panic("testvectors: no enclosing directory of " + wd + " holds module " + module)
		}
		up = filepath.Join(up, "..")
	}
})

// moduleOf returns the module path declared by the go.mod file at path, or
// "" when there is none. Nested modules (examples, tests) are passed over.
func moduleOf(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			rest, _, _ = strings.Cut(rest, "//")
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// Dir returns the shared testdata directory, relative to the working
// directory: "testdata" in the module root, "../../testdata" two levels
// below it.
func Dir() string { return dir() }

// Path returns the path of a vector file or folder: Path("dcap-qvl",
// "tdx_quote") is Dir()/dcap-qvl/tdx_quote.
func Path(elem ...string) string {
	return filepath.Join(append([]string{Dir()}, elem...)...)
}

// Read returns the contents of Path(elem...).
func Read(elem ...string) ([]byte, error) {
	return os.ReadFile(Path(elem...))
}
