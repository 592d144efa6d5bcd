package cmw

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func wantErr(t *testing.T, err, kind error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v containing %q", kind, substr)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q does not wrap %v", err, kind)
	}
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Errorf("error %q is not a *FormatError", err)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("error %q does not contain %q", err, substr)
	}
}

// cborRecord is [30001, h'2347da55'] from the draft's examples.
const cborRecord = `82 197531 44 2347da55`

func TestParseCBORErrors(t *testing.T) {
	for _, tc := range []struct {
		name, hex string
		kind      error
		msg       string
	}{
		{"empty", ``, ErrMalformed, "CBOR CMW: want non-empty input"},
		{"uint top level", `01`, ErrMalformed, "CBOR CMW: want record (array), collection (map) or tag, got unsigned integer"},
		{"text top level", `63 616263`, ErrMalformed, "got text string"},
		{"reserved additional info", `1c`, ErrMalformed, "CBOR: want well-formed CBOR"},

		// record shape
		{"record 1 element", `81 197531`, ErrMalformed, "record: want array of 2 or 3 elements, got 1"},
		{"record 4 elements", `84 197531 44 2347da55 04 04`, ErrMalformed, "record: want array of 2 or 3 elements, got 4"},
		{"record 0 elements", `80`, ErrMalformed, "got 0"},

		// record type
		{"cf over 65535", `82 1a00010000 40`, ErrMalformed, "record type: want content-format at most 65535 (uint .size 2), got 65536"},
		{"type negative", `82 20 40`, ErrMalformed, "record type: want unsigned integer (content-format) or text string (media type), got negative integer"},
		{"type bytes", `82 41 61 40`, ErrMalformed, "got byte string"},
		{"type not a media type", `82 63 666f6f 40`, ErrMalformed, `record type: want media type (RFC 9193 Content-Type), got "foo"`},
		{"type empty text", `82 60 40`, ErrMalformed, `got ""`},
		{"type invalid UTF-8", `82 62 fffe 40`, ErrMalformed, "record type: want valid UTF-8"},
		{"type tunnel sentinel", `82 6f 23636d772d6a32632d74756e6e656c 40`, ErrMalformed, `got "#cmw-j2c-tunnel"`},

		// record value
		{"value text", `82 197531 64 61626364`, ErrMalformed, "record value: want byte string, got text string"},
		{"value array", `82 197531 80`, ErrMalformed, "record value: want byte string, got array"},
		{"value tagged", `82 197531 c2 41 01`, ErrMalformed, "record value: want byte string, got tag"},
		{"value indefinite", `82 197531 5f 41 01 ff`, ErrMalformed, "CBOR: want definite-length encoding"},

		// record ind
		{"ind zero", `83 197531 44 2347da55 00`, ErrMalformed, "record ind: want non-zero (omit the field instead), got 0"},
		{"ind unregistered bit", `83 197531 44 2347da55 1820`, ErrMalformed, "record ind: want only registered cm-type bits (mask 0x1f), got 0x20"},
		{"ind over 4 bytes", `83 197531 44 2347da55 1b0000000100000000`, ErrMalformed, "record ind: want at most 4 bytes, got 4294967296"},
		{"ind negative", `83 197531 44 2347da55 20`, ErrMalformed, "record ind: want unsigned integer, got negative integer"},
		{"ind text", `83 197531 44 2347da55 61 34`, ErrMalformed, "record ind: want unsigned integer, got text string"},
		{"ind bytes bitmap", `83 197531 44 2347da55 41 04`, ErrMalformed, "got byte string"},

		// tag
		{"tag 60000 (Interoperable RA-TLS)", `d9ea60 82 40 40`, ErrMalformed, "tag number: want RFC 9277 TN range [1668546817, 1668612095], got 60000"},
		{"tag below TN range", `da 63740100 44 2347da55`, ErrMalformed, "got 1668546816"},
		{"tag above TN range", `da 63750000 44 2347da55`, ErrMalformed, "got 1668612096"},
		{"tag not a TN image", `da 63740200 44 2347da55`, ErrMalformed, "tag number: want a TN() image (low byte not 0x00), got 1668547072"},
		{"tag content array", `da 6374ffe6 82 197531 40`, ErrMalformed, "tag content: want byte string, got array"},
		{"tag content text", `da 6374ffe6 64 49306661`, ErrMalformed, "tag content: want byte string, got text string"},
		{"tag content nested tag", `da 6374ffe6 da 6374ffe6 40`, ErrMalformed, "tag content: want byte string, got tag"},

		// collection
		{"empty collection", `a0`, ErrMalformed, "collection: want at least one entry, got empty map"},
		{"only __cmwc_t", `a1 685f5f636d77635f74 63 312e32`, ErrMalformed, "collection: want at least one entry besides __cmwc_t, got none"},
		{"__cmwc_t not URI or OID", `a2 01 ` + cborRecord + ` 685f5f636d77635f74 6a 6e6f7420612075726921`, ErrMalformed, `collection type (__cmwc_t): want absolute URI or dotted OID, got "not a uri!"`},
		{"__cmwc_t OID leading zero", `a2 01 ` + cborRecord + ` 685f5f636d77635f74 64 312e3032`, ErrMalformed, `got "1.02"`},
		{"__cmwc_t URI with fragment", `a2 01 ` + cborRecord + ` 685f5f636d77635f74 68 7461673a78237931`, ErrMalformed, `got "tag:x#y1"`},
		{"__cmwc_t empty", `a2 01 ` + cborRecord + ` 685f5f636d77635f74 60`, ErrMalformed, `got ""`},
		{"__cmwc_t integer", `a2 01 ` + cborRecord + ` 685f5f636d77635f74 01`, ErrMalformed, "collection type (__cmwc_t): want text string, got unsigned integer"},
		{"__cmwc_t tag 32", `a2 01 ` + cborRecord + ` 685f5f636d77635f74 d820 63 613a62`, ErrMalformed, "want text string, got tag"},
		{"__cmwc_t twice", `a3 685f5f636d77635f74 63 312e32 685f5f636d77635f74 63 312e33 01 ` + cborRecord, ErrMalformed, "collection: want unique keys, got duplicate __cmwc_t"},
		{"duplicate int label", `a2 01 ` + cborRecord + ` 01 ` + cborRecord, ErrMalformed, "collection label: want unique labels, got duplicate 1"},
		{"duplicate int label non-minimal", `a2 01 ` + cborRecord + ` 1801 ` + cborRecord, ErrMalformed, "got duplicate 1"},
		{"duplicate text label", `a2 6161 ` + cborRecord + ` 6161 ` + cborRecord, ErrMalformed, `got duplicate "a"`},
		{"label bytes", `a1 4100 ` + cborRecord, ErrMalformed, "collection label: want integer or text string, got byte string"},
		{"label tagged", `a1 c24101 ` + cborRecord, ErrMalformed, "got tag"},
		{"label float", `a1 f93c00 ` + cborRecord, ErrMalformed, "got simple value or float"},
		{"label beyond int64", `a1 1bffffffffffffffff ` + cborRecord, ErrMalformed, "collection label: want integer in int64 range, got 18446744073709551615"},
		{"label below int64", `a1 3bffffffffffffffff ` + cborRecord, ErrMalformed, "got -1-18446744073709551615"},
		{"label invalid UTF-8", `a1 61ff ` + cborRecord, ErrMalformed, "collection label: want valid UTF-8"},
		{"entry JSON text", `a1 01 6c 5b22612f62222c22414122` + `5d`, ErrMalformed, "entry 1: CBOR CMW: want record (array), collection (map) or tag, got text string"},
		{"entry JSON in bytes", `a1 01 4c 5b22612f62222c224141225d`, ErrMalformed, "entry 1: CBOR CMW: want record (array), collection (map) or tag, got byte string"},
		{"entry uint", `a1 01 01`, ErrMalformed, "entry 1: CBOR CMW"},
		{"nested error path", `a1 6161 a1 20 83 197531 44 2347da55 00`, ErrMalformed, `entry "a"/-1: record ind: want non-zero`},
		{"nested empty collection", `a1 01 a0`, ErrMalformed, "entry 1: collection: want at least one entry"},

		// encoding
		{"indefinite record", `9f 197531 44 2347da55 ff`, ErrMalformed, "CBOR: want definite-length encoding"},
		{"indefinite collection", `bf 01 ` + cborRecord + ` ff`, ErrMalformed, "CBOR: want definite-length encoding"},
		{"trailing byte", cborRecord + ` 00`, ErrMalformed, "CBOR: want exactly one data item"},
		{"two records", cborRecord + ` ` + cborRecord, ErrMalformed, "want exactly one data item"},
		{"lying value length", `82 197531 45 2347da55`, ErrMalformed, "CBOR: want a complete data item, got truncated input"},
		{"lying array length", `83 197531 44 2347da55`, ErrMalformed, "truncated input"},
		{"lying map length", `a2 01 ` + cborRecord, ErrMalformed, "truncated input"},
		{"huge value length", `82 197531 5b ffffffffffffffff`, ErrMalformed, "CBOR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCBOR(unhex(t, tc.hex))
			if c != nil {
				t.Errorf("returned a CMW with the error")
			}
			wantErr(t, err, tc.kind, tc.msg)
		})
	}
}

func TestParseCBORDecoderCause(t *testing.T) {
	_, err := ParseCBOR(unhex(t, `9f 197531 44 2347da55 ff`))
	var indef *cbor.IndefiniteLengthError
	if !errors.As(err, &indef) {
		t.Errorf("error %v does not expose the decoder's IndefiniteLengthError", err)
	}
}

// Deployed encoders need not produce deterministic CBOR; parsing accepts
// non-minimal heads and unsorted keys, and encoding canonicalizes them.
func TestParseCBORNonDeterministicInput(t *testing.T) {
	for _, tc := range []struct{ name, in, canonical string }{
		{"non-minimal cf", `82 1a00007531 44 2347da55`, cborRecord},
		{"non-minimal value length", `82 197531 5800`, `82 197531 40`},
		{"non-minimal ind", `83 197531 44 2347da55 1b0000000000000004`, `83 197531 44 2347da55 04`},
		{"non-minimal tag number", `db 000000006374ffe6 44 2347da55`, hexTag},
		{"unsorted keys", `a3 6161 ` + cborRecord + ` 02 ` + cborRecord + ` 20 ` + cborRecord,
			`a3 02 ` + cborRecord + ` 20 ` + cborRecord + ` 6161 ` + cborRecord},
		{"longer text key first", `a2 626161 ` + cborRecord + ` 6162 ` + cborRecord,
			`a2 6162 ` + cborRecord + ` 626161 ` + cborRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCBOR(unhex(t, tc.in))
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.MarshalCBOR()
			if want := unhex(t, tc.canonical); err != nil || !bytes.Equal(out, want) {
				t.Errorf("MarshalCBOR = %x, %v; want %x", out, err, want)
			}
		})
	}
}

func TestCollectionEntryOrder(t *testing.T) {
	// Keys 10, -1, -2, "b", "aa", 1 in deterministic order: 1, 10, -1, -2, "b", "aa".
	in := unhex(t, `a6 0a `+cborRecord+` 20 `+cborRecord+` 21 `+cborRecord+` 6162 `+cborRecord+` 626161 `+cborRecord+` 01 `+cborRecord)
	c, err := ParseCBOR(in)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range c.Entries {
		got = append(got, e.Label.pathElem())
	}
	if want := `1 10 -1 -2 "b" "aa"`; strings.Join(got, " ") != want {
		t.Errorf("entry order %v, want %s", got, want)
	}
}

func TestParseCBORTruncated(t *testing.T) {
	for _, h := range []string{hexRecordCF, hexTag, hexRecordInd3, hexCollection} {
		in := unhex(t, h)
		for n := range len(in) {
			if _, err := ParseCBOR(in[:n]); err == nil {
				t.Errorf("%x: prefix of %d bytes parsed", in, n)
			} else if !errors.Is(err, ErrMalformed) {
				t.Errorf("prefix %d: %v is not ErrMalformed", n, err)
			}
		}
	}
}

// nestCBOR wraps cborRecord in depth single-entry collections.
func nestCBOR(t *testing.T, depth int) []byte {
	b := unhex(t, cborRecord)
	for range depth {
		b = append([]byte{0xa1, 0x01}, b...)
	}
	return b
}

func nestJSON(depth int) []byte {
	s := `["a/b","AA"]`
	for range depth {
		s = `{"x":` + s + `}`
	}
	return []byte(s)
}

func TestDepthLimit(t *testing.T) {
	c, err := ParseCBOR(nestCBOR(t, maxDepth))
	if err != nil {
		t.Fatalf("depth %d: %v", maxDepth, err)
	}
	if _, err := ParseJSON(nestJSON(maxDepth)); err != nil {
		t.Fatalf("JSON depth %d: %v", maxDepth, err)
	}
	n := 0
	_ = c.Walk(func(path []Label, _ *CMW) error { n = len(path); return nil })
	if n != maxDepth {
		t.Errorf("leaf path length %d, want %d", n, maxDepth)
	}

	_, err = ParseCBOR(nestCBOR(t, maxDepth+1))
	wantErr(t, err, ErrLimit, "collection nesting: want at most 8 levels, got 9")
	_, err = ParseJSON(nestJSON(maxDepth + 1))
	wantErr(t, err, ErrLimit, "collection nesting: want at most 8 levels, got 9")
	_, err = ParseCBOR(nestCBOR(t, 40))
	wantErr(t, err, ErrLimit, "CBOR: want at most 11 nested levels")
	_, err = ParseJSON(nestJSON(1000))
	wantErr(t, err, ErrLimit, "collection nesting")

	// The encoder enforces the same limit.
	deep := &CMW{Kind: KindRecord, Format: FormatCBOR, MediaType: "a/b", Value: []byte{0}}
	for range maxDepth + 1 {
		deep = &CMW{Kind: KindCollection, Format: FormatCBOR, Entries: []Entry{{IntLabel(1), deep}}}
	}
	_, err = deep.MarshalCBOR()
	wantErr(t, err, ErrLimit, "collection nesting")
}

func TestEntriesLimit(t *testing.T) {
	build := func(n int) ([]byte, []byte) {
		cb := appendHeadForTest(0xa0, n)
		js := []byte("{")
		for i := range n {
			cb = append(cb, appendHeadForTest(0x00, i)...)
			cb = append(cb, unhex(t, cborRecord)...)
			if i > 0 {
				js = append(js, ',')
			}
			js = fmt.Appendf(js, `"%d":["a/b","AA"]`, i)
		}
		return cb, append(js, '}')
	}
	cb, js := build(maxEntries)
	if _, err := ParseCBOR(cb); err != nil {
		t.Errorf("CBOR %d entries: %v", maxEntries, err)
	}
	if _, err := ParseJSON(js); err != nil {
		t.Errorf("JSON %d entries: %v", maxEntries, err)
	}
	cb, js = build(maxEntries + 1)
	_, err := ParseCBOR(cb)
	wantErr(t, err, ErrLimit, "collection: want at most 64 entries, got 65")
	_, err = ParseJSON(js)
	wantErr(t, err, ErrLimit, "collection: want at most 64 entries, got 65")
	cb, js = build(maxEntries + 2)
	_, err = ParseCBOR(cb)
	wantErr(t, err, ErrLimit, "map pairs")
	_, err = ParseJSON(js)
	wantErr(t, err, ErrLimit, "collection: want at most 64 entries")
}

// appendHeadForTest writes a CBOR head by hand (initial byte base|n for
// n < 24, else base|24 and one byte).
func appendHeadForTest(base byte, n int) []byte {
	if n < 24 {
		return []byte{base | byte(n)}
	}
	return []byte{base | 24, byte(n)}
}

func TestSizeLimit(t *testing.T) {
	big := make([]byte, maxSize+1)
	big[0] = 0x82
	_, err := ParseCBOR(big)
	wantErr(t, err, ErrLimit, "CBOR CMW: want at most 262144 bytes, got 262145")
	big[0] = '['
	_, err = ParseJSON(big)
	wantErr(t, err, ErrLimit, "JSON CMW: want at most 262144 bytes")
	_, err = Parse(big)
	wantErr(t, err, ErrLimit, "at most 262144 bytes")

	// Encoding refuses to produce what parsing would refuse.
	c := &CMW{Kind: KindRecord, Format: FormatCBOR, MediaType: "a/b", Value: make([]byte, maxSize)}
	_, err = c.MarshalCBOR()
	wantErr(t, err, ErrLimit, "encoded CMW: want at most 262144 bytes")
	_, err = c.MarshalJSON()
	wantErr(t, err, ErrLimit, "encoded CMW")

	// Just inside the limit: 3 bytes of array and type, 5 of value head.
	c.Value = make([]byte, maxSize-1-4-5)
	out, err := c.MarshalCBOR()
	if err != nil || len(out) != maxSize {
		t.Fatalf("MarshalCBOR: %d bytes, %v; want %d", len(out), err, maxSize)
	}
	if _, err := ParseCBOR(out); err != nil {
		t.Errorf("ParseCBOR at the limit: %v", err)
	}
}

func TestParseJSONErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		kind     error
		msg      string
	}{
		{"empty", ``, ErrMalformed, "JSON CMW: want non-empty input"},
		{"whitespace only", `  `, ErrMalformed, "JSON: want well-formed JSON, got truncated input"},
		{"string", `"abc"`, ErrMalformed, "JSON CMW: want record (array) or collection (object), got string"},
		{"number", `4`, ErrMalformed, "got number"},
		{"null", `null`, ErrMalformed, "got null"},
		{"invalid UTF-8", "[\"a/b\",\"AA\xff\"]", ErrMalformed, "JSON: want valid UTF-8"},
		{"syntax", `["a/b" "AA"]`, ErrMalformed, "JSON: want well-formed JSON"},
		{"truncated", `["a/b","AA"`, ErrMalformed, "JSON: want well-formed JSON, got truncated input"},
		{"trailing value", `["a/b","AA"] []`, ErrMalformed, "JSON: want exactly one value, got trailing data"},
		{"trailing garbage", `["a/b","AA"]x`, ErrMalformed, "JSON: want well-formed JSON"},

		{"record 1 element", `["a/b"]`, ErrMalformed, "record: want array of 2 or 3 elements, got 1"},
		{"record 0 elements", `[]`, ErrMalformed, "got 0"},
		{"record 4 elements", `["a/b","AA",4,4]`, ErrMalformed, "record: want array of 2 or 3 elements, got more than 3"},
		{"type content-format", `[30001,"I0faVQ"]`, ErrMalformed, "record type: want string (media type), got number"},
		{"type not a media type", `["application","I0faVQ"]`, ErrMalformed, `record type: want media type (RFC 9193 Content-Type), got "application"`},
		{"type trailing space", `["a/b ","I0faVQ"]`, ErrMalformed, `got "a/b "`},
		{"type nested array", `[["a/b"],"I0faVQ"]`, ErrMalformed, "record type: want string (media type), got array"},

		{"value padding", `["a/b","I0faVQ=="]`, ErrMalformed, `record value: want base64url characters [A-Za-z0-9_-] without padding, got '=' at offset 6`},
		{"value standard alphabet", `["a/b","I0f+VQ"]`, ErrMalformed, `got '+' at offset 3`},
		{"value slash", `["a/b","I0f/VQ"]`, ErrMalformed, `got '/' at offset 3`},
		{"value newline", `["a/b","I0fa\nVQ"]`, ErrMalformed, `got '\n' at offset 4`},
		{"value trailing bits", `["a/b","I0faVR"]`, ErrMalformed, "record value: want canonical unpadded base64url"},
		{"value bad length", `["a/b","I0faV"]`, ErrMalformed, "record value: want canonical unpadded base64url"},
		{"value empty", `["a/b",""]`, ErrMalformed, `record value: want non-empty base64url string, got ""`},
		{"value bytes array", `["a/b",[35,71]]`, ErrMalformed, "record value: want base64url string, got array"},

		{"ind zero", `["a/b","AA",0]`, ErrMalformed, "record ind: want non-zero"},
		{"ind fraction", `["a/b","AA",4.0]`, ErrMalformed, "record ind: want unsigned integer without sign, fraction or exponent, got 4.0"},
		{"ind exponent", `["a/b","AA",4e0]`, ErrMalformed, "got 4e0"},
		{"ind negative", `["a/b","AA",-4]`, ErrMalformed, "got -4"},
		{"ind string", `["a/b","AA","4"]`, ErrMalformed, "record ind: want unsigned integer, got string"},
		{"ind unregistered", `["a/b","AA",32]`, ErrMalformed, "record ind: want only registered cm-type bits"},
		{"ind over 4 bytes", `["a/b","AA",4294967296]`, ErrMalformed, "record ind: want at most 4 bytes"},
		{"ind over uint64", `["a/b","AA",99999999999999999999999]`, ErrMalformed, "record ind: want at most 4 bytes"},

		{"empty collection", `{}`, ErrMalformed, "collection: want at least one entry besides __cmwc_t, got none"},
		{"only __cmwc_t", `{"__cmwc_t":"1.2.3"}`, ErrMalformed, "at least one entry besides __cmwc_t"},
		{"duplicate label", `{"a":["a/b","AA"],"a":["a/b","AA"]}`, ErrMalformed, `collection label: want unique keys, got duplicate "a"`},
		{"duplicate __cmwc_t", `{"__cmwc_t":"1.2","a":["a/b","AA"],"__cmwc_t":"1.2"}`, ErrMalformed, `got duplicate "__cmwc_t"`},
		{"__cmwc_t number", `{"__cmwc_t":1,"a":["a/b","AA"]}`, ErrMalformed, "collection type (__cmwc_t): want string, got number"},
		{"__cmwc_t invalid", `{"__cmwc_t":"1.","a":["a/b","AA"]}`, ErrMalformed, `collection type (__cmwc_t): want absolute URI or dotted OID, got "1."`},
		{"__cmwc_t relative URI", `{"__cmwc_t":"//example.com/x","a":["a/b","AA"]}`, ErrMalformed, `got "//example.com/x"`},
		{"entry CBOR as base64", `{"a":"gnhBQQ"}`, ErrMalformed, `entry "a": JSON CMW: want record (array) or collection (object), got string`},
		{"entry number", `{"a":1}`, ErrMalformed, `entry "a": JSON CMW`},
		{"nested path", `{"a":{"b":["a/b","AA",0]}}`, ErrMalformed, `entry "a"/"b": record ind: want non-zero`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseJSON([]byte(tc.in))
			if c != nil {
				t.Errorf("returned a CMW with the error")
			}
			wantErr(t, err, tc.kind, tc.msg)
		})
	}
}

func TestParseJSONTruncated(t *testing.T) {
	for _, s := range []string{jsonRecord, jsonCollection, jsonCollectionNoInd} {
		s = strings.TrimSpace(s)
		for n := range len(s) {
			if _, err := ParseJSON([]byte(s[:n])); err == nil {
				t.Errorf("prefix %q parsed", s[:n])
			}
		}
	}
}

func TestParseJSONWhitespace(t *testing.T) {
	c, err := ParseJSON([]byte(" \t\r\n" + jsonRecord + " \n"))
	if err != nil || c.MediaType != "application/vnd.example.rats-conceptual-msg" {
		t.Fatalf("got %+v, %v", c, err)
	}
	// Parse demuxes on the very first byte, as the draft's pseudocode does.
	_, err = Parse([]byte(" " + jsonRecord))
	wantErr(t, err, ErrMalformed, "CMW first byte: want CBOR array, map or tag, or JSON '[' or '{', got 0x20")
}

func TestParseJSONCollectionType(t *testing.T) {
	for _, typ := range []string{
		"tag:example.com,2024:composite-attester",
		"https://example.com/cmw/types/composite?v=1",
		"urn:ietf:params:rats:x",
		"a:",
		"x-y.z+w:%41%2f",
		"1.2.840.113741.1.13.1",
		"2.0.1",
		"0",
	} {
		in := fmt.Sprintf(`{"__cmwc_t":%q,"a":["a/b","AA"]}`, typ)
		c, err := ParseJSON([]byte(in))
		if err != nil {
			t.Errorf("%q: %v", typ, err)
			continue
		}
		if c.CollectionType != typ {
			t.Errorf("%q: CollectionType = %q", typ, c.CollectionType)
		}
	}
	for _, typ := range []string{"", "3.1", "1.2.", "1..2", "01.2", "1.2.03", "1:2", "a:b c", "a:%4", "a:%zz", "a:b#c", "ä:b", "-a:b", "1a:b"} {
		in := fmt.Sprintf(`{"__cmwc_t":%q,"a":["a/b","AA"]}`, typ)
		if _, err := ParseJSON([]byte(in)); err == nil {
			t.Errorf("%q accepted as collection type", typ)
		}
	}
}

func TestMediaTypes(t *testing.T) {
	valid := []string{
		"application/eat+cwt",
		"application/vnd.example.rats-conceptual-msg",
		`application/eat+cwt; eat_profile="tag:psacertified.org,2023:psa#tfm"`,
		"application/eat+cwt;eat_profile=tag",
		`text/plain ;  charset=utf-8; x="a\"b"`,
		"a/b",
		"0/9",
		"application/" + strings.Repeat("x", 127),
	}
	invalid := []string{
		"", "/", "a", "a/", "/b", "a//b", "a/b/c", "a/b;", "a/b; ", "a/b;x", "a/b;x=", "a/b x",
		"a/b ", " a/b", "a/b;x=\"unterminated", "a/b;x=\"bad\\\x01\"", "a/b;x=\"\x7f\"", "#cmw-c2j-tunnel",
		".a/b", "a/+b", "application/" + strings.Repeat("x", 128), "a/b;x=y;", "a/b;=y", "a/b;x=y z",
		"a\x00/b", "ä/b",
	}
	for _, s := range valid {
		if err := checkMediaType(s); err != nil {
			t.Errorf("%q rejected: %v", s, err)
		}
	}
	for _, s := range invalid {
		if checkMediaType(s) == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestDemux(t *testing.T) {
	for _, tc := range []struct {
		b      byte
		kind   Kind
		format Format
		ok     bool
	}{
		{0x82, KindRecord, FormatCBOR, true},
		{0x83, KindRecord, FormatCBOR, true},
		{0x9f, KindRecord, FormatCBOR, true},
		{0xda, KindTag, FormatCBOR, true},
		{0x5b, KindRecord, FormatJSON, true},
		{0x7b, KindCollection, FormatJSON, true},
		{0xa0, KindCollection, FormatCBOR, true},
		{0xa1, KindCollection, FormatCBOR, true},
		{0xbb, KindCollection, FormatCBOR, true},
		{0xbf, KindCollection, FormatCBOR, true},
		{0x81, 0, 0, false},
		{0x84, 0, 0, false},
		{0xbc, 0, 0, false},
		{0xd9, 0, 0, false},
		{0xdb, 0, 0, false},
		{0x00, 0, 0, false},
		{' ', 0, 0, false},
	} {
		k, f, ok := Demux([]byte{tc.b, 0})
		if k != tc.kind || f != tc.format || ok != tc.ok {
			t.Errorf("Demux(%#02x) = %v, %v, %v; want %v, %v, %v", tc.b, k, f, ok, tc.kind, tc.format, tc.ok)
		}
	}
	if _, _, ok := Demux(nil); ok {
		t.Error("Demux(nil) ok")
	}
}

func TestParseDispatch(t *testing.T) {
	for _, tc := range []struct {
		in     []byte
		kind   Kind
		format Format
	}{
		{unhex(t, hexRecordCF), KindRecord, FormatCBOR},
		{unhex(t, hexTag), KindTag, FormatCBOR},
		{unhex(t, hexCollection), KindCollection, FormatCBOR},
		{[]byte(jsonRecord), KindRecord, FormatJSON},
		{[]byte(jsonCollection), KindCollection, FormatJSON},
	} {
		c, err := Parse(tc.in)
		if err != nil {
			t.Errorf("%x: %v", tc.in, err)
			continue
		}
		if c.Kind != tc.kind || c.Format != tc.format {
			t.Errorf("%x: %v/%v, want %v/%v", tc.in, c.Kind, c.Format, tc.kind, tc.format)
		}
	}
	_, err := Parse(nil)
	wantErr(t, err, ErrMalformed, "CMW: want a CBOR or JSON CMW, got empty input")
	_, err = Parse([]byte{0x01})
	wantErr(t, err, ErrMalformed, "CMW first byte: want CBOR array, map or tag, or JSON '[' or '{', got 0x01")
	// 0x81 is a CBOR array head: Parse hands it to the CBOR parser, which
	// says why it is not a record.
	_, err = Parse([]byte{0x81, 0x01})
	wantErr(t, err, ErrMalformed, "record: want array of 2 or 3 elements, got 1")
}
