package appraise

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence/cca"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/testing/ccatest"
	"github.com/ratls/ratls/verify/amd"
	"github.com/ratls/ratls/verify/arm"
	azureverify "github.com/ratls/ratls/verify/azure"
	"github.com/ratls/ratls/verify/checks"
)

// verifySNP verifies the go-sev-guest Milan vector (a debug guest) at its
// pinned time without a CRL; expected facts from its EXPECTED.json.
func verifySNP(t *testing.T) (*amd.Result, error) {
	t.Helper()
	dir := testvectors.Path("snp-go-sev-guest") + "/"
	raw, err := os.ReadFile(dir + "attestation.bin")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := snp.ParseReport(raw)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := os.ReadFile(dir + "vcek.testcer.der")
	vcek, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	certs := []*x509.Certificate{vcek}
	rest, _ := os.ReadFile(dir + "milan_cert_chain.pem")
	for {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	return amd.NewVerifier(nil).Verify(context.Background(), rep, amd.Options{Now: time.Date(2022, 9, 25, 0, 55, 28, 0, time.UTC), Certs: certs})
}

func TestAppraiseSNP(t *testing.T) {
	res, err := verifySNP(t)
	a := (&Policy{}).AppraiseSNP(res, err, nil)
	if a.Status != Contraindicated || reasonFor(a, "crl") == nil || reasonFor(a, "debug") == nil {
		t.Fatalf("default policy: %+v", a)
	}
	// Both weaknesses explicitly allowed: a warning.
	allow := &Policy{AllowDebug: true, SNP: &SNPReference{AllowNoCRL: true}}
	if a = allow.AppraiseSNP(res, err, okBinding); a.Status != Warning || a.ReferenceValuesChecked {
		t.Fatalf("allowing policy: %+v", a)
	}
	meas := hex.EncodeToString(res.Report.Measurement[:])
	allow.SNP.Measurement = []string{strings.ToUpper(meas)}
	allow.SNP.MinTCB = &SNPTCB{Bootloader: 2, SNP: 5, Microcode: 68}
	if a = allow.AppraiseSNP(res, err, okBinding); a.Status != Warning || !a.ReferenceValuesChecked {
		t.Fatalf("matching reference values: %+v", a)
	}
	allow.SNP.Measurement = []string{strings.Repeat("00", 48)}
	allow.SNP.MinTCB.Microcode = 200
	allow.SNP.VMPL = []uint32{1}
	allow.SNP.SigningKeys = []string{"vlek"}
	a = allow.AppraiseSNP(res, err, okBinding)
	for _, check := range []string{"sev_snp.measurement", "sev_snp.tcb.microcode", "sev_snp.vmpl", "sev_snp.signing_key"} {
		if r := reasonFor(a, check); r == nil || r.Status != Contraindicated {
			t.Errorf("%s: no contraindicating reason in %+v", check, a.Reasons)
		}
	}
	if r := reasonFor(a, "sev_snp.measurement"); r == nil || r.Actual != meas {
		t.Errorf("measurement reason: %+v", r)
	}
}

// SEV-SNP defaults have floors: VMPL 0, and no affirmation without a
// minimum TCB.
func TestSNPDefaults(t *testing.T) {
	res, err := verifySNP(t)
	meas := hex.EncodeToString(res.Report.Measurement[:])
	p := &Policy{AllowDebug: true, SNP: &SNPReference{AllowNoCRL: true, Measurement: []string{meas}}}
	a := p.AppraiseSNP(res, err, okBinding)
	if r := reasonFor(a, "sev_snp.min_tcb"); r == nil || r.Status != Warning || r.State != checks.NotRun {
		t.Fatalf("no min_tcb: %+v", a)
	}
	rep := *res.Report
	rep.VMPL = 1
	atVMPL1 := *res
	atVMPL1.Report = &rep
	a = p.AppraiseSNP(&atVMPL1, err, okBinding)
	if r := reasonFor(a, "sev_snp.vmpl"); a.Status != Contraindicated || r == nil || r.Expected != "<= 0" || r.Actual != "1" {
		t.Fatalf("VMPL 1 by default: %+v", a)
	}
	one := uint32(1)
	p.SNP.MaxVMPL = &one
	if a = p.AppraiseSNP(&atVMPL1, err, okBinding); reasonFor(a, "sev_snp.vmpl") != nil {
		t.Fatalf("max_vmpl 1: %+v", a)
	}
	if a := (&Policy{AcceptAnyMeasurement: true}).AppraiseSNP(&amd.Result{Report: res.Report}, nil, nil); a.Status != Contraindicated || reasonFor(a, amd.CheckSignature) == nil {
		t.Fatalf("no check ran: %+v", a)
	}
}

func TestAppraiseCCA(t *testing.T) {
	dir := testvectors.Path("cca-tfm") + "/"
	raw, err := os.ReadFile(dir + "cca_example_token.cbor")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cca.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(mustRead(t, dir+"cca_platform_CPAK.pub.pem"))
	key, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	res, verr := arm.NewVerifier(nil).Verify(context.Background(), tok, arm.Options{CPAK: key.(*ecdsa.PublicKey)})
	if verr != nil {
		t.Fatal(verr)
	}
	if a := (&Policy{}).AppraiseCCA(res, verr, nil); a.Status != Warning || reasonFor(a, "reference_values") == nil {
		t.Fatalf("default policy: %+v", a)
	}
	if a := (&Policy{CCA: &CCAReference{Lifecycle: []string{"secured"}}}).AppraiseCCA(res, verr, nil); a.Status != Warning || a.ReferenceValuesChecked {
		t.Fatalf("a lifecycle alone pins no realm: %+v", a)
	}
	if a := (&Policy{AcceptAnyMeasurement: true}).AppraiseCCA(res, verr, nil); a.Status != Affirming {
		t.Fatalf("accept_any_measurement: %+v", a)
	}
	if a := (&Policy{AcceptAnyMeasurement: true}).AppraiseCCA(&arm.Result{Token: tok}, nil, nil); a.Status != Contraindicated || reasonFor(a, arm.CheckPlatformSignature) == nil {
		t.Fatalf("no check ran: %+v", a)
	}
	rim := hex.EncodeToString(tok.Realm.Claims.InitialMeasurement)
	if a := (&Policy{CCA: &CCAReference{RealmInitialMeasurement: []string{rim}}}).AppraiseCCA(res, verr, nil); a.Status != Affirming || !a.ReferenceValuesChecked {
		t.Fatalf("matching RIM: %+v", a)
	}
	bad := &Policy{CCA: &CCAReference{RealmInitialMeasurement: []string{strings.Repeat("00", 32)}, Lifecycle: []string{"non-cca-platform-debug"}}}
	a := bad.AppraiseCCA(res, verr, nil)
	if r := reasonFor(a, "cca.realm_initial_measurement"); r == nil || r.Actual != rim || a.Status != Contraindicated {
		t.Fatalf("wrong RIM: %+v", a)
	}
	if reasonFor(a, "cca.lifecycle") == nil {
		t.Errorf("lifecycle not refused: %+v", a)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Platform keys (CPAKs) in the policy, by platform instance ID, in
// Veraison's JWK form or as PEM; only public keys, one per instance.
func TestCCAPlatformKeys(t *testing.T) {
	dir := testvectors.Dir() + "/"
	jwk := strings.TrimSpace(string(mustRead(t, dir+"cca-veraison/go/testRMMCPAK.pub.jwk.json")))
	pemKey := string(mustRead(t, dir+"cca-tfm/cca_platform_CPAK.pub.pem"))
	pemJSON, _ := json.Marshal(pemKey)
	id1, id2 := "01"+strings.Repeat("11", 32), "01"+strings.Repeat("22", 32)
	p, err := ReadPolicy(strings.NewReader(`{"cca":{"platform_keys":[{"instance_id":"` + id1 + `","jwk":` + jwk + `},{"instance_id":"` + strings.ToUpper(id2) + `","pem":` + string(pemJSON) + `}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	want, err := arm.ParsePublicKey([]byte(pemKey))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{id1, id2} {
		raw, _ := hex.DecodeString(id)
		k, err := p.CCA.PlatformKey(raw)
		if err != nil || k == nil || !want.Equal(k) {
			t.Errorf("PlatformKey(%s): %v, %v", id[:6], k, err)
		}
	}
	if k, err := p.CCA.PlatformKey(append([]byte{1}, make([]byte, 32)...)); k != nil || err != nil {
		t.Errorf("unknown instance: want no key and no error, got %v, %v", k, err)
	}
	priv := strings.Replace(jwk, `"kty"`, `"d": "AAAA", "kty"`, 1)
	for name, in := range map[string]string{
		"private JWK":        `{"cca":{"platform_keys":[{"instance_id":"` + id1 + `","jwk":` + priv + `}]}}`,
		"both forms":         `{"cca":{"platform_keys":[{"instance_id":"` + id1 + `","jwk":` + jwk + `,"pem":` + string(pemJSON) + `}]}}`,
		"no key":             `{"cca":{"platform_keys":[{"instance_id":"` + id1 + `"}]}}`,
		"short instance":     `{"cca":{"platform_keys":[{"instance_id":"0111","jwk":` + jwk + `}]}}`,
		"wrong type byte":    `{"cca":{"platform_keys":[{"instance_id":"02` + strings.Repeat("11", 32) + `","jwk":` + jwk + `}]}}`,
		"duplicate instance": `{"cca":{"platform_keys":[{"instance_id":"` + id1 + `","jwk":` + jwk + `},{"instance_id":"` + id1 + `","pem":` + string(pemJSON) + `}]}}`,
		"RSA":                `{"cca":{"platform_keys":[{"instance_id":"` + id1 + `","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}]}}`,
		"unknown member":     `{"cca":{"platform_keys":[{"instance_id":"` + id1 + `","jwk":` + jwk + `,"extra":1}]}}`,
	} {
		if _, err := ReadPolicy(strings.NewReader(in)); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

// The CCA platform claims Veraison appraises: the platform configuration
// (cca-platform-config), the implementation ID its trust anchors and
// reference values are found by, and each software component's
// measurement with its type and version.
func TestCCAPlatformClaims(t *testing.T) {
	pl, err := ccatest.NewPlatform()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := pl.Token(ccatest.NewRealm(nil))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cca.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	res, verr := arm.NewVerifier(nil).Verify(context.Background(), tok, arm.Options{CPAK: pl.Public()})
	if verr != nil {
		t.Fatal(verr)
	}
	h := hex.EncodeToString
	bl, rmm := pl.SWComponents[0], pl.SWComponents[1]
	comp := func(c ccatest.SWComponent, typ, version string) string {
		return fmt.Sprintf(`{"measurement":%q,"type":%q,"version":%q}`, h(c.Measurement), typ, version)
	}
	for _, tc := range []struct {
		name, cca string
		check     string // the reason wanted; "" for none of these checks
		cat       checks.Category
	}{
		{"config matches", `{"platform_config":["` + h(pl.Config) + `"]}`, "", ""},
		{"config differs", `{"platform_config":["cf02"]}`, "cca.platform_config", checks.Configuration},
		{"implementation matches", `{"platform_implementation_id":["` + h(pl.ImplementationID) + `"]}`, "", ""},
		{"implementation differs", `{"platform_implementation_id":["` + strings.Repeat("ab", 32) + `"]}`, "cca.platform_implementation_id", checks.Hardware},
		{"components by measurement", `{"platform_sw_components":["` + h(bl.Measurement) + `","` + h(rmm.Measurement) + `"]}`, "", ""},
		{"components with type and version", `{"platform_sw_components":[` + comp(bl, "BL", "1.0.0") + `,` + comp(rmm, "RMM", "2.0.0") + `]}`, "", ""},
		{"a component's version differs", `{"platform_sw_components":[` + comp(bl, "BL", "1.0.1") + `,"` + h(rmm.Measurement) + `"]}`, "cca.platform_sw_components", checks.Executables},
		{"a component's type differs", `{"platform_sw_components":[` + comp(bl, "BL", "") + `,` + comp(rmm, "BL", "") + `]}`, "cca.platform_sw_components", checks.Executables},
		{"a component unlisted", `{"platform_sw_components":["` + h(bl.Measurement) + `"]}`, "cca.platform_sw_components", checks.Executables},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ReadPolicy(strings.NewReader(`{"cca":` + tc.cca + `}`))
			if err != nil {
				t.Fatal(err)
			}
			a := p.AppraiseCCA(res, verr, nil)
			for _, name := range []string{"cca.platform_config", "cca.platform_implementation_id", "cca.platform_sw_components"} {
				r := reasonFor(a, name)
				switch {
				case name == tc.check && (r == nil || r.Status != Contraindicated || r.Category != tc.cat):
					t.Errorf("want %s contraindicated (%s), got %+v", name, tc.cat, r)
				case name != tc.check && r != nil:
					t.Errorf("unexpected reason %+v", r)
				}
			}
		})
	}
	for name, in := range map[string]string{
		"config not hex":         `{"cca":{"platform_config":["xy"]}}`,
		"empty config":           `{"cca":{"platform_config":[""]}}`,
		"short implementation":   `{"cca":{"platform_implementation_id":["abcd"]}}`,
		"component without hash": `{"cca":{"platform_sw_components":[{"type":"BL"}]}}`,
		"component short hash":   `{"cca":{"platform_sw_components":[{"measurement":"abcd"}]}}`,
		"component unknown key":  `{"cca":{"platform_sw_components":[{"measurement":"` + strings.Repeat("00", 32) + `","kind":"BL"}]}}`,
		"component number":       `{"cca":{"platform_sw_components":[1]}}`,
	} {
		if _, err := ReadPolicy(strings.NewReader(in)); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

// sev_snp.max_vmpl widens the VMPL for SVSM guests, not for the HCL of an
// Azure vTPM CVM, which reports from VMPL 0.
func TestAzureHCLAtVMPL0(t *testing.T) {
	res, err := verifySNP(t)
	rep := *res.Report
	rep.VMPL = 1
	at1 := *res
	at1.Report = &rep
	one := uint32(1)
	p := &Policy{SNP: &SNPReference{MaxVMPL: &one}}
	if a := p.AppraiseSNP(&at1, err, okBinding); reasonFor(a, "sev_snp.vmpl") != nil {
		t.Fatalf("max_vmpl 1 should accept VMPL 1 for SEV-SNP guests: %+v", a.Reasons)
	}
	a := p.AppraiseAzure(&azureverify.Result{SNP: &at1}, err, okBinding)
	if r := reasonFor(a, "azure.vmpl"); r == nil || r.Status != Contraindicated || r.Expected != "0" || r.Actual != "1" {
		t.Fatalf("Azure HCL report at VMPL 1: want an azure.vmpl refusal, got %+v", a.Reasons)
	}
}
