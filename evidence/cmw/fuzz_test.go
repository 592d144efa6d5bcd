package cmw

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/ratls/ratls/internal/testvectors"
)

func fuzzSeeds(f *testing.F) [][]byte {
	seeds := [][]byte{
		unhex(f, hexRecordCF),
		unhex(f, hexTag),
		unhex(f, hexRecordInd3),
		unhex(f, hexCollection),
		unhex(f, hexCollectionCF64999),
		unhex(f, `9f 197531 44 2347da55 ff`),
		unhex(f, `a2 01 `+cborRecord+` 1801 `+cborRecord),
		unhex(f, `d9ea60 82 40 40`),
		[]byte(jsonRecord),
		[]byte(jsonRecordParams),
		[]byte(jsonCollection),
		[]byte(jsonCollectionNoInd),
		[]byte(`{"__cmwc_t":"1.2.3","a":{"b":["a/b","AA",31]}}`),
		[]byte(`["a/b","I0faVQ==",0]`),
	}
	for _, p := range []string{
		testvectors.Path("cca-tfm/cca_example_token.cbor"),
		testvectors.Path("cca-tfm/cca_token.cbor"),
		testvectors.Path("cca-veraison/go/tf-rmm_cca_token.cbor"),
	} {
		b := readVector(f, p)
		seeds = append(seeds, b, b[3:]) // with and without the outer tag
	}
	return seeds
}

// checkRoundTrip asserts the encoder invariants for a successfully parsed
// CMW: it validates, encodes, parses back to an equal tree and re-encodes to
// the same bytes; and if it also has a form in the other serialization,
// converting there and back loses nothing.
func checkRoundTrip(t *testing.T, c *CMW) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("parsed CMW does not validate: %v", err)
	}
	out, err := c.Marshal()
	if err != nil {
		t.Fatalf("parsed CMW does not encode: %v", err)
	}
	c2, err := Parse(out)
	if err != nil {
		t.Fatalf("encoding %q does not parse: %v", out, err)
	}
	if !reflect.DeepEqual(c, c2) {
		t.Fatalf("round trip changed the CMW:\n%+v\n%+v", c, c2)
	}
	out2, err := c2.Marshal()
	if err != nil || !bytes.Equal(out, out2) {
		t.Fatalf("re-encoding differs: %q vs %q (%v)", out, out2, err)
	}

	cb, err := c.MarshalCBOR()
	if err != nil {
		t.Fatalf("MarshalCBOR: %v", err) // every JSON CMW has a CBOR form
	}
	if j, err := c.MarshalJSON(); err == nil {
		cj, err := ParseJSON(j)
		if err != nil {
			t.Fatalf("MarshalJSON output %q does not parse: %v", j, err)
		}
		cb2, err := cj.MarshalCBOR()
		if err != nil || !bytes.Equal(cb, cb2) {
			t.Fatalf("CBOR -> JSON -> CBOR changed %x to %x (%v)", cb, cb2, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if c != nil {
				t.Fatal("CMW returned with an error")
			}
			return
		}
		checkRoundTrip(t, c)
		// Parse agrees with the format-specific parser it chose.
		var direct *CMW
		if c.Format == FormatCBOR {
			direct, err = ParseCBOR(data)
		} else {
			direct, err = ParseJSON(data)
		}
		if err != nil || !reflect.DeepEqual(c, direct) {
			t.Fatalf("Parse and the %v parser disagree: %v", c.Format, err)
		}
	})
}

func FuzzParseCBORTagged(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tag, c, err := ParseCBORTagged(data, ccaTag, ccaLegacyTag)
		if err != nil {
			if c != nil {
				t.Fatal("CMW returned with an error")
			}
			return
		}
		if tag != ccaTag && tag != ccaLegacyTag {
			t.Fatalf("outer tag %d not allowed", tag)
		}
		checkRoundTrip(t, c)
		out, err := c.MarshalCBORTagged(tag)
		if err != nil {
			t.Fatalf("MarshalCBORTagged: %v", err)
		}
		tag2, c2, err := ParseCBORTagged(out, tag)
		if err != nil || tag2 != tag || !reflect.DeepEqual(c, c2) {
			t.Fatalf("tagged round trip: tag %d, %v", tag2, err)
		}
	})
}

func FuzzParseExtension(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		if len(s) < 128 {
			f.Add(append([]byte{0x04, byte(len(s))}, s...))
			f.Add(append([]byte{0x0c, byte(len(s))}, s...))
		}
	}
	f.Add(unhex(f, `30 0b 04 09 `+hexRecordCF))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseExtension(data)
		if err != nil {
			if c != nil {
				t.Fatal("CMW returned with an error")
			}
			return
		}
		checkRoundTrip(t, c)
		der, err := EncodeExtension(c)
		if err != nil {
			t.Fatalf("EncodeExtension: %v", err)
		}
		c2, err := ParseExtension(der)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("extension round trip: %v", err)
		}
	})
}
