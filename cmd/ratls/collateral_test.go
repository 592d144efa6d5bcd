package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/internal/testvectors"
)

// The dcap-qvl vectors of the pcs package: quotes and their PCS collateral.
var dcapQVLDir = testvectors.Path("dcap-qvl")

// pcsVector is a collateral vector as PCS serves it.
type pcsVector struct {
	raw                   map[string]string
	tcbBody, qeBody       []byte
	pckCRL, rootCRL       []byte
	tcbPath, qePath, crlQ string
}

func loadPCSVector(t *testing.T, name, tee, fmspc, ca string) *pcsVector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dcapQVLDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	unhex := func(k string) []byte {
		d, err := hex.DecodeString(m[k])
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	return &pcsVector{
		raw:     m,
		tcbBody: []byte(`{"tcbInfo":` + m["tcb_info"] + `,"signature":"` + m["tcb_info_signature"] + `"}`),
		qeBody:  []byte(`{"enclaveIdentity":` + m["qe_identity"] + `,"signature":"` + m["qe_identity_signature"] + `"}`),
		pckCRL:  unhex("pck_crl"),
		rootCRL: unhex("root_ca_crl"),
		tcbPath: "/" + tee + "/certification/v4/tcb?fmspc=" + fmspc + "&update=standard",
		qePath:  "/" + tee + "/certification/v4/qe/identity?update=standard",
		crlQ:    "/sgx/certification/v4/pckcrl?ca=" + ca + "&encoding=der",
	}
}

// uriEncode percent-encodes like JavaScript's encodeURIComponent, as PCS
// does for issuer-chain headers.
func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// fakePCS serves the TDX (B0C06F000000, platform CA) and SGX
// (00A067110000, processor CA) vectors at their exact PCS request targets,
// and the PCCS root CA CRL; anything else is a 404.
type fakePCS struct {
	srv      *httptest.Server
	tdx, sgx *pcsVector
	mu       sync.Mutex
	targets  []string
}

func newFakePCS(t *testing.T) *fakePCS {
	t.Helper()
	p := &fakePCS{
		tdx: loadPCSVector(t, "tdx_quote_collateral.json", "tdx", "B0C06F000000", "platform"),
		sgx: loadPCSVector(t, "sgx_quote_collateral.json", "sgx", "00A067110000", "processor"),
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakePCS) serve(w http.ResponseWriter, r *http.Request) {
	target := r.URL.RequestURI()
	p.mu.Lock()
	p.targets = append(p.targets, target)
	p.mu.Unlock()
	for _, v := range []*pcsVector{p.tdx, p.sgx} {
		switch target {
		case v.tcbPath:
			w.Header().Set("TCB-Info-Issuer-Chain", uriEncode(v.raw["tcb_info_issuer_chain"]))
			w.Write(v.tcbBody)
			return
		case v.qePath:
			w.Header().Set("SGX-Enclave-Identity-Issuer-Chain", uriEncode(v.raw["qe_identity_issuer_chain"]))
			w.Write(v.qeBody)
			return
		case v.crlQ:
			w.Header().Set("SGX-PCK-CRL-Issuer-Chain", uriEncode(v.raw["pck_crl_issuer_chain"]))
			w.Write(v.pckCRL)
			return
		}
	}
	if target == "/sgx/certification/v4/rootcacrl" {
		w.Write(p.tdx.rootCRL)
		return
	}
	w.WriteHeader(http.StatusNotFound)
}

func (p *fakePCS) requested() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := slices.Clone(p.targets)
	slices.Sort(out)
	return out
}

// runFetch runs "collateral fetch" with args and returns its standard
// error output and error.
func runFetch(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newCollateralCommand()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(append([]string{"fetch"}, args...))
	err := cmd.Execute()
	if stdout.Len() != 0 {
		t.Errorf("unexpected standard output %q", stdout.String())
	}
	return stderr.String(), err
}

// checkWritten loads dir and compares it with the vector.
func checkWritten(t *testing.T, dir string, v *pcsVector) {
	t.Helper()
	col, err := pcs.LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir(%s): %v", dir, err)
	}
	if string(col.TCBInfo.Raw) != v.raw["tcb_info"] || string(col.QEIdentity.Raw) != v.raw["qe_identity"] {
		t.Errorf("%s: TCB Info or QE Identity differ from the vector", dir)
	}
	if hex.EncodeToString(col.PCKCRL.Raw) != v.raw["pck_crl"] || hex.EncodeToString(col.RootCACRL.Raw) != v.raw["root_ca_crl"] {
		t.Errorf("%s: CRLs differ from the vector", dir)
	}
	if strings.TrimSpace(string(pcs.EncodePEMChain(col.TCBInfoIssuerChain))) != strings.TrimSpace(v.raw["tcb_info_issuer_chain"]) {
		t.Errorf("%s: TCB Info issuer chain differs from the vector", dir)
	}
	if err := col.TCBInfo.CheckSignature(col.TCBInfoIssuerChain[0]); err != nil {
		t.Errorf("%s: %v", dir, err)
	}
}

func wantExitInput(t *testing.T, err error) {
	t.Helper()
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitInput {
		t.Fatalf("error %v, want exit code %d", err, exitInput)
	}
}

func TestCollateralFetchFromQuote(t *testing.T) {
	p := newFakePCS(t)
	out := filepath.Join(t.TempDir(), "coll")
	stderr, err := runFetch(t, "--pccs", p.srv.URL, "--out", out, filepath.Join(dcapQVLDir, "tdx_quote"))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	checkWritten(t, out, p.tdx)
	want := []string{
		"/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
		"/sgx/certification/v4/rootcacrl",
		"/tdx/certification/v4/qe/identity?update=standard",
		"/tdx/certification/v4/tcb?fmspc=B0C06F000000&update=standard",
	}
	if got := p.requested(); !slices.Equal(got, want) {
		t.Errorf("requests\n got %q\nwant %q", got, want)
	}
	// One summary line (standard error is not a terminal here).
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "tdx fmspc=b0c06f000000 ca=platform update=standard: wrote "+out) ||
		!strings.Contains(lines[0], "tcbEvaluationDataNumber 17") || strings.Contains(stderr, "\r") {
		t.Errorf("summary %q", stderr)
	}
}

func TestCollateralFetchSeveral(t *testing.T) {
	p := newFakePCS(t)
	out := t.TempDir()
	stderr, err := runFetch(t, "--pccs", p.srv.URL, "--out", out,
		filepath.Join(dcapQVLDir, "tdx_quote"), filepath.Join(dcapQVLDir, "sgx_quote"),
		filepath.Join(dcapQVLDir, "tdx-quote.hex")) // same platform as tdx_quote
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	checkWritten(t, filepath.Join(out, "tdx-b0c06f000000-platform"), p.tdx)
	checkWritten(t, filepath.Join(out, "sgx-00a067110000-processor"), p.sgx)
	if n := len(p.requested()); n != 8 {
		t.Errorf("%d requests, want 8 (two platforms)", n)
	}
	if n := strings.Count(stderr, "\n"); n != 2 {
		t.Errorf("%d summary lines, want 2:\n%s", n, stderr)
	}
}

func TestCollateralFetchByFMSPC(t *testing.T) {
	p := newFakePCS(t)
	out := t.TempDir()
	stderr, err := runFetch(t, "--pccs", p.srv.URL, "--out", out, "--tee", "sgx", "--fmspc", "00a067110000", "--ca", "processor")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	checkWritten(t, out, p.sgx)

	// An unknown FMSPC fails with exit code 2; the known one is written.
	out = t.TempDir()
	stderr, err = runFetch(t, "--pccs", p.srv.URL, "--out", out, "--tee", "sgx", "--ca", "processor",
		"--fmspc", "00A067110000", "--fmspc", "00906EA10000")
	wantExitInput(t, err)
	var me *pcs.MissingError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "1 of 2 platforms failed") {
		t.Errorf("error %v, want a MissingError among 1 of 2 failures", err)
	}
	if !strings.Contains(stderr, "sgx fmspc=00906ea10000 ca=processor update=standard: FAILED:") || !strings.Contains(stderr, "missing tcb_info.json") {
		t.Errorf("stderr does not report the failure:\n%s", stderr)
	}
	checkWritten(t, filepath.Join(out, "sgx-00a067110000-processor"), p.sgx)
	if _, err := os.Stat(filepath.Join(out, "sgx-00906ea10000-processor")); err == nil {
		t.Error("directory written for the failed platform")
	}
}

func TestCollateralFetchNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusForbidden)
	}))
	defer srv.Close()
	_, err := runFetch(t, "--pccs", srv.URL, "--out", t.TempDir(), filepath.Join(dcapQVLDir, "tdx_quote"))
	wantExitInput(t, err)
	var he *pcs.HTTPError
	if !errors.As(err, &he) || he.StatusCode != 403 || !strings.Contains(err.Error(), "maintenance") {
		t.Errorf("error %v, want the 403 with its body", err)
	}
}

func TestCollateralFetchBadInput(t *testing.T) {
	quote := filepath.Join(dcapQVLDir, "tdx_quote")
	pckPEM := filepath.Join(t.TempDir(), "pck.pem")
	writePCKFromQuote(t, quote, pckPEM)
	notQuote := filepath.Join(t.TempDir(), "x.txt")
	if err := os.WriteFile(notQuote, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing", []string{"--out", out}, "nothing to fetch"},
		{"no out", []string{quote}, `required flag(s) "out" not set`},
		{"fmspc without tee", []string{"--out", out, "--fmspc", "00A067110000"}, "--fmspc needs --tee"},
		{"bad fmspc", []string{"--out", out, "--tee", "sgx", "--fmspc", "00A0671100"}, "want 12 hex digits, got 10"},
		{"fmspc not hex", []string{"--out", out, "--tee", "sgx", "--fmspc", "00A06711000G"}, "want 12 hex digits"},
		{"bad tee", []string{"--out", out, "--tee", "snp", quote}, `--tee: want "sgx", "tdx" or "sev_snp", got "snp"`},
		{"bad ca", []string{"--out", out, "--ca", "root", quote}, `--ca: want "processor" or "platform"`},
		{"bad update", []string{"--out", out, "--update", "late", quote}, `--update: want "standard" or "early"`},
		{"tee conflict", []string{"--out", out, "--tee", "sgx", quote}, "the quote is tdx but --tee says sgx"},
		{"ca conflict", []string{"--out", out, "--ca", "processor", quote}, "issued by the platform CA but --ca says processor"},
		{"missing file", []string{"--out", out, filepath.Join(out, "nope")}, "no such file"},
		{"not evidence", []string{"--out", out, notQuote}, notQuote},
		{"PCK without tee", []string{"--out", out, pckPEM}, "add --tee sgx or --tee tdx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runFetch(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if tc.name != "no out" { // cobra's flag errors get exit code 2 in run()
				wantExitInput(t, err)
			}
		})
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("bad input wrote %d files", len(ents))
	}
}

func TestCollateralFetchPCKCertificate(t *testing.T) {
	p := newFakePCS(t)
	pckPEM := filepath.Join(t.TempDir(), "pck.pem")
	writePCKFromQuote(t, filepath.Join(dcapQVLDir, "tdx_quote"), pckPEM)
	out := t.TempDir()
	stderr, err := runFetch(t, "--pccs", p.srv.URL, "--out", out, "--tee", "tdx", pckPEM)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	checkWritten(t, out, p.tdx)
}

// writePCKFromQuote writes the PCK chain embedded in a quote as PEM.
func writePCKFromQuote(t *testing.T, quotePath, pemPath string) {
	t.Helper()
	q, err := os.ReadFile(quotePath)
	if err != nil {
		t.Fatal(err)
	}
	// The chain is PEM text inside the quote's certification data.
	i := bytes.Index(q, []byte("-----BEGIN CERTIFICATE-----"))
	j := bytes.LastIndex(q, []byte("-----END CERTIFICATE-----"))
	if i < 0 || j < i {
		t.Fatal("no PEM chain in the quote")
	}
	if err := os.WriteFile(pemPath, q[i:j+len("-----END CERTIFICATE-----")], 0o644); err != nil {
		t.Fatal(err)
	}
}
