package evidence

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Limits applied to every CBOR structure this package decodes. RA-TLS
// evidence is a handful of byte strings; anything deeper or wider is not
// evidence and is rejected before it can cost memory.
const (
	maxCBORNesting  = 8
	maxCBORElements = 64
	// MaxExtensionSize bounds an evidence or endorsements extension value.
	// DCAP quotes are 4–8 KiB and endorsements ~20 KiB; 256 KiB leaves room
	// for certificate chains without allowing unbounded input.
	MaxExtensionSize = 256 << 10
)

var (
	// decMode is strict: definite lengths only, duplicate map keys rejected,
	// bounded nesting and sizes, no trailing bytes (cbor.Unmarshal checks that).
	decMode = mustDecMode(cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		MaxNestedLevels:  maxCBORNesting,
		MaxArrayElements: maxCBORElements,
		MaxMapPairs:      maxCBORElements,
		TagsMd:           cbor.TagsAllowed,
	})
	// encMode produces core deterministic encoding (RFC 8949 §4.2.1).
	encMode = mustEncMode(cbor.CoreDetEncOptions())
)

func mustDecMode(o cbor.DecOptions) cbor.DecMode {
	m, err := o.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}

func mustEncMode(o cbor.EncOptions) cbor.EncMode {
	m, err := o.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}

// CBOR major types, from the top three bits of an item's initial byte.
const (
	majorUint   = 0
	majorBytes  = 2
	majorText   = 3
	majorArray  = 4
	majorMap    = 5
	majorTagged = 6
)

var majorNames = [8]string{"unsigned integer", "negative integer", "byte string", "text string", "array", "map", "tag", "simple value or float"}

// cborMajor describes the type of a raw CBOR item for error messages.
func cborMajor(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	return majorNames[raw[0]>>5]
}

// decodeBytes decodes raw, which must be exactly one definite-length CBOR byte
// string. what names the item in errors.
func decodeBytes(raw cbor.RawMessage, what string) ([]byte, error) {
	if len(raw) == 0 || raw[0]>>5 != majorBytes {
		return nil, fmt.Errorf("%s: want a CBOR byte string, got %s", what, cborMajor(raw))
	}
	var b []byte
	if err := decMode.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return b, nil
}

// decodeArray decodes raw, which must be one definite-length CBOR array.
func decodeArray(raw []byte, what string) ([]cbor.RawMessage, error) {
	if len(raw) == 0 || raw[0]>>5 != majorArray {
		return nil, fmt.Errorf("%s: want a CBOR array, got %s", what, cborMajor(raw))
	}
	var items []cbor.RawMessage
	if err := decMode.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return items, nil
}

// decodeTag decodes raw, which must be exactly one CBOR tag, returning its
// number and content.
func decodeTag(raw []byte, what string) (uint64, cbor.RawMessage, error) {
	if len(raw) == 0 || raw[0]>>5 != majorTagged {
		return 0, nil, fmt.Errorf("%s: want a CBOR tag, got %s", what, cborMajor(raw))
	}
	var t cbor.RawTag
	if err := decMode.Unmarshal(raw, &t); err != nil {
		return 0, nil, fmt.Errorf("%s: %w", what, err)
	}
	return t.Number, t.Content, nil
}
