package evidence

import (
	"crypto/elliptic"
	"crypto/x509/pkix"
	"strings"
	"testing"

	"github.com/ratls/ratls/evidence/cmw"
)

func TestCMWExtension(t *testing.T) {
	key := newKey(t, elliptic.P256())
	tdx := readFile(t, tdxQuoteFile)
	c := &cmw.CMW{Kind: cmw.KindCollection, Format: cmw.FormatCBOR, Entries: []cmw.Entry{
		{Label: cmw.TextLabel("quote"), CMW: &cmw.CMW{Kind: cmw.KindRecord, Format: cmw.FormatCBOR, MediaType: "application/vnd.example.tdx-quote", Value: tdx, Indicator: cmw.Evidence}},
		{Label: cmw.TextLabel("other"), CMW: &cmw.CMW{Kind: cmw.KindRecord, Format: cmw.FormatCBOR, MediaType: "text/plain", Value: []byte("not evidence")}},
	}}
	ext, err := cmw.NewExtension(c)
	if err != nil {
		t.Fatal(err)
	}
	cert := makeCert(t, key, ext)
	ce, err := FromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	if len(ce.Items) != 2 {
		t.Fatalf("items: want 2, got %d", len(ce.Items))
	}
	var quote, other *Item
	for _, it := range ce.Items {
		switch strings.Join(it.Path, "/") {
		case "quote":
			quote = it
		case "other":
			other = it
		}
	}
	if quote == nil || quote.Format != FormatCMW || quote.TEE != TEETDX || quote.MediaType != "application/vnd.example.tdx-quote" || !quote.OID.Equal(OIDCMW) {
		t.Fatalf("quote leaf: %+v", quote)
	}
	if other == nil || other.Kind != KindUnsupported || !strings.Contains(other.Note, "not recognised") {
		t.Fatalf("other leaf: %+v", other)
	}
	// A CMW leaf carries no claims buffer: it binds no key by itself.
	if quote.Claims != nil {
		t.Errorf("quote leaf: unexpected claims %+v", quote.Claims)
	}
}

// A CMW record inside the DICE extension (TCG permits it) is read too.
func TestCMWInDICEExtension(t *testing.T) {
	key := newKey(t, elliptic.P256())
	rec := &cmw.CMW{Kind: cmw.KindRecord, Format: cmw.FormatCBOR, MediaType: "application/vnd.example.snp-report", Value: readFile(t, snpReportFile)}
	b, err := rec.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	ce, err := FromCertificate(makeCert(t, key, pkix.Extension{Id: OIDTaggedEvidence, Value: b}))
	if err != nil {
		t.Fatal(err)
	}
	if it := onlyItem(t, ce); it.Format != FormatCMW || it.TEE != TEESEVSNP {
		t.Fatalf("got %+v", it)
	}
	// Malformed CMW is an error, not an empty result.
	if _, err := FromCertificate(makeCert(t, key, pkix.Extension{Id: OIDTaggedEvidence, Value: []byte{0x82, 0x01}})); err == nil {
		t.Error("truncated CMW: want an error")
	}
}
