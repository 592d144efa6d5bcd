package cmw

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits applied to every input and to every CMW before it is encoded.
const (
	// maxSize is the largest serialized CMW accepted or produced, in bytes.
	maxSize = 256 << 10
	// maxDepth is the deepest nesting of collections: a top-level
	// collection is at depth 1, a collection inside it at depth 2, and so on.
	maxDepth = 8
	// maxEntries is the largest number of entries in one collection, not
	// counting "__cmwc_t".
	maxEntries = 64
)

// collectionTypeKey is the reserved collection key whose value names the
// collection type (an absolute URI or a dotted OID).
const collectionTypeKey = "__cmwc_t"

// Kind is the kind of a CMW node.
type Kind int

// CMW kinds. Records and tags are leaves; collections hold other CMWs.
const (
	KindRecord     Kind = iota + 1 // [type, value, ? ind]
	KindTag                        // #6.<TN(cf)>(bytes), CBOR only
	KindCollection                 // {? "__cmwc_t": type, + label => cmw}
)

func (k Kind) String() string {
	switch k {
	case KindRecord:
		return "record"
	case KindTag:
		return "tag"
	case KindCollection:
		return "collection"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Format is the serialization of a CMW.
type Format int

// CMW serializations.
const (
	FormatCBOR Format = iota + 1
	FormatJSON
)

func (f Format) String() string {
	switch f {
	case FormatCBOR:
		return "CBOR"
	case FormatJSON:
		return "JSON"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Indicator is the record "ind" bitmap: bit n set means the value carries a
// conceptual message of cm-type n.
type Indicator uint32

// Conceptual message indicators (cm-type bits registered by the draft).
const (
	ReferenceValues    Indicator = 1 << 0
	Endorsements       Indicator = 1 << 1
	Evidence           Indicator = 1 << 2
	AttestationResults Indicator = 1 << 3
	AppraisalPolicy    Indicator = 1 << 4

	// knownIndicators has every registered bit set; other bits are
	// rejected because the CDDL (uint .bits cm-type) allows only these.
	knownIndicators = ReferenceValues | Endorsements | Evidence | AttestationResults | AppraisalPolicy
)

var indicatorNames = [...]string{"reference-values", "endorsements", "evidence", "attestation-results", "appraisal-policy"}

// Has reports whether every bit of x is set in i.
func (i Indicator) Has(x Indicator) bool { return i&x == x }

// String returns the cm-type names of the set bits joined by "|", e.g.
// "evidence|attestation-results"; unregistered bits are shown as "bitN".
func (i Indicator) String() string {
	if i == 0 {
		return "none"
	}
	var parts []string
	for bit := range 32 {
		if i&(1<<bit) == 0 {
			continue
		}
		if bit < len(indicatorNames) {
			parts = append(parts, indicatorNames[bit])
		} else {
			parts = append(parts, "bit"+strconv.Itoa(bit))
		}
	}
	return strings.Join(parts, "|")
}

func checkIndicator(v uint64) error {
	switch {
	case v == 0:
		return malformed("record ind", "non-zero (omit the field instead)", 0)
	case v > 0xffffffff:
		return malformed("record ind", "at most 4 bytes", v)
	case Indicator(v)&^knownIndicators != 0:
		return malformed("record ind", fmt.Sprintf("only registered cm-type bits (mask %#x)", uint32(knownIndicators)), fmt.Sprintf("%#x", v))
	}
	return nil
}

// Label is a collection entry label: an integer (CBOR only) or a text
// string. The zero Label is the integer 0. Labels are comparable with ==.
type Label struct {
	text  string
	num   int64
	isStr bool
}

// IntLabel returns an integer label.
func IntLabel(n int64) Label { return Label{num: n} }

// TextLabel returns a text label.
func TextLabel(s string) Label { return Label{text: s, isStr: true} }

// Int returns the integer value and true if l is an integer label.
func (l Label) Int() (int64, bool) { return l.num, !l.isStr }

// Text returns the text and true if l is a text label.
func (l Label) Text() (string, bool) { return l.text, l.isStr }

// String returns the text of a text label or the decimal form of an integer
// label.
func (l Label) String() string {
	if l.isStr {
		return l.text
	}
	return strconv.FormatInt(l.num, 10)
}

// pathElem is the label as shown in error paths: text quoted, so that the
// text "1" and the integer 1 differ.
func (l Label) pathElem() string {
	if l.isStr {
		return strconv.Quote(l.text)
	}
	return strconv.FormatInt(l.num, 10)
}

// Entry is one labelled member of a collection.
type Entry struct {
	Label Label
	CMW   *CMW
}

// CMW is one node of a Conceptual Message Wrapper tree: a record, a tag or a
// collection. Fields that do not belong to the node's Kind are ignored.
type CMW struct {
	Kind Kind
	// Format is the serialization the node was parsed from. [CMW.Marshal]
	// and [EncodeExtension] encode in this format; MarshalCBOR and
	// MarshalJSON encode in theirs regardless of it.
	Format Format

	// Record: the type is either MediaType (a Content-Type, e.g.
	// "application/eat+cwt") or, in CBOR only, a CoAP Content-Format
	// (HasContentFormat set); exactly one of the two is present.
	MediaType        string
	ContentFormat    uint16
	HasContentFormat bool
	// Value is the wrapped conceptual message (record and tag). Parsers
	// return a copy, never a slice of their input.
	Value []byte
	// Indicator is the record's "ind" field; 0 means absent.
	Indicator Indicator

	// Tag is the CBOR tag number of a tag CMW, in the RFC 9277 range
	// [TNMin, TNMax]; its content is Value.
	Tag uint64

	// CollectionType is the collection's "__cmwc_t" (absolute URI or dotted
	// OID); empty means absent.
	CollectionType string
	// Entries are the collection's members. Parsers return them in the
	// order their keys are sorted by the canonical encoding of the
	// format (bytewise order of the encoded CBOR key; UTF-16 order of the
	// JSON key). Encoders sort on their own, so any order is accepted.
	Entries []Entry
}

// Get returns the entry of collection c labelled l, or nil if c is not a
// collection or has no such entry.
func (c *CMW) Get(l Label) *CMW {
	if c == nil || c.Kind != KindCollection {
		return nil
	}
	for _, e := range c.Entries {
		if e.Label == l {
			return e.CMW
		}
	}
	return nil
}

// Walk calls fn for every leaf (record or tag) of the tree, depth first in
// Entries order, with the labels leading to it from c (empty for a leaf at
// the top). fn must not retain path. Walk stops at and returns the first
// error fn returns.
func (c *CMW) Walk(fn func(path []Label, leaf *CMW) error) error {
	return c.walk(nil, fn)
}

func (c *CMW) walk(path []Label, fn func([]Label, *CMW) error) error {
	if c == nil {
		return nil
	}
	if c.Kind != KindCollection {
		return fn(slices.Clip(path), c)
	}
	for _, e := range c.Entries {
		if err := e.CMW.walk(append(path, e.Label), fn); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks c against the CMW grammar of its Format and against this
// package's limits, the checks the encoders make.
func (c *CMW) Validate() error {
	if c == nil {
		return malformed("CMW", "non-nil", "nil")
	}
	if c.Format != FormatCBOR && c.Format != FormatJSON {
		return malformed("format", "CBOR or JSON", c.Format)
	}
	return check(c, c.Format, 0)
}

// check validates node c for encoding in format f; depth is the number of
// enclosing collections.
func check(c *CMW, f Format, depth int) error {
	if c == nil {
		return malformed("CMW", "non-nil", "nil")
	}
	switch c.Kind {
	case KindRecord:
		return checkRecord(c, f)
	case KindTag:
		if f != FormatCBOR {
			return malformed("tag", "CBOR serialization (JSON has no tag CMW)", f)
		}
		if _, err := ContentFormat(c.Tag); err != nil {
			return err
		}
		return nil
	case KindCollection:
		return checkCollection(c, f, depth+1)
	}
	return malformed("kind", "record, tag or collection", c.Kind)
}

func checkRecord(c *CMW, f Format) error {
	switch {
	case c.HasContentFormat && c.MediaType != "":
		return malformed("record type", "either a media type or a content-format", "both")
	case c.HasContentFormat:
		if f == FormatJSON {
			return malformed("record type", "media type (JSON records have no content-format)", c.ContentFormat)
		}
	default:
		if err := checkMediaType(c.MediaType); err != nil {
			return err
		}
	}
	if f == FormatJSON && len(c.Value) == 0 {
		return malformed("record value", "non-empty (JSON base64url-string)", "empty")
	}
	if c.Indicator != 0 {
		return checkIndicator(uint64(c.Indicator))
	}
	return nil
}

func checkCollection(c *CMW, f Format, depth int) error {
	if depth > maxDepth {
		return limitErr("collection nesting", fmt.Sprintf("at most %d levels", maxDepth), depth)
	}
	switch n := len(c.Entries); {
	case n == 0:
		return malformed("collection", "at least one entry", "none")
	case n > maxEntries:
		return limitErr("collection", fmt.Sprintf("at most %d entries", maxEntries), n)
	}
	if c.CollectionType != "" {
		if err := checkCollectionType(c.CollectionType); err != nil {
			return err
		}
	}
	seen := make(map[Label]struct{}, len(c.Entries))
	for _, e := range c.Entries {
		if err := checkLabel(e.Label, f); err != nil {
			return err
		}
		if _, dup := seen[e.Label]; dup {
			return malformed("collection label", "unique labels", "duplicate "+e.Label.pathElem())
		}
		seen[e.Label] = struct{}{}
		if err := check(e.CMW, f, depth); err != nil {
			return inEntry(err, e.Label)
		}
	}
	return nil
}

func checkLabel(l Label, f Format) error {
	s, isText := l.Text()
	if !isText {
		if f == FormatJSON {
			return malformed("collection label", "text (JSON labels are strings)", l.num)
		}
		return nil
	}
	if s == collectionTypeKey {
		return malformed("collection label", "not the reserved "+strconv.Quote(collectionTypeKey), strconv.Quote(s))
	}
	if !utf8.ValidString(s) {
		return malformed("collection label", "valid UTF-8", strconv.Quote(s))
	}
	return nil
}

// Marshal encodes c in its Format.
func (c *CMW) Marshal() ([]byte, error) {
	if c == nil {
		return nil, malformed("CMW", "non-nil", "nil")
	}
	switch c.Format {
	case FormatCBOR:
		return c.MarshalCBOR()
	case FormatJSON:
		return c.MarshalJSON()
	}
	return nil, malformed("format", "CBOR or JSON", c.Format)
}

// Demux classifies a serialized CMW by its first byte, as the draft's
// informative demultiplexing pseudocode does: 0x82/0x83/0x9f CBOR record,
// 0xda CBOR tag, 0xa0..0xbb/0xbf CBOR collection, '[' JSON record, '{' JSON
// collection. ok is false for any other first byte (or empty input). Demux
// does not validate anything beyond that byte.
func Demux(b []byte) (kind Kind, format Format, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch c := b[0]; {
	case c == 0x82 || c == 0x83 || c == 0x9f:
		return KindRecord, FormatCBOR, true
	case c == 0xda:
		return KindTag, FormatCBOR, true
	case c == '[':
		return KindRecord, FormatJSON, true
	case c == '{':
		return KindCollection, FormatJSON, true
	case (c >= 0xa0 && c <= 0xbb) || c == 0xbf:
		return KindCollection, FormatCBOR, true
	}
	return 0, 0, false
}

// Parse parses a CBOR or JSON CMW, choosing the serialization from the first
// byte: '[' and '{' are JSON (neither starts a CBOR array, map or tag);
// a CBOR array, map or tag head is CBOR. Unlike [ParseJSON], Parse accepts
// no leading JSON whitespace.
func Parse(b []byte) (*CMW, error) {
	if len(b) == 0 {
		return nil, malformed("CMW", "a CBOR or JSON CMW", "empty input")
	}
	switch c := b[0]; {
	case c == '[' || c == '{':
		return ParseJSON(b)
	case c >= 0x80 && c <= 0xdf:
		return ParseCBOR(b)
	}
	return nil, malformed("CMW first byte", "CBOR array, map or tag, or JSON '[' or '{'", fmt.Sprintf("%#02x", b[0]))
}
