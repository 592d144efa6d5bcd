package main

import (
	"bytes"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/testing/amdtest"
)

var kdsVectors = testvectors.Dir() + "/"

// fakeKDS serves AMD's real Milan certificates (the virtee report's VCEK,
// the VCEK and VLEK chains) at KDS's paths, and a CRL named for the Milan
// ARK (signed by a test key: KDS's own is not among the vectors).
type fakeKDS struct {
	srv       *httptest.Server
	vcek      []byte
	chain     []byte
	vlekChain []byte
	crl       []byte
	mu        sync.Mutex
	uris      []string
}

func newFakeKDS(t *testing.T) *fakeKDS {
	t.Helper()
	read := func(p string) []byte {
		b, err := os.ReadFile(kdsVectors + p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pki, err := amdtest.New()
	if err != nil {
		t.Fatal(err)
	}
	crl, err := pki.CRL(7, time.Date(2023, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	k := &fakeKDS{vcek: read("snp-virtee/vcek_milan.der"), chain: read("snp-virtee/cert_chain_milan.pem"),
		vlekChain: read("amd-roots/ask_ark_milan_vlek.pem"), crl: crl.Raw}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.uris = append(k.uris, r.URL.RequestURI())
		k.mu.Unlock()
		switch r.URL.Path {
		case "/vcek/v1/Milan/cert_chain":
			w.Write(k.chain)
		case "/vlek/v1/Milan/cert_chain":
			w.Write(k.vlekChain)
		case "/vcek/v1/Milan/crl", "/vlek/v1/Milan/crl":
			w.Write(k.crl)
		case "/vcek/v1/Milan/" + virteeChipID:
			w.Write(k.vcek)
		default:
			http.Error(w, "Not Found", http.StatusNotFound)
		}
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *fakeKDS) requested() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.uris)
}

// The chip ID of the virtee Milan report (its VCEK's hwID).
const virteeChipID = "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6"

func TestCollateralFetchSNP(t *testing.T) {
	k := newFakeKDS(t)
	report := kdsVectors + "snp-virtee/report_milan.hex"
	out := filepath.Join(t.TempDir(), "amd")

	// A version 2 report does not name its product.
	_, err := runFetch(t, "--kds", k.srv.URL, "--out", out, report)
	if err == nil || !strings.Contains(err.Error(), "report_milan.hex: the report (version 2) does not name its product: add --amd-product Milan, Genoa or Turin") {
		t.Fatalf("version 2 report without --amd-product: %v", err)
	}
	wantExitInput(t, err)

	stderr, err := runFetch(t, "--kds", k.srv.URL, "--out", out, "--amd-product", "Milan", report)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	wantURIs := []string{
		"/vcek/v1/Milan/" + virteeChipID + "?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115",
		"/vcek/v1/Milan/cert_chain",
		"/vcek/v1/Milan/crl",
	}
	if got := k.requested(); !slices.Equal(got, wantURIs) {
		t.Errorf("requests\n got %q\nwant %q", got, wantURIs)
	}
	// The files are KDS's answers, byte for byte, in the --amd-certs layout.
	chain := pemBlocks(t, k.chain)
	for name, want := range map[string][]byte{"vcek.pem": k.vcek, "ask.pem": chain[0], "ark.pem": chain[1], "vcek-crl.der": k.crl} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if blk, _ := pem.Decode(b); blk != nil {
			b = blk.Bytes
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s differs from what KDS served", name)
		}
	}
	if !strings.Contains(stderr, "wrote "+out+": VCEK valid until 2030-04-03T19:23:43Z, SEV-Milan, ARK-Milan, VCEK CRL next update 2030-01-01T00:00:00Z") {
		t.Errorf("summary %q", stderr)
	}
	// "ratls verify --amd-certs" reads them: the report's signature and
	// chain verify with the fetched certificates; the CRL of this test is
	// signed by a test key, and is refused.
	r := runVerifyJSON(t, 1, "--offline", "--amd-certs", out, "--amd-product", "Milan", "--at", "2023-04-04T19:23:43Z", report)
	states := map[string]bool{}
	for _, c := range r.Verification.Checks {
		states[c.Name] = c.OK
	}
	if !states["signature"] || !states["chain"] || !states["tcb"] || !states["hwid"] || states["crl"] {
		t.Errorf("verify with the fetched certificates: checks %v", states)
	}
}

// A VLEK-signed report: KDS serves no VLEK, so the VLEK chain and the VLEK
// CRL are written without a leaf, which the evidence carries.
func TestCollateralFetchSNPVLEK(t *testing.T) {
	k := newFakeKDS(t)
	pki, err := amdtest.New()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pki.Report(snp.SigningKeyVLEK, [64]byte{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	report := filepath.Join(dir, "report.bin")
	os.WriteFile(report, rep, 0o644)
	out := filepath.Join(dir, "amd")
	stderr, err := runFetch(t, "--kds", k.srv.URL, "--out", out, report)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if got, want := k.requested(), []string{"/vlek/v1/Milan/cert_chain", "/vlek/v1/Milan/crl"}; !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	certs, err := kds.LoadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if certs.Leaf != nil || certs.Intermediate.Subject.CommonName != "SEV-VLEK-Milan" || len(certs.CRLs) != 1 || certs.CRLs[0].Kind != kds.CRLVLEK {
		t.Errorf("written: leaf %v, intermediate %s, CRLs %v", certs.Leaf, certs.Intermediate.Subject.CommonName, certs.CRLs)
	}
	if !strings.Contains(stderr, "no VLEK (KDS does not serve it for this request: the evidence must carry it)") {
		t.Errorf("summary %q", stderr)
	}

	// The same chain for the product alone.
	out2 := filepath.Join(dir, "amd2")
	if stderr, err := runFetch(t, "--kds", k.srv.URL, "--out", out2, "--tee", "sev_snp", "--amd-product", "Milan", "--signing-key", "vlek"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if _, err := os.Stat(filepath.Join(out2, "asvk.pem")); err != nil {
		t.Error(err)
	}
}

func TestCollateralFetchSNPBadInput(t *testing.T) {
	k := newFakeKDS(t)
	report := kdsVectors + "snp-virtee/report_milan.hex"
	out := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tee", "sev_snp", report, "--fmspc", "00906ED50000"}, "--fmspc applies to Intel collateral, not to SEV-SNP"},
		{[]string{"--tee", "sev_snp"}, "nothing to fetch: give SEV-SNP report files, or --amd-product for the chain and CRL of a product"},
		{[]string{"--tee", "sev_snp", "--amd-product", "Rome"}, `--amd-product: want Milan, Genoa or Turin, got "Rome"`},
		{[]string{"--tee", "sev_snp", "--amd-product", "Milan", "--signing-key", "ask"}, `--signing-key: want "vcek" or "vlek", got "ask"`},
		{[]string{"--amd-product", "Milan", "--signing-key", "vlek", report}, "--signing-key applies without SOURCE: a report says which key signed it"},
		{[]string{"--tee", "tdx", report}, "report_milan.hex: a SEV-SNP report, but --tee says tdx"},
		{[]string{"--amd-product", "Milan", report, filepath.Join(dcapQVLDir, "tdx_quote")}, "fetch SEV-SNP and Intel collateral in separate runs"},
		{[]string{"--kds", k.srv.URL, "--tee", "tdx", "--fmspc", "00906ED50000"}, "--kds applies to SEV-SNP (--tee sev_snp or SEV-SNP report sources), not to Intel collateral"},
		// A version 2 report with the wrong product: KDS has no such VCEK.
		{[]string{"--kds", k.srv.URL, "--amd-product", "Genoa", report}, "no VCEK for Genoa VCEK chip=d49554ec…541eb6"},
	} {
		_, err := runFetch(t, append([]string{"--out", out}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// On a terminal, a progress line names what is fetched and is cleared
// before the summary.
func TestCollateralFetchProgress(t *testing.T) {
	k := newFakeKDS(t)
	progressTerminal = func(io.Writer) bool { return true }
	t.Cleanup(func() { progressTerminal = isTerminal })
	stderr, err := runFetch(t, "--kds", k.srv.URL, "--out", t.TempDir(), "--tee", "sev_snp", "--amd-product", "Milan")
	if err != nil {
		t.Fatal(err)
	}
	line := "\r\x1b[K[1/1] fetching Milan VCEK chain and CRL from " + k.srv.URL + " ... 0s\r\x1b[K"
	if !strings.HasPrefix(stderr, line) || !strings.Contains(stderr[len(line):], "wrote ") {
		t.Errorf("progress output %q", stderr)
	}
}

func pemBlocks(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		out = append(out, blk.Bytes)
	}
}
