package evidence

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/internal/testvectors"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readPEMCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(readFile(t, path))
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// onlyItem returns ce's single item.
func onlyItem(t testing.TB, ce *CertificateEvidence) *Item {
	t.Helper()
	if len(ce.Items) != 1 {
		t.Fatalf("items: want 1, got %d", len(ce.Items))
	}
	return ce.Items[0]
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// Real Interoperable RA-TLS certificate (rats-rs): 60000([quote, claims]) and
// an empty endorsements extension. Expected values from EXPECTED.json; its
// key binding is tested in package keybinding.
func TestRatsRSCertificate(t *testing.T) {
	cert := readPEMCert(t, testvectors.Path("ratls-certs/rats-rs_demo-sgx-cert.pem"))
	ce, err := FromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	if len(ce.Items) != 1 {
		t.Fatalf("items: want 1, got %d", len(ce.Items))
	}
	it := ce.Items[0]
	if it.Format != FormatInterop || it.Tag != TagIntelQuote || it.TEE != TEESGX || it.Kind != KindIntelQuote {
		t.Fatalf("item: got format %s tag %d tee %s kind %s", it.Format, it.Tag, it.TEE, it.Kind)
	}
	if !it.OID.Equal(OIDTaggedEvidence) {
		t.Errorf("OID: got %s", it.OID)
	}
	if len(it.Data) != 4734 {
		t.Errorf("quote length: want 4734, got %d", len(it.Data))
	}
	if got := hex.EncodeToString(it.Quote.SGX.MREnclave[:]); got != "488615372ec6d4b5a27dd7673697113808653b749615b8a58f62e71df0660e85" {
		t.Errorf("mrenclave: got %s", got)
	}
	wantRD := "ed1156bdf412b9b5e9bdc003ae84495155eea8ef97cd5b22a168ea6289a9ffdd0000000000000000000000000000000000000000000000000000000000000000"
	if got := hex.EncodeToString(it.ReportData()); got != wantRD {
		t.Errorf("report_data: got %s", got)
	}
	if it.Claims.PubKeyHashAlg != SHA256 || hex.EncodeToString(it.Claims.PubKeyHash) != "8d5e52bb08b179b25505ec4097756d2a01f91697c225d7a2c87726fc522ca4ca" {
		t.Errorf("pubkey-hash: got %s:%x", it.Claims.PubKeyHashAlg, it.Claims.PubKeyHash)
	}
	if debug, known := it.Debug(); !known || !debug {
		t.Errorf("debug: want a known debug enclave, got debug=%v known=%v", debug, known)
	}
	if ce.Endorsements == nil || !ce.Endorsements.Empty {
		t.Errorf("endorsements: want the empty extension to be reported as Empty, got %+v", ce.Endorsements)
	}
}

// Real legacy Enclave-TLS/rats-tls certificate: raw quote under
// 1.2.840.113741.1337.6 (binding SHA-256 of the PKCS#1 RSA public key).
func TestRatsTLSLegacyCertificate(t *testing.T) {
	cert := readPEMCert(t, testvectors.Path("ratls-certs/rats-tls_legacy-sample.pem"))
	ce, err := FromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	it := onlyItem(t, ce)
	if it.Format != FormatGramineLegacy || !it.OID.Equal(OIDGramineLegacy) || it.TEE != TEESGX {
		t.Fatalf("preferred item: got %+v", it)
	}
	if got := hex.EncodeToString(it.Quote.SGX.MREnclave[:]); got != "144e81488fc3d59ddbe69b03bd939a3b938d85b6a7c9897e2b09808ade956574" {
		t.Errorf("mrenclave: got %s", got)
	}
}

// sgxQuote returns the real SGX v3 quote from the rats-rs certificate with
// its report_data replaced. The quote signature no longer verifies, which
// does not matter to parsing and binding.
func sgxQuote(t testing.TB, rd []byte) []byte {
	t.Helper()
	cert := readPEMCert(t, testvectors.Path("ratls-certs/rats-rs_demo-sgx-cert.pem"))
	for _, e := range cert.Extensions {
		if e.Id.Equal(OIDTaggedEvidence) {
			it, err := ParseTagged(e.Value)
			if err != nil {
				t.Fatal(err)
			}
			q, err := quote.Parse(it.Data)
			if err != nil {
				t.Fatal(err)
			}
			var r [64]byte
			copy(r[:], rd)
			q.SGX.ReportData = r
			return q.Marshal()
		}
	}
	t.Fatal("no evidence extension")
	return nil
}

func newKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func spkiOf(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func makeCert(t testing.TB, key crypto.Signer, exts ...pkix.Extension) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(1),
		Subject:         pkix.Name{CommonName: "test"},
		NotBefore:       time.Unix(0, 0),
		NotAfter:        time.Unix(1<<31, 0),
		ExtraExtensions: exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// interopExtension builds 60000([quote, claims]) for key with report_data =
// SHA-256(claims).
func interopExtension(t testing.TB, key crypto.Signer) (pkix.Extension, []byte) {
	t.Helper()
	claims, err := NewClaims(spkiOf(t, key.Public()), SHA256, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(claims)
	q := sgxQuote(t, h[:])
	v, err := EncodeTagged(TagIntelQuote, q, claims)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: OIDTaggedEvidence, Value: v}, q
}

// A Gramine-style certificate: P-384 key, interop extension and the legacy
// extension under the mis-encoded OID whose quote binds SHA-256(SPKI).
func TestGramineStyleCertificate(t *testing.T) {
	key := newKey(t, elliptic.P384())
	interop, _ := interopExtension(t, key)
	h := sha256.Sum256(spkiOf(t, key.Public()))
	legacy := pkix.Extension{Id: OIDGramineLegacyMisencoded, Value: sgxQuote(t, h[:])}
	cert := makeCert(t, key, interop, legacy)

	// The OID must be on the wire exactly as Gramine writes it.
	if !bytes.Contains(cert.Raw, mustHex("060b06092a864886f84d8a3906")) {
		t.Fatal("mis-encoded Gramine OID bytes not found in the certificate")
	}
	ce, err := FromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	if len(ce.Items) != 2 {
		t.Fatalf("items: want 2, got %d", len(ce.Items))
	}
	if ce.Items[0].Format != FormatInterop || ce.Items[1].Format != FormatGramineLegacy || !ce.Items[1].OID.Equal(OIDGramineLegacyMisencoded) {
		t.Errorf("items: want interop then Gramine legacy, got %s, %s (%s)", ce.Items[0].Format, ce.Items[1].Format, ce.Items[1].OID)
	}
}

// The Intel SGX SDK puts the identical quote under the legacy OID; it
// shares the interop claims (which bind the key, not the quote directly).
func TestIntelSDKStyleCertificate(t *testing.T) {
	key := newKey(t, elliptic.P256())
	interop, q := interopExtension(t, key)
	cert := makeCert(t, key, interop, pkix.Extension{Id: OIDIntelSDKLegacy, Value: q})
	ce, err := FromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	if len(ce.Items) != 2 || ce.Items[1].Format != FormatIntelSDKLegacy {
		t.Fatalf("items: got %d, second %+v", len(ce.Items), ce.Items[1])
	}
	if ce.Items[1].Claims != ce.Items[0].Claims {
		t.Errorf("legacy item: want the interop item's claims, got %+v", ce.Items[1].Claims)
	}
}

// An Intel PCK certificate also uses 1.2.840.113741.1.13.1, for a DER
// SEQUENCE of SGX extensions: that is not evidence.
func TestPCKExtensionIsNotEvidence(t *testing.T) {
	key := newKey(t, elliptic.P256())
	seq, _ := asn1.Marshal([]asn1.RawValue{{Tag: asn1.TagOctetString, Bytes: []byte{1}}})
	ce, err := FromCertificate(makeCert(t, key, pkix.Extension{Id: OIDIntelSDKLegacy, Value: seq}))
	if err != nil {
		t.Fatal(err)
	}
	if len(ce.Items) != 0 {
		t.Fatalf("want no evidence, got %d items", len(ce.Items))
	}
}

func oeReport(q []byte) []byte {
	h := make([]byte, 16)
	binary.LittleEndian.PutUint32(h[0:], 1)
	binary.LittleEndian.PutUint32(h[4:], 2)
	binary.LittleEndian.PutUint64(h[8:], uint64(len(q)))
	return append(h, q...)
}

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
		{"ego spki", spkiHash[:], OIDOEReport, RuleSPKISHA256},
		{"oe pem", pemHash[:], OIDOEReportOld, RulePEMSHA256},
	} {
		cert := makeCert(t, key, pkix.Extension{Id: tc.oid, Value: oeReport(sgxQuote(t, tc.rd))})
		ce, err := FromCertificate(cert)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		it := onlyItem(t, ce)
		if it.Format != FormatOpenEnclave || it.TEE != TEESGX {
			t.Fatalf("%s: got %s %s", tc.name, it.Format, it.TEE)
		}
		if !bytes.HasPrefix(it.ReportData(), tc.rd) {
			t.Errorf("%s: report data %x, want %x first", tc.name, it.ReportData(), tc.rd)
		}
	}
	// Lying size field.
	bad := oeReport(sgxQuote(t, nil))
	binary.LittleEndian.PutUint64(bad[8:], 10)
	if _, err := FromCertificate(makeCert(t, key, pkix.Extension{Id: OIDOEReport, Value: bad})); err == nil || !strings.Contains(err.Error(), "report_size") {
		t.Errorf("lying report_size: want an error naming report_size, got %v", err)
	}
}

func oeEvidence(q, custom []byte) []byte {
	h := make([]byte, 32)
	binary.LittleEndian.PutUint32(h[0:], 3)
	copy(h[4:20], oeFormatSGXECDSA)
	data := append(append([]byte{}, q...), custom...)
	binary.LittleEndian.PutUint64(h[24:], uint64(len(data)))
	return append(h, data...)
}

func TestOpenEnclaveEvidence(t *testing.T) {
	key := newKey(t, elliptic.P256())
	pemKey := append(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spkiOf(t, key.Public())}), 0)
	h := sha256.Sum256(pemKey)
	cert := makeCert(t, key, pkix.Extension{Id: OIDOEEvidence, Value: oeEvidence(sgxQuote(t, h[:]), pemKey)})
	ce, err := FromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	it := onlyItem(t, ce)
	if !bytes.Equal(it.OECustomClaims, pemKey) {
		t.Fatalf("custom claims: got %q", it.OECustomClaims)
	}
	if !bytes.Equal(it.OEFormatID, oeFormatSGXECDSA) {
		t.Errorf("format id: got %x", it.OEFormatID)
	}
	bad := oeEvidence(sgxQuote(t, h[:]), pemKey)
	bad[4] ^= 1
	if _, err := FromCertificate(makeCert(t, key, pkix.Extension{Id: OIDOEEvidence, Value: bad})); err == nil || !strings.Contains(err.Error(), "format id") {
		t.Errorf("wrong format id: got %v", err)
	}
}

func TestCriticalEvidenceExtensionRejected(t *testing.T) {
	key := newKey(t, elliptic.P256())
	ext, _ := interopExtension(t, key)
	ext.Critical = true
	_, err := FromCertificate(makeCert(t, key, ext))
	if err == nil || !strings.Contains(err.Error(), "critical") {
		t.Fatalf("want a criticality error, got %v", err)
	}
}

// The TCG ASN.1 wraps the CBOR as SEQUENCE { OCTET STRING }; some tools use a
// bare OCTET STRING. Both are accepted (and bind the key: package
// keybinding tests that).
func TestWrappedExtensionValues(t *testing.T) {
	key := newKey(t, elliptic.P256())
	ext, _ := interopExtension(t, key)
	octet, _ := asn1.Marshal(ext.Value)
	seq, _ := asn1.Marshal(struct{ CMW []byte }{ext.Value})
	for name, v := range map[string][]byte{"octet string": octet, "sequence": seq} {
		cert := makeCert(t, key, pkix.Extension{Id: OIDTaggedEvidence, Value: v})
		ce, err := FromCertificate(cert)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(ce.Items) != 1 || ce.Items[0].Format != FormatInterop || ce.Items[0].Claims == nil {
			t.Errorf("%s: want one interop item with claims, got %d items", name, len(ce.Items))
		}
	}
}
