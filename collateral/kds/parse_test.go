package kds

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseCertChain(t *testing.T) {
	chain := readTestdata(t, "amd-roots", "ask_ark_milan.pem")
	ask, ark, err := ParseCertChain("t", chain)
	if err != nil {
		t.Fatal(err)
	}
	// Names from amd-roots/PROVENANCE.md.
	if ask.Subject.CommonName != "SEV-Milan" || ark.Subject.CommonName != "ARK-Milan" {
		t.Errorf("got %q, %q", ask.Subject.CommonName, ark.Subject.CommonName)
	}
	parts := splitPEM(t, chain)
	for _, tc := range []struct {
		name string
		in   []byte
		msg  string
	}{
		{"empty", nil, "got 0"},
		{"one", pemCert(parts[0]), "got 1"},
		{"three", append(bytes.Clone(chain), pemCert(parts[1])...), "got more"},
		{"trailing junk", append(bytes.Clone(chain), "junk"...), "other data after 2"},
		{"DER", parts[0], "other data after 0"},
		{"wrong block", append([]byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"), chain...), `got "X509 CRL"`},
		{"bad certificate", pemCert(parts[0][:50]), "certificate 1"},
		{"oversize", make([]byte, maxChainSize+1), "exceeds the limit"},
	} {
		if _, _, err := ParseCertChain("t", tc.in); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want ErrFormat containing %q", tc.name, err, tc.msg)
		}
	}
}

func TestParseCertificateAndCRL(t *testing.T) {
	der := readTestdata(t, "snp-go-sev-guest", "vcek.testcer.der")
	for _, in := range [][]byte{der, pemCert(der), append(pemCert(der), "\n\n"...)} {
		if c, err := ParseCertificate("t", in); err != nil || !bytes.Equal(c.Raw, der) {
			t.Errorf("ParseCertificate: %v", err)
		}
	}
	for _, in := range [][]byte{nil, der[:len(der)-1], append(bytes.Clone(der), 0), append(pemCert(der), 'x')} {
		if _, err := ParseCertificate("t", in); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseCertificate(%d bytes): error %v, want ErrFormat", len(in), err)
		}
	}
	crl := testCRL(t, "Milan", 1, crlThisUpdate, crlNextUpdate)
	if _, err := ParseCRL("t", crl); err != nil {
		t.Error(err)
	}
	for _, in := range [][]byte{nil, crl[:len(crl)-1], pemCert(crl), make([]byte, maxCRLSize+1)} {
		if _, err := ParseCRL("t", in); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseCRL(%d bytes): error %v, want ErrFormat", len(in), err)
		}
	}
}

func TestRequestString(t *testing.T) {
	_, r := loadVector(t, goSevGuest)
	// Chip ID ends from EXPECTED.json / PROVENANCE.md.
	if got, want := requestFor(r).String(), "Milan VCEK chip=3ac3fe21…006b5d tcb=0x4405000000000002"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
