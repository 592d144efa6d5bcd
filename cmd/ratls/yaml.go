package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// node is a JSON value with the order of object keys kept, so YAML output
// reads in the order of the JSON.
type node struct {
	kind   byte // '{', '[' or 's' for a scalar
	keys   []string
	vals   []*node
	scalar any // string, json.Number, bool or nil
}

// jsonToYAML converts one JSON document (several, for JSON lines) to
// YAML, keeping key order. Strings are quoted whenever plain YAML would
// read them as something else.
func jsonToYAML(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out bytes.Buffer
	for first := true; dec.More(); first = false {
		n, err := readNode(dec)
		if err != nil {
			return nil, err
		}
		if !first {
			out.WriteString("---\n")
		}
		writeYAML(&out, n, 0, false)
	}
	return out.Bytes(), nil
}

func readNode(dec *json.Decoder) (*node, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		n := &node{kind: '{'}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := readNode(dec)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k.(string))
			n.vals = append(n.vals, v)
		}
		_, err := dec.Token() // '}'
		return n, err
	case json.Delim('['):
		n := &node{kind: '['}
		for dec.More() {
			v, err := readNode(dec)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
		_, err := dec.Token() // ']'
		return n, err
	}
	return &node{kind: 's', scalar: t}, nil
}

// writeYAML writes n at indent; inline says the caller already wrote the
// start of the line ("key:" or "- ").
func writeYAML(w *bytes.Buffer, n *node, indent int, inline bool) {
	pad := strings.Repeat("  ", indent)
	switch n.kind {
	case '{':
		if len(n.keys) == 0 {
			w.WriteString(" {}\n")
			return
		}
		if inline {
			w.WriteString("\n")
		}
		for i, k := range n.keys {
			w.WriteString(pad + yamlString(k) + ":")
			writeValue(w, n.vals[i], indent+1)
		}
	case '[':
		if len(n.vals) == 0 {
			w.WriteString(" []\n")
			return
		}
		if inline {
			w.WriteString("\n")
		}
		for _, v := range n.vals {
			w.WriteString(pad + "-")
			if v.kind == '{' && len(v.keys) > 0 {
				// The first key goes on the dash's line.
				w.WriteString(" " + yamlString(v.keys[0]) + ":")
				writeValue(w, v.vals[0], indent+2)
				rest := &node{kind: '{', keys: v.keys[1:], vals: v.vals[1:]}
				if len(rest.keys) > 0 {
					writeYAML(w, rest, indent+1, false)
				}
				continue
			}
			writeValue(w, v, indent+1)
		}
	default:
		w.WriteString(pad + scalarYAML(n.scalar) + "\n")
	}
}

// writeValue writes a value after "key:" or "-".
func writeValue(w *bytes.Buffer, v *node, indent int) {
	if v.kind == 's' {
		w.WriteString(" " + scalarYAML(v.scalar) + "\n")
		return
	}
	writeYAML(w, v, indent, true)
}

func scalarYAML(v any) string {
	switch s := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprint(s)
	case json.Number:
		return s.String()
	case string:
		return yamlString(s)
	}
	return fmt.Sprint(v)
}

// plainYAML matches strings that YAML reads back as the same string when
// written without quotes.
var plainYAML = regexp.MustCompile(`^[A-Za-z_/][A-Za-z0-9_./+@()=-]*( [A-Za-z0-9_./+@()=,-]+)*$`)

// yamlWords are plain scalars YAML reads as something other than strings.
var yamlWords = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"null": true, "y": true, "n": true, "~": true}

func yamlString(s string) string {
	if plainYAML.MatchString(s) && !yamlWords[strings.ToLower(s)] {
		return s
	}
	// A JSON string is a valid YAML double-quoted scalar.
	b, _ := json.Marshal(s)
	return string(b)
}
