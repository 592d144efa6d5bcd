package cca

import (
	"errors"
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"
)

// Limits applied to every CBOR item this package decodes. A token is at most
// maxTokenSize bytes, so these only cap structure, not total allocation.
const (
	maxNestedLevels  = 16
	maxArrayElements = 1024
	maxMapPairs      = 1024
)

// decMode is the strict CBOR decoder: duplicate map keys, indefinite-length
// items and invalid UTF-8 are rejected, and nesting and container sizes are
// bounded. Unmarshal also rejects bytes after the decoded item.
var decMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		UTF8:             cbor.UTF8RejectInvalid,
		MaxNestedLevels:  maxNestedLevels,
		MaxArrayElements: maxArrayElements,
		MaxMapPairs:      maxMapPairs,
	}.DecMode()
	if err != nil {
		panic(err) // the options above are constant and valid
	}
	return dm
}()

// CBOR major types.
const (
	majorUint   = 0
	majorNegInt = 1
	majorBytes  = 2
	majorText   = 3
	majorArray  = 4
	majorMap    = 5
	majorTag    = 6
	majorSimple = 7
)

var majorNames = [8]string{
	"unsigned integer", "negative integer", "byte string", "text string",
	"array", "map", "tagged item", "simple value or float",
}

// describe names the kind of CBOR item raw holds, for error messages.
func describe(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case 0xf4, 0xf5:
		return "boolean"
	case 0xf6:
		return "null"
	case 0xf7:
		return "undefined"
	}
	return majorNames[raw[0]>>5]
}

// expectMajor checks that raw is a well-formed item of the given major type.
// The decoder has already checked well-formedness of every raw item it hands
// out, so only the first byte needs looking at.
func expectMajor(raw []byte, major byte, field string) error {
	if len(raw) == 0 || raw[0]>>5 != major {
		return &Error{Pkg: "cca", Kind: ErrMalformed, Field: field, Want: majorNames[major], Got: describe(raw)}
	}
	return nil
}

func decodeBytes(raw []byte, field string) ([]byte, error) {
	if err := expectMajor(raw, majorBytes, field); err != nil {
		return nil, err
	}
	var b []byte
	if err := decMode.Unmarshal(raw, &b); err != nil {
		return nil, cborError(field, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

func decodeText(raw []byte, field string) (string, error) {
	if err := expectMajor(raw, majorText, field); err != nil {
		return "", err
	}
	var s string
	if err := decMode.Unmarshal(raw, &s); err != nil {
		return "", cborError(field, err)
	}
	return s, nil
}

func decodeUint(raw []byte, field string) (uint64, error) {
	if err := expectMajor(raw, majorUint, field); err != nil {
		return 0, err
	}
	var v uint64
	if err := decMode.Unmarshal(raw, &v); err != nil {
		return 0, cborError(field, err)
	}
	return v, nil
}

func decodeInt(raw []byte, field string) (int64, error) {
	if len(raw) == 0 || (raw[0]>>5 != majorUint && raw[0]>>5 != majorNegInt) {
		return 0, &Error{Pkg: "cca", Kind: ErrMalformed, Field: field, Want: "integer", Got: describe(raw)}
	}
	var v int64
	if err := decMode.Unmarshal(raw, &v); err != nil {
		return 0, cborError(field, err)
	}
	return v, nil
}

func decodeArray(raw []byte, field string) ([]cbor.RawMessage, error) {
	if err := expectMajor(raw, majorArray, field); err != nil {
		return nil, err
	}
	var a []cbor.RawMessage
	if err := decMode.Unmarshal(raw, &a); err != nil {
		return nil, cborError(field, err)
	}
	return a, nil
}

// decodeIntMap decodes a map whose keys must all be integers.
func decodeIntMap(raw []byte, field string) (map[int64]cbor.RawMessage, error) {
	if err := expectMajor(raw, majorMap, field); err != nil {
		return nil, err
	}
	var m map[any]cbor.RawMessage
	if err := decMode.Unmarshal(raw, &m); err != nil {
		return nil, cborError(field, err)
	}
	out := make(map[int64]cbor.RawMessage, len(m))
	for k, v := range m {
		var key int64
		switch k := k.(type) {
		case uint64:
			if k > 1<<63-1 {
				return nil, &Error{Pkg: "cca", Kind: ErrMalformed, Field: field + ": map key", Want: "integer in int64 range", Got: fmt.Sprint(k)}
			}
			key = int64(k)
		case int64:
			key = k
		default:
			return nil, &Error{Pkg: "cca", Kind: ErrMalformed, Field: field + ": map key", Want: "integer", Got: fmt.Sprintf("%T %v", k, k)}
		}
		out[key] = v
	}
	return out, nil
}

// cborError wraps a decoder error, classifying the strict-mode violations.
func cborError(field string, err error) error {
	var dup *cbor.DupMapKeyError
	var extra *cbor.ExtraneousDataError
	var indef *cbor.IndefiniteLengthError
	var limit *cbor.MaxNestedLevelError
	var arr *cbor.MaxArrayElementsError
	var mp *cbor.MaxMapPairsError
	switch {
	case errors.As(err, &dup):
		return &Error{Pkg: "cca", Kind: ErrMalformed, Field: field, Got: "duplicate map key", Cause: err}
	case errors.As(err, &extra):
		return &Error{Pkg: "cca", Kind: ErrMalformed, Field: field, Got: "trailing bytes", Cause: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Pkg: "cca", Kind: ErrMalformed, Field: field, Got: "truncated item", Cause: err}
	case errors.As(err, &indef):
		return &Error{Pkg: "cca", Kind: ErrMalformed, Field: field, Got: "indefinite-length item", Cause: err}
	case errors.As(err, &limit), errors.As(err, &arr), errors.As(err, &mp):
		return &Error{Pkg: "cca", Kind: ErrTooLarge, Field: field, Cause: err}
	}
	return &Error{Pkg: "cca", Kind: ErrMalformed, Field: field, Cause: err}
}
