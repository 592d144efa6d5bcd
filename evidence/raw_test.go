package evidence

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509/pkix"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/internal/testvectors"
)

// Shared vectors; their PROVENANCE.md sits beside them.
var (
	tdxQuoteFile   = testvectors.Path("dcap-qvl/tdx_quote")
	tdxV5File      = testvectors.Path("go-tdx-guest/quote_v5_sample.dat")
	snpReportFile  = testvectors.Path("snp-go-sev-guest/attestation.bin")
	ccaTokenFile   = testvectors.Path("cca-tfm/cca_example_token.cbor")
	cca399File     = testvectors.Path("cca-veraison/go/tf-rmm_cca_token.cbor")
	ccaPlatformRaw = testvectors.Path("cca-tfm/cca_platform_token.cbor")
)

func TestParseRawKinds(t *testing.T) {
	for _, tc := range []struct {
		file   string
		kind   Kind
		tee    TEE
		format Format
	}{
		{tdxQuoteFile, KindIntelQuote, TEETDX, FormatRaw},
		{tdxV5File, KindIntelQuote, TEETDX, FormatRaw},
		{snpReportFile, KindSNPReport, TEESEVSNP, FormatRaw},
		{ccaTokenFile, KindCCAToken, TEECCA, FormatRaw},
		{cca399File, KindCCAToken, TEECCA, FormatRaw},
		{ccaPlatformRaw, KindCCAPlatform, TEECCA, FormatRaw},
	} {
		items, err := ParseRaw(readFile(t, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		it := items[0]
		if len(items) != 1 || it.Kind != tc.kind || it.TEE != tc.tee || it.Format != tc.format {
			t.Errorf("%s: got %d items, kind %s tee %s format %s", tc.file, len(items), it.Kind, it.TEE, it.Format)
		}
	}
}

func TestParseRawReports(t *testing.T) {
	// An SGX report (60002 payload): a report body with key id and MAC.
	body := sgxQuote(t, []byte("rd"))[48 : 48+384]
	rep := append(append([]byte{}, body...), make([]byte, 48)...)
	items, err := ParseRaw(rep)
	if err != nil || items[0].Kind != KindSGXReport || !bytes.HasPrefix(items[0].ReportData(), []byte("rd")) {
		t.Fatalf("sgx report: %v %+v", err, items)
	}
	// A TDREPORT (sgx_report2_t with report type 0x81).
	r2 := &quote.Report2{}
	r2.ReportType.Type = quote.ReportTypeTDX
	copy(r2.ReportData[:], "td report data")
	r2.TD.MRTD[0] = 0xaa
	items, err = ParseRaw(r2.Marshal())
	if err != nil || items[0].Kind != KindIntelReport || items[0].TEE != TEETDX || !bytes.HasPrefix(items[0].ReportData(), []byte("td report data")) {
		t.Fatalf("tdreport: %v %+v", err, items)
	}
	if items[0].Report2.TD.MRTD[0] != 0xaa {
		t.Error("tdreport: MRTD not decoded")
	}
	// go-tdx-guest's report.dat is random bytes: report type 0x0f is refused.
	if _, err := ParseRaw(readFile(t, testvectors.Path("go-tdx-guest/report.dat"))); err == nil || !strings.Contains(err.Error(), "report_type") {
		t.Errorf("random 1024 bytes: want a report_type error, got %v", err)
	}
}

func TestParseRawRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":       nil,
		"random":      []byte("hello, world"),
		"short quote": readFile(t, tdxQuoteFile)[:600],
		"unknown tag": mustHex("d9ea6380"),
		"cbor int":    {0x01},
	} {
		if _, err := ParseRaw(b); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

// rats-tls carries SEV-SNP reports under its private tag 0x1a7504 with the
// same [evidence, claims] layout and binding rule.
func TestSNPTaggedEvidence(t *testing.T) {
	key := newKey(t, elliptic.P256())
	claims, _ := NewClaims(spkiOf(t, key.Public()), SHA256, nil)
	report := readFile(t, snpReportFile)
	v, err := EncodeTagged(TagSEVSNP, report, claims)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(v, mustHex("da001a7504")) {
		t.Fatalf("tag encoding: got %x", v[:5])
	}
	cert := makeCert(t, key, pkix.Extension{Id: OIDTaggedEvidence, Value: v})
	ce, err := FromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	it := onlyItem(t, ce)
	if it.TEE != TEESEVSNP || it.SNP == nil || it.Format != FormatInterop || it.Claims == nil {
		t.Fatalf("got %+v", it)
	}
	// A TDX quote under the SNP tag is refused.
	bad, _ := EncodeTagged(TagSEVSNP, readFile(t, tdxQuoteFile), claims)
	if _, err := ParseTagged(bad); err == nil {
		t.Error("TDX quote under the SEV-SNP tag: want an error")
	}
}

// SEV and CSV reports are carried but not parsed: there is no report data
// (so no key binding, see package keybinding).
func TestUnparsedTEE(t *testing.T) {
	claims, _ := NewClaims([]byte("k"), SHA256, nil)
	v, _ := EncodeTagged(TagSEV, []byte("opaque sev report"), claims)
	it, err := ParseTagged(v)
	if err != nil {
		t.Fatal(err)
	}
	if it.TEE != TEESEV || it.ReportData() != nil {
		t.Fatalf("got %+v", it)
	}
}

// Pre-2023 rats-tls certificates used private tags for Intel evidence.
func TestRatsTLSLegacyTag(t *testing.T) {
	key := newKey(t, elliptic.P256())
	claims, _ := NewClaims(spkiOf(t, key.Public()), SHA256, nil)
	h := SHA256.Sum(claims)
	v, _ := EncodeTagged(TagRatsTLSQuoteOld, sgxQuote(t, h), claims)
	cert := makeCert(t, key, pkix.Extension{Id: OIDTaggedEvidence, Value: v})
	ce, err := FromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	it := onlyItem(t, ce)
	if it.Format != FormatRatsTLSLegacy || it.Tag != TagRatsTLSQuoteOld {
		t.Fatalf("got format %s tag %#x", it.Format, it.Tag)
	}
	if it.Claims == nil || !bytes.HasPrefix(it.ReportData(), h) {
		t.Errorf("claims %+v, report data %x: want the claims and their hash", it.Claims, it.ReportData())
	}
}

// An Arm CCA token placed directly in the evidence extension has no claims
// buffer (so its key binding is absent, never ok: see package keybinding).
func TestCCATokenInExtension(t *testing.T) {
	key := newKey(t, elliptic.P256())
	tok := readFile(t, ccaTokenFile)
	cert := makeCert(t, key, pkix.Extension{Id: OIDTaggedEvidence, Value: tok})
	ce, err := FromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	it := onlyItem(t, ce)
	if it.TEE != TEECCA || it.Tag != TagCCACollection || it.CCA == nil || it.Claims != nil {
		t.Fatalf("got %+v", it)
	}
	if len(it.ReportData()) != 64 {
		t.Errorf("realm challenge: got %d bytes", len(it.ReportData()))
	}
}

func TestParseRawTaggedInterop(t *testing.T) {
	claims, _ := NewClaims([]byte("k"), SHA256, []byte("nonce-123"))
	v, _ := EncodeTagged(TagIntelQuote, readFile(t, tdxQuoteFile), claims)
	items, err := ParseRaw(v)
	if err != nil {
		t.Fatal(err)
	}
	if items[0].Format != FormatInterop || items[0].TEE != TEETDX || string(items[0].Claims.Nonce) != "nonce-123" {
		t.Fatalf("got %+v", items[0])
	}
	var probe cbor.RawTag
	if err := cbor.Unmarshal(v, &probe); err != nil || probe.Number != TagIntelQuote {
		t.Fatalf("independent decode: %v %d", err, probe.Number)
	}
}

// An Arm CCA token with a claims buffer (tag 0x1a7507): the realm
// challenge must be SHA-256(claims) followed by zeros.
func TestCCAClaimsTag(t *testing.T) {
	key := newKey(t, elliptic.P256())
	claims, _ := NewClaims(spkiOf(t, key.Public()), SHA256, nil)
	v, err := EncodeTagged(TagCCAClaims, readFile(t, ccaTokenFile), claims)
	if err != nil {
		t.Fatal(err)
	}
	cert := makeCert(t, key, pkix.Extension{Id: OIDTaggedEvidence, Value: v})
	ce, err := FromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	it := onlyItem(t, ce)
	if it.TEE != TEECCA || it.CCA == nil || it.Claims == nil {
		t.Fatalf("got %+v", it)
	}
	if !bytes.Equal(it.ReportData(), it.CCA.Realm.Claims.Challenge) {
		t.Errorf("report data %x, want the realm challenge", it.ReportData())
	}
}
