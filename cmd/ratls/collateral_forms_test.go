package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Collateral as other tools save it verifies as the directory layout does.
// Expected values are the vectors' EXPECTED.json.
func TestVerifyCollateralForms(t *testing.T) {
	// Real Intel collateral for two platforms in one directory, kept
	// under its own names and without any issuer chain (zkdcap): Intel's
	// certificates complete the chains. (The TD has SEPT_VE_DISABLE clear,
	// which the default policy refuses: exit 1 whatever the TCB.)
	r := runVerifyJSON(t, 1, "--collateral", vec+"zkdcap", "--at", "2025-01-21T13:58:39Z", vec+"zkdcap/quote_v4.dat")
	if v := r.Verification; v.TCBStatus != "UpToDate" || v.FMSPC != "00806f050000" || !v.TrustAnchor.Intel {
		t.Errorf("zkdcap TDX: TCB %s FMSPC %s Intel root %v", v.TCBStatus, v.FMSPC, v.TrustAnchor.Intel)
	}
	r = runVerifyJSON(t, 1, "--collateral", vec+"zkdcap", "--at", "2025-01-21T11:24:46Z", vec+"zkdcap/quote_sgx_v3_00906ed50000.bin")
	if v := r.Verification; v.TCBStatus != "SWHardeningNeeded" || v.FMSPC != "00906ed50000" {
		t.Errorf("zkdcap SGX: TCB %s FMSPC %s", v.TCBStatus, v.FMSPC)
	}

	// dcap-qvl's JavaScript getCollateral() output: binary members as
	// number arrays, and pck_certificate_chain.
	b, err := os.ReadFile(vec + "dcap-qvl/tdx_quote_collateral.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tcb_info_signature", "qe_identity_signature", "pck_crl", "root_ca_crl"} {
		d, _ := hex.DecodeString(m[k].(string))
		arr := make([]int, len(d))
		for i, c := range d {
			arr[i] = int(c)
		}
		m[k] = arr
	}
	m["pck_certificate_chain"] = nil
	js := filepath.Join(t.TempDir(), "collateral.json")
	b, _ = json.Marshal(m)
	if err := os.WriteFile(js, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r = runVerifyJSON(t, 0, "--collateral", js, "--at", "2025-07-19T10:00:34Z", vec+"dcap-qvl/tdx_quote")
	if v := r.Verification; v.TCBStatus != "UpToDate" || v.Status != "warning" {
		t.Errorf("dcap-qvl JS collateral: %s, TCB %s", v.Status, v.TCBStatus)
	}
}

// Intel's QVL sample as Intel ships it: a quote with only a PPID, whose
// PCK chain dcap-qvl stores in pck_certificate_chain, or which the sample
// directory holds with Intel's file names (the PCK chain then given with
// --pck-chain). Its root is a test root: trusted only with --trust-root.
func TestVerifyIntelSampleNames(t *testing.T) {
	dir := vec + "intel-qvl-sample-testroot/sgx/"
	r := runVerifyJSON(t, 0, "--collateral", dir, "--trust-root", dir+"trustedRootCaCert.pem", "--pck-chain", dir+"_fullchain.pem",
		"--at", "2019-09-05T08:47:08Z", dir+"quote.dat")
	if v := r.Verification; v.TCBStatus != "UpToDate" || v.TrustAnchor.Intel {
		t.Errorf("QVL sample directory: TCB %s, Intel root %v", v.TCBStatus, v.TrustAnchor.Intel)
	}

	// The same collateral as dcap-qvl JSON carrying the PCK chain.
	read := func(name string) string {
		b, err := os.ReadFile(dir + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	body := func(name, key string) (string, string) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(read(name)), &m); err != nil {
			t.Fatal(err)
		}
		var sig string
		json.Unmarshal(m["signature"], &sig)
		return string(m[key]), sig
	}
	tcb, tcbSig := body("tcbInfo.json", "tcbInfo")
	qe, qeSig := body("qeIdentity.json", "enclaveIdentity")
	coll := map[string]any{
		"tcb_info": tcb, "tcb_info_signature": tcbSig, "tcb_info_issuer_chain": read("tcbSignChain.pem"),
		"qe_identity": qe, "qe_identity_signature": qeSig, "qe_identity_issuer_chain": read("tcbSignChain.pem"),
		"pck_crl": hex.EncodeToString([]byte(read("intermediateCaCrl.der"))), "pck_crl_issuer_chain": read("pckSignChain.pem"),
		"root_ca_crl":           hex.EncodeToString([]byte(read("rootCaCrl.der"))),
		"pck_certificate_chain": read("_fullchain.pem"),
	}
	file := filepath.Join(t.TempDir(), "collateral.json")
	b, _ := json.Marshal(coll)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r = runVerifyJSON(t, 0, "--collateral", file, "--trust-root", dir+"trustedRootCaCert.pem", "--at", "2019-09-05T08:47:08Z", dir+"quote.dat")
	if v := r.Verification; v.TCBStatus != "UpToDate" {
		t.Errorf("dcap-qvl JSON with pck_certificate_chain: TCB %s", v.TCBStatus)
	}
}

// Collateral for another platform: the rejection names what is missing and
// what the files hold instead.
func TestVerifyCollateralMissing(t *testing.T) {
	code, out, _ := runCLI(t, "verify", "--collateral", vec+"mobilecoin-sgx", "--at", "2025-01-21T13:58:39Z", vec+"zkdcap/quote_v4.dat")
	if code != exitRejected {
		t.Fatalf("exit %d, want %d", code, exitRejected)
	}
	for _, want := range []string{
		"TCB Info of TDX FMSPC 00806f050000 (GET https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=00806f050000; the input has TCB Info only for SGX FMSPC",
		"QE Identity TD_QE",
		"PCK CRL of the platform CA",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
