package keybinding_test

import (
	"bytes"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/cmw"
	"github.com/ratls/ratls/keybinding"
)

// Real Interoperable RA-TLS certificate (rats-rs): 60000([quote, claims]).
func TestRatsRSCertificate(t *testing.T) {
	cert := readPEMCert(t, ratsRSCertFile)
	it := onlyItem(t, cert)
	b := keybinding.Check(it, cert)
	if b.Status != evidence.BindingOK || b.Rule != evidence.RuleClaimsSHA256 {
		t.Errorf("binding: want ok/%s, got %s/%s: %s", evidence.RuleClaimsSHA256, b.Status, b.Rule, b.Detail)
	}
	if b := keybinding.Check(it, nil); b.Status != evidence.BindingNotApplicable {
		t.Errorf("binding without certificate: got %s", b.Status)
	}
}

// Real legacy Enclave-TLS/rats-tls certificate: raw quote under
// 1.2.840.113741.1337.6 binding SHA-256 of the PKCS#1 RSA public key.
func TestRatsTLSLegacyCertificate(t *testing.T) {
	cert := readPEMCert(t, ratsTLSLegacyFile)
	b := keybinding.Check(onlyItem(t, cert), cert)
	if b.Status != evidence.BindingOK || b.Rule != evidence.RulePKCS1SHA256 {
		t.Errorf("binding: want ok/%s, got %s/%s: %s", evidence.RulePKCS1SHA256, b.Status, b.Rule, b.Detail)
	}
}

// A Gramine-style certificate: P-384 key, interop extension and the legacy
// extension under the mis-encoded OID whose quote binds SHA-256(SPKI). Each
// item binds the key under its own rule.
func TestGramineStyleCertificate(t *testing.T) {
	key := newKey(t, elliptic.P384())
	interop, _ := interopExtension(t, key)
	h := sha256.Sum256(spkiOf(t, key.Public()))
	legacy := pkix.Extension{Id: evidence.OIDGramineLegacyMisencoded, Value: sgxQuote(t, h[:])}
	cert := makeCert(t, key, interop, legacy)
	ce := fromCertificate(t, cert)
	if len(ce.Items) != 2 {
		t.Fatalf("items: want 2, got %d", len(ce.Items))
	}
	for _, it := range ce.Items {
		b := keybinding.Check(it, cert)
		want := map[evidence.Format]string{evidence.FormatInterop: evidence.RuleClaimsSHA256, evidence.FormatGramineLegacy: evidence.RuleSPKISHA256}[it.Format]
		if b.Status != evidence.BindingOK || b.Rule != want {
			t.Errorf("%s binding: want ok/%s, got %s/%s: %s", it.Format, want, b.Status, b.Rule, b.Detail)
		}
	}
}

// The Intel SGX SDK puts the identical quote under the legacy OID; it binds
// the interop claims, not the key directly.
func TestIntelSDKStyleCertificate(t *testing.T) {
	key := newKey(t, elliptic.P256())
	interop, q := interopExtension(t, key)
	cert := makeCert(t, key, interop, pkix.Extension{Id: evidence.OIDIntelSDKLegacy, Value: q})
	ce := fromCertificate(t, cert)
	if len(ce.Items) != 2 || ce.Items[1].Format != evidence.FormatIntelSDKLegacy {
		t.Fatalf("items: got %d, want the Intel SDK legacy item second", len(ce.Items))
	}
	if b := keybinding.Check(ce.Items[1], cert); b.Status != evidence.BindingOK || b.Rule != evidence.RuleClaimsSHA256 {
		t.Errorf("legacy binding: want ok via the shared claims, got %s/%s: %s", b.Status, b.Rule, b.Detail)
	}
}

// Open Enclave remote reports bind SHA-256(SPKI) (EGo) or SHA-256(PEM key ‖
// NUL) (Open Enclave).
func TestOpenEnclaveReport(t *testing.T) {
	key := newKey(t, elliptic.P256())
	spki := spkiOf(t, key.Public())
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	spkiHash := sha256.Sum256(spki)
	pemHash := sha256.Sum256(append(pemKey, 0))
	for _, tc := range []struct {
		name string
		rd   []byte
		oid  asn1.ObjectIdentifier
		want string
	}{
		{"ego spki", spkiHash[:], evidence.OIDOEReport, evidence.RuleSPKISHA256},
		{"oe pem", pemHash[:], evidence.OIDOEReportOld, evidence.RulePEMSHA256},
	} {
		cert := makeCert(t, key, pkix.Extension{Id: tc.oid, Value: oeReport(sgxQuote(t, tc.rd))})
		it := onlyItem(t, cert)
		if it.Format != evidence.FormatOpenEnclave {
			t.Fatalf("%s: got format %s", tc.name, it.Format)
		}
		if b := keybinding.Check(it, cert); b.Status != evidence.BindingOK || b.Rule != tc.want {
			t.Errorf("%s: binding want ok/%s, got %s/%s: %s", tc.name, tc.want, b.Status, b.Rule, b.Detail)
		}
	}
}

// Open Enclave evidence: the custom claims are the PEM public key.
func TestOpenEnclaveEvidence(t *testing.T) {
	key := newKey(t, elliptic.P256())
	pemKey := append(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spkiOf(t, key.Public())}), 0)
	h := sha256.Sum256(pemKey)
	cert := makeCert(t, key, pkix.Extension{Id: evidence.OIDOEEvidence, Value: oeEvidence(sgxQuote(t, h[:]), pemKey)})
	it := onlyItem(t, cert)
	if b := keybinding.Check(it, cert); b.Status != evidence.BindingOK || b.Rule != evidence.RuleOECustomClaims {
		t.Errorf("binding: got %s/%s: %s", b.Status, b.Rule, b.Detail)
	}
	other := newKey(t, elliptic.P256())
	if b := keybinding.Check(it, makeCert(t, other)); b.Status != evidence.BindingMismatch {
		t.Errorf("binding to another key: want mismatch, got %s", b.Status)
	}
}

func TestBindingFailures(t *testing.T) {
	key := newKey(t, elliptic.P256())
	ext, _ := interopExtension(t, key)

	// Evidence made for one key, presented in a certificate for another.
	other := newKey(t, elliptic.P256())
	swapped := makeCert(t, other, ext)
	b := keybinding.Check(onlyItem(t, swapped), swapped)
	if b.Status != evidence.BindingMismatch || !strings.Contains(b.Detail, "pubkey-hash") {
		t.Errorf("key swap: want a pubkey-hash mismatch, got %s: %s", b.Status, b.Detail)
	}

	// Claims for this key but report_data over something else.
	claims, _ := evidence.NewClaims(spkiOf(t, key.Public()), evidence.SHA256, nil)
	v, _ := evidence.EncodeTagged(evidence.TagIntelQuote, sgxQuote(t, []byte("not the claims hash")), claims)
	cert := makeCert(t, key, pkix.Extension{Id: evidence.OIDTaggedEvidence, Value: v})
	b = keybinding.Check(onlyItem(t, cert), cert)
	if b.Status != evidence.BindingMismatch || !strings.Contains(b.Detail, "report_data") {
		t.Errorf("report_data: want mismatch naming report_data, got %s: %s", b.Status, b.Detail)
	}

	// The hash in the right place but non-zero padding.
	h := sha256.Sum256(claims)
	rd := append(h[:], bytes.Repeat([]byte{1}, 32)...)
	v, _ = evidence.EncodeTagged(evidence.TagIntelQuote, sgxQuote(t, rd), claims)
	cert = makeCert(t, key, pkix.Extension{Id: evidence.OIDTaggedEvidence, Value: v})
	if b := keybinding.Check(onlyItem(t, cert), cert); b.Status != evidence.BindingMismatch {
		t.Errorf("non-zero report_data padding: want mismatch, got %s", b.Status)
	}
}

// The Intel SGX SDK TDX convention: report_data = SHA-384(claims).
func TestBindingSHA384Claims(t *testing.T) {
	key := newKey(t, elliptic.P384())
	claims, _ := evidence.NewClaims(spkiOf(t, key.Public()), evidence.SHA384, nil)
	h := sha512.Sum384(claims)
	v, _ := evidence.EncodeTagged(evidence.TagIntelQuote, sgxQuote(t, h[:]), claims)
	cert := makeCert(t, key, pkix.Extension{Id: evidence.OIDTaggedEvidence, Value: v})
	if b := keybinding.Check(onlyItem(t, cert), cert); b.Status != evidence.BindingOK || b.Rule != evidence.RuleClaimsSHA384 {
		t.Errorf("got %s/%s: %s", b.Status, b.Rule, b.Detail)
	}
}

// ClaimsBound accepts SHA-256 or SHA-384 of the exact claims buffer followed
// by zero bytes, and nothing else.
func TestClaimsBound(t *testing.T) {
	raw, err := evidence.NewClaims([]byte("spki"), evidence.SHA256, []byte("nonce"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := evidence.ParseClaims(raw)
	if err != nil {
		t.Fatal(err)
	}
	h256 := sha256.Sum256(raw)
	h384 := sha512.Sum384(raw)
	pad := func(d []byte, b byte) []byte {
		return append(append([]byte{}, d...), bytes.Repeat([]byte{b}, 64-len(d))...)
	}
	for _, tc := range []struct {
		name string
		rd   []byte
		rule string
		ok   bool
	}{
		{"sha-256 zero-padded", pad(h256[:], 0), evidence.RuleClaimsSHA256, true},
		{"sha-384 zero-padded", pad(h384[:], 0), evidence.RuleClaimsSHA384, true},
		{"sha-256 without padding", h256[:], evidence.RuleClaimsSHA256, true},
		{"sha-256 non-zero padding", pad(h256[:], 1), evidence.RuleClaimsSHA256, false},
		{"sha-384 non-zero padding", pad(h384[:], 1), evidence.RuleClaimsSHA256, false},
		{"truncated digest", h256[:31], evidence.RuleClaimsSHA256, false},
		{"no report data", nil, evidence.RuleClaimsSHA256, false},
	} {
		rule, ok := keybinding.ClaimsBound(c, tc.rd)
		if rule != tc.rule || ok != tc.ok {
			t.Errorf("%s: got %s/%v, want %s/%v", tc.name, rule, ok, tc.rule, tc.ok)
		}
	}
	rd := pad(h256[:], 1)
	if d := keybinding.ClaimsBindingDetail(c, rd); !strings.Contains(d, hex.EncodeToString(h256[:])) || !strings.Contains(d, hex.EncodeToString(rd)) {
		t.Errorf("detail names neither the expected nor the actual value: %s", d)
	}
}

// The TCG ASN.1 wraps the CBOR as SEQUENCE { OCTET STRING }; some tools use a
// bare OCTET STRING. Both bind the key.
func TestWrappedExtensionValues(t *testing.T) {
	key := newKey(t, elliptic.P256())
	ext, _ := interopExtension(t, key)
	octet, _ := asn1.Marshal(ext.Value)
	seq, _ := asn1.Marshal(struct{ CMW []byte }{ext.Value})
	for name, v := range map[string][]byte{"octet string": octet, "sequence": seq} {
		cert := makeCert(t, key, pkix.Extension{Id: evidence.OIDTaggedEvidence, Value: v})
		if b := keybinding.Check(onlyItem(t, cert), cert); b.Status != evidence.BindingOK {
			t.Errorf("%s: binding %s: %s", name, b.Status, b.Detail)
		}
	}
}

func TestRSAKeyCertificate(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ext, _ := interopExtension(t, key)
	cert := makeCert(t, key, ext)
	if b := keybinding.Check(onlyItem(t, cert), cert); b.Status != evidence.BindingOK {
		t.Errorf("binding: %s: %s", b.Status, b.Detail)
	}
}

// Raw evidence comes without a certificate: there is no key to bind.
func TestRawEvidenceBindsNoKey(t *testing.T) {
	for _, file := range []string{tdxQuoteFile, tdxV5File, snpReportFile, ccaTokenFile, cca399File, ccaPlatformTokenRaw} {
		items, err := evidence.ParseRaw(readFile(t, file))
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if b := keybinding.Check(items[0], nil); b.Status != evidence.BindingNotApplicable {
			t.Errorf("%s: binding without a certificate: got %s", file, b.Status)
		}
	}
}

// rats-tls carries SEV-SNP reports under its private tag 0x1a7504 with the
// same [evidence, claims] layout and binding rule.
func TestSNPTaggedEvidence(t *testing.T) {
	key := newKey(t, elliptic.P256())
	claims, _ := evidence.NewClaims(spkiOf(t, key.Public()), evidence.SHA256, nil)
	v, err := evidence.EncodeTagged(evidence.TagSEVSNP, readFile(t, snpReportFile), claims)
	if err != nil {
		t.Fatal(err)
	}
	cert := makeCert(t, key, pkix.Extension{Id: evidence.OIDTaggedEvidence, Value: v})
	// The real report's report_data is not our claims hash.
	if b := keybinding.Check(onlyItem(t, cert), cert); b.Status != evidence.BindingMismatch || !strings.Contains(b.Detail, "report_data") {
		t.Errorf("binding: want a report_data mismatch, got %s: %s", b.Status, b.Detail)
	}
}

// SEV and CSV reports are carried but not parsed: binding is absent instead
// of passing.
func TestUnparsedTEE(t *testing.T) {
	claims, _ := evidence.NewClaims([]byte("k"), evidence.SHA256, nil)
	v, _ := evidence.EncodeTagged(evidence.TagSEV, []byte("opaque sev report"), claims)
	it, err := evidence.ParseTagged(v)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t, elliptic.P256())
	if b := keybinding.Check(it, makeCert(t, key)); b.Status != evidence.BindingAbsent {
		t.Errorf("binding: want absent, got %s", b.Status)
	}
}

// Pre-2023 rats-tls certificates used private tags for Intel evidence, with
// the same claims buffer.
func TestRatsTLSLegacyTag(t *testing.T) {
	key := newKey(t, elliptic.P256())
	claims, _ := evidence.NewClaims(spkiOf(t, key.Public()), evidence.SHA256, nil)
	h := evidence.SHA256.Sum(claims)
	v, _ := evidence.EncodeTagged(evidence.TagRatsTLSQuoteOld, sgxQuote(t, h), claims)
	cert := makeCert(t, key, pkix.Extension{Id: evidence.OIDTaggedEvidence, Value: v})
	if b := keybinding.Check(onlyItem(t, cert), cert); b.Status != evidence.BindingOK {
		t.Errorf("binding: %s: %s", b.Status, b.Detail)
	}
}

// An Arm CCA token placed directly in the evidence extension has no claims
// buffer: its key binding is absent, never ok.
func TestCCATokenInExtension(t *testing.T) {
	key := newKey(t, elliptic.P256())
	cert := makeCert(t, key, pkix.Extension{Id: evidence.OIDTaggedEvidence, Value: readFile(t, ccaTokenFile)})
	if b := keybinding.Check(onlyItem(t, cert), cert); b.Status != evidence.BindingAbsent {
		t.Errorf("binding: want absent, got %s", b.Status)
	}
}

// An Arm CCA token with a claims buffer (tag 0x1a7507): the realm
// challenge must be SHA-256(claims) followed by zeros.
func TestCCAClaimsTag(t *testing.T) {
	key := newKey(t, elliptic.P256())
	claims, _ := evidence.NewClaims(spkiOf(t, key.Public()), evidence.SHA256, nil)
	v, err := evidence.EncodeTagged(evidence.TagCCAClaims, readFile(t, ccaTokenFile), claims)
	if err != nil {
		t.Fatal(err)
	}
	cert := makeCert(t, key, pkix.Extension{Id: evidence.OIDTaggedEvidence, Value: v})
	// The example token's challenge was not made from these claims.
	if b := keybinding.Check(onlyItem(t, cert), cert); b.Status != evidence.BindingMismatch {
		t.Errorf("binding: want mismatch, got %s", b.Status)
	}
}

// A CMW leaf binds no key by itself.
func TestCMWLeaf(t *testing.T) {
	key := newKey(t, elliptic.P256())
	c := &cmw.CMW{Kind: cmw.KindCollection, Format: cmw.FormatCBOR, Entries: []cmw.Entry{
		{Label: cmw.TextLabel("quote"), CMW: &cmw.CMW{Kind: cmw.KindRecord, Format: cmw.FormatCBOR, MediaType: "application/vnd.example.tdx-quote", Value: readFile(t, tdxQuoteFile), Indicator: cmw.Evidence}},
		{Label: cmw.TextLabel("other"), CMW: &cmw.CMW{Kind: cmw.KindRecord, Format: cmw.FormatCBOR, MediaType: "text/plain", Value: []byte("not evidence")}},
	}}
	ext, err := cmw.NewExtension(c)
	if err != nil {
		t.Fatal(err)
	}
	cert := makeCert(t, key, ext)
	var quote *evidence.Item
	for _, it := range fromCertificate(t, cert).Items {
		if strings.Join(it.Path, "/") == "quote" {
			quote = it
		}
	}
	if quote == nil || quote.Format != evidence.FormatCMW || quote.TEE != evidence.TEETDX {
		t.Fatalf("quote leaf: %+v", quote)
	}
	if b := keybinding.Check(quote, cert); b.Status != evidence.BindingAbsent {
		t.Errorf("binding: want absent, got %s", b.Status)
	}
}
