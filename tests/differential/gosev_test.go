package differential

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevverify "github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/verify/amd"
)

// measurementOffset is the offset of MEASUREMENT in an SEV-SNP report
// (AMD SEV-SNP ABI, ATTESTATION_REPORT: 48 bytes at 0x90).
const measurementOffset = 0x90

// errNoNetwork is what the go-sev-guest getter returns: everything it needs
// is given, so any fetch is a mistake in the comparison.
var errNoNetwork = errors.New("network access disabled in this comparison")

type noNetwork struct{}

func (noNetwork) Get(url string) ([]byte, error) {
	return nil, fmt.Errorf("%w: %s", errNoNetwork, url)
}

// comparison holds the real go-sev-guest Milan report and its certificates,
// both parsed (for ratls) and as DER/PEM bytes (for go-sev-guest).
type comparison struct {
	raw      []byte
	now      time.Time
	certs    []*x509.Certificate // VCEK, ASK, ARK
	vcekDER  []byte
	askDER   []byte
	arkDER   []byte
	chainPEM []byte // ASK and ARK in AMD KDS cert_chain form
}

func loadComparison(tb testing.TB) comparison {
	tb.Helper()
	var e struct {
		Vectors []struct {
			PinnedTime time.Time `json:"pinned_time"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(readAMD(tb, "snp-go-sev-guest/EXPECTED.json"), &e); err != nil || len(e.Vectors) != 1 {
		tb.Fatalf("EXPECTED.json: %v", err)
	}
	vcekDER := readAMD(tb, "snp-go-sev-guest/vcek.testcer.der")
	vcek, err := x509.ParseCertificate(vcekDER)
	if err != nil {
		tb.Fatal(err)
	}
	chainPEM := readAMD(tb, "snp-go-sev-guest/milan_cert_chain.pem")
	chain, err := pcs.ParsePEMChain(chainPEM)
	if err != nil {
		tb.Fatal(err)
	}
	if len(chain) != 2 {
		tb.Fatalf("milan_cert_chain.pem: want ASK and ARK, got %d certificates", len(chain))
	}
	return comparison{
		raw:      readAMD(tb, "snp-go-sev-guest/attestation.bin"),
		now:      e.Vectors[0].PinnedTime,
		certs:    append([]*x509.Certificate{vcek}, chain...),
		vcekDER:  vcekDER,
		askDER:   chain[0].Raw,
		arkDER:   chain[1].Raw,
		chainPEM: chainPEM,
	}
}

// ratlsVerify does the whole ratls path from report bytes to verdict.
func (c *comparison) ratlsVerify(ctx context.Context, v *amd.Verifier, raw []byte, certs []*x509.Certificate) (*amd.Result, error) {
	rep, err := snp.ParseReport(raw)
	if err != nil {
		return nil, err
	}
	return v.Verify(ctx, rep, amd.Options{Now: c.now, Certs: certs})
}

// ratlsAccepted reports whether the only failed check is the crl check
// with ErrNoCRL (no CRL is given in these comparisons).
func ratlsAccepted(r *amd.Result, err error) bool {
	if r == nil || !errors.Is(err, amd.ErrNoCRL) {
		return false
	}
	f := r.Failed()
	return len(f) == 1 && f[0].Name == amd.CheckCRL && f[0].Err() == amd.ErrNoCRL
}

// goSEVGuestRoots trusts the ASK and ARK given with the report, in the
// form go-sev-guest takes them. It is built once, like ratls's roots.
func (c *comparison) goSEVGuestRoots(tb testing.TB) map[string][]*trust.AMDRootCerts {
	tb.Helper()
	root := trust.AMDRootCertsProduct("Milan")
	if err := root.FromKDSCertBytes(c.chainPEM); err != nil {
		tb.Fatal(err)
	}
	return map[string][]*trust.AMDRootCerts{"Milan": {root}}
}

// goSEVGuestVerify does the whole go-sev-guest path from report bytes to
// verdict, as its TestRealAttestationVerification does, but with the
// certificate chain given instead of fetched.
func (c *comparison) goSEVGuestVerify(raw []byte, roots map[string][]*trust.AMDRootCerts) error {
	report, err := abi.ReportToProto(raw)
	if err != nil {
		return err
	}
	att := &spb.Attestation{
		Report: report,
		CertificateChain: &spb.CertificateChain{
			VcekCert: c.vcekDER,
			AskCert:  c.askDER,
			ArkCert:  c.arkDER,
		},
	}
	return sevverify.SnpAttestation(att, &sevverify.Options{
		Now:              c.now,
		Getter:           noNetwork{},
		CheckRevocations: false,
		TrustedRoots:     roots,
		// A version 2 report does not name its product; this is the
		// go-sev-guest test's "happy path" expectation (Milan, stepping 0).
		Product: &spb.SevProduct{
			Name:            spb.SevProduct_SEV_PRODUCT_MILAN,
			MachineStepping: &wrapperspb.UInt32Value{Value: 0},
		},
	})
}

// TestDifferentialGoSEVGuest checks that ratls and go-sev-guest agree on the
// real report: both accept it, and both reject it with one measurement byte
// flipped.
func TestDifferentialGoSEVGuest(t *testing.T) {
	c := loadComparison(t)
	ctx := context.Background()
	v := amd.NewVerifier(nil)
	roots := c.goSEVGuestRoots(t)

	var e struct {
		Vectors []struct {
			Computed struct {
				Measurement string `json:"measurement"`
			} `json:"computed"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(readAMD(t, "snp-go-sev-guest/EXPECTED.json"), &e); err != nil || len(e.Vectors) != 1 {
		t.Fatalf("EXPECTED.json: %v (%d vectors)", err, len(e.Vectors))
	}
	wantMeasurement, err := hex.DecodeString(e.Vectors[0].Computed.Measurement)
	if err != nil || len(wantMeasurement) != 48 {
		t.Fatalf("EXPECTED.json measurement: %v (%d bytes)", err, len(wantMeasurement))
	}
	if got := c.raw[measurementOffset : measurementOffset+48]; !bytes.Equal(got, wantMeasurement) {
		t.Fatalf("measurement at 0x%x: want %x, got %x", measurementOffset, wantMeasurement, got)
	}

	t.Run("genuine", func(t *testing.T) {
		if r, err := c.ratlsVerify(ctx, v, c.raw, c.certs); !ratlsAccepted(r, err) {
			t.Errorf("ratls: want only the crl check failed, got %v", err)
		}
		if err := c.goSEVGuestVerify(c.raw, roots); err != nil {
			t.Errorf("go-sev-guest: want success, got %v", err)
		}
	})

	t.Run("flipped-measurement", func(t *testing.T) {
		bad := bytes.Clone(c.raw)
		bad[measurementOffset+17] ^= 0x01

		r, err := c.ratlsVerify(ctx, v, bad, c.certs)
		if ratlsAccepted(r, err) || !errors.Is(err, amd.ErrSignature) {
			t.Errorf("ratls: want ErrSignature, got %v", err)
		}
		if r != nil {
			if s, ok := r.Check(amd.CheckSignature); !ok || s.OK {
				t.Errorf("ratls: want a failed signature check, got %+v (ran %v)", s, ok)
			}
			if ch, ok := r.Check(amd.CheckChain); !ok || !ch.OK {
				t.Errorf("ratls: the chain does not depend on the report and must still pass, got %+v", ch)
			}
		}

		t.Logf("ratls rejects: %v", err)

		err = c.goSEVGuestVerify(bad, roots)
		t.Logf("go-sev-guest rejects: %v", err)
		if err == nil || !strings.Contains(err.Error(), "signature") {
			t.Errorf("go-sev-guest: want a report signature error, got %v", err)
		}
	})
}

// BenchmarkCompareGoSEVGuest compares ratls with github.com/google/go-sev-guest
// on the same real Milan report and the same VCEK, ASK and ARK, each doing
// the whole work from report bytes to verdict in the loop.
//
// "ratls" reuses one Verifier, so its chain cache is warm and the cost is
// parsing plus the report signature. "ratls-der" additionally parses the
// three DER certificates each time, the input form go-sev-guest takes.
// "go-sev-guest" has no chain cache: it parses the VCEK and verifies
// VCEK←ASK←ARK with crypto/x509 on every report.
func BenchmarkCompareGoSEVGuest(b *testing.B) {
	c := loadComparison(b)
	ctx := context.Background()

	b.Run("ratls", func(b *testing.B) {
		v := amd.NewVerifier(nil)
		if r, err := c.ratlsVerify(ctx, v, c.raw, c.certs); !ratlsAccepted(r, err) {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if r, err := c.ratlsVerify(ctx, v, c.raw, c.certs); !ratlsAccepted(r, err) {
				b.Fatal(err)
			}
		}
	})

	b.Run("ratls-der", func(b *testing.B) {
		v := amd.NewVerifier(nil)
		if r, err := c.ratlsVerify(ctx, v, c.raw, c.certs); !ratlsAccepted(r, err) {
			b.Fatal(err)
		}
		ders := [][]byte{c.vcekDER, c.askDER, c.arkDER}
		b.ReportAllocs()
		for b.Loop() {
			certs := make([]*x509.Certificate, len(ders))
			for i, der := range ders {
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					b.Fatal(err)
				}
				certs[i] = cert
			}
			if r, err := c.ratlsVerify(ctx, v, c.raw, certs); !ratlsAccepted(r, err) {
				b.Fatal(err)
			}
		}
	})

	b.Run("go-sev-guest", func(b *testing.B) {
		roots := c.goSEVGuestRoots(b)
		if err := c.goSEVGuestVerify(c.raw, roots); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := c.goSEVGuestVerify(c.raw, roots); err != nil {
				b.Fatal(err)
			}
		}
	})
}
