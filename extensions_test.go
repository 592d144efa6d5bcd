package ratls

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/evidence"
)

// oidUnknown is an extension no part of ratls or Go's x509 package knows.
var oidUnknown = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 55555, 7, 1}

// genuineCertificate issues an RA-TLS certificate on the test platform,
// carrying its collateral, and returns it with its key.
func (tp *testPlatform) genuineCertificate(t *testing.T) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	der, err := CreateCertificate(context.Background(), key, tp, &CertificateOptions{
		Endorsements: tp.endorsements(t), Now: func() time.Time { return tp.pki.Now },
	})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// resign re-issues cert with the same key, fields and extensions after
// edit has changed its non-standard extensions: the evidence still binds
// the key, so only the edit can make a difference.
func resign(t *testing.T, cert *x509.Certificate, key crypto.Signer, edit func([]pkix.Extension) []pkix.Extension) *x509.Certificate {
	t.Helper()
	tmpl := *cert
	tmpl.ExtraExtensions = nil
	for _, e := range cert.Extensions {
		if evidence.IsEvidenceExtension(e.Id) || e.Id.Equal(evidence.OIDEndorsements) {
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, e)
		}
	}
	tmpl.ExtraExtensions = edit(tmpl.ExtraExtensions)
	der, err := x509.CreateCertificate(nil, &tmpl, &tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	out, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func withExtension(ext pkix.Extension) func([]pkix.Extension) []pkix.Extension {
	return func(exts []pkix.Extension) []pkix.Extension { return append(exts, ext) }
}

func reasonOf(v *Verification, check string) *appraise.Reason {
	for i, r := range v.Appraisal.Reasons {
		if r.Check == check {
			return &v.Appraisal.Reasons[i]
		}
	}
	return nil
}

// RFC 5280 §4.2: a certificate with a critical extension the verifier does
// not process must be refused, whatever evidence it carries.
func TestCertificateUnknownCriticalExtension(t *testing.T) {
	tp := newTestPlatform(t, true)
	ctx := context.Background()
	cert, key := tp.genuineCertificate(t)
	if v, err := VerifyCertificate(ctx, cert, tp.options()); err != nil || !v.Accepted() {
		t.Fatalf("the genuine certificate must be accepted: %v %+v", err, v.Appraisal)
	}

	critical := resign(t, cert, key, withExtension(pkix.Extension{Id: oidUnknown, Critical: true, Value: []byte{0x05, 0x00}}))
	v, err := VerifyCertificate(ctx, critical, tp.options())
	if err != nil {
		t.Fatal(err)
	}
	r := reasonOf(v, "certificate.critical_extensions")
	if v.Accepted() || r == nil {
		t.Fatalf("unknown critical extension: want refused naming certificate.critical_extensions, got %+v", v.Appraisal)
	}
	if r.Status != appraise.Contraindicated || r.Expected != "none unhandled" || r.Actual != "1.3.6.1.4.1.55555.7.1" {
		t.Errorf("reason: want contraindicated, expected %q, actual %q; got %+v", "none unhandled", "1.3.6.1.4.1.55555.7.1", r)
	}

	// Two of them: both named.
	two := resign(t, cert, key, func(exts []pkix.Extension) []pkix.Extension {
		return append(exts,
			pkix.Extension{Id: oidUnknown, Critical: true, Value: []byte{0x05, 0x00}},
			pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{0x05, 0x00}})
	})
	if v, _ = VerifyCertificate(ctx, two, tp.options()); reasonOf(v, "certificate.critical_extensions") == nil ||
		reasonOf(v, "certificate.critical_extensions").Actual != "1.3.6.1.4.1.55555.7.1, 1.2.3.4" {
		t.Errorf("two unknown critical extensions: %+v", v.Appraisal)
	}

	// The same extension, not critical: ignored as before.
	plain := resign(t, cert, key, withExtension(pkix.Extension{Id: oidUnknown, Value: []byte{0x05, 0x00}}))
	if v, err = VerifyCertificate(ctx, plain, tp.options()); err != nil || !v.Accepted() || reasonOf(v, "certificate.critical_extensions") != nil {
		t.Errorf("unknown non-critical extension: want accepted, got %v %+v", err, v.Appraisal)
	}

	// Critical extensions Go's x509 package processes are fine: key usage
	// and basic constraints are critical in every RA-TLS certificate.
	for _, e := range cert.Extensions {
		if e.Critical && !e.Id.Equal(oidKeyUsage) && !e.Id.Equal(oidBasicConstraints) {
			t.Errorf("unexpected critical extension %s in the genuine certificate", e.Id)
		}
	}
}

var (
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
)

// The extensions ratls reads evidence from are processed, so their
// criticality never makes them "unhandled". ratls refuses them critical
// for its own reason (Interoperable RA-TLS and its peers require them
// non-critical), which names the extension.
func TestCertificateCriticalEvidenceExtension(t *testing.T) {
	tp := newTestPlatform(t, true)
	cert, key := tp.genuineCertificate(t)
	critical := resign(t, cert, key, func(exts []pkix.Extension) []pkix.Extension {
		for i := range exts {
			exts[i].Critical = true
		}
		return exts
	})
	if len(critical.UnhandledCriticalExtensions) != 2 {
		t.Fatalf("Go leaves the evidence and endorsements extensions unhandled: got %v", critical.UnhandledCriticalExtensions)
	}
	if got := unhandledCriticalExtensions(critical); len(got) != 0 {
		t.Errorf("evidence extensions reported as unhandled: %v", got)
	}
	_, err := VerifyCertificate(context.Background(), critical, tp.options())
	if err == nil || !strings.Contains(err.Error(), "2.23.133.5.4") || !strings.Contains(err.Error(), "critical") {
		t.Errorf("critical evidence extension: want the criticality error naming the extension, got %v", err)
	}
}

// A TLS peer whose certificate has an unknown critical extension fails the
// handshake, though Go's TLS stack (chain verification replaced by the
// attestation) would not look at it.
func TestTLSPeerUnknownCriticalExtension(t *testing.T) {
	tp := newTestPlatform(t, false)
	cert, key := tp.genuineCertificate(t)
	serveCert := func(c *x509.Certificate) string {
		return serve(t, &tls.Config{MinVersion: tls.VersionTLS13,
			Certificates: []tls.Certificate{{Certificate: [][]byte{c.Raw}, PrivateKey: key, Leaf: c}}})
	}

	conn, err := echo(t, serveCert(cert), ClientConfig(NewPeerVerifier(tp.options()), nil))
	if err != nil {
		t.Fatalf("genuine certificate: %v", err)
	}
	conn.Close()

	critical := resign(t, cert, key, withExtension(pkix.Extension{Id: oidUnknown, Critical: true, Value: []byte{0x05, 0x00}}))
	_, err = echo(t, serveCert(critical), ClientConfig(NewPeerVerifier(tp.options()), nil))
	var pe *PeerError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "certificate.critical_extensions") || !strings.Contains(err.Error(), "1.3.6.1.4.1.55555.7.1") {
		t.Fatalf("unknown critical extension over TLS: want a PeerError naming the check and the OID, got %v", err)
	}

	plain := resign(t, cert, key, withExtension(pkix.Extension{Id: oidUnknown, Value: []byte{0x05, 0x00}}))
	if conn, err = echo(t, serveCert(plain), ClientConfig(NewPeerVerifier(tp.options()), nil)); err != nil {
		t.Fatalf("unknown non-critical extension over TLS: %v", err)
	}
	conn.Close()
}
