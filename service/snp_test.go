package service_test

import (
	"crypto/x509"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/sevsnp"
	"github.com/ratls/ratls/testing/amdtest"
	"github.com/ratls/ratls/verify/amd"
)

var (
	amdPKIOnce sync.Once
	amdPKI     *amdtest.PKI
	amdPKIErr  error
)

func testAMDPKI(t *testing.T) *amdtest.PKI {
	amdPKIOnce.Do(func() { amdPKI, amdPKIErr = amdtest.New() })
	if amdPKIErr != nil {
		t.Fatal(amdPKIErr)
	}
	return amdPKI
}

// The certificate table of a configfs-tsm report (auxblob) does not
// replace the service's configured AMD certificates: the ASK the
// configured CRL revokes stays revoked although the auxblob carries an
// older CRL that does not list it. Without configured certificates the
// auxblob's are used, as before.
func TestSNPAuxBlobDoesNotReplaceConfiguredCertificates(t *testing.T) {
	p := testAMDPKI(t)
	now := testSim(t).Now().Add(time.Hour) // the fixture's clock
	crl := func(number int64, age time.Duration, revoked ...*x509.Certificate) *x509.RevocationList {
		c, err := p.CRL(number, now.Add(-age), now.Add(24*time.Hour), revoked...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	older, newer := crl(1, 48*time.Hour), crl(2, time.Hour, p.ASK)
	report, err := p.Report(snp.SigningKeyVCEK, [64]byte{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{"provider": "sev_guest", "outblob": report, "auxblob": p.CertTable(snp.SigningKeyVCEK, older)})
	if err != nil {
		t.Fatal(err)
	}
	reasons := func(t *testing.T, configured kds.Provider) map[string]appraise.Reason {
		t.Helper()
		f := newFixture(t, fixtureOptions{mutate: func(c *service.Config) {
			tee.Edit[sevsnp.Options](&c.Verify.TEE).Verifier = amd.NewVerifier(&amd.Config{ExtraRoots: []*x509.Certificate{p.ARK}})
			tee.Edit[sevsnp.Options](&c.Verify.TEE).Certificates = configured
		}})
		r := f.do("POST", api.PathAttest, "", api.MediaTSMReport, body)
		var res struct {
			TEE     string            `json:"tee"`
			Reasons []appraise.Reason `json:"reasons"`
		}
		r.json(t, &res)
		if r.code != 200 && r.code != 422 || r.code == 200 && res.TEE != "sev_snp" {
			t.Fatalf("status %d: %s", r.code, r.body)
		}
		out := map[string]appraise.Reason{}
		for _, reason := range res.Reasons {
			out[reason.Check] = reason
		}
		return out
	}

	configured := kds.Static{C: &kds.Certificates{Leaf: p.VCEK, Intermediate: p.ASK, Root: p.ARK, Source: "configured",
		CRLs: []kds.CRL{{List: newer, Kind: kds.CRLVCEK, Source: "configured"}}}}
	got := reasons(t, configured)
	if r, ok := got[amd.CheckCRL]; !ok || r.Status != appraise.Contraindicated || !strings.Contains(r.Message, `ASK "SEV-Milan" (serial 2) revoked`) {
		t.Errorf("with the configured CRL revoking the ASK: reasons %+v, want a contraindicating crl reason", got)
	}

	// With no configured source the auxblob's certificates are used, but
	// its CRL cannot say it is the VCEK list: revocation is not shown.
	got = reasons(t, nil)
	for _, check := range []string{amd.CheckChain, amd.CheckSignature, "amd.certificates"} {
		if r, ok := got[check]; ok {
			t.Errorf("auxblob certificates only: reason %s: %s", check, r.Message)
		}
	}
	if r, ok := got[amd.CheckCRL]; !ok || r.Status != appraise.Contraindicated || !strings.Contains(r.Message, "does not say which of the ARK's lists it is") {
		t.Errorf("auxblob certificates only: want a crl reason saying the CRL's kind is unknown, got %+v", got)
	}
}
