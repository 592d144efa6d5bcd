package quote

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ratls/ratls/internal/testvectors"
)

// vectorFolders are the testdata folders holding Intel quote vectors with
// an EXPECTED.json (copied from the shared vector collection).
var vectorFolders = []string{
	"dcap-qvl", "zkdcap", "trustee-dcap", "go-tdx-guest", "mobilecoin-sgx", "intel-qvl-sample-testroot",
}

// expectedVector is one entry of a folder's EXPECTED.json.
type expectedVector struct {
	ID       string         `json:"id"`
	Quote    string         `json:"quote"`
	Encoding string         `json:"encoding"`
	Cert     string         `json:"cert"`
	Computed map[string]any `json:"computed"`
}

func readExpected(t testing.TB, folder string) []expectedVector {
	t.Helper()
	raw, err := os.ReadFile(testvectors.Path(folder, "EXPECTED.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Vectors []expectedVector `json:"vectors"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s/EXPECTED.json: %v", folder, err)
	}
	return doc.Vectors
}

// readVector reads a testdata file, decoding it when encoding is "hex".
func readVector(t testing.TB, folder, name, encoding string) []byte {
	t.Helper()
	raw, err := os.ReadFile(testvectors.Path(folder, name))
	if err != nil {
		t.Fatal(err)
	}
	if encoding != "hex" {
		return raw
	}
	s := strings.Join(strings.Fields(string(raw)), "")
	s = strings.TrimPrefix(s, "0x")
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("%s/%s: %v", folder, name, err)
	}
	return b
}

// mustRead reads a binary testdata file.
func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path(path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t testing.TB, b []byte) *Quote {
	t.Helper()
	q, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return q
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// jsonInt converts a json.Number from EXPECTED.json.
func jsonInt(t testing.TB, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("want a JSON number, got %T %v", v, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// snapField is one named value of a Rust Debug snapshot (insta .snap file):
// a byte array, an integer or a string.
type snapField struct {
	name  string
	bytes []byte
	num   int64
	str   string
	kind  byte // 'a' array, 'n' number, 's' string
}

var (
	snapArrayStart = regexp.MustCompile(`^\s*(\w+): \[$`)
	snapArrayItem  = regexp.MustCompile(`^\s*(\d+),$`)
	snapArrayEnd   = regexp.MustCompile(`^\s*\],?$`)
	snapNumber     = regexp.MustCompile(`^\s*(\w+): (\d+),$`)
	snapString     = regexp.MustCompile(`^\s*(\w+): "(.*)",$`)
)

// readSnap extracts the byte arrays, numbers and strings of a snapshot in
// file order.
func readSnap(t testing.TB, path string) []snapField {
	t.Helper()
	f, err := os.Open(testvectors.Path(path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []snapField
	var cur *snapField
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if cur != nil {
			if m := snapArrayItem.FindStringSubmatch(line); m != nil {
				v, err := strconv.Atoi(m[1])
				if err != nil || v > 255 {
					t.Fatalf("snapshot %s: bad byte %q", path, line)
				}
				cur.bytes = append(cur.bytes, byte(v))
				continue
			}
			if snapArrayEnd.MatchString(line) {
				out = append(out, *cur)
				cur = nil
				continue
			}
			t.Fatalf("snapshot %s: unexpected line in array: %q", path, line)
		}
		if m := snapArrayStart.FindStringSubmatch(line); m != nil {
			cur = &snapField{name: m[1], kind: 'a'}
		} else if m := snapNumber.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseInt(m[2], 10, 64)
			out = append(out, snapField{name: m[1], num: v, kind: 'n'})
		} else if m := snapString.FindStringSubmatch(line); m != nil {
			out = append(out, snapField{name: m[1], str: m[2], kind: 's'})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// snapGet returns the n-th (0-based) field called name.
func snapGet(t testing.TB, fields []snapField, name string, n int) snapField {
	t.Helper()
	for _, f := range fields {
		if f.name == name {
			if n == 0 {
				return f
			}
			n--
		}
	}
	t.Fatalf("snapshot has no field %q", name)
	return snapField{}
}

// unescapeRustASCII decodes a Rust Debug string that holds only ASCII
// text and the escapes \n \r \t \0 \\ \" and \u{..}.
func unescapeRustASCII(t testing.TB, s string) []byte {
	t.Helper()
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			if c >= 0x80 {
				t.Fatalf("non-ASCII byte in snapshot string")
			}
			b = append(b, c)
			continue
		}
		i++
		if i >= len(s) {
			t.Fatal("dangling escape in snapshot string")
		}
		switch s[i] {
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case '0':
			b = append(b, 0)
		case '\\', '"', '\'':
			b = append(b, s[i])
		case 'u':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 || s[i+1] != '{' {
				t.Fatal("bad \\u escape in snapshot string")
			}
			v, err := strconv.ParseUint(s[i+2:i+end], 16, 8)
			if err != nil {
				t.Fatalf("non-byte \\u escape in snapshot string: %v", err)
			}
			b = append(b, byte(v))
			i += end
		default:
			t.Fatalf("unknown escape \\%c in snapshot string", s[i])
		}
	}
	return b
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	if err := json.Unmarshal(mustRead(t, path), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
