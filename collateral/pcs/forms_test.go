package pcs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ratls/ratls/internal/testvectors"
)

// jsCollateral rewrites dcap-qvl collateral JSON as the JavaScript
// getCollateral() writes it: binary members as arrays of byte values, and
// pck_certificate_chain.
func jsCollateral(t *testing.T, b []byte, pckChain any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tcb_info_signature", "qe_identity_signature", "pck_crl", "root_ca_crl"} {
		d, err := hex.DecodeString(m[k].(string))
		if err != nil {
			t.Fatal(err)
		}
		arr := make([]int, len(d))
		for i, c := range d {
			arr[i] = int(c)
		}
		m[k] = arr
	}
	m["pck_certificate_chain"] = pckChain
	return mustJSON(t, m)
}

// Current dcap-qvl writes pck_certificate_chain, and its JavaScript
// getCollateral() writes binary members as number arrays: both read as the
// same collateral as the hex form.
func TestParseDCAPQVLJSONForms(t *testing.T) {
	hexForm := readFile(t, "dcap-qvl/tdx_quote_collateral.json")
	want, err := ParseDCAPQVLJSON(hexForm)
	if err != nil {
		t.Fatal(err)
	}
	chainPEM := readFile(t, "intel-qvl-sample-testroot/sgx/_fullchain.pem")
	chain, err := ParsePEMChain(chainPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		b         []byte
		wantChain bool
	}{
		{"JS arrays with null chain", jsCollateral(t, hexForm, nil), false},
		{"JS arrays with chain", jsCollateral(t, hexForm, string(chainPEM)), true},
		{"Rust hex with chain", func() []byte {
			var m map[string]any
			json.Unmarshal(hexForm, &m)
			m["pck_certificate_chain"] = string(chainPEM)
			return mustJSON(t, m)
		}(), true},
	} {
		got, pck, err := parseDCAPQVLJSONWithPCK(tc.b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		sameCollateral(t, want, got)
		if !tc.wantChain {
			if pck != nil {
				t.Errorf("%s: PCK chain %d certificates, want none", tc.name, len(pck))
			}
			continue
		}
		if len(pck) != 3 {
			t.Fatalf("%s: PCK chain of %d certificates, want 3", tc.name, len(pck))
		}
		for i := range pck {
			if !bytes.Equal(pck[i].Raw, chain[i].Raw) {
				t.Errorf("%s: PCK chain certificate %d differs", tc.name, i)
			}
		}
	}
}

func mustOffline(t *testing.T, path string, opt *OfflineOptions) *Offline {
	t.Helper()
	o, err := LoadOffline(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func certsOfFile(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	certs, err := ParsePEMChain(readFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

func sameChain(t *testing.T, what string, got, want []*x509.Certificate) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d certificates, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].Raw, want[i].Raw) {
			t.Errorf("%s[%d]: %s, want %s", what, i, got[i].Subject, want[i].Subject)
		}
	}
}

func crlRawOf(c *x509.RevocationList) []byte {
	if c == nil {
		return nil
	}
	return c.Raw
}

// Intel's QVL sample data, as Intel names and ships it (tcbInfo.json,
// qeIdentity.json, tcbSignChain.pem, pckSignChain.pem, rootCaCrl.der,
// intermediateCaCrl.der, a QVE identity and the quote), read as a
// directory without renaming anything.
func TestOfflineIntelNames(t *testing.T) {
	dir := testvectors.Path("intel-qvl-sample-testroot/sgx")
	o := mustOffline(t, dir, nil)
	req := Request{TEE: TEESGX, FMSPC: fmspcOf(t, "00707F000000"), CA: CAProcessor}
	c, err := o.Collateral(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	signChain := certsOfFile(t, "intel-qvl-sample-testroot/sgx/tcbSignChain.pem")
	pckChain := certsOfFile(t, "intel-qvl-sample-testroot/sgx/pckSignChain.pem")
	sameChain(t, "TCB Info issuer chain", c.TCBInfoIssuerChain, signChain)
	sameChain(t, "QE Identity issuer chain", c.QEIdentityIssuerChain, signChain)
	sameChain(t, "PCK CRL issuer chain", c.PCKCRLIssuerChain, pckChain)
	if !bytes.Equal(c.TCBInfo.Body(), readFile(t, "intel-qvl-sample-testroot/sgx/tcbInfo.json")) {
		t.Error("TCB Info differs from tcbInfo.json")
	}
	if c.QEIdentity.ID != EnclaveIDQE || !bytes.Equal(c.QEIdentity.Body(), readFile(t, "intel-qvl-sample-testroot/sgx/qeIdentity.json")) {
		t.Errorf("QE Identity %s differs from qeIdentity.json", c.QEIdentity.ID)
	}
	if !bytes.Equal(crlRawOf(c.PCKCRL), readFile(t, "intel-qvl-sample-testroot/sgx/intermediateCaCrl.der")) ||
		!bytes.Equal(crlRawOf(c.RootCACRL), readFile(t, "intel-qvl-sample-testroot/sgx/rootCaCrl.der")) {
		t.Error("CRLs differ from the files")
	}
	for _, want := range []string{"qveIdentity.json: QVE identity", "quote.dat: not collateral"} {
		if !slices.ContainsFunc(o.Ignored, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("Ignored %q lacks %q", o.Ignored, want)
		}
	}
	// The same request returns the same collateral value.
	if again, _ := o.Collateral(context.Background(), req); again != c {
		t.Error("second request returned another value")
	}
}

// Real Intel collateral saved without any issuer chain (datachainlab/zkdcap
// keeps TCB Infos, QE identities and CRLs only): the chains are completed
// with Intel's public certificates, the 2018 TCB Signing certificate for
// collateral issued before its 2025 re-issue. The directory holds two
// platforms; each request gets its own.
func TestOfflineCompletesIntelChains(t *testing.T) {
	o := mustOffline(t, testvectors.Path("zkdcap"), nil)
	root := mustCert(t, "intel-roots/Intel_SGX_Root_CA.pem")
	signer2018 := mustCert(t, "intel-roots/Intel_SGX_TCB_Signing_2018-2025.pem")
	for _, tc := range []struct {
		req     Request
		tcbFile string
		qeID    string
		ca      string
		crlFile string
	}{
		{Request{TEE: TEETDX, FMSPC: fmspcOf(t, "00806f050000"), CA: CAPlatform}, "zkdcap/tcbinfov3_00806f050000.json", EnclaveIDTDQE, "intel-roots/Intel_SGX_PCK_Platform_CA.pem", "zkdcap/pck_platform_crl.der"},
		{Request{TEE: TEESGX, FMSPC: fmspcOf(t, "00906ED50000"), CA: CAProcessor}, "zkdcap/tcbinfov3_00906ED50000.json", EnclaveIDQE, "intel-roots/Intel_SGX_PCK_Processor_CA.pem", "zkdcap/pck_processor_crl.der"},
	} {
		c, err := o.Collateral(context.Background(), tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.req, err)
		}
		if !bytes.Equal(c.TCBInfo.Body(), readFile(t, tc.tcbFile)) || c.QEIdentity.ID != tc.qeID {
			t.Errorf("%s: TCB Info or QE Identity %s not the file's", tc.req, c.QEIdentity.ID)
		}
		sameChain(t, "TCB Info issuer chain", c.TCBInfoIssuerChain, []*x509.Certificate{signer2018, root})
		sameChain(t, "QE Identity issuer chain", c.QEIdentityIssuerChain, []*x509.Certificate{signer2018, root})
		sameChain(t, "PCK CRL issuer chain", c.PCKCRLIssuerChain, []*x509.Certificate{mustCert(t, tc.ca), root})
		if !bytes.Equal(crlRawOf(c.PCKCRL), readFile(t, tc.crlFile)) || !bytes.Equal(crlRawOf(c.RootCACRL), readFile(t, "zkdcap/intel_root_ca_crl.der")) {
			t.Errorf("%s: CRLs are not the files'", tc.req)
		}
	}
}

// MobileCoin's files: a chain of the signing certificate alone (completed
// with the root), and two QE identities of which the newer is used. Its
// example TCB Info, from Intel's documentation, is pretty-printed: its
// signature verifies on the compact bytes, which is what Intel signed.
func TestOfflineNewestAndPrettyPrinted(t *testing.T) {
	o := mustOffline(t, testvectors.Path("mobilecoin-sgx"), nil)
	c, err := o.Collateral(context.Background(), Request{TEE: TEESGX, FMSPC: fmspcOf(t, "00906ED50000"), CA: CAProcessor})
	if err != nil {
		t.Fatal(err)
	}
	if c.QEIdentity.TCBEvaluationDataNumber != 15 || !bytes.Equal(c.QEIdentity.Body(), readFile(t, "mobilecoin-sgx/qe_identity.json")) {
		t.Errorf("QE Identity evaluation data number %d, want 15 from qe_identity.json", c.QEIdentity.TCBEvaluationDataNumber)
	}
	signer := mustCert(t, "mobilecoin-sgx/tcb_signer.pem")
	sameChain(t, "TCB Info issuer chain", c.TCBInfoIssuerChain, []*x509.Certificate{signer, mustCert(t, "intel-roots/Intel_SGX_Root_CA.pem")})
	ex, err := o.Collateral(context.Background(), Request{TEE: TEESGX, FMSPC: fmspcOf(t, "50806F000000"), CA: CAProcessor})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ex.TCBInfo.Raw, []byte("\n")) || !ex.TCBInfoIssuerChain[0].Equal(signer) || ex.TCBInfo.CheckSignature(signer) != nil {
		t.Errorf("example_tcb.json: not read in its signed compact form")
	}
}

// A PCS body pretty-printed after download is read in its compact form,
// which is what Intel signed.
func TestOfflinePrettyPrinted(t *testing.T) {
	var indented bytes.Buffer
	if err := json.Indent(&indented, readFile(t, "mobilecoin-sgx/qe_identity.json"), "", "  "); err != nil {
		t.Fatal(err)
	}
	o, err := ParseOffline("qe.json", indented.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.Collateral(context.Background(), Request{TEE: TEESGX, FMSPC: fmspcOf(t, "00906ED50000"), CA: CAProcessor})
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("one identity is not complete collateral: %v", err)
	}
	d := o.identities[0]
	if !bytes.Equal(d.id.Body(), readFile(t, "mobilecoin-sgx/qe_identity.json")) || d.id.CheckSignature(d.chain[0]) != nil {
		t.Error("indented QE Identity not read in its signed compact form")
	}
}

// writeTemp writes files into a new directory.
func writeTemp(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return dir
}

func headers(status string, h map[string][]byte) []byte {
	var b bytes.Buffer
	b.WriteString(status + "\r\n")
	keys := slices.Sorted(maps.Keys(h))
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, url.PathEscape(string(h[k])))
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// PCS response bodies with their issuer chains in saved response headers:
// curl -D (headers in a file of their own, HTTP/2 status line, a redirect
// before the answer) and curl -i (headers and body in one file). The test
// root of Intel's sample is not one of Intel's certificates, so without the
// headers the chains are missing, and the error says where to find them.
func TestOfflineSavedHeaders(t *testing.T) {
	const s = "intel-qvl-sample-testroot/sgx/"
	chain := readFile(t, s+"tcbSignChain.pem")
	req := Request{TEE: TEESGX, FMSPC: fmspcOf(t, "00707F000000"), CA: CAProcessor}
	bodies := map[string][]byte{
		"tcbInfo.json":          readFile(t, s+"tcbInfo.json"),
		"qeIdentity.json":       readFile(t, s+"qeIdentity.json"),
		"intermediateCaCrl.der": readFile(t, s+"intermediateCaCrl.der"),
		"rootCaCrl.der":         readFile(t, s+"rootCaCrl.der"),
	}
	_, err := mustOffline(t, writeTemp(t, bodies), nil).Collateral(context.Background(), req)
	for _, want := range []string{
		"the issuer chain of the TCB Info in ", "tcbInfo.json: no certificate at hand signed it; save the Tcb-Info-Issuer-Chain header of the PCS response beside it",
		"qeIdentity.json: no certificate at hand signed it; save the Sgx-Enclave-Identity-Issuer-Chain header",
		"the issuer chain of the PCK CRL in ", "intermediateCaCrl.der: save the Sgx-Pck-Crl-Issuer-Chain header",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("without headers: %v, want it to say %q", err, want)
		}
	}

	files := maps.Clone(bodies)
	files["tcbInfo.headers"] = append(headers("HTTP/1.1 301 Moved Permanently", map[string][]byte{"Location": []byte("/x")}),
		headers("HTTP/2 200", map[string][]byte{"tcb-info-issuer-chain": chain, "content-type": []byte("application/json")})...)
	files["qeIdentity.json"] = append(headers("HTTP/1.1 200 OK", map[string][]byte{"SGX-Enclave-Identity-Issuer-Chain": chain}), bodies["qeIdentity.json"]...)
	files["pckcrl.headers"] = headers("HTTP/1.1 200 OK", map[string][]byte{"SGX-PCK-CRL-Issuer-Chain": readFile(t, s+"pckSignChain.pem")})
	c, err := mustOffline(t, writeTemp(t, files), nil).Collateral(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	sameChain(t, "TCB Info issuer chain", c.TCBInfoIssuerChain, certsOfFile(t, s+"tcbSignChain.pem"))
	sameChain(t, "QE Identity issuer chain", c.QEIdentityIssuerChain, certsOfFile(t, s+"tcbSignChain.pem"))
	sameChain(t, "PCK CRL issuer chain", c.PCKCRLIssuerChain, certsOfFile(t, s+"pckSignChain.pem"))
	if !bytes.Equal(c.QEIdentity.Body(), bodies["qeIdentity.json"]) {
		t.Error("QE Identity body after curl -i headers not read")
	}
}

// pythonJSON re-serializes compact JSON with the separators of Python's
// json.dump (", " and ": "), as Intel's PCCS admin tool writes it.
func pythonJSON(b []byte) []byte {
	var out []byte
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		out = append(out, c)
		switch {
		case inString && c == '\\':
			i++
			out = append(out, b[i])
		case c == '"':
			inString = !inString
		case !inString && (c == ',' || c == ':'):
			out = append(out, ' ')
		}
	}
	return out
}

// The platform collateral file of Intel's PCCS admin tool (pccsadmin fetch,
// platform_collaterals.json), built from real collateral: TCB Infos
// re-serialized by Python, identities as strings, CRLs and chains as the
// tool stores them (hex, percent-encoded headers).
func TestOfflinePCCS(t *testing.T) {
	qvl, err := ParseDCAPQVLJSON(readFile(t, "dcap-qvl/tdx_quote_collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	sgx, err := ParseDCAPQVLJSON(readFile(t, "dcap-qvl/sgx_quote_collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	enc := func(certs []*x509.Certificate) string { return url.PathEscape(string(EncodePEMChain(certs))) }
	doc := map[string]any{
		"platforms": []any{},
		"collaterals": map[string]any{
			"version":   4,
			"pck_certs": []any{},
			"tcbinfos": []any{
				map[string]any{"fmspc": hexs(qvl.TCBInfo.FMSPC[:]), "tdx_tcbinfo": json.RawMessage(pythonJSON(qvl.TCBInfo.Body()))},
				map[string]any{"fmspc": hexs(sgx.TCBInfo.FMSPC[:]), "sgx_tcbinfo": json.RawMessage(pythonJSON(sgx.TCBInfo.Body()))},
			},
			"pckcacrl":     map[string]string{"processorCrl": hexs(sgx.PCKCRL.Raw), "platformCrl": hexs(qvl.PCKCRL.Raw)},
			"qeidentity":   string(sgx.QEIdentity.Body()),
			"tdqeidentity": string(qvl.QEIdentity.Body()),
			"qveidentity":  "",
			"certificates": map[string]any{
				"SGX-PCK-Certificate-Issuer-Chain":  map[string]string{"platform": enc(qvl.PCKCRLIssuerChain)},
				"TCB-Info-Issuer-Chain":             enc(qvl.TCBInfoIssuerChain),
				"SGX-Enclave-Identity-Issuer-Chain": enc(qvl.QEIdentityIssuerChain),
			},
			"rootcacrl": hexs(qvl.RootCACRL.Raw),
		},
	}
	o, err := ParseOffline("platform_collaterals.json", mustJSON(t, doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		req  Request
		want *Collateral
	}{
		{Request{TEE: TEETDX, FMSPC: qvl.TCBInfo.FMSPC, CA: CAPlatform}, qvl},
		{Request{TEE: TEESGX, FMSPC: sgx.TCBInfo.FMSPC, CA: CAProcessor}, sgx},
	} {
		c, err := o.Collateral(context.Background(), tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.req, err)
		}
		if !bytes.Equal(c.TCBInfo.Raw, tc.want.TCBInfo.Raw) || !bytes.Equal(c.QEIdentity.Raw, tc.want.QEIdentity.Raw) ||
			!bytes.Equal(c.PCKCRL.Raw, tc.want.PCKCRL.Raw) || !bytes.Equal(c.RootCACRL.Raw, qvl.RootCACRL.Raw) {
			t.Errorf("%s: collateral differs from the dcap-qvl vector", tc.req)
		}
		if err := c.TCBInfo.CheckSignature(c.TCBInfoIssuerChain[0]); err != nil {
			t.Errorf("%s: %v", tc.req, err)
		}
		sameChain(t, "PCK CRL issuer chain", c.PCKCRLIssuerChain, tc.want.PCKCRLIssuerChain)
	}
}

// What is missing for a request is named with where to get it, and what
// the input holds instead; unusable input is an error naming the file.
func TestOfflineMessages(t *testing.T) {
	o := mustOffline(t, testvectors.Path("intel-qvl-sample-testroot/tdx"), nil)
	_, err := o.Collateral(context.Background(), Request{TEE: TEESGX, FMSPC: fmspcOf(t, "00906ED50000"), CA: CAPlatform})
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("got %v, want a *MissingError", err)
	}
	for _, want := range []string{
		"TCB Info of SGX FMSPC 00906ed50000 (GET https://api.trustedservices.intel.com/sgx/certification/v4/tcb?fmspc=00906ed50000; the input has TCB Info only for TDX FMSPC",
		"QE Identity QE (GET https://api.trustedservices.intel.com/sgx/certification/v4/qe/identity; the input has QE Identity only for TD_QE in ",
		"PCK CRL of the platform CA (GET https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der; the input has PCK CRL only for the processor CA's in ",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
	// No root CA CRL at all.
	dir := writeTemp(t, map[string][]byte{"tcbInfo.json": readFile(t, "zkdcap/tcbinfov3_00906ED50000.json")})
	_, err = mustOffline(t, dir, nil).Collateral(context.Background(), Request{TEE: TEESGX, FMSPC: fmspcOf(t, "00906ED50000"), CA: CAProcessor})
	if err == nil || !strings.Contains(err.Error(), "the root CA CRL (Intel publishes it at https://certificates.trustedservices.intel.com/IntelSGXRootCA.der)") {
		t.Errorf("no root CRL: %v", err)
	}

	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"nothing usable", map[string][]byte{"README": []byte("hello"), "x.json": []byte(`{"a":1}`)},
			"no TCB Info, QE Identity or CRL found (" + "%DIR%/README: not collateral; %DIR%/x.json: JSON, but not collateral"},
		{"malformed TCB Info", map[string][]byte{"tcbInfo.json": []byte(`{"tcbInfo":{"version":3},"signature":"00"}`)},
			"tcbInfo.json: signature: want 128 hex digits, got 2"},
		{"truncated JSON", map[string][]byte{"tcbInfo.json": []byte(`{"tcbInfo":{`)},
			"%DIR%/tcbInfo.json: not collateral: invalid JSON: unexpected end of JSON input"},
		{"bad header chain", map[string][]byte{"h": []byte("HTTP/1.1 200 OK\r\nTCB-Info-Issuer-Chain: x\r\n\r\n")},
			"h: header Tcb-Info-Issuer-Chain: chain[0]: want \"-----BEGIN CERTIFICATE-----\", got non-PEM or non-certificate data"},
		{"error response saved", map[string][]byte{"h": []byte("HTTP/1.1 404 Not Found\r\n\r\n")},
			`h: the saved response is "HTTP/1.1 404 Not Found", not a 200 OK with collateral`},
		{"bad dcap-qvl", map[string][]byte{"c.json": []byte(`{"tcb_info":"{}"}`)},
			"c.json (dcap-qvl collateral): tcb_info_signature: missing"},
	} {
		dir := t.TempDir()
		writeFiles(t, dir, tc.files)
		_, err := LoadOffline(dir, nil)
		want := strings.ReplaceAll(tc.want, "%DIR%", dir)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v\nwant it to contain %q", tc.name, err, want)
		}
	}
}

// The embedded certificates are Intel's, byte for byte the vectors'
// copies, and the root has the pinned key.
func TestIntelCertificates(t *testing.T) {
	certs := intelCertificates()
	names := []string{"Intel_SGX_PCK_Platform_CA.pem", "Intel_SGX_PCK_Processor_CA.pem", "Intel_SGX_Root_CA.pem",
		"Intel_SGX_TCB_Signing_2018-2025.pem", "Intel_SGX_TCB_Signing_2025-2032.pem"}
	if len(certs) != len(names) {
		t.Fatalf("%d certificates, want %d", len(certs), len(names))
	}
	for i, n := range names {
		if !certs[i].Equal(mustCert(t, "intel-roots/"+n)) {
			t.Errorf("certificate %d is not %s", i, n)
		}
	}
	spki := sha256.Sum256(certs[2].RawSubjectPublicKeyInfo)
	if got := hexs(spki[:]); got != "a0af031289f5d5d4132f9186068a7fc13628633ba235777472e29b6b6c67a49e" {
		t.Errorf("root key SHA-256 %s", got)
	}
}

// Any input gives collateral or an error, never a panic; what it gives is
// usable for any request.
func FuzzParseOffline(f *testing.F) {
	addFiles(f, "dcap-qvl/tdx_quote_collateral.json", "intel-qvl-sample-testroot/sgx/tcbInfo.json",
		"intel-qvl-sample-testroot/sgx/tcbSignChain.pem", "zkdcap/pck_platform_crl.der", "mobilecoin-sgx/example_tcb.json")
	f.Add([]byte("HTTP/2 200\r\nTCB-Info-Issuer-Chain: -----BEGIN%20CERTIFICATE-----\r\n\r\n{}"))
	f.Add([]byte(`{"collaterals":{"tcbinfos":[{"sgx_tcbinfo":{"tcbInfo":{}}}],"pckcacrl":{"processorCrl":"30"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOffline("input", b, nil)
		if err != nil {
			return
		}
		for _, req := range []Request{{TEE: TEESGX, CA: CAProcessor}, {TEE: TEETDX, CA: CAPlatform, Update: UpdateEarly}} {
			o.Collateral(context.Background(), req)
		}
		o.items()
	})
}
