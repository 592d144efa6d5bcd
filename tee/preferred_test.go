package tee_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/tee"
)

// Of every pair of formats, the one earlier in the preference order wins,
// whatever the extension order.
func TestPreferredOrder(t *testing.T) {
	order := []evidence.Format{evidence.FormatInterop, evidence.FormatCMW, evidence.FormatRatsTLSLegacy,
		evidence.FormatOpenEnclave, evidence.FormatGramineLegacy, evidence.FormatIntelSDKLegacy}
	for i, better := range order {
		for _, worse := range order[i+1:] {
			b := &evidence.Item{Format: better, Kind: evidence.KindIntelQuote}
			w := &evidence.Item{Format: worse, Kind: evidence.KindIntelQuote}
			for _, items := range [][]*evidence.Item{{b, w}, {w, b}} {
				if got := tee.Preferred(&evidence.CertificateEvidence{Items: items}); got != b {
					t.Errorf("%s and %s: got %+v, want %s", better, worse, got, better)
				}
			}
		}
	}
}

// Within a format the first item in extension order wins; items that were
// not recognised are never preferred.
func TestPreferredSkipsUnsupported(t *testing.T) {
	other := &evidence.Item{Format: evidence.FormatCMW, Kind: evidence.KindUnsupported}
	quote := &evidence.Item{Format: evidence.FormatCMW, Kind: evidence.KindIntelQuote, TEE: evidence.TEETDX}
	second := &evidence.Item{Format: evidence.FormatCMW, Kind: evidence.KindSNPReport, TEE: evidence.TEESEVSNP}
	legacy := &evidence.Item{Format: evidence.FormatGramineLegacy, Kind: evidence.KindIntelQuote}
	for _, tc := range []struct {
		name  string
		items []*evidence.Item
		want  *evidence.Item
	}{
		{"unsupported CMW leaf first", []*evidence.Item{other, quote, second}, quote},
		{"unsupported CMW leaf before a legacy item", []*evidence.Item{other, legacy}, legacy},
		{"only unsupported", []*evidence.Item{other}, nil},
		{"no evidence", nil, nil},
	} {
		if got := tee.Preferred(&evidence.CertificateEvidence{Items: tc.items}); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// A real Interoperable RA-TLS certificate (rats-rs) with one item.
func TestPreferredRatsRSCertificate(t *testing.T) {
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
	ce, err := evidence.FromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	if len(ce.Items) != 1 || tee.Preferred(ce) != ce.Items[0] {
		t.Fatalf("want the single item of %d preferred", len(ce.Items))
	}
}
