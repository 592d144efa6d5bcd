package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratls/ratls/internal/testvectors"
)

var vec = testvectors.Dir() + "/"

type verifyJSON struct {
	Source       string `json:"source"`
	Verification struct {
		Status      string   `json:"status"`
		TCBStatus   string   `json:"tcb_status"`
		AdvisoryIDs []string `json:"advisory_ids"`
		TCBDate     string   `json:"tcb_date"`
		FMSPC       string   `json:"fmspc"`
		TrustAnchor struct {
			Subject string `json:"subject"`
			Intel   bool   `json:"intel"`
		} `json:"trust_anchor"`
		Collateral struct {
			Source string `json:"source"`
		} `json:"collateral"`
		KeyBinding string `json:"key_binding"`
		Checks     []struct {
			Name string `json:"name"`
			OK   bool   `json:"ok"`
		} `json:"checks"`
		Reasons []struct {
			Check    string `json:"check"`
			Expected string `json:"expected"`
			Actual   string `json:"actual"`
		} `json:"reasons"`
		ReferenceValuesChecked bool `json:"reference_values_checked"`
	} `json:"verification"`
}

func runVerifyJSON(t *testing.T, wantCode int, args ...string) *verifyJSON {
	t.Helper()
	code, out, stderr := runCLI(t, append([]string{"verify", "--json"}, args...)...)
	if code != wantCode {
		t.Fatalf("%v: exit %d, want %d; stderr %s", args, code, wantCode, stderr)
	}
	var r verifyJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return &r
}

// Expected values from the vectors' EXPECTED.json. Without reference values
// a genuine, up-to-date TD is a warning (exit 0) that says no reference
// values were checked; with its MRTD as reference value it is affirmed.
func TestVerifyAccepted(t *testing.T) {
	r := runVerifyJSON(t, 0, "--collateral", vec+"dcap-qvl/tdx_quote_collateral.json", "--at", "2025-07-19T10:00:34Z", vec+"dcap-qvl/tdx_quote")
	if v := r.Verification; v.Status != "warning" || len(v.Reasons) != 1 || v.Reasons[0].Check != "reference_values" || v.Reasons[0].Actual != "none" {
		t.Errorf("without reference values: %+v", v)
	}
	const mrtd = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
	pol := writePolicy(t, `{"tdx":{"mrtd":["`+mrtd+`"]}}`)
	r = runVerifyJSON(t, 0, "--policy", pol, "--collateral", vec+"dcap-qvl/tdx_quote_collateral.json", "--at", "2025-07-19T10:00:34Z", vec+"dcap-qvl/tdx_quote")
	v := r.Verification
	if v.Status != "affirming" || !v.ReferenceValuesChecked || v.TCBStatus != "UpToDate" || v.FMSPC != "b0c06f000000" || !v.TrustAnchor.Intel || v.KeyBinding != "not-applicable" {
		t.Errorf("got %+v", v)
	}
	if len(v.Checks) < 15 {
		t.Errorf("checks: %d", len(v.Checks))
	}
	for _, c := range v.Checks {
		if !c.OK {
			t.Errorf("check %s failed", c.Name)
		}
	}
}

func TestVerifyRejectedTCB(t *testing.T) {
	r := runVerifyJSON(t, 1, "--collateral", vec+"dcap-qvl/sgx_quote_collateral.json", "--at", "2025-07-19T10:01:17Z", vec+"dcap-qvl/sgx_quote")
	v := r.Verification
	if v.Status != "contraindicated" || v.TCBStatus != "ConfigurationAndSWHardeningNeeded" || strings.Join(v.AdvisoryIDs, ",") != "INTEL-SA-00289,INTEL-SA-00615" {
		t.Fatalf("got %+v", v)
	}
	if len(v.Reasons) == 0 || v.Reasons[0].Check != "tcb_status" || v.Reasons[0].Expected != "UpToDate" {
		t.Errorf("reasons: %+v", v.Reasons)
	}
	// The same evidence under a policy that accepts the status: warning, exit 0.
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"accepted_tcb_statuses":["UpToDate","ConfigurationAndSWHardeningNeeded"]}`), 0o644)
	r = runVerifyJSON(t, 0, "--policy", policy, "--collateral", vec+"dcap-qvl/sgx_quote_collateral.json", "--at", "2025-07-19T10:01:17Z", vec+"dcap-qvl/sgx_quote")
	if r.Verification.Status != "warning" {
		t.Errorf("accepting policy: %s", r.Verification.Status)
	}
}

func TestVerifyNoMatchingTCBLevel(t *testing.T) {
	r := runVerifyJSON(t, 1, "--collateral", vec+"dcap-qvl/tdx_quote_outdated_collateral.json", "--at", "2026-03-20T10:41:14Z", vec+"dcap-qvl/tdx_quote_outdated")
	if r.Verification.TCBStatus != "TCBLevelNotSupported" {
		t.Errorf("tcb_status: %s", r.Verification.TCBStatus)
	}
}

// A certificate offline, without collateral: signatures and the key
// binding verify, but the result is rejected.
func TestVerifyCertificateOffline(t *testing.T) {
	r := runVerifyJSON(t, 1, "--offline", "--at", "2024-04-15T16:53:31Z", certDir+"rats-rs_demo-sgx-cert.pem")
	v := r.Verification
	if r.Source != "certificate" || v.KeyBinding != "ok" || v.Status != "contraindicated" {
		t.Fatalf("got %+v", v)
	}
	checks := map[string]bool{}
	for _, c := range v.Checks {
		checks[c.Name] = c.OK
	}
	for _, name := range []string{"quote.signature", "qe_report.signature", "pck.chain"} {
		if !checks[name] {
			t.Errorf("%s did not pass", name)
		}
	}
	if ok, ran := checks["collateral.present"]; !ran || ok {
		t.Error("collateral.present must fail offline without collateral")
	}
	// The certificate expired 60 s after issue: at a later time that is a reason too.
	r = runVerifyJSON(t, 1, "--offline", "--at", "2024-05-01T00:00:00Z", certDir+"rats-rs_demo-sgx-cert.pem")
	found := false
	for _, rs := range r.Verification.Reasons {
		found = found || rs.Check == "certificate.validity"
	}
	if !found {
		t.Errorf("expired certificate: no certificate.validity reason in %+v", r.Verification.Reasons)
	}
}

func TestVerifyTestRoot(t *testing.T) {
	dir := vec + "intel-qvl-sample-testroot/sgx/"
	coll := t.TempDir()
	// Assemble the sample's collateral in the directory layout.
	copyFile(t, dir+"tcbInfo.json", coll+"/tcb_info.json")
	copyFile(t, dir+"tcbSignChain.pem", coll+"/tcb_info_issuer_chain.pem")
	copyFile(t, dir+"qeIdentity.json", coll+"/qe_identity.json")
	copyFile(t, dir+"tcbSignChain.pem", coll+"/qe_identity_issuer_chain.pem")
	copyFile(t, dir+"intermediateCaCrl.der", coll+"/pck_crl.der")
	copyFile(t, dir+"pckSignChain.pem", coll+"/pck_crl_issuer_chain.pem")
	copyFile(t, dir+"rootCaCrl.der", coll+"/root_ca_crl.der")
	args := []string{"--collateral", coll, "--pck-chain", dir + "_fullchain.pem", "--at", "2019-09-05T08:47:08Z", dir + "quote.dat"}
	// Genuine root only: rejected at the chain.
	r := runVerifyJSON(t, 1, args...)
	if r.Verification.Reasons[0].Check != "pck.chain" {
		t.Errorf("genuine root: first reason %+v", r.Verification.Reasons[0])
	}
	// With the sample's test root trusted: its TCB is UpToDate.
	r = runVerifyJSON(t, 0, append([]string{"--trust-root", dir + "trustedRootCaCert.pem"}, args...)...)
	if r.Verification.TCBStatus != "UpToDate" || r.Verification.TrustAnchor.Intel {
		t.Errorf("test root: %+v", r.Verification)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyBadInput(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(policy, []byte(`{"accepted_tcb_statuses":["Revoked"]}`), 0o644)
	for _, args := range [][]string{
		{"verify", "--offline", "/does/not/exist"},
		{"verify", "--offline", "--at", "yesterday", certDir + "rats-rs_demo-sgx-cert.pem"},
		{"verify", "--offline", "--policy", policy, certDir + "rats-rs_demo-sgx-cert.pem"},
		{"verify", "--collateral", "/does/not/exist", certDir + "rats-rs_demo-sgx-cert.pem"},
		{"verify", "--offline", "--update", "sometimes", certDir + "rats-rs_demo-sgx-cert.pem"},
		{"verify", "--only-trust-roots", certDir + "rats-rs_demo-sgx-cert.pem"},
	} {
		if code, _, stderr := runCLI(t, args...); code != 2 || !strings.HasPrefix(stderr, "ratls: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestVerifyText(t *testing.T) {
	code, out, _ := runCLI(t, "verify", "--collateral", vec+"dcap-qvl/tdx_quote_collateral.json", "--at", "2025-07-19T10:00:34Z", vec+"dcap-qvl/tdx_quote")
	if code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"Verification", "ok   quote.signature", "TCB status:", "UpToDate", "Result: WARNING", "no reference values were checked"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q", want)
		}
	}
}
