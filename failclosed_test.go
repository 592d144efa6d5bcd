package ratls

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/cmw"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/verify/checks"
)

// An attacker wraps a genuine old quote (taken from any RA-TLS
// certificate) with a claims buffer naming the verifier's fresh nonce. The
// quote's report data binds the old claims, not these: the nonce is the
// attacker's word and must not make the evidence pass for fresh.
func TestUnboundClaimsRefused(t *testing.T) {
	tp := newTestPlatform(t, true)
	old := tp.certificate(t, &CertificateOptions{Endorsements: tp.endorsements(t)})
	ce, err := evidence.FromCertificate(old)
	if err != nil {
		t.Fatal(err)
	}
	genuine := tee.Preferred(ce)
	nonce := []byte("fresh session nonce, 32 bytes!!!")
	claims, err := evidence.NewClaims(old.RawSubjectPublicKeyInfo, evidence.SHA256, nonce)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := evidence.EncodeTagged(evidence.TagIntelQuote, genuine.Data, claims)
	if err != nil {
		t.Fatal(err)
	}
	opt := tp.options()
	dcapOf(opt).Collateral = staticCollateral(t, tp)
	opt.Nonce = nonce
	for _, media := range []string{"tagged CBOR", "CMW"} {
		in := forged
		if media == "CMW" {
			in = cmwRecord(t, forged)
		}
		items, err := evidence.ParseRaw(in)
		if err != nil {
			t.Fatalf("%s: %v", media, err)
		}
		v := VerifyEvidence(context.Background(), items[0], opt)
		if v.Accepted() {
			t.Fatalf("%s: forged claims accepted: %+v", media, v.Appraisal)
		}
		r := reasonOf(v, CheckClaimsBinding)
		if r == nil || r.Category != checks.InstanceIdentity || r.Status != appraise.Contraindicated || !strings.Contains(r.Expected, "SHA-256") {
			t.Errorf("%s: want a claims.binding reason, got %+v", media, v.Appraisal.Reasons)
		}
		if r := reasonOf(v, CheckNonce); r == nil || r.Actual != "absent" {
			t.Errorf("%s: an unbound nonce must count as absent: %+v", media, r)
		}
		sub := v.Appraisal.Submodule(nil)
		if sub.Status != "contraindicated" || sub.TrustVector.Hardware == 2 || sub.TrustVector.InstanceIdentity == 2 {
			t.Errorf("%s: EAR claims genuine hardware or a trustworthy instance for forged claims: %+v", media, sub.TrustVector)
		}
	}

	// The same quote with claims its report data does bind is accepted
	// with the nonce those claims carry.
	fresh := tp.certificate(t, &CertificateOptions{Nonce: nonce})
	ce, err = evidence.FromCertificate(fresh)
	if err != nil {
		t.Fatal(err)
	}
	it := tee.Preferred(ce)
	bound, err := evidence.EncodeTagged(evidence.TagIntelQuote, it.Data, it.Claims.Raw)
	if err != nil {
		t.Fatal(err)
	}
	items, err := evidence.ParseRaw(bound)
	if err != nil {
		t.Fatal(err)
	}
	if v := VerifyEvidence(context.Background(), items[0], opt); !v.Accepted() || reasonOf(v, CheckNonce) != nil {
		t.Fatalf("bound claims with the right nonce: %+v", v.Appraisal)
	}
}

// staticCollateral is the platform's collateral as the verifier's own
// provider.
func staticCollateral(t *testing.T, tp *testPlatform) pcs.Provider {
	t.Helper()
	c, err := tp.pl.Collateral()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := c.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := pcs.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return pcs.Static{C: loaded}
}

// cmwRecord wraps tagged RA-TLS evidence in a JSON CMW record.
func cmwRecord(t *testing.T, tagged []byte) []byte {
	t.Helper()
	b, err := (&cmw.CMW{Kind: cmw.KindRecord, Format: cmw.FormatJSON, MediaType: "application/vnd.ratls.evidence+cbor", Value: tagged}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// NewPeerVerifier without reference values must not accept a peer: any
// genuine TEE, an attacker's own enclave included, would pass.
func TestPeerVerifierWithoutReferenceValues(t *testing.T) {
	att, iss := newAttestedServer(t, false)
	addr := serve(t, ServerConfig(iss, nil))
	opt := att.options()
	opt.Policy = &appraise.Policy{}
	_, err := echo(t, addr, ClientConfig(NewPeerVerifier(opt), nil))
	if err == nil || !strings.Contains(err.Error(), "reference_values") {
		t.Fatalf("peer without reference values: %v", err)
	}
	// Another enclave than the policy names is refused too.
	opt.Policy = &appraise.Policy{SGX: &appraise.SGXReference{MRSigner: []string{strings.Repeat("ab", 32)}}}
	if _, err := echo(t, addr, ClientConfig(NewPeerVerifier(opt), nil)); err == nil || !strings.Contains(err.Error(), "sgx.mrsigner") {
		t.Fatalf("peer with another MRSIGNER: %v", err)
	}
	// accept_any_measurement is the explicit way to accept any code.
	opt.Policy = &appraise.Policy{AcceptAnyMeasurement: true}
	conn, err := echo(t, addr, ClientConfig(NewPeerVerifier(opt), nil))
	if err != nil {
		t.Fatalf("accept_any_measurement: %v", err)
	}
	conn.Close()
	// The expected enclave is accepted.
	conn, err = echo(t, addr, ClientConfig(NewPeerVerifier(att.options()), nil))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}

type downPCS struct{}

func (downPCS) Collateral(context.Context, pcs.Request) (*pcs.Collateral, error) {
	return nil, fmt.Errorf("dial tcp 10.0.0.1:443: %w", pcs.ErrUnavailable)
}

// An unreachable collateral source is not a verdict about the peer: the
// handshake fails, but says it could not verify, not that the peer was
// rejected.
func TestPeerCollateralUnavailable(t *testing.T) {
	tp := newTestPlatform(t, false)
	iss := NewIssuer(tp, &IssuerOptions{Certificate: CertificateOptions{Now: func() time.Time { return tp.pki.Now }}})
	addr := serve(t, ServerConfig(iss, nil))
	opt := tp.options()
	dcapOf(opt).Collateral = downPCS{}
	_, err := echo(t, addr, ClientConfig(NewPeerVerifier(opt), nil))
	if !errors.Is(err, ErrCollateralUnavailable) || !strings.Contains(err.Error(), "could not verify the peer") || strings.Contains(err.Error(), "rejected") {
		t.Fatalf("handshake error %v: want one that says the peer could not be verified", err)
	}
}
