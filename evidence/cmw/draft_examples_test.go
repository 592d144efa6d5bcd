package cmw

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// The examples below are those of draft-ietf-rats-msg-wrap (cddl/*.diag and
// cddl/*.json in the draft's repository). The CBOR wire bytes were written
// by hand from the diagnostic notation (RFC 8949 encoding, annotated).

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

var exampleValue = []byte{0x23, 0x47, 0xda, 0x55} // h'2347da55', base64url "I0faVQ"

// cmw-example-1.diag: [64999, h'2347da55']
const hexRecordCF = `82 19fde7 44 2347da55`

// cmw-example-tag-1.diag: 1668612070(h'2347da55'); 1668612070 = 0x6374ffe6 = TN(64999)
const hexTag = `da 6374ffe6 44 2347da55`

// cmw-example-3.diag: ["application/rim+cose", h'd28440a044d901f5a040', 3]
const hexRecordInd3 = `83 74 6170706c69636174696f6e2f72696d2b636f7365 4a d28440a044d901f5a040 03`

// collection-example-2.diag (the CBOR collection of draft -23):
//
//	{ "__cmwc_t": "tag:example.com,2024:composite-attester",
//	  0: [30001, h'2347da55', 4],
//	  1: 1668576935(h'2347da55'),
//	  2: ["application/eat+jwt", h'2e2e2e', 8] }
//
// in deterministic key order 0, 1, 2, "__cmwc_t".
const hexCollection = `a4
	00 83 197531 44 2347da55 04
	01 da 637476a7 44 2347da55
	02 83 73 6170706c69636174696f6e2f6561742b6a7774 43 2e2e2e 08
	68 5f5f636d77635f74 7827 7461673a6578616d706c652e636f6d2c323032343a636f6d706f736974652d6174746573746572`

// collection-example-1.diag (earlier revision, same shape with CF 64999).
const hexCollectionCF64999 = `a4
	00 83 19fde7 44 2347da55 04
	01 da 6374ffe6 44 2347da55
	02 83 73 6170706c69636174696f6e2f6561742b6a7774 44 4c693475 08
	68 5f5f636d77635f74 7827 7461673a6578616d706c652e636f6d2c323032343a636f6d706f736974652d6174746573746572`

// cmw-example-1.json
const jsonRecord = `[
  "application/vnd.example.rats-conceptual-msg",
  "I0faVQ"
]
`

// cmw-example-2.json
const jsonRecordParams = `[
  "application/eat+cwt; eat_profile=\"tag:psacertified.org,2023:psa#tfm\"",
  "I0faVQ"
]
`

// collection-example-1.json: "e30K" = "{}\n", "oA" = h'a0'.
const jsonCollection = `{
  "attester A": [
    "application/eat-ucs+json",
    "e30K",
    4
  ],
  "attester B": [
    "application/eat-ucs+cbor",
    "oA",
    4
  ]
}
`

const jsonCollectionCanonical = `{"attester A":["application/eat-ucs+json","e30K",4],"attester B":["application/eat-ucs+cbor","oA",4]}`

// collection-example-json-1.diag: "YS5iLmMK" = "a.b.c\n".
const jsonCollectionNoInd = `{
  "array 1": [
    "application/my",
    "e30K"
  ],
  "array 2": [
    "application/ear+json",
    "YS5iLmMK"
  ]
}
`

func TestExampleCBORRecord(t *testing.T) {
	in := unhex(t, hexRecordCF)
	c, err := ParseCBOR(in)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != KindRecord || c.Format != FormatCBOR {
		t.Errorf("kind/format = %v/%v, want record/CBOR", c.Kind, c.Format)
	}
	if !c.HasContentFormat || c.ContentFormat != 64999 || c.MediaType != "" {
		t.Errorf("type = cf %v %d, media %q; want cf 64999", c.HasContentFormat, c.ContentFormat, c.MediaType)
	}
	if !bytes.Equal(c.Value, exampleValue) || c.Indicator != 0 {
		t.Errorf("value %x ind %d, want 2347da55 and no ind", c.Value, c.Indicator)
	}
	out, err := c.MarshalCBOR()
	if err != nil || !bytes.Equal(out, in) {
		t.Errorf("MarshalCBOR = %x, %v; want %x", out, err, in)
	}
}

func TestExampleCBORTag(t *testing.T) {
	in := unhex(t, hexTag)
	c, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != KindTag || c.Tag != 1668612070 || !bytes.Equal(c.Value, exampleValue) {
		t.Errorf("got kind %v tag %d value %x; want tag 1668612070 value 2347da55", c.Kind, c.Tag, c.Value)
	}
	if cf, err := ContentFormat(c.Tag); err != nil || cf != 64999 {
		t.Errorf("ContentFormat(%d) = %d, %v; want 64999", c.Tag, cf, err)
	}
	out, err := c.MarshalCBOR()
	if err != nil || !bytes.Equal(out, in) {
		t.Errorf("MarshalCBOR = %x, %v; want %x", out, err, in)
	}
}

func TestExampleCBORRecordIndicator(t *testing.T) {
	in := unhex(t, hexRecordInd3)
	c, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if c.MediaType != "application/rim+cose" || c.HasContentFormat {
		t.Errorf("type = %q (cf %v), want application/rim+cose", c.MediaType, c.HasContentFormat)
	}
	// The draft: ind 0b0000_0011 = Reference Values and Endorsements.
	if c.Indicator != 3 || !c.Indicator.Has(ReferenceValues|Endorsements) || c.Indicator.Has(Evidence) {
		t.Errorf("ind = %d, want 3", c.Indicator)
	}
	if got := c.Indicator.String(); got != "reference-values|endorsements" {
		t.Errorf("ind String = %q", got)
	}
	if !bytes.Equal(c.Value, unhex(t, "d28440a044d901f5a040")) {
		t.Errorf("value = %x", c.Value)
	}
	out, err := c.MarshalCBOR()
	if err != nil || !bytes.Equal(out, in) {
		t.Errorf("MarshalCBOR = %x, %v; want %x", out, err, in)
	}
}

func TestExampleCBORCollection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hex    string
		cf     uint16
		tag    uint64
		cValue []byte
	}{
		{"draft-23", hexCollection, 30001, 1668576935, []byte{0x2e, 0x2e, 0x2e}},
		{"earlier", hexCollectionCF64999, 64999, 1668612070, []byte{0x4c, 0x69, 0x34, 0x75}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := unhex(t, tc.hex)
			c, err := Parse(in)
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != KindCollection || c.Format != FormatCBOR {
				t.Fatalf("kind/format = %v/%v", c.Kind, c.Format)
			}
			if c.CollectionType != "tag:example.com,2024:composite-attester" {
				t.Errorf("__cmwc_t = %q", c.CollectionType)
			}
			if len(c.Entries) != 3 {
				t.Fatalf("%d entries, want 3", len(c.Entries))
			}
			for i, e := range c.Entries {
				if n, ok := e.Label.Int(); !ok || n != int64(i) {
					t.Errorf("entry %d label = %v, want integer %d", i, e.Label, i)
				}
			}
			a, b, cc := c.Get(IntLabel(0)), c.Get(IntLabel(1)), c.Get(IntLabel(2))
			if a.Kind != KindRecord || !a.HasContentFormat || a.ContentFormat != tc.cf || a.Indicator != Evidence {
				t.Errorf("attester A = %+v, want record cf %d ind 4 (evidence)", a, tc.cf)
			}
			if b.Kind != KindTag || b.Tag != tc.tag || !bytes.Equal(b.Value, exampleValue) {
				t.Errorf("attester B = %+v, want tag %d", b, tc.tag)
			}
			if cf, err := ContentFormat(b.Tag); err != nil || cf != tc.cf {
				t.Errorf("ContentFormat(attester B) = %d, %v; want %d", cf, err, tc.cf)
			}
			if cc.MediaType != "application/eat+jwt" || !bytes.Equal(cc.Value, tc.cValue) || cc.Indicator != AttestationResults {
				t.Errorf("attester C = %+v, want application/eat+jwt ind 8 (attestation results)", cc)
			}
			out, err := c.MarshalCBOR()
			if err != nil || !bytes.Equal(out, in) {
				t.Errorf("MarshalCBOR = %x, %v; want %x", out, err, in)
			}
		})
	}
}

func TestExampleJSONRecords(t *testing.T) {
	for _, tc := range []struct {
		in, media, canonical string
		cborHead             string // array and text-string heads of the same record in CBOR
	}{
		{jsonRecord, "application/vnd.example.rats-conceptual-msg", `["application/vnd.example.rats-conceptual-msg","I0faVQ"]`, "82 782b"},
		{jsonRecordParams, `application/eat+cwt; eat_profile="tag:psacertified.org,2023:psa#tfm"`,
			`["application/eat+cwt; eat_profile=\"tag:psacertified.org,2023:psa#tfm\"","I0faVQ"]`, "82 7844"},
	} {
		c, err := ParseJSON([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.media, err)
		}
		if c.Kind != KindRecord || c.Format != FormatJSON || c.MediaType != tc.media || !bytes.Equal(c.Value, exampleValue) {
			t.Errorf("got %+v, want record %q value 2347da55", c, tc.media)
		}
		out, err := c.MarshalJSON()
		if err != nil || string(out) != tc.canonical {
			t.Errorf("MarshalJSON = %s, %v; want %s", out, err, tc.canonical)
		}
		// Parse demuxes only on the first byte, which is '['.
		if _, err := Parse([]byte(tc.in)); err != nil {
			t.Errorf("Parse: %v", err)
		}
		// The same record in CBOR: [media-type, h'2347da55'].
		cb, err := c.MarshalCBOR()
		if err != nil {
			t.Fatal(err)
		}
		want := append(append(unhex(t, tc.cborHead), tc.media...), 0x44, 0x23, 0x47, 0xda, 0x55)
		if !bytes.Equal(cb, want) {
			t.Errorf("MarshalCBOR = %x", cb)
		}
	}
}

func TestExampleJSONCollection(t *testing.T) {
	c, err := ParseJSON([]byte(jsonCollection))
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != KindCollection || c.Format != FormatJSON || c.CollectionType != "" || len(c.Entries) != 2 {
		t.Fatalf("got %+v", c)
	}
	a, b := c.Get(TextLabel("attester A")), c.Get(TextLabel("attester B"))
	if a == nil || a.MediaType != "application/eat-ucs+json" || string(a.Value) != "{}\n" || a.Indicator != Evidence {
		t.Errorf("attester A = %+v", a)
	}
	if b == nil || b.MediaType != "application/eat-ucs+cbor" || !bytes.Equal(b.Value, []byte{0xa0}) || b.Indicator != Evidence {
		t.Errorf("attester B = %+v", b)
	}
	if c.Get(IntLabel(0)) != nil {
		t.Error("Get(0) found an entry in a JSON collection")
	}
	out, err := c.Marshal()
	if err != nil || string(out) != jsonCollectionCanonical {
		t.Errorf("Marshal = %s, %v; want %s", out, err, jsonCollectionCanonical)
	}

	// Converted to CBOR and back, the JSON is unchanged.
	cb, err := c.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ParseCBOR(cb)
	if err != nil {
		t.Fatal(err)
	}
	out2, err := c2.MarshalJSON()
	if err != nil || string(out2) != jsonCollectionCanonical {
		t.Errorf("JSON after CBOR round trip = %s, %v", out2, err)
	}

	c3, err := ParseJSON([]byte(jsonCollectionNoInd))
	if err != nil {
		t.Fatal(err)
	}
	if e := c3.Get(TextLabel("array 2")); e == nil || e.MediaType != "application/ear+json" || string(e.Value) != "a.b.c\n" || e.Indicator != 0 {
		t.Errorf("array 2 = %+v", e)
	}
}

// collection-example-2.json of earlier revisions tunnels a CBOR record into
// a JSON collection with the sentinel type "#cmw-c2j-tunnel". Draft -23
// dropped tunnels: JSON collections hold JSON CMWs only, and "#..." is not
// a media type.
func TestExampleTunnelRejected(t *testing.T) {
	const tunnel = `{
  "attester A": [
    "application/eat-ucs+json",
    "e30K",
    4
  ],
  "attester B (tunnelled)": [
    "#cmw-c2j-tunnel",
    "g3gYYXBwbGljYXRpb24vZWF0LXVjcytjYm9yQaAE"
  ]
}
`
	_, err := ParseJSON([]byte(tunnel))
	wantErr(t, err, ErrMalformed, `entry "attester B (tunnelled)": record type: want media type`)
}

// collection-example-cbor-1.diag of an earlier revision put a base64 text
// value into a CBOR record; CBOR record values are byte strings.
func TestExampleTextValueInCBORRejected(t *testing.T) {
	in := unhex(t, `a1 6a 61747465737465722043 83 73 6170706c69636174696f6e2f6561742b6a7774 68 5a586c4b61474a48 08`)
	_, err := ParseCBOR(in)
	wantErr(t, err, ErrMalformed, `entry "attester C": record value: want byte string, got text string`)
}
