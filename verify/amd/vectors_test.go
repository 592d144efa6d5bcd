package amd

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/internal/testvectors"
)

func read(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(testvectors.Path(path))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func readCert(tb testing.TB, path string) *x509.Certificate {
	tb.Helper()
	c, err := x509.ParseCertificate(read(tb, path))
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return c
}

func readPEMChain(tb testing.TB, path string) []*x509.Certificate {
	tb.Helper()
	b := read(tb, path)
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		out = append(out, c)
	}
	if len(out) != 2 {
		tb.Fatalf("%s: want 2 certificates (ASK, ARK), got %d", path, len(out))
	}
	return out
}

// vector is one real report with its VCEK, cert_chain and the expected
// values from the folder's EXPECTED.json.
type vector struct {
	name   string
	raw    []byte
	vcek   *x509.Certificate
	chain  []*x509.Certificate // ASK, ARK
	now    time.Time
	expect expected
}

type expected struct {
	ID         string `json:"id"`
	PinnedTime string `json:"pinned_time"`
	Computed   struct {
		ReportVersion    int              `json:"report_version"`
		SigningKey       string           `json:"signing_key"`
		ProductFromVCEK  string           `json:"product_from_vcek"`
		SignatureValid   bool             `json:"report_signature_valid"`
		HWIDMatches      bool             `json:"hwid_matches_chip_id"`
		TCBMatches       bool             `json:"reported_tcb_matches_vcek_ext"`
		ReportedTCB      string           `json:"reported_tcb"`
		VCEKTCB          map[string]uint8 `json:"vcek_tcb_ext"`
		ChipID           string           `json:"chip_id"`
		GenuineAMDChain  string           `json:"genuine_amd_chain"`
		ValidWindow      [2]time.Time     `json:"valid_window"`
		ReportedTCBField map[string]uint8 `json:"reported_tcb_fields"`
	} `json:"computed"`
}

func loadExpected(tb testing.TB, folder string) expected {
	tb.Helper()
	var e struct {
		Vectors []expected `json:"vectors"`
	}
	if err := json.Unmarshal(read(tb, folder+"/EXPECTED.json"), &e); err != nil {
		tb.Fatal(err)
	}
	if len(e.Vectors) != 1 {
		tb.Fatalf("%s: want 1 vector, got %d", folder, len(e.Vectors))
	}
	return e.Vectors[0]
}

func vectors(tb testing.TB) []vector {
	tb.Helper()
	gosev := loadExpected(tb, "snp-go-sev-guest")
	virtee := loadExpected(tb, "snp-virtee")
	virteeRaw, err := hex.DecodeString(strings.TrimSpace(string(read(tb, "snp-virtee/report_milan.hex"))))
	if err != nil {
		tb.Fatal(err)
	}
	vs := []vector{
		{name: gosev.ID, raw: read(tb, "snp-go-sev-guest/attestation.bin"), vcek: readCert(tb, "snp-go-sev-guest/vcek.testcer.der"),
			chain: readPEMChain(tb, "snp-go-sev-guest/milan_cert_chain.pem"), expect: gosev},
		{name: virtee.ID, raw: virteeRaw, vcek: readCert(tb, "snp-virtee/vcek_milan.der"),
			chain: readPEMChain(tb, "snp-virtee/cert_chain_milan.pem"), expect: virtee},
	}
	for i := range vs {
		if vs[i].now, err = time.Parse(time.RFC3339, vs[i].expect.PinnedTime); err != nil {
			tb.Fatal(err)
		}
	}
	return vs
}

func parse(tb testing.TB, raw []byte) *snp.Report {
	tb.Helper()
	r, err := snp.ParseReport(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// onlyNoCRL asserts that err fails exactly the crl check, with ErrNoCRL.
func onlyNoCRL(t *testing.T, r *Result, err error) {
	t.Helper()
	if !errors.Is(err, ErrNoCRL) {
		t.Fatalf("want only ErrNoCRL, got %v", err)
	}
	if f := r.Failed(); len(f) != 1 || f[0].Name != CheckCRL || f[0].Err() != ErrNoCRL {
		t.Fatalf("want only the crl check failed, got %+v", f)
	}
}

// TestRealVectors verifies both real Milan reports at their pinned times,
// with the certificate chain given in each supported form, and compares
// the result with EXPECTED.json.
func TestRealVectors(t *testing.T) {
	arkMilan := readPEMChain(t, "amd-roots/ask_ark_milan.pem")[1]
	arkSPKI := sha256.Sum256(arkMilan.RawSubjectPublicKeyInfo)
	v := NewVerifier(nil)
	for _, vec := range vectors(t) {
		c := vec.expect.Computed
		if !c.SignatureValid || !c.HWIDMatches || !c.TCBMatches || c.SigningKey != "VCEK" || c.GenuineAMDChain != "../amd-roots/ask_ark_milan.pem" {
			t.Fatalf("%s: EXPECTED.json does not describe a valid genuine VCEK-signed Milan report: %+v", vec.name, c)
		}
		rep := parse(t, vec.raw)
		if int(rep.Version) != c.ReportVersion {
			t.Fatalf("%s: report version %d, EXPECTED %d", vec.name, rep.Version, c.ReportVersion)
		}
		for _, form := range []struct {
			name    string
			certs   []*x509.Certificate
			product string
		}{
			{"vcek only", []*x509.Certificate{vec.vcek}, ""},
			{"vcek+ask", []*x509.Certificate{vec.vcek, vec.chain[0]}, ""},
			{"vcek+ask+ark", append([]*x509.Certificate{vec.vcek}, vec.chain...), ""},
			{"product option", []*x509.Certificate{vec.vcek}, "Milan"},
		} {
			t.Run(vec.name+"/"+form.name, func(t *testing.T) {
				r, err := v.Verify(context.Background(), rep, Options{Now: vec.now, Certs: form.certs, Product: form.product})
				onlyNoCRL(t, r, err)
				wantChecks := []string{CheckReportFormat, CheckProduct, CheckChain, CheckCRL, CheckTCB, CheckHWID, CheckSignature}
				if len(r.Checks) != len(wantChecks) {
					t.Fatalf("checks: want %v, got %+v", wantChecks, r.Checks)
				}
				for i, name := range wantChecks {
					if r.Checks[i].Name != name {
						t.Errorf("check %d: want %s, got %s", i, name, r.Checks[i].Name)
					}
				}
				if r.TEE != "sev_snp" || r.SigningKey != "vcek" {
					t.Errorf("TEE/signing key: got %q/%q", r.TEE, r.SigningKey)
				}
				if wantProduct, _, _ := strings.Cut(c.ProductFromVCEK, "-"); r.Product != wantProduct || r.ProductName != c.ProductFromVCEK {
					t.Errorf("product: want %s (%s), got %s (%s)", wantProduct, c.ProductFromVCEK, r.Product, r.ProductName)
				}
				if r.TrustAnchor == nil || !r.TrustAnchor.AMD || r.TrustAnchor.Subject != "ARK-Milan" ||
					r.TrustAnchor.SPKISHA256 != hex.EncodeToString(arkSPKI[:]) {
					t.Errorf("trust anchor: got %+v", r.TrustAnchor)
				}
				tcb := r.TCB
				if tcb == nil || tcb.Bootloader != c.VCEKTCB["bl"] || tcb.TEE != c.VCEKTCB["tee"] || tcb.SNP != c.VCEKTCB["snp"] || tcb.Microcode != c.VCEKTCB["ucode"] {
					t.Errorf("certificate TCB: want %v, got %+v", c.VCEKTCB, tcb)
				}
				// EXPECTED lists REPORTED_TCB as its eight bytes in report order.
				if b := tcb.Version().Bytes(); hex.EncodeToString(b[:]) != c.ReportedTCB {
					t.Errorf("certificate TCB_VERSION bytes: want EXPECTED reported_tcb %s, got %x", c.ReportedTCB, b)
				}
				if !r.Valid.From.Equal(c.ValidWindow[0]) || !r.Valid.Until.Equal(c.ValidWindow[1]) {
					t.Errorf("valid window: want %v, got %v..%v", c.ValidWindow, r.Valid.From, r.Valid.Until)
				}
				if r.Report != rep {
					t.Error("result does not reference the report")
				}
			})
		}
		// The report's own fields agree with EXPECTED.json.
		if hex.EncodeToString(rep.ChipID[:]) != c.ChipID {
			t.Errorf("%s: chip_id differs from EXPECTED.json", vec.name)
		}
		if b := rep.ReportedTCB; b.BootloaderSPL() != c.ReportedTCBField["bl"] || b.SNPSPL() != c.ReportedTCBField["snp"] || b.MicrocodeSPL() != c.ReportedTCBField["ucode"] {
			t.Errorf("%s: reported TCB %v differs from EXPECTED %v", vec.name, b, c.ReportedTCBField)
		}
	}
}

// TestVerifyBytes checks the parsing entry point on a real report and on
// a truncated one.
func TestVerifyBytes(t *testing.T) {
	vec := vectors(t)[0]
	v := NewVerifier(nil)
	r, err := v.VerifyBytes(context.Background(), vec.raw, Options{Now: vec.now, Certs: []*x509.Certificate{vec.vcek}})
	onlyNoCRL(t, r, err)
	r, err = v.VerifyBytes(context.Background(), vec.raw[:len(vec.raw)-1], Options{Now: vec.now, Certs: []*x509.Certificate{vec.vcek}})
	if !errors.Is(err, ErrMalformed) || len(r.Checks) != 1 || r.Checks[0].Name != CheckReportFormat {
		t.Fatalf("truncated report: want a report.format failure with ErrMalformed, got %v", err)
	}
}

// TestEmbeddedRoots checks the embedded AMD certificates against the
// SHA-256 values in testdata/amd-roots/PROVENANCE.md and the copies of the
// KDS cert_chain files in testdata.
func TestEmbeddedRoots(t *testing.T) {
	want := map[string][3]string{ // ARK, ASK, ASVK (amd-roots/PROVENANCE.md)
		"Milan": {"69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd", "67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b", "c5e081f59b7efab1fe2f8b505e159704e72f29cab7ef7cf628a05a42439082f5"},
		"Genoa": {"4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1", "5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521", "197e610743a917d6b9bb982a5a9226ccc0a15b611be0619e626aca9151457372"},
		"Turin": {"1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a", "5b77ef5fe7a7a004fd9032668fba9d0fda22f88c4442069a479636a6ae3b3185", "104e10a8bd060a3c20a434261a57d0588fd65a88915b4f65b08bdecaf8df1a3c"},
	}
	hash := func(c *x509.Certificate) string {
		if c == nil {
			return "<nil>"
		}
		h := sha256.Sum256(c.Raw)
		return hex.EncodeToString(h[:])
	}
	for product, w := range want {
		for i, c := range []*x509.Certificate{genuineARK(product), genuineASK(product), genuineASVK(product)} {
			if got := hash(c); got != w[i] {
				t.Errorf("%s certificate %d: SHA-256 want %s, got %s", product, i, w[i], got)
			}
		}
		if genuineARK(product).Subject.CommonName != "ARK-"+product || genuineASK(product).Subject.CommonName != "SEV-"+product ||
			genuineASVK(product).Subject.CommonName != "SEV-VLEK-"+product {
			t.Errorf("%s: unexpected subject names", product)
		}
	}
	if genuineARK("Naples") != nil || genuineASK("") != nil || genuineASVK("milan") != nil {
		t.Error("unknown products must have no roots")
	}
	for _, f := range []struct{ file, product string }{{"amd-roots/ask_ark_milan.pem", "Milan"}, {"amd-roots/ask_ark_genoa.pem", "Genoa"}} {
		c := readPEMChain(t, f.file)
		if !c[0].Equal(genuineASK(f.product)) || !c[1].Equal(genuineARK(f.product)) {
			t.Errorf("%s differs from the embedded %s ASK/ARK", f.file, f.product)
		}
	}
}

func TestMustLoadPairRejectsWrongPin(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a pin mismatch did not panic")
		}
	}()
	mustLoadPair("ask_ark_milan.pem", askSHA256["Milan"], arkSHA256["Genoa"])
}
