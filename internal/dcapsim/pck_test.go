package dcapsim

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence/quote"
)

// realPCK returns the PCK leaf certificate embedded in a real quote.
func realPCK(t *testing.T, folder, name string) *x509.Certificate {
	t.Helper()
	q, err := quote.Parse(readTestdata(t, folder, name))
	if err != nil {
		t.Fatal(err)
	}
	pem, err := q.Signature.Certification.PCKChainPEM()
	if err != nil {
		t.Fatal(err)
	}
	return parsePEMCerts(t, pem)[0]
}

var (
	sgxOIDsProcessor = []string{
		"1.2.840.113741.1.13.1.1", "1.2.840.113741.1.13.1.2", "1.2.840.113741.1.13.1.3",
		"1.2.840.113741.1.13.1.4", "1.2.840.113741.1.13.1.5",
	}
	sgxOIDsPlatform = append(slices.Clone(sgxOIDsProcessor), "1.2.840.113741.1.13.1.6", "1.2.840.113741.1.13.1.7")
)

func TestPCKHasIntelShape(t *testing.T) {
	p := newTestPKI(t)
	for _, tc := range []struct {
		ca, folder, quote string
		wantOIDs          []string
	}{
		// The TDX quote's PCK comes from the platform CA, the SGX quote's
		// from the processor CA.
		{CAPlatform, "dcap-qvl", "tdx_quote", sgxOIDsPlatform},
		{CAProcessor, "zkdcap", "quote_sgx_v3_00906ed50000.bin", sgxOIDsProcessor},
	} {
		t.Run(tc.ca, func(t *testing.T) {
			pck, err := p.NewPCK(PCKOptions{CA: tc.ca, CompSVN: [16]uint8{3, 3, 2, 2, 255}, PCESVN: 300})
			if err != nil {
				t.Fatal(err)
			}
			intel := realPCK(t, tc.folder, tc.quote)
			compareCertShape(t, "PCK", pck.Cert, intel)
			for _, c := range []*x509.Certificate{pck.Cert, intel} {
				d, err := decodeSGXExt(sgxExtensionOf(t, c))
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(d.OIDs, tc.wantOIDs) {
					t.Errorf("%s: SGX extension entries %v, want %v", c.Issuer.CommonName, d.OIDs, tc.wantOIDs)
				}
			}
			if pck.Cert.Subject.CommonName != "Test SGX PCK Certificate" {
				t.Errorf("subject: %v", pck.Cert.Subject)
			}
			if !strings.HasSuffix(pck.Cert.CRLDistributionPoints[0], "/sgx/certification/v4/pckcrl?ca="+tc.ca+"&encoding=der") {
				t.Errorf("CDP: %v", pck.Cert.CRLDistributionPoints)
			}
		})
	}
}

func TestPCKExtensionContent(t *testing.T) {
	p := newTestPKI(t)
	o := PCKOptions{
		CA:                 CAPlatform,
		FMSPC:              [6]byte{0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00},
		PCEID:              [2]byte{0x01, 0x02},
		CompSVN:            [16]uint8{21, 21, 2, 4, 1, 128, 14, 0, 0, 0, 0, 0, 0, 0, 0, 255},
		PCESVN:             0xabcd,
		CPUSVN:             [16]byte{0xaa, 0xbb},
		PPID:               [16]byte{1, 2, 3},
		SGXType:            SGXTypeScalableWithIntegrity,
		PlatformInstanceID: [16]byte{9, 8, 7},
		Configuration:      PlatformConfiguration{DynamicPlatform: true, SMTEnabled: true},
	}
	pck, err := p.NewPCK(o)
	if err != nil {
		t.Fatal(err)
	}
	d, err := decodeSGXExt(sgxExtensionOf(t, pck.Cert))
	if err != nil {
		t.Fatal(err)
	}
	wantComp := [16]int{21, 21, 2, 4, 1, 128, 14, 0, 0, 0, 0, 0, 0, 0, 0, 255}
	if d.CompSVN != wantComp || d.PCESVN != 0xabcd {
		t.Errorf("TCB: comps %v pcesvn %d", d.CompSVN, d.PCESVN)
	}
	for _, f := range []struct {
		name      string
		got, want []byte
	}{
		{"FMSPC", d.FMSPC, []byte{0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00}},
		{"PCE-ID", d.PCEID, []byte{1, 2}},
		{"CPUSVN", d.CPUSVN, []byte{0xaa, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"PPID", d.PPID, []byte{1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"PlatformInstanceID", d.PlatformInstanceID, []byte{9, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	} {
		if !bytes.Equal(f.got, f.want) {
			t.Errorf("%s: got %x, want %x", f.name, f.got, f.want)
		}
	}
	if d.SGXType != 2 || !slices.Equal(d.Configuration, []bool{true, false, true}) {
		t.Errorf("SGX type %d configuration %v", d.SGXType, d.Configuration)
	}

	// The chain is leaf, platform CA, root, and verifies.
	chain := parsePEMCerts(t, pck.ChainPEM)
	if len(chain) != 3 || !chain[0].Equal(pck.Cert) || !chain[1].Equal(p.PlatformCA) || !chain[2].Equal(p.Root) {
		t.Fatalf("chain: %d certificates, not leaf/platform CA/root", len(chain))
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(p.Root)
	inter.AddCert(p.PlatformCA)
	if _, err := pck.Cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: p.Now}); err != nil {
		t.Errorf("PCK chain: %v", err)
	}
	if !pck.Key.PublicKey.Equal(pck.Cert.PublicKey) {
		t.Error("PCK key does not match the certificate")
	}
	if !pck.Cert.NotBefore.Equal(testNow.AddDate(0, 0, -30)) || !pck.Cert.NotAfter.Equal(testNow.AddDate(7, 0, 0)) {
		t.Errorf("default validity %v .. %v", pck.Cert.NotBefore, pck.Cert.NotAfter)
	}
}

func TestPCKDefaultsAndOverrides(t *testing.T) {
	p := newTestPKI(t)
	comps := [16]uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	pck, err := p.NewPCK(PCKOptions{CA: CAProcessor, CompSVN: comps})
	if err != nil {
		t.Fatal(err)
	}
	d, err := decodeSGXExt(sgxExtensionOf(t, pck.Cert))
	if err != nil {
		t.Fatal(err)
	}
	// Zero CPUSVN means the component SVNs as bytes; zero PPID is random.
	if !bytes.Equal(d.CPUSVN, comps[:]) || pck.Options.CPUSVN != comps {
		t.Errorf("default CPUSVN: %x", d.CPUSVN)
	}
	if bytes.Equal(d.PPID, make([]byte, 16)) || !bytes.Equal(d.PPID, pck.Options.PPID[:]) {
		t.Errorf("default PPID: %x", d.PPID)
	}
	if d.PlatformInstanceID != nil || d.Configuration != nil {
		t.Error("processor-CA PCK carries platform fields")
	}
	if err := pck.Cert.CheckSignatureFrom(p.ProcessorCA); err != nil {
		t.Errorf("processor PCK signature: %v", err)
	}

	// A chosen key, validity and a replaced extension value.
	key, err := p.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	nb, na := testNow.Add(-time.Hour), testNow.Add(time.Hour)
	custom, err := p.NewPCK(PCKOptions{Key: key, NotBefore: nb, NotAfter: na, ExtensionValue: []byte{0x30, 0x00}})
	if err != nil {
		t.Fatal(err)
	}
	if !custom.Cert.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) || custom.Key != key {
		t.Error("chosen key not used")
	}
	if !custom.Cert.NotBefore.Equal(nb) || !custom.Cert.NotAfter.Equal(na) {
		t.Errorf("validity %v .. %v", custom.Cert.NotBefore, custom.Cert.NotAfter)
	}
	if got := sgxExtensionOf(t, custom.Cert); !bytes.Equal(got, []byte{0x30, 0x00}) {
		t.Errorf("extension value override: %x", got)
	}
	if custom.Options.CA != CAPlatform {
		t.Errorf("default CA: %q", custom.Options.CA)
	}

	if _, err := p.NewPCK(PCKOptions{CA: "intel"}); err == nil {
		t.Error("unknown CA accepted")
	}
}
