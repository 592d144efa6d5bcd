package pcs

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on JSON collateral. Real PCS documents are a few KiB with a few
// dozen levels; the limits leave ample room while bounding allocation.
const (
	// MaxJSONSize bounds a TCB Info or Enclave Identity body, and a dcap-qvl
	// collateral document.
	MaxJSONSize = 1 << 20

	maxJSONValues   = 1 << 16 // values in one document (a real TCB Info has ~5000)
	maxJSONDepth    = 32
	maxObjectKeys   = 64
	maxTCBLevels    = 1024
	maxModuleIDs    = 256
	maxAdvisoryIDs  = 1024
	maxStringLength = 4096
)

// jval is a node of a parsed JSON document. encoding/json alone cannot be
// used: it matches keys case-insensitively and lets a duplicate key silently
// win, and decoding nested raw values level by level rescans the input many
// times. The document is validated with json.Valid first, then walked once.
type jval struct {
	kind byte   // '{', '[', '"', 't', 'f', 'n', or '0' for a number
	raw  []byte // exact bytes of the value
	keys []string
	vals []*jval // object member values, or array elements
}

// parseJSON parses raw, which must be exactly one JSON value, rejecting
// duplicate object keys, nesting deeper than maxJSONDepth and more than
// maxJSONValues values.
func parseJSON(raw []byte, path string) (*jval, error) {
	if !json.Valid(raw) {
		var v any
		err := json.Unmarshal(raw, &v) // for the syntax error's message
		return nil, fieldErrorf(path, "invalid JSON: %v", err)
	}
	w := &walker{b: raw, path: path}
	w.space()
	v, err := w.value(0)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// walker walks JSON that json.Valid accepted, so it only has to find value
// boundaries, not diagnose syntax.
type walker struct {
	b     []byte
	i     int
	path  string // of the document
	count int
	stack []segment // path of the current value, for error messages
}

// segment is one step of a path: an object key or an array index.
type segment struct {
	key   string
	index int
}

func (w *walker) where() string {
	p := w.path
	for _, s := range w.stack {
		if s.index >= 0 {
			p = index(p, s.index)
		} else {
			p = join(p, s.key)
		}
	}
	return p
}

func (w *walker) space() {
	for w.i < len(w.b) && (w.b[w.i] == ' ' || w.b[w.i] == '\t' || w.b[w.i] == '\n' || w.b[w.i] == '\r') {
		w.i++
	}
}

func (w *walker) value(depth int) (*jval, error) {
	if w.count++; w.count > maxJSONValues {
		return nil, fieldErrorf(w.where(), "more than %d JSON values", maxJSONValues)
	}
	start := w.i
	v := &jval{kind: w.b[w.i]}
	switch v.kind {
	case '{', '[':
		if depth == maxJSONDepth {
			return nil, fieldErrorf(w.where(), "JSON nested deeper than %d", maxJSONDepth)
		}
		closing := byte('}')
		if v.kind == '[' {
			closing = ']'
		}
		w.i++
		w.space()
		for w.b[w.i] != closing {
			seg := segment{index: len(v.vals)}
			if v.kind == '{' {
				kstart := w.i
				w.skipString()
				key, err := decodeString(w.b[kstart:w.i])
				if err != nil {
					return nil, fieldErrorf(w.where(), "invalid key: %v", err)
				}
				for _, k := range v.keys {
					if k == key {
						return nil, fieldErrorf(w.where(), "duplicate key %q", key)
					}
				}
				v.keys = append(v.keys, key)
				seg = segment{key: key, index: -1}
				w.space()
				w.i++ // ':'
				w.space()
			}
			w.stack = append(w.stack, seg)
			c, err := w.value(depth + 1)
			if err != nil {
				return nil, err
			}
			w.stack = w.stack[:len(w.stack)-1]
			v.vals = append(v.vals, c)
			w.space()
			if w.b[w.i] == ',' {
				w.i++
				w.space()
			}
		}
		w.i++
	case '"':
		w.skipString()
	case 't', 'n':
		w.i += 4
	case 'f':
		w.i += 5
	default:
		v.kind = '0'
		for w.i < len(w.b) && strings.IndexByte("+-0123456789.eE", w.b[w.i]) >= 0 {
			w.i++
		}
	}
	v.raw = w.b[start:w.i]
	return v, nil
}

// skipString moves past the string starting at w.i.
func (w *walker) skipString() {
	w.i++
	for w.b[w.i] != '"' {
		if w.b[w.i] == '\\' {
			w.i++
		}
		w.i++
	}
	w.i++
}

// decodeString decodes a quoted JSON string; the common case without
// escapes needs no unquoting.
func decodeString(q []byte) (string, error) {
	inner := q[1 : len(q)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), nil
	}
	var s string
	err := json.Unmarshal(q, &s)
	return s, err
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// describe names the JSON type of a value for error messages, with a short
// excerpt of scalars.
func describe(v *jval) string {
	switch v.kind {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	s := string(v.raw)
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	if v.kind == '"' {
		return "string " + s
	}
	return s
}

// object is a JSON object being read by the typed getters below; path names
// it in error messages.
type object struct {
	path string
	v    *jval
}

// decodeObject parses raw, which must be exactly one JSON object.
func decodeObject(raw []byte, path string) (*object, error) {
	v, err := parseJSON(raw, path)
	if err != nil {
		return nil, err
	}
	return asObject(v, path)
}

func asObject(v *jval, path string) (*object, error) {
	if v.kind != '{' {
		return nil, fieldErrorf(path, "want a JSON object, got %s", describe(v))
	}
	if len(v.keys) > maxObjectKeys {
		return nil, fieldErrorf(path, "more than %d keys", maxObjectKeys)
	}
	return &object{path: path, v: v}, nil
}

func (o *object) get(key string) (*jval, bool) {
	for i, k := range o.v.keys {
		if k == key {
			return o.v.vals[i], true
		}
	}
	return nil, false
}

// allowOnly rejects keys other than the given ones.
func (o *object) allowOnly(keys ...string) error {
	for _, k := range o.v.keys {
		known := false
		for _, a := range keys {
			if k == a {
				known = true
				break
			}
		}
		if !known {
			return fieldErrorf(o.path, "unexpected key %q (want only %s)", k, strings.Join(keys, ", "))
		}
	}
	return nil
}

func (o *object) has(key string) bool {
	_, ok := o.get(key)
	return ok
}

func (o *object) required(key string) (*jval, error) {
	v, ok := o.get(key)
	if !ok {
		return nil, fieldErrorf(join(o.path, key), "missing")
	}
	return v, nil
}

func (o *object) str(key string) (string, error) {
	return o.strMax(key, maxStringLength)
}

// strMax reads a string of at most max bytes.
func (o *object) strMax(key string, max int) (string, error) {
	v, err := o.required(key)
	if err != nil {
		return "", err
	}
	return rawString(v, join(o.path, key), max)
}

// optStr returns an optional string; present but not a string is an error.
func (o *object) optStr(key string) (string, error) {
	if !o.has(key) {
		return "", nil
	}
	return o.str(key)
}

func rawString(v *jval, path string, max int) (string, error) {
	if v.kind != '"' {
		return "", fieldErrorf(path, "want a string, got %s", describe(v))
	}
	s, err := decodeString(v.raw)
	if err != nil {
		return "", fieldErrorf(path, "invalid string: %v", err)
	}
	if len(s) > max {
		return "", fieldErrorf(path, "string longer than %d bytes", max)
	}
	return s, nil
}

// uint32 reads a JSON integer in 0..2^32-1, written without sign, fraction
// or exponent (QVL's IsUint).
func (o *object) uint32(key string) (uint32, error) {
	v, err := o.required(key)
	if err != nil {
		return 0, err
	}
	return rawUint(v, join(o.path, key), 32)
}

func (o *object) uint16(key string) (uint16, error) {
	v, err := o.required(key)
	if err != nil {
		return 0, err
	}
	n, err := rawUint(v, join(o.path, key), 16)
	return uint16(n), err
}

func rawUint(v *jval, path string, bits int) (uint32, error) {
	if v.kind != '0' || v.raw[0] == '-' || bytes.ContainsAny(v.raw, ".eE") {
		return 0, fieldErrorf(path, "want an unsigned integer, got %s", describe(v))
	}
	n, err := strconv.ParseUint(string(v.raw), 10, bits)
	if err != nil {
		return 0, fieldErrorf(path, "want an unsigned integer of at most %d bits, got %s", bits, describe(v))
	}
	return uint32(n), nil
}

// hexBytes reads a hex string of exactly n bytes (2n hex digits, either case).
func (o *object) hexBytes(key string, n int) ([]byte, error) {
	path := join(o.path, key)
	s, err := o.str(key)
	if err != nil {
		return nil, err
	}
	if len(s) != 2*n {
		return nil, fieldErrorf(path, "want %d hex digits, got %d", 2*n, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fieldErrorf(path, "invalid hex: %v", err)
	}
	return b, nil
}

// date reads an RFC 3339 timestamp in UTC ("Z"), the form PCS emits.
func (o *object) date(key string) (time.Time, error) {
	path := join(o.path, key)
	s, err := o.str(key)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		return time.Time{}, fieldErrorf(path, "want an RFC 3339 UTC time like 2006-01-02T15:04:05Z, got %q", s)
	}
	return t, nil
}

func (o *object) object(key string) (*object, error) {
	v, err := o.required(key)
	if err != nil {
		return nil, err
	}
	return asObject(v, join(o.path, key))
}

// array reads a JSON array of at most max elements; empty arrays are
// rejected when nonEmpty is set.
func (o *object) array(key string, max int, nonEmpty bool) ([]*jval, error) {
	v, err := o.required(key)
	if err != nil {
		return nil, err
	}
	path := join(o.path, key)
	if v.kind != '[' {
		return nil, fieldErrorf(path, "want an array, got %s", describe(v))
	}
	if len(v.vals) > max {
		return nil, fieldErrorf(path, "more than %d elements", max)
	}
	if nonEmpty && len(v.vals) == 0 {
		return nil, fieldErrorf(path, "want a non-empty array")
	}
	return v.vals, nil
}

// optStrings reads an optional array of strings (advisoryIDs).
func (o *object) optStrings(key string) ([]string, error) {
	if !o.has(key) {
		return nil, nil
	}
	path := join(o.path, key)
	elems, err := o.array(key, maxAdvisoryIDs, false)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(elems))
	for i, e := range elems {
		s, err := rawString(e, index(path, i), maxStringLength)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// status reads a tcbStatus and checks it against the allowed set.
func (o *object) status(key string, allowed []Status) (Status, error) {
	s, err := o.str(key)
	if err != nil {
		return "", err
	}
	if !statusIn(Status(s), allowed) {
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
		}
		return "", fieldErrorf(join(o.path, key), "want one of %s, got %q", strings.Join(names, ", "), s)
	}
	return Status(s), nil
}

// binary reads a non-empty byte string written either as a JSON string,
// whose bytes are returned as they are (hex, PEM: the caller decodes), or
// as an array of integers 0..255 (JavaScript's Array.from of a buffer).
// A string of hex digits is decoded; any other string is an error unless
// text is set, when it is returned as its bytes for the caller to decode
// (a PEM CRL).
func (o *object) binary(key string, text bool) ([]byte, error) {
	v, err := o.required(key)
	if err != nil {
		return nil, err
	}
	path := join(o.path, key)
	switch v.kind {
	case '"':
		s, err := rawString(v, path, MaxJSONSize)
		if err != nil {
			return nil, err
		}
		if s == "" {
			return nil, fieldErrorf(path, "empty")
		}
		if isHexText([]byte(s)) {
			d, err := hex.DecodeString(s)
			if err != nil {
				return nil, fieldErrorf(path, "invalid hex: %v", err)
			}
			return d, nil
		}
		if !text {
			return nil, fieldErrorf(path, "invalid hex: want hex digits or an array of byte values")
		}
		return []byte(s), nil
	case '[':
		if len(v.vals) == 0 {
			return nil, fieldErrorf(path, "empty")
		}
		out := make([]byte, len(v.vals))
		for i, e := range v.vals {
			n, err := rawUint(e, index(path, i), 8)
			if err != nil {
				return nil, err
			}
			out[i] = byte(n)
		}
		return out, nil
	}
	return nil, fieldErrorf(path, "want a hex string or an array of byte values, got %s", describe(v))
}
