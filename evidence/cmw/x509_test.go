package cmw

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/ratls/ratls/internal/testvectors"
)

func TestOIDExtension(t *testing.T) {
	// id-pe-cmw = 1.3.6.1.5.5.7.1.35; DER content 2b 06 01 05 05 07 01 23.
	der, err := asn1.Marshal(OIDExtension)
	if want := unhex(t, `06 08 2b06010505070123`); err != nil || !bytes.Equal(der, want) {
		t.Errorf("OID DER = %x, %v; want %x", der, err, want)
	}
	if OIDExtension.String() != "1.3.6.1.5.5.7.1.35" {
		t.Errorf("OID = %s", OIDExtension)
	}
}

func TestExtensionRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		c       func() (*CMW, error)
		wantDER string
	}{
		{"cbor record", func() (*CMW, error) { return ParseCBOR(unhex(t, hexRecordCF)) }, `04 09 ` + hexRecordCF},
		{"cbor tag", func() (*CMW, error) { return ParseCBOR(unhex(t, hexTag)) }, `04 0a ` + hexTag},
		// `["a/b","I0faVQ"]` is 16 bytes.
		{"json record", func() (*CMW, error) { return ParseJSON([]byte(`["a/b","I0faVQ"]`)) }, `0c 10 5b22612f62222c2249306661565122 5d`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.c()
			if err != nil {
				t.Fatal(err)
			}
			der, err := EncodeExtension(c)
			if want := unhex(t, tc.wantDER); err != nil || !bytes.Equal(der, want) {
				t.Fatalf("EncodeExtension = %x, %v; want %x", der, err, want)
			}
			back, err := ParseExtension(der)
			if err != nil {
				t.Fatal(err)
			}
			if back.Format != c.Format || !bytes.Equal(back.Value, c.Value) || back.Kind != c.Kind {
				t.Errorf("ParseExtension = %+v, want %+v", back, c)
			}
		})
	}

	// A CMW over 127 bytes uses a long-form DER length: ["a/b", 200 bytes]
	// is 82 63612f62 58c8 <200 bytes> = 207 (0xcf) bytes.
	big := &CMW{Kind: KindRecord, Format: FormatCBOR, MediaType: "a/b", Value: bytes.Repeat([]byte{7}, 200)}
	der, err := EncodeExtension(big)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, `04 81 cf 82 63612f62 58c8`); len(der) != 210 || !bytes.Equal(der[:len(want)], want) {
		t.Errorf("extension = %x..., %d bytes; want %x..., 210 bytes", der[:9], len(der), want)
	}
	if back, err := ParseExtension(der); err != nil || !bytes.Equal(back.Value, big.Value) {
		t.Errorf("ParseExtension = %+v, %v", back, err)
	}
}

func TestExtensionErrors(t *testing.T) {
	rec := hexRecordCF // 9 bytes
	for _, tc := range []struct {
		name, hex string
		kind      error
		msg       string
	}{
		{"empty", ``, ErrMalformed, "extension: want DER CMW CHOICE, got empty input"},
		{"TCG SEQUENCE wrapper", `30 0b 04 09 ` + rec, ErrMalformed, "extension CHOICE: want primitive universal OCTET STRING (cbor) or UTF8String (json), got class 0 tag 16 compound true"},
		{"constructed OCTET STRING", `24 0b 04 09 ` + rec, ErrMalformed, "compound true"},
		{"context tag", `80 09 ` + rec, ErrMalformed, "got class 2 tag 0"},
		{"PrintableString", `13 02 6162`, ErrMalformed, "extension CHOICE: want OCTET STRING (cbor, tag 4) or UTF8String (json, tag 12), got universal tag 19"},
		{"trailing bytes", `04 09 ` + rec + ` 00`, ErrMalformed, "extension: want exactly one DER value, got 1 trailing bytes"},
		{"non-minimal length", `04 81 09 ` + rec, ErrMalformed, "extension: want DER OCTET STRING or UTF8String"},
		{"lying length", `04 0a ` + rec, ErrMalformed, "extension: want DER OCTET STRING or UTF8String"},
		{"raw CBOR, no CHOICE", rec, ErrMalformed, "extension"},
		{"JSON in OCTET STRING", `04 10 5b22612f62222c2249306661565122 5d`, ErrMalformed, "CBOR"},
		{"CBOR in UTF8String", `0c 09 ` + rec, ErrMalformed, "JSON"},
		{"bad CMW inside", `04 09 83 19fde7 44 2347da55`, ErrMalformed, "truncated input"},
		{"empty OCTET STRING", `04 00`, ErrMalformed, "CBOR CMW: want non-empty input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseExtension(unhex(t, tc.hex))
			wantErr(t, err, tc.kind, tc.msg)
		})
	}
	_, err := ParseExtension(make([]byte, maxExtensionSize+1))
	wantErr(t, err, ErrLimit, "extension: want at most")

	_, err = EncodeExtension(nil)
	wantErr(t, err, ErrMalformed, "CMW: want non-nil")
	_, err = EncodeExtension(&CMW{Kind: KindRecord, MediaType: "a/b"})
	wantErr(t, err, ErrMalformed, "format: want CBOR or JSON")
	_, err = EncodeExtension(&CMW{Kind: KindTag, Tag: 1, Format: FormatCBOR})
	wantErr(t, err, ErrMalformed, "tag number")
	_, err = EncodeExtension(&CMW{Kind: KindTag, Tag: TNMin, Format: FormatJSON})
	wantErr(t, err, ErrMalformed, "tag: want CBOR serialization")
	_, err = NewExtension(nil)
	wantErr(t, err, ErrMalformed, "CMW: want non-nil")
}

// A certificate carrying a CMW in id-pe-cmw, written and read back with
// crypto/x509.
func TestExtensionInCertificate(t *testing.T) {
	c, err := ParseCBOR(unhex(t, hexCollection))
	if err != nil {
		t.Fatal(err)
	}
	ext, err := NewExtension(c)
	if err != nil {
		t.Fatal(err)
	}
	if ext.Critical || !ext.Id.Equal(OIDExtension) {
		t.Errorf("extension %v critical %v", ext.Id, ext.Critical)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(1),
		Subject:         pkix.Name{CommonName: "cmw test"},
		NotBefore:       time.Unix(0, 0),
		NotAfter:        time.Unix(1<<31, 0),
		ExtraExtensions: []pkix.Extension{ext},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range cert.Extensions {
		if !e.Id.Equal(OIDExtension) {
			continue
		}
		found = true
		got, err := ParseExtension(e.Value)
		if err != nil {
			t.Fatal(err)
		}
		out, err := got.MarshalCBOR()
		if err != nil || !bytes.Equal(out, unhex(t, hexCollection)) {
			t.Errorf("CMW from certificate = %x, %v", out, err)
		}
	}
	if !found {
		t.Error("id-pe-cmw extension not found in certificate")
	}
}

// The Interoperable RA-TLS evidence extension (2.23.133.5.4.9) of a real
// rats-rs certificate holds 60000([quote, claims]) (see
// testdata/ratls-certs/PROVENANCE.md): tagged CBOR in the DICE sense, not a
// CMW tag (60000 is outside the TN range and the content is an array), and
// not an id-pe-cmw CHOICE either.
func TestInteropRATLSEvidenceIsNotCMW(t *testing.T) {
	pemBytes, err := os.ReadFile(testvectors.Path("ratls-certs/rats-rs_demo-sgx-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		t.Fatal("no PEM block")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	oid := asn1.ObjectIdentifier{2, 23, 133, 5, 4, 9}
	var value []byte
	for _, e := range cert.Extensions {
		if e.Id.Equal(oid) {
			value = e.Value
		}
	}
	// PROVENANCE.md: ext 2.23.133.5.4.9 (4794 bytes), CBOR tag 60000.
	if len(value) != 4794 || !bytes.Equal(value[:3], []byte{0xd9, 0xea, 0x60}) {
		t.Fatalf("extension value: %d bytes starting %x, want 4794 bytes starting d9ea60", len(value), value[:min(3, len(value))])
	}
	if _, _, ok := Demux(value); ok {
		t.Error("Demux accepted 0xd9 as a CMW start")
	}
	_, err = Parse(value)
	wantErr(t, err, ErrMalformed, "tag number: want RFC 9277 TN range [1668546817, 1668612095], got 60000")
	_, err = ParseExtension(value)
	wantErr(t, err, ErrMalformed, "extension")
}
