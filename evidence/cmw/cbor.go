package cmw

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// CBOR major types.
const (
	majorUint   = 0
	majorNint   = 1
	majorBytes  = 2
	majorText   = 3
	majorArray  = 4
	majorMap    = 5
	majorTag    = 6
	majorSimple = 7
)

func majorName(m byte) string {
	switch m {
	case majorUint:
		return "unsigned integer"
	case majorNint:
		return "negative integer"
	case majorBytes:
		return "byte string"
	case majorText:
		return "text string"
	case majorArray:
		return "array"
	case majorMap:
		return "map"
	case majorTag:
		return "tag"
	}
	return "simple value or float"
}

// wellformedMode checks a whole input before it is walked: one definite-length
// data item, no trailing bytes, nesting and sizes bounded. (Duplicate keys,
// UTF-8 and types are checked by the walker, which reads every item that
// matters.) Its nesting limit
// leaves room for an outer tag, maxDepth collections and a leaf, so that
// deeper collection nesting is reported by the walker with a precise message
// when it is only slightly too deep.
var wellformedMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		IndefLength:      cbor.IndefLengthForbidden,
		MaxNestedLevels:  maxDepth + 3,
		MaxArrayElements: 16,
		MaxMapPairs:      maxEntries + 1,
	}.DecMode()
	if err != nil {
		panic("cmw: invalid CBOR decoding options: " + err.Error())
	}
	return dm
}()

// checkInput applies the checks common to every parser entry point.
func checkInput(b []byte, what string) error {
	if len(b) == 0 {
		return malformed(what, "non-empty input", "empty input")
	}
	if len(b) > maxSize {
		return limitErr(what, fmt.Sprintf("at most %d bytes", maxSize), len(b))
	}
	return nil
}

// wellformed checks b with wellformedMode and turns its errors into
// FormatErrors that keep the decoder's error as Cause.
func wellformed(b []byte) error {
	err := wellformedMode.Wellformed(b)
	if err == nil {
		return nil
	}
	fe := &FormatError{Pkg: errPkg, Field: "CBOR", Kind: ErrMalformed, Cause: err, Got: err.Error()}
	var (
		nested *cbor.MaxNestedLevelError
		arrays *cbor.MaxArrayElementsError
		maps   *cbor.MaxMapPairsError
		indef  *cbor.IndefiniteLengthError
		extra  *cbor.ExtraneousDataError
	)
	switch {
	case errors.As(err, &nested), errors.As(err, &arrays), errors.As(err, &maps):
		fe.Want = fmt.Sprintf("at most %d nested levels, %d array elements and %d map pairs", maxDepth+3, 16, maxEntries+1)
		fe.Kind = ErrLimit
	case errors.As(err, &indef):
		fe.Want = "definite-length encoding"
	case errors.As(err, &extra):
		fe.Want = "exactly one data item"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		fe.Want = "a complete data item"
		fe.Got = "truncated input"
	default:
		fe.Want = "well-formed CBOR"
	}
	return fe
}

// readHead decodes the initial byte and argument of the CBOR data item at
// the start of b, returning its major type, argument and head length.
// Non-minimal argument encodings are accepted.
func readHead(b []byte) (major byte, arg uint64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, 0, malformed("CBOR", "a complete data item", "truncated input")
	}
	major, info := b[0]>>5, b[0]&0x1f
	switch {
	case info < 24:
		return major, uint64(info), 1, nil
	case info <= 27:
		size := 1 << (info - 24)
		if len(b) < 1+size {
			return 0, 0, 0, malformed("CBOR", "a complete data item", "truncated input")
		}
		var buf [8]byte
		copy(buf[8-size:], b[1:1+size])
		return major, binary.BigEndian.Uint64(buf[:]), 1 + size, nil
	}
	return 0, 0, 0, malformed("CBOR head", "definite-length argument", fmt.Sprintf("additional information %d", info))
}

// readString reads a definite byte or text string (as selected by want) at
// the start of b and returns its content and the total item length. field
// names the CMW field in errors. Text must be valid UTF-8.
func readString(b []byte, want byte, field string) ([]byte, int, error) {
	major, arg, h, err := readHead(b)
	if err != nil {
		return nil, 0, err
	}
	if major != want {
		return nil, 0, malformed(field, majorName(want), majorName(major))
	}
	if arg > uint64(len(b)-h) {
		return nil, 0, malformed(field, fmt.Sprintf("%d bytes", arg), fmt.Sprintf("%d bytes left", len(b)-h))
	}
	end := h + int(arg)
	if want == majorText && !utf8.Valid(b[h:end]) {
		return nil, 0, malformed(field, "valid UTF-8", fmt.Sprintf("%q", b[h:end]))
	}
	return b[h:end], end, nil
}

// ParseCBOR parses a CBOR CMW: a record, a tag or a collection.
//
// The input must be exactly one well-formed, definite-length CBOR data
// item. Integer and length arguments need not be minimally encoded and map
// keys need not be sorted: the draft does not require deterministic
// encoding, and deployed encoders do not sort. [CMW.MarshalCBOR] always
// emits the deterministic encoding.
func ParseCBOR(b []byte) (*CMW, error) {
	if err := checkInput(b, "CBOR CMW"); err != nil {
		return nil, err
	}
	if err := wellformed(b); err != nil {
		return nil, err
	}
	c, n, err := parseCBORItem(b, 0)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, malformed("CBOR", "exactly one data item", fmt.Sprintf("%d trailing bytes", len(b)-n))
	}
	return c, nil
}

// ParseCBORTagged parses a CBOR collection wrapped in one outer tag whose
// number is in allowed, such as Arm CCA's 907({44234: [263, bstr], 44241:
// [263, bstr]}). The outer tag is not a tag CMW: allowed numbers must lie
// outside the TN range. It returns the outer tag number and the collection.
func ParseCBORTagged(b []byte, allowed ...uint64) (uint64, *CMW, error) {
	if len(allowed) == 0 {
		return 0, nil, malformed("allowed outer tags", "at least one", "none")
	}
	for _, t := range allowed {
		if t >= TNMin && t <= TNMax {
			return 0, nil, malformed("allowed outer tag", "a number outside the TN range", t)
		}
	}
	if err := checkInput(b, "tagged CBOR CMW"); err != nil {
		return 0, nil, err
	}
	if err := wellformed(b); err != nil {
		return 0, nil, err
	}
	major, num, h, err := readHead(b)
	if err != nil {
		return 0, nil, err
	}
	if major != majorTag {
		return 0, nil, malformed("outer tag", fmt.Sprintf("CBOR tag %v", allowed), majorName(major))
	}
	if !slices.Contains(allowed, num) {
		return 0, nil, malformed("outer tag", fmt.Sprintf("one of %v", allowed), num)
	}
	inner, _, _, err := readHead(b[h:])
	if err != nil {
		return 0, nil, err
	}
	if inner != majorMap {
		return 0, nil, malformed("outer tag content", "collection (map)", majorName(inner))
	}
	c, n, err := parseCBORItem(b[h:], 0)
	if err != nil {
		return 0, nil, err
	}
	if h+n != len(b) {
		return 0, nil, malformed("CBOR", "exactly one data item", fmt.Sprintf("%d trailing bytes", len(b)-h-n))
	}
	return num, c, nil
}

// parseCBORItem parses the CMW at the start of b, which sits inside depth
// collections, and returns it with its encoded length.
func parseCBORItem(b []byte, depth int) (*CMW, int, error) {
	major, arg, h, err := readHead(b)
	if err != nil {
		return nil, 0, err
	}
	switch major {
	case majorArray:
		return parseCBORRecord(b, arg, h)
	case majorMap:
		return parseCBORCollection(b, arg, h, depth+1)
	case majorTag:
		return parseCBORTag(b, arg, h)
	}
	return nil, 0, malformed("CBOR CMW", "record (array), collection (map) or tag", majorName(major))
}

func parseCBORRecord(b []byte, n uint64, off int) (*CMW, int, error) {
	if n != 2 && n != 3 {
		return nil, 0, malformed("record", "array of 2 or 3 elements", n)
	}
	c := &CMW{Kind: KindRecord, Format: FormatCBOR}

	major, arg, h, err := readHead(b[off:])
	if err != nil {
		return nil, 0, err
	}
	switch major {
	case majorUint:
		if arg > math.MaxUint16 {
			return nil, 0, malformed("record type", "content-format at most 65535 (uint .size 2)", arg)
		}
		c.ContentFormat, c.HasContentFormat = uint16(arg), true
		off += h
	case majorText:
		s, m, err := readString(b[off:], majorText, "record type")
		if err != nil {
			return nil, 0, err
		}
		if err := checkMediaType(string(s)); err != nil {
			return nil, 0, err
		}
		c.MediaType = string(s)
		off += m
	default:
		return nil, 0, malformed("record type", "unsigned integer (content-format) or text string (media type)", majorName(major))
	}

	v, m, err := readString(b[off:], majorBytes, "record value")
	if err != nil {
		return nil, 0, err
	}
	c.Value = bytes.Clone(v)
	off += m

	if n == 3 {
		major, arg, h, err := readHead(b[off:])
		if err != nil {
			return nil, 0, err
		}
		if major != majorUint {
			return nil, 0, malformed("record ind", "unsigned integer", majorName(major))
		}
		if err := checkIndicator(arg); err != nil {
			return nil, 0, err
		}
		c.Indicator = Indicator(arg)
		off += h
	}
	return c, off, nil
}

func parseCBORTag(b []byte, num uint64, off int) (*CMW, int, error) {
	if _, err := ContentFormat(num); err != nil {
		return nil, 0, err
	}
	v, m, err := readString(b[off:], majorBytes, "tag content")
	if err != nil {
		return nil, 0, err
	}
	return &CMW{Kind: KindTag, Format: FormatCBOR, Tag: num, Value: bytes.Clone(v)}, off + m, nil
}

func parseCBORCollection(b []byte, n uint64, off, depth int) (*CMW, int, error) {
	if depth > maxDepth {
		return nil, 0, limitErr("collection nesting", fmt.Sprintf("at most %d levels", maxDepth), depth)
	}
	if n == 0 {
		return nil, 0, malformed("collection", "at least one entry", "empty map")
	}
	if n > maxEntries+1 {
		return nil, 0, limitErr("collection", fmt.Sprintf("at most %d entries", maxEntries), n)
	}
	c := &CMW{Kind: KindCollection, Format: FormatCBOR}
	seen := make(map[Label]struct{}, n)
	hasType := false
	for range n {
		major, arg, h, err := readHead(b[off:])
		if err != nil {
			return nil, 0, err
		}
		var label Label
		switch major {
		case majorUint:
			if arg > math.MaxInt64 {
				return nil, 0, malformed("collection label", "integer in int64 range", arg)
			}
			label = IntLabel(int64(arg))
			off += h
		case majorNint:
			if arg > math.MaxInt64 {
				return nil, 0, malformed("collection label", "integer in int64 range", fmt.Sprintf("-1-%d", arg))
			}
			label = IntLabel(-1 - int64(arg))
			off += h
		case majorText:
			s, m, err := readString(b[off:], majorText, "collection label")
			if err != nil {
				return nil, 0, err
			}
			off += m
			if string(s) == collectionTypeKey {
				if hasType {
					return nil, 0, malformed("collection", "unique keys", "duplicate "+collectionTypeKey)
				}
				hasType = true
				t, m, err := readString(b[off:], majorText, "collection type (__cmwc_t)")
				if err != nil {
					return nil, 0, err
				}
				if err := checkCollectionType(string(t)); err != nil {
					return nil, 0, err
				}
				c.CollectionType = string(t)
				off += m
				continue
			}
			label = TextLabel(string(s))
		default:
			return nil, 0, malformed("collection label", "integer or text string", majorName(major))
		}
		if _, dup := seen[label]; dup {
			return nil, 0, malformed("collection label", "unique labels", "duplicate "+label.pathElem())
		}
		seen[label] = struct{}{}
		child, m, err := parseCBORItem(b[off:], depth)
		if err != nil {
			return nil, 0, inEntry(err, label)
		}
		off += m
		c.Entries = append(c.Entries, Entry{Label: label, CMW: child})
	}
	if len(c.Entries) == 0 {
		return nil, 0, malformed("collection", "at least one entry besides "+collectionTypeKey, "none")
	}
	if len(c.Entries) > maxEntries {
		return nil, 0, limitErr("collection", fmt.Sprintf("at most %d entries", maxEntries), len(c.Entries))
	}
	slices.SortFunc(c.Entries, func(x, y Entry) int { return compareCBORLabels(x.Label, y.Label) })
	return c, off, nil
}

// compareCBORLabels orders labels as their deterministic CBOR encodings
// sort bytewise (RFC 8949 section 4.2.1): unsigned integers ascending, then
// negative integers from -1 downwards, then text strings shorter first and
// bytewise among equal lengths.
func compareCBORLabels(a, b Label) int {
	if r := cmp.Compare(cborLabelRank(a), cborLabelRank(b)); r != 0 {
		return r
	}
	switch cborLabelRank(a) {
	case 0:
		return cmp.Compare(a.num, b.num)
	case 1:
		return cmp.Compare(b.num, a.num)
	}
	if r := cmp.Compare(len(a.text), len(b.text)); r != 0 {
		return r
	}
	return strings.Compare(a.text, b.text)
}

func cborLabelRank(l Label) int {
	switch {
	case l.isStr:
		return 2
	case l.num < 0:
		return 1
	}
	return 0
}

// MarshalCBOR returns the deterministic CBOR encoding (RFC 8949 section
// 4.2.1: minimal heads, map keys sorted) of the tree, regardless of Format.
// It fails if the tree breaks the CBOR CMW grammar or the limits.
// It implements [cbor.Marshaler].
func (c *CMW) MarshalCBOR() ([]byte, error) {
	if err := check(c, FormatCBOR, 0); err != nil {
		return nil, err
	}
	return limitOutput(appendCBOR(nil, c))
}

// MarshalCBORTagged encodes collection c like [CMW.MarshalCBOR], wrapped in
// CBOR tag number tag, which must lie outside the TN range (the form read
// by [ParseCBORTagged]).
func (c *CMW) MarshalCBORTagged(tag uint64) ([]byte, error) {
	if tag >= TNMin && tag <= TNMax {
		return nil, malformed("outer tag", "a number outside the TN range", tag)
	}
	if c == nil || c.Kind != KindCollection {
		return nil, malformed("tagged content", "collection", kindOf(c))
	}
	if err := check(c, FormatCBOR, 0); err != nil {
		return nil, err
	}
	return limitOutput(appendCBOR(appendHead(nil, majorTag, tag), c))
}

// UnmarshalCBOR parses b with [ParseCBOR] into c. It implements
// [cbor.Unmarshaler].
func (c *CMW) UnmarshalCBOR(b []byte) error {
	p, err := ParseCBOR(b)
	if err != nil {
		return err
	}
	*c = *p
	return nil
}

func kindOf(c *CMW) string {
	if c == nil {
		return "nil"
	}
	return c.Kind.String()
}

func limitOutput(b []byte) ([]byte, error) {
	if len(b) > maxSize {
		return nil, limitErr("encoded CMW", fmt.Sprintf("at most %d bytes", maxSize), len(b))
	}
	return b, nil
}

// appendHead appends a minimal CBOR head.
func appendHead(b []byte, major byte, arg uint64) []byte {
	m := major << 5
	switch {
	case arg < 24:
		return append(b, m|byte(arg))
	case arg <= math.MaxUint8:
		return append(b, m|24, byte(arg))
	case arg <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(arg))
	case arg <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(arg))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), arg)
}

func appendString(b []byte, major byte, s []byte) []byte {
	return append(appendHead(b, major, uint64(len(s))), s...)
}

func appendLabel(b []byte, l Label) []byte {
	switch {
	case l.isStr:
		return appendString(b, majorText, []byte(l.text))
	case l.num < 0:
		return appendHead(b, majorNint, uint64(-1-l.num))
	}
	return appendHead(b, majorUint, uint64(l.num))
}

// appendCBOR appends the deterministic encoding of c, which check has
// accepted.
func appendCBOR(b []byte, c *CMW) []byte {
	switch c.Kind {
	case KindRecord:
		n := uint64(2)
		if c.Indicator != 0 {
			n = 3
		}
		b = appendHead(b, majorArray, n)
		if c.HasContentFormat {
			b = appendHead(b, majorUint, uint64(c.ContentFormat))
		} else {
			b = appendString(b, majorText, []byte(c.MediaType))
		}
		b = appendString(b, majorBytes, c.Value)
		if c.Indicator != 0 {
			b = appendHead(b, majorUint, uint64(c.Indicator))
		}
	case KindTag:
		b = appendString(appendHead(b, majorTag, c.Tag), majorBytes, c.Value)
	case KindCollection:
		entries := slices.Clone(c.Entries)
		if c.CollectionType != "" {
			// nil CMW marks the collection type among the sorted keys.
			entries = append(entries, Entry{Label: TextLabel(collectionTypeKey)})
		}
		slices.SortFunc(entries, func(x, y Entry) int { return compareCBORLabels(x.Label, y.Label) })
		b = appendHead(b, majorMap, uint64(len(entries)))
		for _, e := range entries {
			b = appendLabel(b, e.Label)
			if e.CMW == nil {
				b = appendString(b, majorText, []byte(c.CollectionType))
			} else {
				b = appendCBOR(b, e.CMW)
			}
		}
	}
	return b
}
