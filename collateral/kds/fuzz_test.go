package kds

import (
	"bytes"
	"testing"
)

func FuzzParseCertificate(f *testing.F) {
	der := readTestdata(f, "snp-go-sev-guest", "vcek.testcer.der")
	f.Add(der)
	f.Add(pemCert(der))
	f.Add(readTestdata(f, "snp-virtee", "vcek_turin.der"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCertificate("fuzz", b)
		if err != nil {
			return
		}
		// Reparsing the DER gives the same certificate.
		c2, err := ParseCertificate("fuzz", c.Raw)
		if err != nil || !bytes.Equal(c2.Raw, c.Raw) {
			t.Fatalf("reparse: %v", err)
		}
	})
}

func FuzzParseCertChain(f *testing.F) {
	f.Add(readTestdata(f, "amd-roots", "ask_ark_milan.pem"))
	f.Add(readTestdata(f, "amd-roots", "ask_ark_milan_vlek.pem"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ask, ark, err := ParseCertChain("fuzz", b)
		if err != nil {
			return
		}
		a2, r2, err := ParseCertChain("fuzz", append(pemCert(ask.Raw), pemCert(ark.Raw)...))
		if err != nil || !bytes.Equal(a2.Raw, ask.Raw) || !bytes.Equal(r2.Raw, ark.Raw) {
			t.Fatalf("re-encoded chain: %v", err)
		}
	})
}

func FuzzParseCRL(f *testing.F) {
	f.Add(testCRL(f, "Milan", 1, crlThisUpdate, crlNextUpdate))
	f.Add([]byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		crl, err := ParseCRL("fuzz", b)
		if err != nil {
			return
		}
		if c2, err := ParseCRL("fuzz", crl.Raw); err != nil || !bytes.Equal(c2.Raw, crl.Raw) {
			t.Fatalf("reparse: %v", err)
		}
	})
}

func BenchmarkParseCertificate(b *testing.B) {
	der := readTestdata(b, "snp-go-sev-guest", "vcek.testcer.der")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCertificate("bench", der); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseCertChain(b *testing.B) {
	chain := readTestdata(b, "amd-roots", "ask_ark_milan.pem")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseCertChain("bench", chain); err != nil {
			b.Fatal(err)
		}
	}
}
