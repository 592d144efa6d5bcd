// Package strictjson decodes JSON documents that configure security
// decisions (policies, reference values, request bodies) so that what a
// document says is exactly what it means. encoding/json alone matches keys
// case-insensitively and lets the last of two duplicate keys win, so
// {"allow_debug": false, "ALLOW_DEBUG": true} would silently weaken a
// policy. Decode refuses that document: keys must match exactly, appear
// once, and be known; nothing may follow the value.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Decode decodes b into v (a pointer) strictly. Errors name the offending
// key by its path, for example "sgx.mrenclave".
func Decode(b []byte, v any) error {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return errors.New("strictjson: Decode needs a pointer")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := walk(dec, t.Elem(), ""); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return errors.New("trailing data after the JSON value")
	}
	dec = json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// walk reads one value from dec, checking the keys of every object against
// t (nil when the shape is not known: only duplicates are checked then).
func walk(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(err, path)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() == reflect.Interface) {
		t = nil // decoded by its own rules
	}
	switch tok {
	case json.Delim('{'):
		return walkObject(dec, t, path)
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walk(dec, elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ']'
		return syntaxError(err, path)
	}
	return nil
}

func walkObject(dec *json.Decoder, t reflect.Type, path string) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	switch {
	case t != nil && t.Kind() == reflect.Struct:
		fields = jsonFields(t)
	case t != nil && t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err, path)
		}
		key, _ := tok.(string)
		at := join(path, key)
		if seen[key] {
			return fmt.Errorf("%s: duplicate key: each key may appear once", at)
		}
		seen[key] = true
		vt := elem
		if fields != nil {
			ft, ok := fields[key]
			if !ok {
				for name := range fields {
					if strings.EqualFold(name, key) {
						return fmt.Errorf("%s: unknown key (keys are case-sensitive: did you mean %q?)", at, join(path, name))
					}
				}
				return fmt.Errorf("%s: unknown key", at)
			}
			vt = ft
		}
		if err := walk(dec, vt, at); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return syntaxError(err, path)
}

// jsonFields returns the JSON keys of a struct's exported fields, including
// those of embedded structs, as encoding/json names them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					m[k] = v
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	return m
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func syntaxError(err error, path string) error {
	if err == nil {
		return nil
	}
	if path == "" {
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}
