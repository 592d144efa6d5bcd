package evidence

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"testing"

	"github.com/ratls/ratls/internal/testvectors"
)

// Seeds come from the committed corpus in testdata/fuzz and from the real
// vectors added here. `make test` runs them; `make fuzz` explores further.

func FuzzParseTagged(f *testing.F) {
	f.Add(certExtension(f, testvectors.Path("ratls-certs/rats-rs_demo-sgx-cert.pem"), OIDTaggedEvidence))
	f.Add(readFile(f, ccaTokenFile))
	f.Add(mustHex("d9ea608244010203044405060708"))
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := ParseTagged(b)
		if err != nil {
			return
		}
		if it.Claims != nil {
			// Re-encoding the same parts must parse to the same evidence.
			again, err := EncodeTagged(it.Tag, it.Data, it.Claims.Raw)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			it2, err := ParseTagged(again)
			if err != nil {
				t.Fatalf("re-parse: %v", err)
			}
			if !bytes.Equal(it2.Data, it.Data) || !bytes.Equal(it2.Claims.Raw, it.Claims.Raw) || it2.TEE != it.TEE {
				t.Fatal("round trip changed the evidence")
			}
		}
	})
}

func FuzzParseClaims(f *testing.F) {
	b, _ := NewClaims([]byte("spki"), SHA384, []byte("nonce"))
	f.Add(b)
	f.Add(mustHex("a16b7075626b65792d68617368582482015820" + "abababababababababababababababababababababababababababababababab"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseClaims(b)
		if err != nil {
			return
		}
		if c.PubKeyHashAlg.Size() == 0 || len(c.PubKeyHash) != c.PubKeyHashAlg.Size() {
			t.Fatalf("accepted pubkey-hash %s with %d bytes", c.PubKeyHashAlg, len(c.PubKeyHash))
		}
		if !bytes.Equal(c.Raw, b) {
			t.Fatal("Raw differs from input")
		}
	})
}

func FuzzParseEndorsements(f *testing.F) {
	e := &Endorsements{Version: 1, TCBInfo: []byte("{}"), QEIdentity: []byte("{}")}
	b, _ := e.Marshal()
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEndorsements(b)
		if err != nil || e.Empty || e.Version > 0xffffffff {
			return
		}
		again, err := e.Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		e2, err := ParseEndorsements(again)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if e2.Version != e.Version || !bytes.Equal(e2.TCBInfo, e.TCBInfo) || !bytes.Equal(e2.QEIdentityIssuerChain, e.QEIdentityIssuerChain) {
			t.Fatal("round trip changed the endorsements")
		}
	})
}

func FuzzParseRaw(f *testing.F) {
	f.Add(readFile(f, tdxQuoteFile))
	f.Add(readFile(f, snpReportFile))
	f.Add(readFile(f, ccaTokenFile))
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := ParseRaw(b)
		if err != nil {
			return
		}
		for _, it := range items {
			_ = it.ReportData()
		}
	})
}

func FuzzFromCertificate(f *testing.F) {
	for _, p := range []string{testvectors.Path("ratls-certs/rats-rs_demo-sgx-cert.pem"), testvectors.Path("ratls-certs/rats-tls_legacy-sample.pem")} {
		f.Add(readPEMCert(f, p).Raw)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		ce, err := FromCertificate(cert)
		if err != nil {
			return
		}
		for _, it := range ce.Items {
			_ = it.ReportData()
		}
	})
}

func certExtension(t testing.TB, path string, oid asn1.ObjectIdentifier) []byte {
	t.Helper()
	for _, e := range readPEMCert(t, path).Extensions {
		if e.Id.Equal(oid) {
			return e.Value
		}
	}
	t.Fatalf("%s: no extension %v", path, oid)
	return nil
}
