package ratls

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/sevsnp"
	"github.com/ratls/ratls/testing/amdtest"
	"github.com/ratls/ratls/verify/amd"
)

var (
	snpPKIOnce sync.Once
	snpPKI     *amdtest.PKI
	snpPKIErr  error
	// snpNow is within the test PKI's validity (2024..2034).
	snpNow = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
)

func testSNPPKI(t *testing.T) *amdtest.PKI {
	t.Helper()
	snpPKIOnce.Do(func() { snpPKI, snpPKIErr = amdtest.New() })
	if snpPKIErr != nil {
		t.Fatal(snpPKIErr)
	}
	return snpPKI
}

func testSNPCRL(t *testing.T, p *amdtest.PKI, number int64, thisUpdate time.Time, revoked ...*x509.Certificate) *x509.RevocationList {
	t.Helper()
	crl, err := p.CRL(number, thisUpdate, snpNow.Add(24*time.Hour), revoked...)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

// snpCertificate returns an RA-TLS certificate carrying a report of the
// test PKI signed by key and, in its endorsements, peer.
func snpCertificate(t *testing.T, p *amdtest.PKI, key snp.SigningKey, peer *kds.Certificates) *x509.Certificate {
	t.Helper()
	att := AttesterFunc(func(_ context.Context, reportData [64]byte) (*evidence.Evidence, error) {
		rep, err := p.Report(key, reportData, nil)
		return &evidence.Evidence{Tag: evidence.TagSEVSNP, Data: rep}, err
	})
	k, _ := GenerateKey("")
	der, err := CreateCertificate(context.Background(), k, att, &CertificateOptions{
		Endorsements: EndorsementsFromSNPCertificates(peer), Now: func() time.Time { return snpNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// crlCheckOf verifies cert at snpNow and returns the SEV-SNP crl check.
func crlCheckOf(t *testing.T, cert *x509.Certificate, o *VerifyOptions) (amd.Check, *Verification) {
	t.Helper()
	o.Now = snpNow
	v, err := VerifyCertificate(context.Background(), cert, o)
	if err != nil {
		t.Fatal(err)
	}
	if amdOf(v) == nil {
		t.Fatalf("no SEV-SNP result: %v", v.Err)
	}
	c, _ := amdOf(v).Check(amd.CheckCRL)
	return c, v
}

// The SEV-SNP collateral a peer carries (certificate table, endorsements
// extension) does not replace the verifier's: a revoked ASK stays revoked
// when the peer ships an older CRL that does not list it.
func TestSNPPeerCollateralDoesNotReplaceVerifiers(t *testing.T) {
	p := testSNPPKI(t)
	older := testSNPCRL(t, p, 1, snpNow.Add(-48*time.Hour))
	newer := testSNPCRL(t, p, 2, snpNow.Add(-time.Hour), p.ASK)
	peerVCEK := &kds.Certificates{Leaf: p.VCEK, Intermediate: p.ASK, Root: p.ARK,
		CRLs: []kds.CRL{{List: older, Source: "peer"}}}
	cert := snpCertificate(t, p, snp.SigningKeyVCEK, peerVCEK)
	verifier := func() *amd.Verifier { return amd.NewVerifier(&amd.Config{ExtraRoots: []*x509.Certificate{p.ARK}}) }

	t.Run("older peer CRL, newer configured CRL revokes the ASK", func(t *testing.T) {
		own := &kds.Certificates{Leaf: p.VCEK, Intermediate: p.ASK, Root: p.ARK, Source: "verifier's directory",
			CRLs: []kds.CRL{{List: newer, Kind: kds.CRLVCEK, Source: "verifier's directory"}}}
		c, v := crlCheckOf(t, cert, &VerifyOptions{TEE: []tee.Options{&sevsnp.Options{Verifier: verifier(), Certificates: kds.Static{C: own}}}})
		if c.OK || !errors.Is(c.Err(), amd.ErrRevoked) || !strings.Contains(c.Detail, `ASK "SEV-Milan" (serial 2) revoked`) {
			t.Errorf("crl check: %v %q, want ErrRevoked", c.Err(), c.Detail)
		}
		if v.Accepted() {
			t.Error("accepted with a revoked ASK")
		}
	})
	t.Run("newer peer CRL revokes the ASK, configured CRL older", func(t *testing.T) {
		peer := *peerVCEK
		peer.CRLs = []kds.CRL{{List: newer, Source: "peer"}}
		own := &kds.Certificates{Leaf: p.VCEK, Intermediate: p.ASK, Root: p.ARK, Source: "verifier's directory",
			CRLs: []kds.CRL{{List: older, Kind: kds.CRLVCEK, Source: "verifier's directory"}}}
		c, _ := crlCheckOf(t, snpCertificate(t, p, snp.SigningKeyVCEK, &peer), &VerifyOptions{TEE: []tee.Options{&sevsnp.Options{Verifier: verifier(), Certificates: kds.Static{C: own}}}})
		if !errors.Is(c.Err(), amd.ErrRevoked) {
			t.Errorf("crl check: %v %q, want ErrRevoked", c.Err(), c.Detail)
		}
	})
	t.Run("peer's older CRL after the verifier saw a newer one", func(t *testing.T) {
		vf := verifier()
		notRevoking := testSNPCRL(t, p, 3, snpNow.Add(-time.Hour))
		own := &kds.Certificates{Leaf: p.VCEK, Intermediate: p.ASK, Root: p.ARK,
			CRLs: []kds.CRL{{List: notRevoking, Kind: kds.CRLVCEK, Source: "kds"}}}
		if c, _ := crlCheckOf(t, cert, &VerifyOptions{TEE: []tee.Options{&sevsnp.Options{Verifier: vf, Certificates: kds.Static{C: own}}}}); !c.OK {
			t.Fatalf("current configured CRL: %q", c.Detail)
		}
		// Later, with only the peer's certificates: its CRL, of unstated
		// kind, adds revocations but cannot show the chain current.
		c, v := crlCheckOf(t, cert, &VerifyOptions{TEE: []tee.Options{&sevsnp.Options{Verifier: vf}}})
		if !errors.Is(c.Err(), amd.ErrNoCRL) || !strings.Contains(c.Detail, "does not say which of the ARK's lists it is") || v.Accepted() {
			t.Errorf("crl check: %v %q, want ErrNoCRL and a refusal", c.Err(), c.Detail)
		}
	})
	// The peer's certificates fill the gap; its CRL cannot say it is the
	// VCEK list (the ARK's VLEK list would look the same), so only
	// sev_snp.allow_no_crl accepts the result.
	t.Run("peer certificates only, no configured provider", func(t *testing.T) {
		c, v := crlCheckOf(t, cert, &VerifyOptions{TEE: []tee.Options{&sevsnp.Options{Verifier: verifier()}}})
		if ch, _ := amdOf(v).Check(amd.CheckChain); !ch.OK {
			t.Errorf("peer-only chain: %q", ch.Detail)
		}
		if !errors.Is(c.Err(), amd.ErrNoCRL) || !strings.Contains(c.Detail, "from certificate endorsements extension does not say which") || v.Accepted() {
			t.Errorf("peer-only verification: %v; crl %q", v.Err, c.Detail)
		}
		allow := &appraise.Policy{AcceptAnyMeasurement: true, SNP: &appraise.SNPReference{AllowNoCRL: true}}
		if _, v := crlCheckOf(t, cert, &VerifyOptions{Policy: allow, TEE: []tee.Options{&sevsnp.Options{Verifier: verifier()}}}); !v.Accepted() {
			t.Errorf("peer-only verification with sev_snp.allow_no_crl: %+v", v.Appraisal)
		}
		for _, r := range v.Appraisal.Reasons {
			if r.Check == "amd.certificates" {
				t.Errorf("reason %s: %s", r.Check, r.Message)
			}
		}
	})
}

// A VLEK the verifier's provider cannot supply (KDS serves none) is taken
// from the peer, but the revocation lists the provider has still apply: a
// revoked ASVK on the configured VLEK CRL is refused.
func TestSNPPeerVLEKFillsGap(t *testing.T) {
	p := testSNPPKI(t)
	peer := &kds.Certificates{Leaf: p.VLEK, Intermediate: p.ASVK, Root: p.ARK, Source: "peer",
		CRLs: []kds.CRL{{List: testSNPCRL(t, p, 1, snpNow.Add(-48*time.Hour)), Source: "peer"}}}
	cert := snpCertificate(t, p, snp.SigningKeyVLEK, peer)
	for _, tc := range []struct {
		name    string
		revoked []*x509.Certificate
		want    error
	}{
		{"ASVK revoked on the VLEK CRL", []*x509.Certificate{p.ASVK}, amd.ErrRevoked},
		{"nothing revoked", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			own := &kds.Certificates{Intermediate: p.ASVK, Root: p.ARK, Source: "kds",
				CRLs: []kds.CRL{{List: testSNPCRL(t, p, 2, snpNow.Add(-time.Hour), tc.revoked...), Kind: kds.CRLVLEK, Source: "kds"}}}
			v, err := VerifyCertificate(context.Background(), cert, &VerifyOptions{Now: snpNow,
				TEE: []tee.Options{&sevsnp.Options{Verifier: amd.NewVerifier(&amd.Config{ExtraRoots: []*x509.Certificate{p.ARK}}), Certificates: kds.Static{C: own}}}})
			if err != nil {
				t.Fatal(err)
			}
			if amdOf(v) == nil {
				t.Fatalf("no SEV-SNP result: %v", v.Err)
			}
			if c, _ := amdOf(v).Check(amd.CheckChain); !c.OK {
				t.Errorf("chain with the peer's VLEK: %q", c.Detail)
			}
			c, _ := amdOf(v).Check(amd.CheckCRL)
			if tc.want == nil && !c.OK || tc.want != nil && !errors.Is(c.Err(), tc.want) {
				t.Errorf("crl check: %v %q, want %v", c.Err(), c.Detail, tc.want)
			}
		})
	}
}

// Without the peer's VLEK, a provider that has none (KDS) leaves the chain
// unverified, and the reason says where the VLEK was looked for.
func TestSNPNoVLEKAnywhere(t *testing.T) {
	p := testSNPPKI(t)
	rep, err := p.Report(snp.SigningKeyVLEK, [64]byte{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	items, err := evidence.ParseRaw(rep)
	if err != nil {
		t.Fatal(err)
	}
	own := &kds.Certificates{Intermediate: p.ASVK, Root: p.ARK, Source: "kds https://kdsintf.amd.com",
		CRLs: []kds.CRL{{List: testSNPCRL(t, p, 1, snpNow.Add(-time.Hour)), Kind: kds.CRLVLEK, Source: "kds"}}}
	v := VerifyEvidence(context.Background(), items[0], &VerifyOptions{Now: snpNow,
		TEE: []tee.Options{&sevsnp.Options{Verifier: amd.NewVerifier(&amd.Config{ExtraRoots: []*x509.Certificate{p.ARK}}), Certificates: kds.Static{C: own}}}})
	if v.Accepted() || amdOf(v) == nil {
		t.Fatalf("accepted without a VLEK certificate: %+v", v.Appraisal)
	}
	if c, _ := amdOf(v).Check(amd.CheckChain); !errors.Is(c.Err(), amd.ErrNoCertificate) {
		t.Errorf("chain check: %v %q, want ErrNoCertificate", c.Err(), c.Detail)
	}
	found := false
	for _, r := range v.Appraisal.Reasons {
		found = found || r.Check == "amd.certificates" && strings.Contains(r.Message, "kds https://kdsintf.amd.com has no VLEK certificate, and the evidence carries none")
	}
	if !found {
		t.Errorf("no amd.certificates reason naming the missing VLEK: %+v", v.Appraisal.Reasons)
	}
}
