package pcs

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParsePEMChain(t *testing.T) {
	plain := readFile(t, "intel-qvl-sample-testroot/sgx/_fullchain.pem")
	want, err := ParsePEMChain(plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 3 || want[0].Subject.CommonName != cnPCK || want[2].Subject.CommonName != cnRootCA {
		t.Fatalf("chain %d certificates", len(want))
	}
	// The PCS header form: percent-encoded, as url.QueryEscape (no '+' left
	// in the text) and as url.PathEscape (literal '+' of the base64 kept).
	for name, form := range map[string][]byte{
		"query-escaped":      []byte(url.QueryEscape(string(plain))),
		"path-escaped":       []byte(url.PathEscape(string(plain))),
		"lower-hex":          []byte(strings.ReplaceAll(url.QueryEscape(string(plain)), "%0A", "%0a")),
		"encodeURIComponent": []byte(strings.NewReplacer("+", "%2B", " ", "%20", "\n", "%0A", "/", "%2F", "=", "%3D").Replace(string(plain))),
		"trailing NULs":      append(bytes.Clone(plain), 0, 0),
		"CRLF":               bytes.ReplaceAll(plain, []byte("\n"), []byte("\r\n")),
		"re-encoded":         EncodePEMChain(want),
	} {
		if name == "path-escaped" && !bytes.Contains(form, []byte("+")) {
			t.Fatal("test chain has no '+' in its base64")
		}
		got, err := ParsePEMChain(form)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d certificates", name, len(got))
			continue
		}
		for i := range got {
			if !got[i].Equal(want[i]) {
				t.Errorf("%s: certificate %d differs", name, i)
			}
		}
	}

	blocks := strings.SplitAfter(string(plain), "-----END CERTIFICATE-----")
	many := strings.Repeat(blocks[0]+"\n", maxChainCerts+1)
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"only NULs", []byte{0, 0}, "empty"},
		{"text before", append([]byte("hello\n"), plain...), "chain[0]: want"},
		{"text between", []byte(blocks[0] + "\njunk\n" + blocks[1]), "chain[1]: want"},
		{"text after", append(bytes.Clone(plain), "junk"...), "chain[3]"},
		{"other PEM type", []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), "chain[0]: want"},
		{"unterminated", []byte(blocks[0][:len(blocks[0])-10]), "unterminated"},
		{"bad base64", []byte("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"), "invalid PEM block"},
		{"headers", []byte(strings.Replace(blocks[0], "-----BEGIN CERTIFICATE-----\n", "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\n", 1)), "unexpected PEM headers"},
		{"not a certificate", []byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"), "chain[0]: x509"},
		{"too many", []byte(many), "more than 8 certificates"},
		{"bad percent-encoding", []byte("%2D%2D%2D%2D%2DBEGIN%zz"), "invalid percent-encoding"},
		{"oversize", bytes.Repeat([]byte(" "), maxChainSize+1), "larger than"},
	} {
		_, err := ParsePEMChain(c.b)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrFormat containing %q", c.name, err, c.want)
		}
	}
}

func TestParseCRLRejects(t *testing.T) {
	der := readFile(t, "intel-roots/IntelSGXRootCA_crl_2025-03-20.der")
	pemCRL := encodeCRLPEM(&x509.RevocationList{Raw: der})
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"whitespace", []byte(" \n"), "empty"},
		{"DER trailing byte", append(bytes.Clone(der), 0), "1 bytes of trailing data"},
		{"DER truncated", der[:len(der)-1], "crl: x509"},
		{"odd hex", []byte(hexs(der)[1:]), "want DER, PEM or hex-encoded DER: encoding/hex: odd length"},
		{"hex of garbage", []byte("00ff"), "crl: x509"},
		{"PEM wrong type", bytes.Replace(pemCRL, []byte("X509 CRL"), []byte("CERTIFICATE"), 2), `want PEM type X509 CRL, got "CERTIFICATE"`},
		{"PEM trailing data", append(bytes.Clone(pemCRL), "junk"...), "trailing data after the PEM block"},
		{"PEM broken", []byte("-----BEGIN X509 CRL-----\n"), "invalid PEM"},
		{"oversize", make([]byte, maxCRLSize+1), "larger than"},
	} {
		_, err := ParseCRL(c.b)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrFormat containing %q", c.name, err, c.want)
		}
	}
	for i := 0; i < len(der); i++ {
		if _, err := ParseCRL(der[:i]); err == nil {
			t.Fatalf("CRL truncated to %d bytes parsed", i)
		}
	}
}

func TestParseDCAPQVLJSON(t *testing.T) {
	b := readFile(t, "dcap-qvl/sgx_quote_collateral.json")
	c, err := ParseDCAPQVLJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != "dcap-qvl-json" || len(c.Missing()) != 0 {
		t.Fatalf("source %q missing %v", c.Source, c.Missing())
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	// The signed bytes are the tcb_info string content exactly.
	if string(c.TCBInfo.Raw) != m["tcb_info"] || string(c.QEIdentity.Raw) != m["qe_identity"] {
		t.Fatal("Raw differs from the signed string")
	}
	if hexs(c.PCKCRL.Raw) != m["pck_crl"] || hexs(c.RootCACRL.Raw) != m["root_ca_crl"] {
		t.Fatal("CRL bytes differ")
	}
	if c.TCBInfoIssuerChain[1].Subject.CommonName != cnRootCA || c.PCKCRLIssuerChain[0].Subject.CommonName != cnProcessorCA {
		t.Fatal("chains")
	}

	encode := func(m map[string]any) []byte { return mustJSON(t, m) }
	base := func() map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    func(m map[string]any)
		want string
	}{
		{"missing key", func(m map[string]any) { delete(m, "pck_crl") }, "pck_crl: missing"},
		{"extra key", func(m map[string]any) { m["pck_certificates"] = "" }, `unexpected key "pck_certificates"`},
		{"empty PCK chain", func(m map[string]any) { m["pck_certificate_chain"] = "" }, "pck_certificate_chain: chain: empty"},
		{"PCK chain not a string", func(m map[string]any) { m["pck_certificate_chain"] = 5 }, "pck_certificate_chain: want a string, got 5"},
		{"byte out of range", func(m map[string]any) { m["pck_crl"] = []int{48, 256} }, "pck_crl[1]: want an unsigned integer of at most 8 bits, got 256"},
		{"negative byte", func(m map[string]any) { m["tcb_info_signature"] = []int{-1} }, "tcb_info_signature[0]: want an unsigned integer, got -1"},
		{"array of strings", func(m map[string]any) { m["root_ca_crl"] = []string{"30"} }, `root_ca_crl[0]: want an unsigned integer, got string "30"`},
		{"empty array", func(m map[string]any) { m["root_ca_crl"] = []int{} }, "root_ca_crl: empty"},
		{"signature an object", func(m map[string]any) { m["qe_identity_signature"] = map[string]int{} }, "qe_identity_signature: want a hex string or an array of byte values, got an object"},
		{"short signature array", func(m map[string]any) { m["qe_identity_signature"] = []int{1, 2} }, "qe_identity_signature: want 64 bytes (128 hex digits), got 2 bytes"},
		{"not a string", func(m map[string]any) { m["tcb_info"] = json.RawMessage(m["tcb_info"].(string)) }, "tcb_info: want a string, got an object"},
		{"empty value", func(m map[string]any) { m["root_ca_crl"] = "" }, "root_ca_crl: empty"},
		{"signature length", func(m map[string]any) { m["tcb_info_signature"] = "00" }, "tcb_info_signature: want 64 bytes (128 hex digits), got 1 bytes"},
		{"signature hex", func(m map[string]any) { m["qe_identity_signature"] = strings.Repeat("x", 128) }, "qe_identity_signature: invalid hex"},
		{"bad tcb_info", func(m map[string]any) { m["tcb_info"] = `{"id":"SGX"}` }, "tcb_info: tcbInfo.version: missing"},
		{"bad qe_identity", func(m map[string]any) { m["qe_identity"] = `[]` }, "qe_identity: enclaveIdentity: want a JSON object"},
		{"bad chain", func(m map[string]any) { m["pck_crl_issuer_chain"] = "x" }, "pck_crl_issuer_chain: chain[0]"},
		{"bad CRL", func(m map[string]any) { m["pck_crl"] = "zz" }, "pck_crl: crl: x509"},
	} {
		mm := base()
		tc.f(mm)
		_, err := ParseDCAPQVLJSON(encode(mm))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrFormat containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := ParseDCAPQVLJSON(append(bytes.Repeat([]byte(" "), MaxJSONSize), b...)); !errors.Is(err, ErrFormat) {
		t.Errorf("oversize: %v", err)
	}
}

func sameCollateral(t *testing.T, a, b *Collateral) {
	t.Helper()
	chainRaw := func(cs []*x509.Certificate) [][]byte {
		var out [][]byte
		for _, c := range cs {
			out = append(out, c.Raw)
		}
		return out
	}
	eqChain := func(x, y []*x509.Certificate) bool {
		return slices.EqualFunc(chainRaw(x), chainRaw(y), bytes.Equal)
	}
	crlRaw := func(c *x509.RevocationList) []byte {
		if c == nil {
			return nil
		}
		return c.Raw
	}
	if (a.TCBInfo == nil) != (b.TCBInfo == nil) || a.TCBInfo != nil && (!bytes.Equal(a.TCBInfo.Raw, b.TCBInfo.Raw) || !bytes.Equal(a.TCBInfo.Signature, b.TCBInfo.Signature)) {
		t.Error("TCB Info differs")
	}
	if (a.QEIdentity == nil) != (b.QEIdentity == nil) || a.QEIdentity != nil && (!bytes.Equal(a.QEIdentity.Raw, b.QEIdentity.Raw) || !bytes.Equal(a.QEIdentity.Signature, b.QEIdentity.Signature)) {
		t.Error("QE identity differs")
	}
	if !eqChain(a.TCBInfoIssuerChain, b.TCBInfoIssuerChain) || !eqChain(a.QEIdentityIssuerChain, b.QEIdentityIssuerChain) || !eqChain(a.PCKCRLIssuerChain, b.PCKCRLIssuerChain) {
		t.Error("chains differ")
	}
	if !bytes.Equal(crlRaw(a.PCKCRL), crlRaw(b.PCKCRL)) || !bytes.Equal(crlRaw(a.RootCACRL), crlRaw(b.RootCACRL)) {
		t.Error("CRLs differ")
	}
}

// TestDirRoundTrip writes every dcap-qvl collateral set to a directory and
// reads it back; the signatures still verify.
func TestDirRoundTrip(t *testing.T) {
	for _, f := range []string{"sgx_quote_collateral.json", "tdx_quote_collateral.json", "tdx_quote_outdated_collateral.json", "near_tdx_quote_collateral.json"} {
		c, err := ParseDCAPQVLJSON(readFile(t, "dcap-qvl/"+f))
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := WriteDir(dir, c); err != nil {
			t.Fatal(err)
		}
		got, err := LoadDir(dir)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if got.Source != "dir:"+dir {
			t.Errorf("source %q", got.Source)
		}
		sameCollateral(t, c, got)
		if err := got.TCBInfo.CheckSignature(got.TCBInfoIssuerChain[0]); err != nil {
			t.Errorf("%s: TCB Info signature after round trip: %v", f, err)
		}
		if err := got.QEIdentity.CheckSignature(got.QEIdentityIssuerChain[0]); err != nil {
			t.Errorf("%s: QE identity signature after round trip: %v", f, err)
		}
	}
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoadDirPartial loads the trustee-dcap collateral, which has only TCB
// Info and QE identity, and the mobilecoin set with a root CRL in PEM.
func TestLoadDirPartial(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{
		FileTCBInfo:    readFile(t, "trustee-dcap/tcbInfo.json"),
		FileQEIdentity: readFile(t, "trustee-dcap/enclaveIdentity.json"),
	})
	c, err := LoadDir(dir)
	var me *MissingError
	if !errors.As(err, &me) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want *MissingError", err)
	}
	want := []string{FileTCBInfoIssuerChain, FileQEIdentityIssuerChain, FilePCKCRLIssuerChain, FilePCKCRL, FileRootCACRL}
	slices.Sort(want)
	items := slices.Sorted(slices.Values(me.Items))
	if !slices.Equal(items, want) {
		t.Fatalf("missing %v, want %v", me.Items, want)
	}
	if c == nil || c.TCBInfo == nil || c.QEIdentity == nil || c.PCKCRL != nil || c.TCBInfoIssuerChain != nil {
		t.Fatalf("partial collateral %+v", c)
	}
	if got := slices.Sorted(slices.Values(c.Missing())); !slices.Equal(got, want) {
		t.Errorf("Missing() = %v", got)
	}
	if !strings.Contains(err.Error(), FileRootCACRL) {
		t.Errorf("error %q does not name %s", err, FileRootCACRL)
	}

	// Root CRL in PEM under the .pem name, hex under the .pem name.
	root := readFile(t, "mobilecoin-sgx/root_crl.der")
	for _, form := range [][]byte{encodeCRLPEM(&x509.RevocationList{Raw: root}), []byte(hexs(root))} {
		writeFiles(t, dir, map[string][]byte{FileRootCACRLPEM: form})
		c, err = LoadDir(dir)
		if !errors.As(err, &me) || c.RootCACRL == nil || !bytes.Equal(c.RootCACRL.Raw, root) {
			t.Fatalf("root CRL from %s: %v", FileRootCACRLPEM, err)
		}
	}
	// Both forms present is ambiguous.
	writeFiles(t, dir, map[string][]byte{FileRootCACRL: root})
	if c, err := LoadDir(dir); c != nil || err == nil || !strings.Contains(err.Error(), "both") {
		t.Fatalf("both CRL forms: %v", err)
	}
	// WriteDir makes the directory hold exactly the collateral: it removes
	// the stale .pem CRL and the files of absent items.
	c.RootCACRL, err = ParseCRL(root)
	if err != nil {
		t.Fatal(err)
	}
	c.QEIdentity = nil
	if err := WriteDir(dir, c); err != nil {
		t.Fatal(err)
	}
	got, err := LoadDir(dir)
	if !errors.As(err, &me) || got.QEIdentity != nil || got.RootCACRL == nil {
		t.Fatalf("after WriteDir: %v %+v", err, got)
	}
	sameCollateral(t, c, got)
}

func TestLoadDirErrors(t *testing.T) {
	empty := t.TempDir()
	c, err := LoadDir(empty)
	var me *MissingError
	if c != nil || !errors.As(err, &me) || len(me.Items) != 7 {
		t.Fatalf("empty directory: %v %v", c, err)
	}
	if _, err := LoadDir(filepath.Join(empty, "nope")); err == nil {
		t.Fatal("missing directory accepted")
	}
	for _, f := range []struct {
		name string
		b    []byte
		want string
	}{
		{FileTCBInfo, []byte(`{"tcbInfo":{}}`), "tcb_info.json: signature: missing"},
		{FileQEIdentity, []byte(`{}`), "qe_identity.json: enclaveIdentity: missing"},
		{FileTCBInfoIssuerChain, []byte("x"), "tcb_info_issuer_chain.pem: chain[0]"},
		{FilePCKCRL, []byte{0x30, 0x03, 0x02, 0x01, 0x00}, "pck_crl.der: crl: x509"},
		{FileRootCACRLPEM, []byte("-----BEGIN X509 CRL-----"), "root_ca_crl.pem: crl: invalid PEM"},
	} {
		dir := t.TempDir()
		writeFiles(t, dir, map[string][]byte{f.name: f.b})
		c, err := LoadDir(dir)
		if c != nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), f.want) {
			t.Errorf("%s: %v, want ErrFormat containing %q", f.name, err, f.want)
		}
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{FileTCBInfo: make([]byte, MaxJSONSize+1)})
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversize file: %v", err)
	}
	if err := WriteDir(t.TempDir(), nil); err == nil {
		t.Error("WriteDir(nil) succeeded")
	}
}
