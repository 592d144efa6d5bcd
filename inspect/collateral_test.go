package inspect

import (
	"bytes"
	"crypto/rand"
	"os"
	"strings"
	"testing"

	"github.com/ratls/ratls/internal/testvectors"
)

var pcsVectors = testvectors.Dir() + "/"

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A TCB Info or QE Identity is recognised as collateral and described,
// not reported as a CMW that fails to parse. Expected values are the
// vectors' EXPECTED.json and the files' own fields.
func TestInspectCollateral(t *testing.T) {
	r, err := File(pcsVectors + "zkdcap/tcbinfov3_00806f050000.json")
	if err != nil {
		t.Fatal(err)
	}
	if r.Source != SourceCollateral || len(r.Collateral.Items) != 1 {
		t.Fatalf("source %s, %+v", r.Source, r.Collateral)
	}
	it := r.Collateral.Items[0]
	check(t, "kind", it.Kind, "tcb_info")
	check(t, "id", it.Fields.Get("id"), "TDX")
	check(t, "fmspc", it.Fields.Get("fmspc"), "00806f050000")
	check(t, "evaluation data number", it.Fields.Get("tcb_evaluation_data_number"), uint32(17))
	check(t, "issue date", it.Fields.Get("issue_date"), "2025-01-21T11:14:05Z")
	check(t, "next update", it.Fields.Get("next_update"), "2025-02-20T11:14:05Z")
	if len(it.Levels) == 0 || it.Levels[0].Get("tcb_status") != "UpToDate" || it.TDXModuleIdentities == nil {
		t.Errorf("levels %v, module identities %v", it.Levels, it.TDXModuleIdentities)
	}

	r, err = File(pcsVectors + "zkdcap/qeidentityv2_tdx.json")
	if err != nil {
		t.Fatal(err)
	}
	qe := r.Collateral.Items[0]
	check(t, "QE identity kind and id", qe.Kind+" "+qe.Fields.Get("id").(string), "qe_identity TD_QE")

	r, err = File(pcsVectors + "zkdcap/pck_platform_crl.der")
	if err != nil {
		t.Fatal(err)
	}
	crl := r.Collateral.Items[0]
	check(t, "CRL", []any{crl.Kind, crl.Fields.Get("ca"), crl.Fields.Get("this_update")}, []any{"pck_crl", "platform", "2025-01-21T10:55:28Z"})

	// dcap-qvl collateral: four items, the chains it carries.
	r, err = File(pcsVectors + "dcap-qvl/tdx_quote_collateral.json")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, it := range r.Collateral.Items {
		kinds = append(kinds, it.Kind)
	}
	check(t, "dcap-qvl items", kinds, []string{"tcb_info", "qe_identity", "pck_crl", "root_ca_crl"})
	check(t, "TCB Info issuer chain", r.Collateral.Items[0].IssuerChain[1], "CN=Intel SGX Root CA,O=Intel Corporation,L=Santa Clara,ST=CA,C=US")

	// A directory.
	r, err = File(pcsVectors + "intel-qvl-sample-testroot/tdx")
	if err != nil {
		t.Fatal(err)
	}
	if r.Source != SourceCollateral || len(r.Collateral.Items) != 4 || !strings.HasSuffix(r.Collateral.Items[0].Where, "tcbInfo.json") {
		t.Errorf("directory: %+v", r.Collateral)
	}

	// Malformed collateral is an error about the collateral.
	_, err = Bytes([]byte(`{"tcbInfo":{"version":3},"signature":"00"}`))
	if err == nil || !strings.Contains(err.Error(), "input: signature: want 128 hex digits, got 2") {
		t.Errorf("malformed TCB Info: %v", err)
	}
}

// Input that is nothing ratls reads gets one plain message, whichever
// parser its first bytes would have gone to; input that looks like
// evidence gets the parser's precise message.
func TestInspectUnrecognised(t *testing.T) {
	random := make([]byte, 3000)
	rand.Read(random)
	const generic = "not a certificate, quote, report, token, CMW or collateral document"
	for name, b := range map[string][]byte{
		"random":                  random,
		"random after a CBOR tag": append([]byte{0xd9, 0x12, 0x34}, random[:100]...),
		"CBOR array then junk":    append([]byte{0x82, 0x01}, random[:50]...),
		"JSON-like junk":          []byte(`{"not json`),
		"a DER SEQUENCE":          {0x30, 0x03, 0x02, 0x01, 0x05},
		"text":                    []byte("hello world"),
	} {
		_, err := Bytes(b)
		if err == nil || !strings.HasPrefix(err.Error(), generic) {
			t.Errorf("%s: %v, want %q", name, err, generic)
		}
	}
	// A quote cut short is a quote, and the error says where.
	q := mustRead(t, pcsVectors+"dcap-qvl/sgx_quote")
	_, err := Bytes(q[:600])
	if err == nil || strings.HasPrefix(err.Error(), generic) || !strings.Contains(err.Error(), "quote") {
		t.Errorf("truncated quote: %v", err)
	}
	if _, err := Bytes(bytes.Repeat([]byte{0}, 10)); err == nil || !strings.Contains(err.Error(), "10 bytes starting 0000000000000000") {
		t.Errorf("zeros: %v", err)
	}
}

func TestExtract(t *testing.T) {
	r, err := File(testvectors.Path("ratls-certs/rats-rs_demo-sgx-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := Extract(r, "quote", "cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	// The extracted quote is the one the certificate carries: it parses
	// to the same measurements.
	again, err := Bytes(q)
	if err != nil || again.Evidence[0].Kind != "intel-quote" || len(q) != 4734 ||
		again.Evidence[0].Measurements.Get("mrenclave") != "488615372ec6d4b5a27dd7673697113808653b749615b8a58f62e71df0660e85" {
		t.Fatalf("extracted quote: %v", err)
	}
	claims, err := Extract(r, "claims", "cert.pem")
	if err != nil || !bytes.Contains(claims, []byte("pubkey-hash")) {
		t.Errorf("claims: %v %x", err, claims)
	}
	for kind, want := range map[string]string{
		"report": "cert.pem carries no report (it carries intel-quote): use --extract quote",
		"token":  "cert.pem carries no token (it carries intel-quote): use --extract quote",
		"tcb":    `--extract: want quote, report, token, claims, got "tcb"`,
	} {
		if _, err := Extract(r, kind, "cert.pem"); err == nil || err.Error() != want {
			t.Errorf("--extract %s: %v, want %q", kind, err, want)
		}
	}
	raw, err := Bytes(q)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Extract(raw, "claims", "quote.bin"); err == nil || err.Error() != "quote.bin carries no claims buffer (it carries intel-quote)" {
		t.Errorf("claims of a raw quote: %v", err)
	}
}
