package azure

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/ratls/ratls/evidence/azure"
	"github.com/ratls/ratls/verify/amd"
)

// The Azure SEV-SNP vector (evidence v2) at its pinned time, with a verifier
// that has seen its VCEK chain: warm caches. Only revocation fails (the
// vector has no CRL), as in every run.

func benchEvidence(b *testing.B) ([]byte, *azure.Evidence, Options) {
	raw := read(b, "az-snp-vtpm/evidence-v2.json")
	ev, err := azure.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	o := Options{Now: pinned(b, "2025-01-29T16:33:43Z"), AMD: amd.NewVerifier(nil)}
	if _, err := Verify(context.Background(), ev, o); !errors.Is(err, ErrHardware) {
		b.Fatal(err)
	}
	return raw, ev, o
}

// BenchmarkVerifyAzure verifies the whole vTPM chain: the SEV-SNP report,
// the runtime data binding, the attestation key, the TPM quote's signature
// and PCR digest ("warm"), and the same from the evidence JSON
// ("parse+warm"). Its budget is BenchmarkAzureFloor plus 20%.
func BenchmarkVerifyAzure(b *testing.B) {
	raw, ev, o := benchEvidence(b)
	ctx := context.Background()
	b.Run("warm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r, err := Verify(ctx, ev, o); r.PCRs == nil || !errors.Is(err, ErrHardware) {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse+warm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ev, err := azure.Parse(raw)
			if err != nil {
				b.Fatal(err)
			}
			if r, err := Verify(ctx, ev, o); r.PCRs == nil || !errors.Is(err, ErrHardware) {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAzureFloor is what the chain cannot avoid: verifying the
// hardware report with the same warm verifier, and one RSA-2048
// PKCS#1 v1.5 verification (the TPM quote's signature).
func BenchmarkAzureFloor(b *testing.B) {
	_, ev, o := benchEvidence(b)
	ctx := context.Background()
	vcek, err := x509.ParseCertificate(ev.VCEK)
	if err != nil {
		b.Fatal(err)
	}
	ak, err := ev.HCL.AttestationKey()
	if err != nil {
		b.Fatal(err)
	}
	opts := amd.Options{Now: o.Now, Certs: []*x509.Certificate{vcek}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.AMD.Verify(ctx, ev.HCL.SNP, opts); !errors.Is(err, amd.ErrNoCRL) {
			b.Fatal(err)
		}
		h := sha256.Sum256(ev.Quote.Message)
		if err := rsa.VerifyPKCS1v15(ak, crypto.SHA256, h[:], ev.Quote.Signature); err != nil {
			b.Fatal(err)
		}
	}
}
