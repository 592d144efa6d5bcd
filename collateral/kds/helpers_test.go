package kds

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/internal/testvectors"
)

// vector is one real report with its VCEK, from testdata/<folder>.
type vector struct {
	folder, reportFile, encoding, vcekFile, chainFile string
	// From EXPECTED.json.
	chipID      string
	reportedTCB string
	spl         struct{ bl, tee, snp, ucode int }
}

var (
	goSevGuest = vector{folder: "snp-go-sev-guest", reportFile: "attestation.bin", encoding: "bin",
		vcekFile: "vcek.testcer.der", chainFile: "milan_cert_chain.pem"}
	virtee = vector{folder: "snp-virtee", reportFile: "report_milan.hex", encoding: "hex",
		vcekFile: "vcek_milan.der", chainFile: "cert_chain_milan.pem"}
)

func readTestdata(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadVector reads the report and the expected values of v.
func loadVector(t testing.TB, v vector) (vector, *snp.Report) {
	t.Helper()
	var exp struct {
		Vectors []struct {
			Computed struct {
				ChipID      string `json:"chip_id"`
				ReportedTCB string `json:"reported_tcb"`
				Fields      struct {
					BL    int `json:"bl"`
					TEE   int `json:"tee"`
					SNP   int `json:"snp"`
					Ucode int `json:"ucode"`
				} `json:"reported_tcb_fields"`
			} `json:"computed"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(readTestdata(t, v.folder, "EXPECTED.json"), &exp); err != nil || len(exp.Vectors) != 1 {
		t.Fatalf("EXPECTED.json: %v (%d vectors)", err, len(exp.Vectors))
	}
	c := exp.Vectors[0].Computed
	v.chipID, v.reportedTCB = c.ChipID, c.ReportedTCB
	v.spl.bl, v.spl.tee, v.spl.snp, v.spl.ucode = c.Fields.BL, c.Fields.TEE, c.Fields.SNP, c.Fields.Ucode

	b := readTestdata(t, v.folder, v.reportFile)
	if v.encoding == "hex" {
		var err error
		if b, err = hex.DecodeString(strings.TrimSpace(string(b))); err != nil {
			t.Fatal(err)
		}
	}
	r, err := snp.ParseReport(b)
	if err != nil {
		t.Fatal(err)
	}
	return v, r
}

// requestFor builds a request from a report the way a verifier does. Both
// vectors are version 2 Milan reports (product per PROVENANCE.md: the VCEK's
// productName "Milan-B0"); version 2 carries no CPUID fields.
func requestFor(r *snp.Report) Request {
	return Request{Product: snp.ProductMilan, ChipID: r.ChipID, TCB: r.ReportedTCB, SigningKey: r.SignerInfo.SigningKey()}
}

// testCRL is a synthetic CRL issued by a throwaway key named like the
// product's ARK: no real AMD CRL is among the vectors. Only its issuer name
// and validity matter here; nothing verifies its signature.
func testCRL(t testing.TB, product string, number int64, thisUpdate, nextUpdate time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ARK-" + product},
		NotBefore:             thisUpdate.Add(-time.Hour),
		NotAfter:              nextUpdate.Add(time.Hour),
		KeyUsage:              x509.KeyUsageCRLSign | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(number), ThisUpdate: thisUpdate, NextUpdate: nextUpdate,
	}, issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

// Times used with the synthetic CRL; the real certificates are valid
// 2022-09-24 .. 2029-09-24 (go-sev-guest VCEK) and 2023-04-03 .. 2030-04-03
// (virtee VCEK) per PROVENANCE.md.
var (
	testNow        = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	crlThisUpdate  = testNow.Add(-time.Hour)
	crlNextUpdate  = testNow.Add(24 * time.Hour)
	crlNextUpdate2 = testNow.Add(48 * time.Hour)
)

// vlekCRLNumber numbers the fake KDS's VLEK CRL (its VCEK CRL is number 1).
const vlekCRLNumber = 70

// fakeKDS serves real certificates on 127.0.0.1 and counts requests.
type fakeKDS struct {
	t   testing.TB
	srv *httptest.Server

	mu    sync.Mutex
	hits  map[string]int // by path
	uris  []string
	vceks map[string][]byte // by path
	chain []byte
	crl   []byte
	// The VLEK chain (the real Milan ASVK and ARK) and a VLEK CRL numbered
	// vlekCRLNumber, so that tests tell it from the VCEK CRL.
	vlekChain []byte
	vlekCRL   []byte
	// override, when set, answers instead of the normal handler.
	override func(w http.ResponseWriter, r *http.Request) bool
}

func newFakeKDS(t testing.TB, vs ...vector) *fakeKDS {
	t.Helper()
	k := &fakeKDS{t: t, hits: map[string]int{}, vceks: map[string][]byte{}}
	for _, v := range vs {
		k.vceks["/vcek/v1/Milan/"+v.chipID] = readTestdata(t, v.folder, v.vcekFile)
	}
	k.chain = readTestdata(t, "amd-roots", "ask_ark_milan.pem")
	k.crl = testCRL(t, "Milan", 1, crlThisUpdate, crlNextUpdate)
	k.vlekChain = readTestdata(t, "amd-roots", "ask_ark_milan_vlek.pem")
	k.vlekCRL = testCRL(t, "Milan", vlekCRLNumber, crlThisUpdate, crlNextUpdate)
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(k.serve))
	k.srv.Start()
	if !strings.HasPrefix(k.srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server at %s, want 127.0.0.1", k.srv.URL)
	}
	t.Cleanup(k.srv.Close)
	return k
}

func (k *fakeKDS) serve(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	k.hits[r.URL.Path]++
	k.uris = append(k.uris, r.URL.RequestURI())
	// Overrides run under the lock so that their state needs none.
	if k.override != nil && k.override(w, r) {
		k.mu.Unlock()
		return
	}
	chain, crl, vlekChain, vlekCRL := k.chain, k.crl, k.vlekChain, k.vlekCRL
	vcek, ok := k.vceks[r.URL.Path]
	k.mu.Unlock()
	switch {
	case r.URL.Path == "/vcek/v1/Milan/cert_chain":
		w.Write(chain)
	case r.URL.Path == "/vcek/v1/Milan/crl":
		w.Write(crl)
	case r.URL.Path == "/vlek/v1/Milan/cert_chain":
		w.Write(vlekChain)
	case r.URL.Path == "/vlek/v1/Milan/crl":
		w.Write(vlekCRL)
	case ok:
		w.Write(vcek)
	default:
		http.Error(w, "Not Found", http.StatusNotFound)
	}
}

func (k *fakeKDS) totalHits() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, h := range k.hits {
		n += h
	}
	return n
}

func (k *fakeKDS) hitsFor(path string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.hits[path]
}

func (k *fakeKDS) requestURIs() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.uris)
}

func (k *fakeKDS) setCRL(b []byte) {
	k.mu.Lock()
	k.crl = b
	k.mu.Unlock()
}

// onlyCRL returns the one CRL of certs, failing t otherwise.
func onlyCRL(t testing.TB, certs *Certificates) CRL {
	t.Helper()
	if len(certs.CRLs) != 1 || certs.CRLs[0].List == nil {
		t.Fatalf("want one CRL, got %d", len(certs.CRLs))
	}
	return certs.CRLs[0]
}

func (k *fakeKDS) setOverride(f func(w http.ResponseWriter, r *http.Request) bool) {
	k.mu.Lock()
	k.override = f
	k.mu.Unlock()
}

// newTestClient returns a client for k whose waits are recorded, not slept.
func newTestClient(k *fakeKDS, retries int) (*Client, *[]time.Duration) {
	c := NewClient(ClientConfig{BaseURL: k.srv.URL, HTTPClient: k.srv.Client(), MaxRetries: retries})
	var mu sync.Mutex
	waits := &[]time.Duration{}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, waits
}

// splitPEM returns the DER of each PEM block in b.
func splitPEM(t testing.TB, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return out
		}
		out = append(out, block.Bytes)
	}
}
