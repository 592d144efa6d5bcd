package inspect

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/ratls/ratls/internal/testvectors"
)

func readCerts(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return out
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

func check(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %#v, want %#v", what, got, want)
	}
}

// Intel's PCK Platform CA, field by field as openssl x509 -text shows it.
func TestCertificateFieldsAsOpenSSL(t *testing.T) {
	c := readCerts(t, testvectors.Path("intel-roots/Intel_SGX_PCK_Platform_CA.pem"))[0]
	d := describeCertificate(c, nil)
	check(t, "version", d.Version, 3)
	check(t, "serial", d.Serial, "956f5dcdbd1be1e94049c9d4f433ce01570bde54")
	check(t, "subject", d.Subject, "CN=Intel SGX PCK Platform CA,O=Intel Corporation,L=Santa Clara,ST=CA,C=US")
	check(t, "issuer", d.Issuer, "CN=Intel SGX Root CA,O=Intel Corporation,L=Santa Clara,ST=CA,C=US")
	check(t, "validity", d.NotBefore+" "+d.NotAfter, "2018-05-21T10:50:10Z 2033-05-21T10:50:10Z")
	check(t, "public key", d.PublicKey, "ECDSA P-256")
	check(t, "public key bytes", d.PublicKeyHex, "0435207feeddb595748ed82bb3a71c3be1e241ef61320c6816e6b5c2b71dad5532eaea12a4eb3f948916429ea47ba6c3af82a15e4b19664e52657939a2d96633de")
	check(t, "key usage", d.KeyUsage, []string{"Certificate Sign", "CRL Sign"})
	zero := 0
	check(t, "basic constraints", d.BasicConstraints, &BasicConstraints{CA: true, MaxPathLen: &zero})
	check(t, "subject key id", d.SubjectKeyID, "956f5dcdbd1be1e94049c9d4f433ce01570bde54")
	check(t, "authority key id", d.AuthorityKeyID, "22650cd65a9d3489f383b49552bf501b392706ac")
	check(t, "CRL distribution points", d.CRLDistributionPoints, []string{"https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"})
	check(t, "signature value", d.SignatureValue, "304402205ec5648b4c3e8ba558196dd417fdb6b9a5ded182438f551e9c0f938c3d5a8b970220261bd520260f9c647d3569be8e14a32892631ac358b994478088f4d2b27cf37e")
	values := map[string]string{}
	for _, e := range d.Extensions {
		values[e.OID] = e.Value
	}
	check(t, "extension values", values, map[string]string{
		"2.5.29.35": "22:65:0C:D6:5A:9D:34:89:F3:83:B4:95:52:BF:50:1B:39:27:06:AC",
		"2.5.29.31": "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der",
		"2.5.29.14": "95:6F:5D:CD:BD:1B:E1:E9:40:49:C9:D4:F4:33:CE:01:57:0B:DE:54",
		"2.5.29.15": "Certificate Sign, CRL Sign",
		"2.5.29.19": "CA:TRUE, pathlen:0",
	})
	if d.SGX != nil || d.AltNames != nil || d.ExtKeyUsage != nil {
		t.Errorf("a CA certificate with SGX extensions %v, alt names %v or EKU %v", d.SGX, d.AltNames, d.ExtKeyUsage)
	}
}

// The SGX extensions of a PCK certificate, on its own and inside quotes.
// Expected values are the vectors' PROVENANCE.md and EXPECTED.json.
func TestSGXExtensions(t *testing.T) {
	leaf := readCerts(t, testvectors.Path("intel-qvl-sample-testroot/sgx/_fullchain.pem"))
	r, err := Certificates(leaf)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "QVL sample PCK certificate", r.Certificate.SGX, &SGXExtensions{
		FMSPC: "00707f000000", PCEID: "0000", SGXType: "Standard", PPID: r.Certificate.SGX.PPID,
		TCBComponents: []int{0, 3, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, PCESVN: 3, CPUSVN: "00030000000101000000000000000000",
		CA: "processor",
	})
	if len(r.Certificate.SGX.PPID) != 32 {
		t.Errorf("PPID %q", r.Certificate.SGX.PPID)
	}

	for _, tc := range []struct {
		file     string
		pcesvn   uint16
		cpusvn   string
		instance bool
	}{
		{"rats-tls_legacy-sample.pem", 10, "04040303ffff00000000000000000000", true},
		{"rats-rs_demo-sgx-cert.pem", 13, "0c0c0303ffff00000000000000000000", true},
	} {
		r, err := File(testvectors.Path("ratls-certs", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		q := r.Evidence[0].Quote
		if len(q.PCKChain) != 3 || q.PCKChain[0].SGX == nil {
			t.Fatalf("%s: PCK chain %d certificates, leaf SGX extensions %v", tc.file, len(q.PCKChain), q.PCKChain[0].SGX)
		}
		x := q.PCKChain[0].SGX
		if x.FMSPC != "00606a000000" || x.PCESVN != tc.pcesvn || x.CPUSVN != tc.cpusvn || x.CA != "platform" ||
			(x.PlatformInstanceID != "") != tc.instance || x.Configuration == nil {
			t.Errorf("%s: SGX extensions %+v", tc.file, x)
		}
		// The components are the CPUSVN's bytes for these platforms.
		for i, c := range x.TCBComponents {
			if want := int(mustByte(t, tc.cpusvn, i)); c != want {
				t.Errorf("%s: component %d = %d, want %d", tc.file, i+1, c, want)
			}
		}
		if !q.PCKChain[0].SignatureValid || !q.PCKChain[2].SelfSigned {
			t.Errorf("%s: chain signatures not checked", tc.file)
		}
	}
}

func mustByte(t *testing.T, hexs string, i int) byte {
	t.Helper()
	var b byte
	for _, c := range hexs[2*i : 2*i+2] {
		b <<= 4
		switch {
		case c >= '0' && c <= '9':
			b |= byte(c - '0')
		default:
			b |= byte(c-'a') + 10
		}
	}
	return b
}

// Subject alternative names, extended key usages (with TCG DICE's), AIA and
// policies of a certificate made for the test.
func TestCertificateNamesAndUsages(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("spiffe://example.org/ratls")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x1234), Subject: pkix.Name{CommonName: "server"},
		NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		DNSNames: []string{"example.org", "*.example.org"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		EmailAddresses: []string{"ops@example.org"}, URIs: []*url.URL{u},
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{{2, 23, 133, 5, 4, 100, 8}, {1, 2, 3, 4}},
		OCSPServer:         []string{"http://ocsp.example.org"}, IssuingCertificateURL: []string{"http://ca.example.org/ca.der"},
		Policies:              []x509.OID{mustOID(t, "2.23.140.1.2.1")},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	d := describeCertificate(c, nil)
	check(t, "alt names", d.AltNames, &AltNames{DNS: []string{"example.org", "*.example.org"}, IP: []string{"127.0.0.1", "::1"},
		Email: []string{"ops@example.org"}, URI: []string{"spiffe://example.org/ratls"}})
	check(t, "key usage", d.KeyUsage, []string{"Digital Signature", "Key Encipherment"})
	check(t, "extended key usage", d.ExtKeyUsage, []string{"TLS Web Server Authentication", "TLS Web Client Authentication",
		"tcg-dice-kp-attestInit (2.23.133.5.4.100.8)", "1.2.3.4"})
	check(t, "serial", d.Serial, "1234")
	check(t, "OCSP", d.OCSPServers, []string{"http://ocsp.example.org"})
	check(t, "CA issuers", d.IssuingCertificateURLs, []string{"http://ca.example.org/ca.der"})
	check(t, "policies", d.Policies, []string{"2.23.140.1.2.1"})
	check(t, "basic constraints", d.BasicConstraints, &BasicConstraints{CA: false})
	check(t, "self-signed", d.SelfSigned && d.SignatureValid, true)
	for _, e := range d.Extensions {
		if e.OID == "2.5.29.17" {
			check(t, "SAN extension value", e.Value, "DNS:example.org, DNS:*.example.org, IP:127.0.0.1, IP:::1, email:ops@example.org, URI:spiffe://example.org/ratls")
		}
	}
}

func mustOID(t *testing.T, s string) x509.OID {
	t.Helper()
	o, err := x509.ParseOID(s)
	if err != nil {
		t.Fatal(err)
	}
	return o
}
