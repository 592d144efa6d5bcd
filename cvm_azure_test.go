package ratls

import (
	"context"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/kds"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/testing/azuretest"
	azureverify "github.com/ratls/ratls/verify/azure"
)

func parseOne(t *testing.T, b []byte) *evidence.Item {
	t.Helper()
	items, err := evidence.ParseRaw(b)
	if err != nil {
		t.Fatal(err)
	}
	return items[0]
}

// Trustee's Azure SEV-SNP evidence verifies end to end with its nonce: every
// check passes but revocation, which needs the CRL the vector lacks; a
// policy that accepts that gives a warning, the default refuses.
func TestAzureSNPVector(t *testing.T) {
	item := parseOne(t, readTestFile(t, "testdata/trustee-cvm/az-snp-vtpm/evidence-v2.json"))
	nonce, _ := hex.DecodeString("982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef")
	opt := &VerifyOptions{Now: time.Date(2025, 1, 29, 16, 33, 43, 0, time.UTC), Nonce: nonce}
	v := VerifyEvidence(context.Background(), item, opt)
	if azureOf(v) == nil || v.Accepted() || reasonOf(v, "crl") == nil || reasonOf(v, "crl").Status != appraise.Contraindicated {
		t.Fatalf("default policy: %+v", v.Appraisal.Reasons)
	}
	opt.Policy = &appraise.Policy{SNP: &appraise.SNPReference{AllowNoCRL: true, Measurement: []string{"5b0ce64ad1c1f6375dbda5f760b98526ca1bcf91b8195091afc28e7b024251d68fe32e05af34048d6607678cd23283ff"}}}
	v = VerifyEvidence(context.Background(), item, opt)
	if !v.Accepted() || v.Appraisal.Status != appraise.Warning || reasonOf(v, "reference_values") != nil || len(azureOf(v).PCRs) != 24 {
		t.Fatalf("allow_no_crl: %v %+v", v.Err, v.Appraisal.Reasons)
	}
	if v.ValidUntil().Year() != 2032 {
		t.Errorf("valid until %v, want the VCEK's 2032", v.ValidUntil())
	}
	// A configured AMD source that cannot answer is reported as such, not
	// passed over: even allow_no_crl does not accept the result.
	down := *opt
	sevsnpOf(&down).Certificates = downKDS{}
	if v := VerifyEvidence(context.Background(), item, &down); v.Accepted() || reasonOf(v, CheckAMDCertificates) == nil || v.CollateralUnavailable() == nil {
		t.Errorf("AMD source down: want refused, an amd.certificates reason and collateral unavailable; got %+v", v.Appraisal.Reasons)
	}
	// Another nonce: refused.
	opt.Nonce = []byte("challenge")
	if v := VerifyEvidence(context.Background(), item, opt); v.Accepted() || reasonOf(v, CheckNonce) == nil {
		t.Errorf("another nonce: %+v", v.Appraisal.Reasons)
	}
}

// azurePlatform is an Azure TDX CVM on the test PKI.
type azurePlatform struct {
	*testPlatform
	ak *rsa.PrivateKey
}

func newAzurePlatform(t *testing.T) *azurePlatform {
	ak, err := azuretest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return &azurePlatform{testPlatform: newTestPlatform(t, true), ak: ak}
}

func (ap *azurePlatform) evidence(t *testing.T, o azuretest.Options) *evidence.Item {
	t.Helper()
	if o.AK == nil {
		o.AK = ap.ak
	}
	b, err := azuretest.Evidence(ap.pl, o)
	if err != nil {
		t.Fatal(err)
	}
	return parseOne(t, b)
}

// The whole vTPM chain on the test PKI: TD quote, runtime data, attestation
// key, quote, PCRs and their event log; each attack is refused by the
// check that guards against it.
func TestAzureVTPMChain(t *testing.T) {
	ap := newAzurePlatform(t)
	opt := ap.options()
	dcapOf(opt).Collateral = staticCollateral(t, ap.testPlatform)
	nonce := []byte("fresh nonce 0123")
	opt.Nonce = nonce
	log := azuretest.SampleEventLog(true)
	good := azuretest.Options{Nonce: nonce, EventLog: log}

	v := VerifyEvidence(context.Background(), ap.evidence(t, good), opt)
	if !v.Accepted() || azureOf(v) == nil || v.MeasuredBoot == nil {
		t.Fatalf("%v %+v", v.Err, v.Appraisal.Reasons)
	}
	f := v.MeasuredBoot.Facts()
	if f.Kernel == nil || f.Kernel.Digest != hex.EncodeToString(azuretest.KernelDigest[:]) || f.Cmdline == nil || f.Cmdline.Text != azuretest.SampleCmdline ||
		f.SecureBoot == nil || !f.SecureBoot.Enabled || len(f.Bootloaders) != 2 {
		t.Errorf("facts: kernel %+v cmdline %+v secure boot %+v bootloaders %d", f.Kernel, f.Cmdline, f.SecureBoot, len(f.Bootloaders))
	}

	otherKey, _ := azuretest.NewKey()
	otherLog := azuretest.SampleEventLog(false)
	otherPCRs, _ := azuretest.ReplayPCRs(otherLog)
	for _, c := range []struct {
		name  string
		o     azuretest.Options
		nonce []byte
		check string
	}{
		{"quote with another nonce", azuretest.Options{Nonce: []byte("old nonce"), EventLog: log}, nonce, CheckNonce},
		{"quote signed by another key", azuretest.Options{Nonce: nonce, EventLog: log, SignWith: otherKey}, nonce, azureverify.CheckQuoteSignature},
		{"runtime data not matching the report data", azuretest.Options{Nonce: nonce, EventLog: log, ReportRuntimeData: []byte(`{"keys":[]}`)}, nonce, azureverify.CheckRuntimeData},
		{"event log of another VM", azuretest.Options{Nonce: nonce, EventLog: log, PCRs: otherPCRs}, nonce, CheckEventLog},
		{"user-data without the nonce (v2)", azuretest.Options{Nonce: nonce, EventLog: log, RuntimeData: azuretest.RuntimeData(&ap.ak.PublicKey, []byte("other"))}, nonce, azureverify.CheckUserData},
	} {
		t.Run(c.name, func(t *testing.T) {
			opt.Nonce = c.nonce
			v := VerifyEvidence(context.Background(), ap.evidence(t, c.o), opt)
			if r := reasonOf(v, c.check); v.Accepted() || r == nil || r.Status != appraise.Contraindicated {
				t.Errorf("accepted=%v reasons %+v", v.Accepted(), v.Appraisal.Reasons)
			}
			// Facts rest on PCRs the chain vouches for; a stale nonce
			// leaves the chain intact (and the verdict refused).
			if c.check != CheckEventLog && c.check != CheckNonce && v.MeasuredBoot != nil {
				t.Error("facts of PCRs the chain does not vouch for were kept")
			}
		})
	}
	t.Run("PCR value changed", func(t *testing.T) {
		b, _ := azuretest.Evidence(ap.pl, azuretest.Options{Nonce: nonce, AK: ap.ak, EventLog: log})
		var j map[string]any
		json.Unmarshal(b, &j)
		pcrs := j["tpm_quote"].(map[string]any)["pcrs"].([]any)
		pcrs[4] = hex.EncodeToString(make([]byte, 32))
		b, _ = json.Marshal(j)
		opt.Nonce = nonce
		v := VerifyEvidence(context.Background(), parseOne(t, b), opt)
		if v.Accepted() || reasonOf(v, azureverify.CheckPCRDigest) == nil || reasonOf(v, CheckEventLog) == nil || v.MeasuredBoot != nil {
			t.Errorf("accepted=%v reasons %+v", v.Accepted(), v.Appraisal.Reasons)
		}
	})
}

// vtpm and measured_boot policies on an Azure CVM: PCRs and facts the chain
// vouches for pass; another PCR value or command line does not.
func TestAzureVTPMPolicy(t *testing.T) {
	ap := newAzurePlatform(t)
	opt := ap.options()
	dcapOf(opt).Collateral = staticCollateral(t, ap.testPlatform)
	log := azuretest.SampleEventLog(true)
	pcrs, _ := azuretest.ReplayPCRs(log)
	item := ap.evidence(t, azuretest.Options{Nonce: []byte("n"), EventLog: log})
	pin := func(pcr7, pattern string) *appraise.Policy {
		p := *opt.Policy
		p.VTPM = &appraise.VTPMReference{PCRs: map[string][]string{"7": {pcr7}}}
		p.MeasuredBoot = &appraise.MeasuredBootReference{CmdlinePattern: pattern, RequireSecureBoot: true, Kernel: []string{hex.EncodeToString(azuretest.KernelDigest[:])}}
		return &p
	}
	o := *opt
	o.Policy = pin(hex.EncodeToString(pcrs[7]), `.* console=ttyS0`)
	if v := VerifyEvidence(context.Background(), item, &o); !v.Accepted() || v.Appraisal.Status != appraise.Affirming {
		t.Fatalf("%+v", v.Appraisal.Reasons)
	}
	o.Policy = pin(hex.EncodeToString(pcrs[4]), `.* console=ttyS0`)
	if v := VerifyEvidence(context.Background(), item, &o); v.Accepted() || reasonOf(v, "vtpm.pcrs[7]") == nil {
		t.Errorf("another PCR 7: %+v", v.Appraisal.Reasons)
	}
	o.Policy = pin(hex.EncodeToString(pcrs[7]), `.* lockdown=confidentiality`)
	if v := VerifyEvidence(context.Background(), item, &o); v.Accepted() || reasonOf(v, appraise.CheckBootCmdlinePatt) == nil {
		t.Errorf("another command line: %+v", v.Appraisal.Reasons)
	}
}

type downKDS struct{}

func (downKDS) Certificates(context.Context, kds.Request) (*kds.Certificates, error) {
	return nil, fmt.Errorf("dial tcp: connection refused: %w", kds.ErrUnavailable)
}
