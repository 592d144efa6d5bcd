package cmw

import (
	"testing"

	"github.com/ratls/ratls/internal/testvectors"
)

func BenchmarkParseCBORTaggedCCA(b *testing.B) {
	in := readVector(b, testvectors.Path("cca-tfm/cca_example_token.cbor"))
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, _, err := ParseCBORTagged(in, ccaTag); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseCBORCollection(b *testing.B) {
	in := unhex(b, hexCollection)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseCBOR(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseJSONCollection(b *testing.B) {
	in := []byte(jsonCollection)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseJSON(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalCBORTaggedCCA(b *testing.B) {
	_, c, err := ParseCBORTagged(readVector(b, testvectors.Path("cca-tfm/cca_example_token.cbor")), ccaTag)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.MarshalCBORTagged(ccaTag); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalJSONCollection(b *testing.B) {
	c, err := ParseJSON([]byte(jsonCollection))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseExtension(b *testing.B) {
	c, err := ParseCBOR(unhex(b, hexCollection))
	if err != nil {
		b.Fatal(err)
	}
	der, err := EncodeExtension(c)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseExtension(der); err != nil {
			b.Fatal(err)
		}
	}
}
