package cmw

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// ParseJSON parses a JSON CMW: a record ["media-type", "base64url", ind?]
// or a collection {"__cmwc_t"?: type, label: cmw, ...} whose members are
// JSON CMWs.
//
// The input must be one JSON value (surrounding whitespace allowed) in valid
// UTF-8, with no duplicate object keys. Record values must be unpadded
// base64url with zero trailing bits; "ind" must be a plain integer.
func ParseJSON(b []byte) (*CMW, error) {
	if err := checkInput(b, "JSON CMW"); err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, malformed("JSON", "valid UTF-8", "invalid UTF-8")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return nil, jsonErr(err)
	}
	c, err := parseJSONValue(d, tok, 0)
	if err != nil {
		return nil, err
	}
	switch _, err := d.Token(); {
	case err == io.EOF:
		return c, nil
	case err != nil:
		return nil, jsonErr(err)
	}
	return nil, malformed("JSON", "exactly one value", "trailing data")
}

func jsonErr(err error) error {
	fe := &FormatError{Pkg: errPkg, Field: "JSON", Want: "well-formed JSON", Got: err.Error(), Kind: ErrMalformed, Cause: err}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		fe.Got = "truncated input"
	}
	return fe
}

func jsonTypeName(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			return "array"
		case '{':
			return "object"
		}
		return strconv.Quote(t.String())
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

// parseJSONValue parses the CMW that starts with token tok and sits inside
// depth collections.
func parseJSONValue(d *json.Decoder, tok json.Token, depth int) (*CMW, error) {
	switch tok {
	case json.Delim('['):
		return parseJSONRecord(d)
	case json.Delim('{'):
		return parseJSONCollection(d, depth+1)
	}
	return nil, malformed("JSON CMW", "record (array) or collection (object)", jsonTypeName(tok))
}

func parseJSONRecord(d *json.Decoder) (*CMW, error) {
	c := &CMW{Kind: KindRecord, Format: FormatJSON}
	n := 0
	for ; ; n++ {
		tok, err := d.Token()
		if err != nil {
			return nil, jsonErr(err)
		}
		if tok == json.Delim(']') {
			break
		}
		switch n {
		case 0:
			s, ok := tok.(string)
			if !ok {
				return nil, malformed("record type", "string (media type)", jsonTypeName(tok))
			}
			if err := checkMediaType(s); err != nil {
				return nil, err
			}
			c.MediaType = s
		case 1:
			s, ok := tok.(string)
			if !ok {
				return nil, malformed("record value", "base64url string", jsonTypeName(tok))
			}
			v, err := decodeBase64URL(s)
			if err != nil {
				return nil, err
			}
			c.Value = v
		case 2:
			num, ok := tok.(json.Number)
			if !ok {
				return nil, malformed("record ind", "unsigned integer", jsonTypeName(tok))
			}
			v, err := parseJSONUint(string(num))
			if err != nil {
				return nil, err
			}
			if err := checkIndicator(v); err != nil {
				return nil, err
			}
			c.Indicator = Indicator(v)
		default:
			return nil, malformed("record", "array of 2 or 3 elements", "more than 3")
		}
	}
	if n < 2 {
		return nil, malformed("record", "array of 2 or 3 elements", n)
	}
	return c, nil
}

// parseJSONUint accepts a JSON number that is a plain non-negative integer
// (no sign, fraction or exponent).
func parseJSONUint(s string) (uint64, error) {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, malformed("record ind", "unsigned integer without sign, fraction or exponent", s)
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, malformed("record ind", "at most 4 bytes", s)
	}
	return v, nil
}

// decodeBase64URL decodes the draft's base64url-string: one or more
// characters of [A-Za-z0-9_-], no padding, canonical trailing bits.
func decodeBase64URL(s string) ([]byte, error) {
	if s == "" {
		return nil, malformed("record value", "non-empty base64url string", `""`)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
			return nil, malformed("record value", "base64url characters [A-Za-z0-9_-] without padding", fmt.Sprintf("%q at offset %d", c, i))
		}
	}
	v, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, &FormatError{Pkg: errPkg, Field: "record value", Want: "canonical unpadded base64url", Got: err.Error(), Kind: ErrMalformed, Cause: err}
	}
	return v, nil
}

func parseJSONCollection(d *json.Decoder, depth int) (*CMW, error) {
	if depth > maxDepth {
		return nil, limitErr("collection nesting", fmt.Sprintf("at most %d levels", maxDepth), depth)
	}
	c := &CMW{Kind: KindCollection, Format: FormatJSON}
	seen := make(map[string]struct{})
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, jsonErr(err)
		}
		if tok == json.Delim('}') {
			break
		}
		key, ok := tok.(string)
		if !ok {
			// json.Decoder only returns strings in key position.
			return nil, malformed("collection label", "string", jsonTypeName(tok))
		}
		if _, dup := seen[key]; dup {
			return nil, malformed("collection label", "unique keys", "duplicate "+strconv.Quote(key))
		}
		seen[key] = struct{}{}
		if len(seen) > maxEntries+1 {
			return nil, limitErr("collection", fmt.Sprintf("at most %d entries", maxEntries), "more")
		}
		tok, err = d.Token()
		if err != nil {
			return nil, jsonErr(err)
		}
		if key == collectionTypeKey {
			s, ok := tok.(string)
			if !ok {
				return nil, malformed("collection type (__cmwc_t)", "string", jsonTypeName(tok))
			}
			if err := checkCollectionType(s); err != nil {
				return nil, err
			}
			c.CollectionType = s
			continue
		}
		label := TextLabel(key)
		child, err := parseJSONValue(d, tok, depth)
		if err != nil {
			return nil, inEntry(err, label)
		}
		c.Entries = append(c.Entries, Entry{Label: label, CMW: child})
	}
	if len(c.Entries) == 0 {
		return nil, malformed("collection", "at least one entry besides "+collectionTypeKey, "none")
	}
	if len(c.Entries) > maxEntries {
		return nil, limitErr("collection", fmt.Sprintf("at most %d entries", maxEntries), len(c.Entries))
	}
	slices.SortFunc(c.Entries, func(x, y Entry) int { return compareJSONKeys(x.Label.text, y.Label.text) })
	return c, nil
}

// compareJSONKeys orders object keys by their UTF-16 code units, as the
// JSON Canonicalization Scheme (RFC 8785 section 3.2.3) does.
func compareJSONKeys(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

// MarshalJSON returns the JSON encoding of the tree, regardless of Format,
// in the form of the JSON Canonicalization Scheme (RFC 8785): no
// whitespace, object keys sorted, minimal string escaping. It fails if the
// tree breaks the JSON CMW grammar (tags, content-formats, integer labels
// and empty values have no JSON form) or the limits. It implements
// [json.Marshaler].
func (c *CMW) MarshalJSON() ([]byte, error) {
	if err := check(c, FormatJSON, 0); err != nil {
		return nil, err
	}
	return limitOutput(appendJSON(nil, c))
}

// UnmarshalJSON parses b with [ParseJSON] into c. It implements
// [json.Unmarshaler].
func (c *CMW) UnmarshalJSON(b []byte) error {
	p, err := ParseJSON(b)
	if err != nil {
		return err
	}
	*c = *p
	return nil
}

// appendJSON appends the canonical JSON of c, which check has accepted.
func appendJSON(b []byte, c *CMW) []byte {
	switch c.Kind {
	case KindRecord:
		b = append(b, '[')
		b = appendJSONString(b, c.MediaType)
		b = append(b, ',', '"')
		b = base64.RawURLEncoding.AppendEncode(b, c.Value)
		b = append(b, '"')
		if c.Indicator != 0 {
			b = append(b, ',')
			b = strconv.AppendUint(b, uint64(c.Indicator), 10)
		}
		return append(b, ']')
	case KindCollection:
		entries := slices.Clone(c.Entries)
		if c.CollectionType != "" {
			// nil CMW marks the collection type among the sorted keys.
			entries = append(entries, Entry{Label: TextLabel(collectionTypeKey)})
		}
		slices.SortFunc(entries, func(x, y Entry) int { return compareJSONKeys(x.Label.text, y.Label.text) })
		b = append(b, '{')
		for i, e := range entries {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, e.Label.text)
			b = append(b, ':')
			if e.CMW == nil {
				b = appendJSONString(b, c.CollectionType)
			} else {
				b = appendJSON(b, e.CMW)
			}
		}
		return append(b, '}')
	}
	return b
}

// appendJSONString appends s (valid UTF-8) as a JSON string with the
// escaping of RFC 8785 section 3.2.2.2: only '"', '\' and control
// characters are escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
