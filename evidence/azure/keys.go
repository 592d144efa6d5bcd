package azure

import (
	"bytes"
	"encoding/json"
	"slices"
)

// topLevelKeys reports whether b is a JSON object with key among its
// top-level keys and no key outside allowed.
func topLevelKeys(b []byte, key string, allowed ...string) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	found := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		k, _ := t.(string)
		if !slices.Contains(allowed, k) {
			return false
		}
		found = found || k == key
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return found
}
