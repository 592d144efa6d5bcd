package cmw

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func TestTN(t *testing.T) {
	// Values from the draft's examples and docs/formats.md, "Conceptual Message Wrappers", and the
	// range ends of RFC 9277.
	for _, tc := range []struct {
		cf uint16
		tn uint64
	}{
		{64999, 1668612070},
		{30001, 1668576935},
		{0, 1668546817},
		{65024, 1668612095},
		{254, 0x637401ff},
		{255, 0x63740201},
	} {
		got, err := TN(tc.cf)
		if err != nil || got != tc.tn {
			t.Errorf("TN(%d) = %d, %v; want %d", tc.cf, got, err, tc.tn)
		}
		cf, err := ContentFormat(tc.tn)
		if err != nil || cf != tc.cf {
			t.Errorf("ContentFormat(%d) = %d, %v; want %d", tc.tn, cf, err, tc.cf)
		}
	}
	for _, cf := range []uint16{65025, 65535} {
		_, err := TN(cf)
		wantErr(t, err, ErrMalformed, "content-format: want at most 65024 to have a TN tag")
	}
	for _, tn := range []uint64{0, 60000, TNMin - 1, TNMax + 1, 0x63740200, 0x6374ff00} {
		if _, err := ContentFormat(tn); !errors.Is(err, ErrMalformed) {
			t.Errorf("ContentFormat(%d) error = %v, want ErrMalformed", tn, err)
		}
	}
	// TN is a bijection from [0, 65024] onto the TN images.
	images := 0
	for cf := 0; cf <= MaxTNContentFormat; cf++ {
		tn, err := TN(uint16(cf))
		if err != nil || tn < TNMin || tn > TNMax {
			t.Fatalf("TN(%d) = %d, %v", cf, tn, err)
		}
		if back, err := ContentFormat(tn); err != nil || int(back) != cf {
			t.Fatalf("ContentFormat(TN(%d)) = %d, %v", cf, back, err)
		}
	}
	for tn := uint64(TNMin); tn <= TNMax; tn++ {
		if _, err := ContentFormat(tn); err == nil {
			images++
		}
	}
	if images != MaxTNContentFormat+1 {
		t.Errorf("%d TN images in range, want %d", images, MaxTNContentFormat+1)
	}
}

func TestIndicator(t *testing.T) {
	for _, tc := range []struct {
		i    Indicator
		v    uint32
		name string
	}{
		{ReferenceValues, 1, "reference-values"},
		{Endorsements, 2, "endorsements"},
		{Evidence, 4, "evidence"},
		{AttestationResults, 8, "attestation-results"},
		{AppraisalPolicy, 16, "appraisal-policy"},
		{Evidence | AttestationResults, 12, "evidence|attestation-results"},
		{0, 0, "none"},
		{1 << 31, 1 << 31, "bit31"},
	} {
		if uint32(tc.i) != tc.v || tc.i.String() != tc.name {
			t.Errorf("%d: value %d String %q, want %d %q", tc.i, uint32(tc.i), tc.i.String(), tc.v, tc.name)
		}
	}
	if !(Evidence | AttestationResults).Has(Evidence) || Evidence.Has(Evidence|AttestationResults) {
		t.Error("Has is wrong")
	}
	for v := uint64(1); v <= 31; v++ {
		if err := checkIndicator(v); err != nil {
			t.Errorf("ind %d rejected: %v", v, err)
		}
	}
}

func TestLabel(t *testing.T) {
	i, s := IntLabel(-7), TextLabel("-7")
	if i == s {
		t.Error("integer and text labels compare equal")
	}
	if n, ok := i.Int(); !ok || n != -7 {
		t.Errorf("Int() = %d, %v", n, ok)
	}
	if _, ok := i.Text(); ok {
		t.Error("integer label has text")
	}
	if v, ok := s.Text(); !ok || v != "-7" {
		t.Errorf("Text() = %q, %v", v, ok)
	}
	if i.String() != "-7" || s.String() != "-7" || i.pathElem() != "-7" || s.pathElem() != `"-7"` {
		t.Errorf("String/pathElem: %s %s %s %s", i, s, i.pathElem(), s.pathElem())
	}
	if (Label{}) != IntLabel(0) {
		t.Error("zero Label is not integer 0")
	}
}

func record(media string, v ...byte) *CMW {
	return &CMW{Kind: KindRecord, Format: FormatCBOR, MediaType: media, Value: v}
}

func TestWalkAndGet(t *testing.T) {
	inner := &CMW{Kind: KindCollection, Format: FormatCBOR, Entries: []Entry{
		{TextLabel("gpu"), record("a/gpu", 2)},
		{IntLabel(-1), record("a/nic", 3)},
	}}
	root := &CMW{Kind: KindCollection, Format: FormatCBOR, Entries: []Entry{
		{IntLabel(5), record("a/cpu", 1)},
		{TextLabel("devices"), inner},
	}}
	var got []string
	err := root.Walk(func(path []Label, leaf *CMW) error {
		var p []string
		for _, l := range path {
			p = append(p, l.pathElem())
		}
		got = append(got, strings.Join(p, "/")+"="+leaf.MediaType)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`5=a/cpu`, `"devices"/"gpu"=a/gpu`, `"devices"/-1=a/nic`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Walk visited %q, want %q", got, want)
	}

	stop := errors.New("stop")
	n := 0
	if err := root.Walk(func([]Label, *CMW) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("Walk returned %v after %d calls, want stop after 1", err, n)
	}

	leaf := record("a/b", 1)
	if err := leaf.Walk(func(path []Label, l *CMW) error {
		if len(path) != 0 || l != leaf {
			t.Errorf("leaf walk: path %v", path)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	if root.Get(TextLabel("devices")).Get(IntLabel(-1)).MediaType != "a/nic" {
		t.Error("Get path failed")
	}
	if root.Get(TextLabel("5")) != nil || leaf.Get(IntLabel(0)) != nil || (*CMW)(nil).Get(IntLabel(0)) != nil {
		t.Error("Get found a missing entry")
	}
}

func TestMarshalErrors(t *testing.T) {
	ok := record("a/b", 1)
	coll := func(es ...Entry) *CMW { return &CMW{Kind: KindCollection, Format: FormatCBOR, Entries: es} }
	for _, tc := range []struct {
		name   string
		c      *CMW
		format Format
		kind   error
		msg    string
	}{
		{"nil", nil, FormatCBOR, ErrMalformed, "CMW: want non-nil, got nil"},
		{"zero kind", &CMW{}, FormatCBOR, ErrMalformed, "kind: want record, tag or collection, got Kind(0)"},
		{"both types", &CMW{Kind: KindRecord, MediaType: "a/b", HasContentFormat: true}, FormatCBOR, ErrMalformed, "record type: want either a media type or a content-format, got both"},
		{"no type", &CMW{Kind: KindRecord}, FormatCBOR, ErrMalformed, `record type: want media type (RFC 9193 Content-Type), got ""`},
		{"bad media type", record("nope"), FormatCBOR, ErrMalformed, `got "nope"`},
		{"ind unregistered", &CMW{Kind: KindRecord, MediaType: "a/b", Indicator: 64}, FormatCBOR, ErrMalformed, "record ind: want only registered cm-type bits"},
		{"tag outside range", &CMW{Kind: KindTag, Tag: 60000}, FormatCBOR, ErrMalformed, "tag number: want RFC 9277 TN range"},
		{"empty collection", coll(), FormatCBOR, ErrMalformed, "collection: want at least one entry, got none"},
		{"nil entry", coll(Entry{IntLabel(1), nil}), FormatCBOR, ErrMalformed, "entry 1: CMW: want non-nil, got nil"},
		{"duplicate label", coll(Entry{IntLabel(1), ok}, Entry{IntLabel(1), ok}), FormatCBOR, ErrMalformed, "collection label: want unique labels, got duplicate 1"},
		{"reserved label", coll(Entry{TextLabel("__cmwc_t"), ok}), FormatCBOR, ErrMalformed, `collection label: want not the reserved "__cmwc_t"`},
		{"invalid UTF-8 label", coll(Entry{TextLabel("\xff"), ok}), FormatCBOR, ErrMalformed, "collection label: want valid UTF-8"},
		{"bad collection type", &CMW{Kind: KindCollection, CollectionType: "x", Entries: []Entry{{IntLabel(1), ok}}}, FormatCBOR, ErrMalformed, `collection type (__cmwc_t): want absolute URI or dotted OID, got "x"`},
		{"nested error", coll(Entry{TextLabel("a"), coll(Entry{IntLabel(2), &CMW{Kind: KindTag}})}), FormatCBOR, ErrMalformed, `entry "a"/2: tag number`},
		{"too many entries", coll(make([]Entry, maxEntries+1)...), FormatCBOR, ErrLimit, "collection: want at most 64 entries, got 65"},

		{"JSON tag", &CMW{Kind: KindTag, Tag: 1668612070}, FormatJSON, ErrMalformed, "tag: want CBOR serialization (JSON has no tag CMW), got JSON"},
		{"JSON content-format", &CMW{Kind: KindRecord, HasContentFormat: true, ContentFormat: 30001, Value: []byte{1}}, FormatJSON, ErrMalformed, "record type: want media type (JSON records have no content-format), got 30001"},
		{"JSON empty value", record("a/b"), FormatJSON, ErrMalformed, "record value: want non-empty (JSON base64url-string), got empty"},
		{"JSON int label", coll(Entry{IntLabel(3), ok}), FormatJSON, ErrMalformed, "collection label: want text (JSON labels are strings), got 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.format == FormatCBOR {
				_, err = tc.c.MarshalCBOR()
			} else {
				_, err = tc.c.MarshalJSON()
			}
			wantErr(t, err, tc.kind, tc.msg)
		})
	}

	_, err := (&CMW{Kind: KindRecord, MediaType: "a/b"}).Marshal()
	wantErr(t, err, ErrMalformed, "format: want CBOR or JSON, got Format(0)")
	_, err = (*CMW)(nil).Marshal()
	wantErr(t, err, ErrMalformed, "CMW: want non-nil")
	wantErr(t, (*CMW)(nil).Validate(), ErrMalformed, "CMW: want non-nil")
	wantErr(t, (&CMW{Kind: KindTag, Tag: TNMin}).Validate(), ErrMalformed, "format: want CBOR or JSON")
	wantErr(t, (&CMW{Kind: KindTag, Tag: TNMin, Format: FormatJSON}).Validate(), ErrMalformed, "tag: want CBOR serialization")
	if err := (&CMW{Kind: KindTag, Tag: TNMin, Format: FormatCBOR}).Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestMarshalCanonical(t *testing.T) {
	// Entries in any order, collection type last: the encoders sort.
	c := &CMW{
		Kind: KindCollection, Format: FormatCBOR, CollectionType: "1.2.3",
		Entries: []Entry{
			{TextLabel("zz"), record("a/b", 1)},
			{TextLabel("b"), record("a/b", 1)},
			{IntLabel(-2), record("a/b", 1)},
			{IntLabel(300), record("a/b", 1)},
			{IntLabel(7), &CMW{Kind: KindTag, Tag: 1668576935, Value: []byte{1}}},
		},
	}
	// 7, 300, -2, "b", "zz", "__cmwc_t"; [ "a/b", h'01' ] = 82 63612f62 4101.
	want := unhex(t, `a6
		07 da637476a7 4101
		19012c 82 63612f62 4101
		21 82 63612f62 4101
		6162 82 63612f62 4101
		627a7a 82 63612f62 4101
		685f5f636d77635f74 65312e322e33`)
	got, err := c.MarshalCBOR()
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("MarshalCBOR =\n%x, %v; want\n%x", got, err, want)
	}
	if c.Entries[0].Label != TextLabel("zz") {
		t.Error("MarshalCBOR reordered the caller's entries")
	}

	// JSON: keys by UTF-16 code units, so "B" < "__cmwc_t" < "a" < "é" < "😀" < "ｆ"
	// (U+1F600 is the surrogate pair d83d de00, below U+FF46).
	j := &CMW{
		Kind: KindCollection, Format: FormatJSON, CollectionType: "tag:x",
		Entries: []Entry{
			{TextLabel("ｆ"), record("a/b", 0xff)},
			{TextLabel("😀"), record("a/b", 0xff)},
			{TextLabel("é"), record("a/b", 0xff)},
			{TextLabel("a"), record("a/b", 0xff)},
			{TextLabel("B\"\\\n\x01"), record("a/b", 0xff)},
		},
	}
	wantJSON := `{"B\"\\\n\u0001":["a/b","_w"],"__cmwc_t":"tag:x","a":["a/b","_w"],"é":["a/b","_w"],"😀":["a/b","_w"],"ｆ":["a/b","_w"]}`
	gotJSON, err := j.MarshalJSON()
	if err != nil || string(gotJSON) != wantJSON {
		t.Errorf("MarshalJSON =\n%s, %v; want\n%s", gotJSON, err, wantJSON)
	}
	back, err := ParseJSON(gotJSON)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range back.Entries {
		order = append(order, e.Label.String())
	}
	if want := []string{"B\"\\\n\x01", "a", "é", "😀", "ｆ"}; !reflect.DeepEqual(order, want) {
		t.Errorf("parsed JSON entry order %q, want %q", order, want)
	}
}

func TestMarshalCBORTagged(t *testing.T) {
	c := &CMW{Kind: KindCollection, Format: FormatCBOR, Entries: []Entry{{IntLabel(1), record("a/b", 1)}}}
	got, err := c.MarshalCBORTagged(907)
	// 907 = d9 038b
	if want := unhex(t, `d9038b a1 01 82 63612f62 4101`); err != nil || !bytes.Equal(got, want) {
		t.Errorf("MarshalCBORTagged = %x, %v; want %x", got, err, want)
	}
	_, err = c.MarshalCBORTagged(TNMin)
	wantErr(t, err, ErrMalformed, "outer tag: want a number outside the TN range")
	_, err = record("a/b", 1).MarshalCBORTagged(907)
	wantErr(t, err, ErrMalformed, "tagged content: want collection, got record")
	_, err = (*CMW)(nil).MarshalCBORTagged(907)
	wantErr(t, err, ErrMalformed, "got nil")
	_, err = (&CMW{Kind: KindCollection}).MarshalCBORTagged(907)
	wantErr(t, err, ErrMalformed, "at least one entry")
}

func TestParseCBORTaggedErrors(t *testing.T) {
	good := unhex(t, `d9038b a1 01 82 63612f62 4101`)
	if tag, c, err := ParseCBORTagged(good, 399, 907); err != nil || tag != 907 || c.Get(IntLabel(1)) == nil {
		t.Fatalf("ParseCBORTagged = %d, %+v, %v", tag, c, err)
	}
	_, _, err := ParseCBORTagged(good)
	wantErr(t, err, ErrMalformed, "allowed outer tags: want at least one, got none")
	_, _, err = ParseCBORTagged(good, 907, 1668612070)
	wantErr(t, err, ErrMalformed, "allowed outer tag: want a number outside the TN range, got 1668612070")
	_, _, err = ParseCBORTagged(good, 399)
	wantErr(t, err, ErrMalformed, "outer tag: want one of [399], got 907")
	_, _, err = ParseCBORTagged(unhex(t, `a1 01 82 63612f62 4101`), 907)
	wantErr(t, err, ErrMalformed, "outer tag: want CBOR tag [907], got map")
	_, _, err = ParseCBORTagged(unhex(t, `d9038b 82 63612f62 4101`), 907)
	wantErr(t, err, ErrMalformed, "outer tag content: want collection (map), got array")
	_, _, err = ParseCBORTagged(unhex(t, `d9038b a1 01 82 63612f62 4101 00`), 907)
	wantErr(t, err, ErrMalformed, "CBOR: want exactly one data item")
	_, _, err = ParseCBORTagged(unhex(t, `d9038b a1 01 82 63612f62 41`), 907)
	wantErr(t, err, ErrMalformed, "truncated input")
	_, _, err = ParseCBORTagged(nil, 907)
	wantErr(t, err, ErrMalformed, "tagged CBOR CMW: want non-empty input")
	_, _, err = ParseCBORTagged(append([]byte{0xd9, 0x03, 0x8b}, nestCBOR(t, maxDepth+1)...), 907)
	wantErr(t, err, ErrLimit, "collection nesting")
	if _, _, err := ParseCBORTagged(append([]byte{0xd9, 0x03, 0x8b}, nestCBOR(t, maxDepth)...), 907); err != nil {
		t.Errorf("depth %d under an outer tag: %v", maxDepth, err)
	}
}

// The CMW plugs into encoding/json and fxamacker/cbor as a field type, e.g.
// as the "cmw" claim of a JWT or CWT.
func TestStdlibInterfaces(t *testing.T) {
	type claims struct {
		CMW *CMW `json:"cmw" cbor:"299,keyasint"`
	}
	j := []byte(`{"cmw":` + jsonCollectionCanonical + `}`)
	var jc claims
	if err := json.Unmarshal(j, &jc); err != nil {
		t.Fatal(err)
	}
	if jc.CMW.Kind != KindCollection || len(jc.CMW.Entries) != 2 {
		t.Fatalf("json.Unmarshal gave %+v", jc.CMW)
	}
	out, err := json.Marshal(jc)
	if err != nil || !bytes.Equal(out, j) {
		t.Errorf("json.Marshal = %s, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"cmw":["a/b","AA",0]}`), &jc); !errors.Is(err, ErrMalformed) {
		t.Errorf("json.Unmarshal of a bad CMW: %v", err)
	}

	// {299: [30001, h'2347da55']}
	cb := unhex(t, `a1 19012b `+cborRecord)
	var cc claims
	if err := cbor.Unmarshal(cb, &cc); err != nil {
		t.Fatal(err)
	}
	if cc.CMW.ContentFormat != 30001 || !bytes.Equal(cc.CMW.Value, exampleValue) {
		t.Fatalf("cbor.Unmarshal gave %+v", cc.CMW)
	}
	out, err = cbor.Marshal(cc)
	if err != nil || !bytes.Equal(out, cb) {
		t.Errorf("cbor.Marshal = %x, %v", out, err)
	}
	if err := cbor.Unmarshal(unhex(t, `a1 19012b a0`), &cc); !errors.Is(err, ErrMalformed) {
		t.Errorf("cbor.Unmarshal of a bad CMW: %v", err)
	}
}

func TestParsedValuesAreCopies(t *testing.T) {
	in := unhex(t, hexRecordCF)
	c, err := ParseCBOR(in)
	if err != nil {
		t.Fatal(err)
	}
	in[len(in)-1] = 0
	if !bytes.Equal(c.Value, exampleValue) {
		t.Error("Value aliases the input")
	}
}

func TestJSONStringEscaping(t *testing.T) {
	// RFC 8785 section 3.2.2.2: short escapes for \b \t \n \f \r, \u00xx
	// (lowercase) for other controls, everything else literal.
	c := &CMW{Kind: KindCollection, Format: FormatJSON, Entries: []Entry{
		{TextLabel("\b\t\n\f\r\x00\x1f\x7f\"\\/<>&\u2028"), record("a/b", 1)},
	}}
	got, err := c.MarshalJSON()
	want := "{\"\\b\\t\\n\\f\\r\\u0000\\u001f\x7f\\\"\\\\/<>&\u2028\":[\"a/b\",\"AQ\"]}"
	if err != nil || string(got) != want {
		t.Errorf("MarshalJSON = %q, %v; want %q", got, err, want)
	}
	back, err := ParseJSON(got)
	if err != nil || back.Entries[0].Label != c.Entries[0].Label {
		t.Errorf("label after round trip = %+v, %v", back, err)
	}
}
