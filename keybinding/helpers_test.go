package keybinding_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/internal/testvectors"
)

// Shared vectors; their PROVENANCE.md sits beside them.
var (
	ratsRSCertFile      = testvectors.Path("ratls-certs/rats-rs_demo-sgx-cert.pem")
	ratsTLSLegacyFile   = testvectors.Path("ratls-certs/rats-tls_legacy-sample.pem")
	tdxQuoteFile        = testvectors.Path("dcap-qvl/tdx_quote")
	tdxV5File           = testvectors.Path("go-tdx-guest/quote_v5_sample.dat")
	snpReportFile       = testvectors.Path("snp-go-sev-guest/attestation.bin")
	ccaTokenFile        = testvectors.Path("cca-tfm/cca_example_token.cbor")
	cca399File          = testvectors.Path("cca-veraison/go/tf-rmm_cca_token.cbor")
	ccaPlatformTokenRaw = testvectors.Path("cca-tfm/cca_platform_token.cbor")
)

// oeFormatSGXECDSA is OE_FORMAT_UUID_SGX_ECDSA
// (a3a21e87-1b4d-4014-b70a-a125d2fbcd8c), the format ID of Open Enclave
// SGX ECDSA evidence.
var oeFormatSGXECDSA = []byte{0xa3, 0xa2, 0x1e, 0x87, 0x1b, 0x4d, 0x40, 0x14, 0xb7, 0x0a, 0xa1, 0x25, 0xd2, 0xfb, 0xcd, 0x8c}

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

// fromCertificate parses cert's evidence, which must be well formed.
func fromCertificate(t testing.TB, cert *x509.Certificate) *evidence.CertificateEvidence {
	t.Helper()
	ce, err := evidence.FromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	return ce
}

// onlyItem parses cert's evidence, which must be a single item.
func onlyItem(t testing.TB, cert *x509.Certificate) *evidence.Item {
	t.Helper()
	ce := fromCertificate(t, cert)
	if len(ce.Items) != 1 {
		t.Fatalf("items: want 1, got %d", len(ce.Items))
	}
	return ce.Items[0]
}

// sgxQuote returns the real SGX v3 quote from the rats-rs certificate with
// its report_data replaced. The quote signature no longer verifies, which
// does not matter to parsing and binding.
func sgxQuote(t testing.TB, rd []byte) []byte {
	t.Helper()
	for _, e := range readPEMCert(t, ratsRSCertFile).Extensions {
		if e.Id.Equal(evidence.OIDTaggedEvidence) {
			it, err := evidence.ParseTagged(e.Value)
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
	claims, err := evidence.NewClaims(spkiOf(t, key.Public()), evidence.SHA256, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(claims)
	q := sgxQuote(t, h[:])
	v, err := evidence.EncodeTagged(evidence.TagIntelQuote, q, claims)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: evidence.OIDTaggedEvidence, Value: v}, q
}

// oeReport wraps a quote in an Open Enclave remote report header.
func oeReport(q []byte) []byte {
	h := make([]byte, 16)
	binary.LittleEndian.PutUint32(h[0:], 1)
	binary.LittleEndian.PutUint32(h[4:], 2)
	binary.LittleEndian.PutUint64(h[8:], uint64(len(q)))
	return append(h, q...)
}

// oeEvidence wraps a quote and custom claims in an Open Enclave
// attestation header.
func oeEvidence(q, custom []byte) []byte {
	h := make([]byte, 32)
	binary.LittleEndian.PutUint32(h[0:], 3)
	copy(h[4:20], oeFormatSGXECDSA)
	data := append(append([]byte{}, q...), custom...)
	binary.LittleEndian.PutUint64(h[24:], uint64(len(data)))
	return append(h, data...)
}
