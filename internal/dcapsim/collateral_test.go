package dcapsim

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// intelKeyOrders collects the key lists of Intel's TCB Info and enclave
// identity documents in testdata (files named folder/name).
func intelKeyOrders(t *testing.T, files ...string) map[string]map[string]bool {
	t.Helper()
	all := map[string]map[string]bool{}
	for _, f := range files {
		folder, name, _ := strings.Cut(f, "/")
		mergeKeyOrders(all, mustKeyOrders(t, readTestdata(t, folder, name)))
	}
	return all
}

// The real collateral must verify with the real signer through the same
// helper the generated collateral is checked with.
func TestIntelCollateralSignaturesControl(t *testing.T) {
	signer2018 := readCertPEM(t, "intel-roots", "Intel_SGX_TCB_Signing_2018-2025.pem")
	signer2025 := readCertPEM(t, "intel-roots", "Intel_SGX_TCB_Signing_2025-2032.pem")
	for _, tc := range []struct {
		folder, name, field string
		signer              *x509.Certificate
	}{
		{"zkdcap", "tcbinfov3_00806f050000.json", "tcbInfo", signer2018},
		{"zkdcap", "tcbinfov3_00906ED50000.json", "tcbInfo", signer2018},
		{"zkdcap", "qeidentityv2_tdx.json", "enclaveIdentity", signer2018},
		{"zkdcap", "qeidentityv2_sgx.json", "enclaveIdentity", signer2018},
		{"go-tdx-guest", "sample_tcbinfo_response_v5.json", "tcbInfo", signer2025},
	} {
		checkSignedCollateral(t, readTestdata(t, tc.folder, tc.name), tc.field, tc.signer)
	}
}

var (
	datePattern     = regexp.MustCompile(`"(issueDate|nextUpdate|tcbDate)":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"`)
	anyDatePattern  = regexp.MustCompile(`"(issueDate|nextUpdate|tcbDate)":`)
	upperHexPattern = regexp.MustCompile(`"(pceId|mrsigner|attributes|attributesMask|miscselect|miscselectMask)":"([0-9A-F]*)"`)
	anyHexPattern   = regexp.MustCompile(`"(pceId|mrsigner|attributes|attributesMask|miscselect|miscselectMask)":`)
)

// checkStyle checks what a key-order comparison does not: compact JSON,
// no trailing newline, Intel's date format and upper-case hex.
func checkStyle(t *testing.T, body []byte) {
	t.Helper()
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(compact.Bytes(), body) {
		t.Error("body is not compact JSON")
	}
	if bytes.Contains(body, []byte("null")) {
		t.Error("body contains null; Intel omits absent fields")
	}
	if n, m := len(datePattern.FindAll(body, -1)), len(anyDatePattern.FindAll(body, -1)); n != m || n == 0 {
		t.Errorf("%d of %d dates in Intel's format", n, m)
	}
	if n, m := len(upperHexPattern.FindAll(body, -1)), len(anyHexPattern.FindAll(body, -1)); n != m || n == 0 {
		t.Errorf("%d of %d hex fields in upper case", n, m)
	}
}

func TestTCBInfoMatchesIntel(t *testing.T) {
	p := newTestPKI(t)
	intel := intelKeyOrders(t, "zkdcap/tcbinfov3_00806f050000.json", "zkdcap/tcbinfov3_00906ED50000.json",
		"go-tdx-guest/sample_tcbinfo_response_v5.json")
	for _, tdx := range []bool{false, true} {
		pl, err := p.DefaultPlatform(tdx)
		if err != nil {
			t.Fatal(err)
		}
		body, err := p.TCBInfo(pl.TCBInfoOptions)
		if err != nil {
			t.Fatal(err)
		}
		raw := checkSignedCollateral(t, body, "tcbInfo", p.TCBSigner)
		checkStyle(t, body)
		ours := mustKeyOrders(t, body)
		checkKeyOrdersWithin(t, "TCB Info", ours, intel)

		// The top-level and level key lists are exactly Intel's for the
		// same kind of platform.
		sample := "tcbinfov3_00906ED50000.json"
		if tdx {
			sample = "tcbinfov3_00806f050000.json"
		}
		want := mustKeyOrders(t, readTestdata(t, "zkdcap", sample))
		for _, path := range []string{"", ".tcbInfo", ".tcbInfo.tcbLevels[].tcb", ".tcbInfo.tdxModule", ".tcbInfo.tdxModuleIdentities[]", ".tcbInfo.tdxModuleIdentities[].tcbLevels[].tcb"} {
			if !slices.Equal(keysOf(ours[path]), keysOf(want[path])) {
				t.Errorf("tdx=%v %q: keys %v, Intel's %v", tdx, path, keysOf(ours[path]), keysOf(want[path]))
			}
		}
		for _, path := range []string{".tcbInfo.tcbLevels[]", ".tcbInfo.tcbLevels[].tcb.sgxtcbcomponents[]"} {
			if len(ours[path]) == 0 {
				t.Errorf("tdx=%v: no objects at %q", tdx, path)
			}
		}

		// Fields written as chosen.
		var info struct {
			ID                      string `json:"id"`
			Version                 int    `json:"version"`
			FMSPC                   string `json:"fmspc"`
			PCEID                   string `json:"pceId"`
			TCBEvaluationDataNumber int    `json:"tcbEvaluationDataNumber"`
			IssueDate               string `json:"issueDate"`
			NextUpdate              string `json:"nextUpdate"`
		}
		if err := json.Unmarshal(raw, &info); err != nil {
			t.Fatal(err)
		}
		wantID, wantFMSPC := "SGX", "00906ED50000"
		if tdx {
			wantID, wantFMSPC = "TDX", "00806F050000"
		}
		if info.ID != wantID || info.Version != 3 || info.FMSPC != wantFMSPC || info.PCEID != "0000" || info.TCBEvaluationDataNumber != 17 {
			t.Errorf("tdx=%v: %+v", tdx, info)
		}
		if info.IssueDate != "2025-05-31T12:00:00Z" || info.NextUpdate != "2025-06-30T12:00:00Z" {
			t.Errorf("dates: %s .. %s", info.IssueDate, info.NextUpdate)
		}
	}
}

func TestTCBInfoFields(t *testing.T) {
	p := newTestPKI(t)
	issue := time.Date(2024, 3, 13, 1, 2, 3, 0, time.UTC)
	mod := TDXModule{MRSigner: [48]byte{0xab}, Attributes: [8]byte{1}, AttributesMask: [8]byte{0xff, 0xfe}}
	labels := [16]ComponentLabel{{"C", "T"}}
	raw, err := p.TCBInfoValue(TCBInfoOptions{
		TDX:                  true,
		FMSPC:                [6]byte{0xb0, 0xc0, 0x6f},
		PCEID:                [2]byte{0xab, 0xcd},
		LowerCaseFMSPC:       true,
		TCBType:              1,
		IssueDate:            issue,
		NextUpdate:           issue.Add(time.Hour),
		EvaluationDataNumber: 99,
		TDXModule:            &mod,
		SGXComponentLabels:   &labels,
		TDXComponentLabels:   &[16]ComponentLabel{},
		TDXModuleIdentities:  []ModuleIdentity{{ID: "TDX_02", Levels: []IdentityLevel{{ISVSVN: 7}}}},
		Levels: []TCBLevel{{
			SGXComponents: [16]uint8{1, 2},
			PCESVN:        513,
			TDXComponents: [16]uint8{3, 4},
			Status:        "<&>",
			Advisories:    []string{"A", "B"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Expected text written out by hand from the options.
	want := `{"id":"TDX","version":3,"issueDate":"2024-03-13T01:02:03Z","nextUpdate":"2024-03-13T02:02:03Z",` +
		`"fmspc":"b0c06f000000","pceId":"ABCD","tcbType":1,"tcbEvaluationDataNumber":99,` +
		`"tdxModule":{"mrsigner":"AB` + strings.Repeat("0", 94) + `","attributes":"0100000000000000","attributesMask":"FFFE000000000000"},` +
		`"tdxModuleIdentities":[{"id":"TDX_02","mrsigner":"` + strings.Repeat("0", 96) + `","attributes":"0000000000000000","attributesMask":"0000000000000000",` +
		`"tcbLevels":[{"tcb":{"isvsvn":7},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"UpToDate"}]}],` +
		`"tcbLevels":[{"tcb":{"sgxtcbcomponents":[{"svn":1,"category":"C","type":"T"},{"svn":2}` + strings.Repeat(`,{"svn":0}`, 14) + `],"pcesvn":513,` +
		`"tdxtcbcomponents":[{"svn":3},{"svn":4}` + strings.Repeat(`,{"svn":0}`, 14) + `]},` +
		`"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"<&>","advisoryIDs":["A","B"]}]}`
	if string(raw) != want {
		t.Errorf("TCB Info value:\n got %s\nwant %s", raw, want)
	}

	// SGX: no TDX fields even when set; no labels by default.
	raw, err = p.TCBInfoValue(TCBInfoOptions{
		TDXModule:           &mod,
		TDXModuleIdentities: []ModuleIdentity{{ID: "TDX_01"}},
		Levels:              []TCBLevel{{TDXComponents: [16]uint8{1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"tdx", "category", `"id":"TDX"`} {
		if bytes.Contains(raw, []byte(bad)) {
			t.Errorf("SGX TCB Info contains %q: %s", bad, raw)
		}
	}
	if !bytes.HasPrefix(raw, []byte(`{"id":"SGX","version":3,`)) {
		t.Errorf("SGX TCB Info: %s", raw)
	}

	// No levels gives an empty array, not null.
	raw, err = p.TCBInfoValue(TCBInfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(raw, []byte(`"tcbLevels":[]}`)) {
		t.Errorf("empty levels: %s", raw)
	}
}

func TestTCBInfoVersion2(t *testing.T) {
	p := newTestPKI(t)
	raw, err := p.TCBInfoValue(TCBInfoOptions{
		Version:   2,
		FMSPC:     [6]byte{0x00, 0x60, 0x6a},
		IssueDate: time.Date(2025, 3, 12, 20, 36, 57, 0, time.UTC),
		Levels: []TCBLevel{{
			SGXComponents: [16]uint8{14, 14, 3, 3, 255, 255, 1},
			PCESVN:        13,
			Date:          time.Date(2024, 3, 13, 0, 0, 0, 0, time.UTC),
			Status:        StatusSWHardeningNeeded,
			Advisories:    []string{"INTEL-SA-00615"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Shape of PCS API v3 TCB Info (version 2): no id, flat component
	// SVNs, no advisory IDs.
	want := `{"version":2,"issueDate":"2025-03-12T20:36:57Z","nextUpdate":"2025-04-11T20:36:57Z","fmspc":"00606A000000","pceId":"0000","tcbType":0,"tcbEvaluationDataNumber":17,"tcbLevels":[{"tcb":{"sgxtcbcomp01svn":14,"sgxtcbcomp02svn":14,"sgxtcbcomp03svn":3,"sgxtcbcomp04svn":3,"sgxtcbcomp05svn":255,"sgxtcbcomp06svn":255,"sgxtcbcomp07svn":1,"sgxtcbcomp08svn":0,"sgxtcbcomp09svn":0,"sgxtcbcomp10svn":0,"sgxtcbcomp11svn":0,"sgxtcbcomp12svn":0,"sgxtcbcomp13svn":0,"sgxtcbcomp14svn":0,"sgxtcbcomp15svn":0,"sgxtcbcomp16svn":0,"pcesvn":13},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"SWHardeningNeeded"}]}`
	if string(raw) != want {
		t.Errorf("version 2:\n got %s\nwant %s", raw, want)
	}

	for _, o := range []TCBInfoOptions{{Version: 2, TDX: true}, {Version: 1}, {Version: 4}} {
		if _, err := p.TCBInfo(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestQEIdentityMatchesIntel(t *testing.T) {
	p := newTestPKI(t)
	intel := intelKeyOrders(t, "zkdcap/qeidentityv2_sgx.json", "zkdcap/qeidentityv2_tdx.json")
	for _, tdx := range []bool{false, true} {
		pl, err := p.DefaultPlatform(tdx)
		if err != nil {
			t.Fatal(err)
		}
		body, err := p.QEIdentity(pl.QEIdentityOptions)
		if err != nil {
			t.Fatal(err)
		}
		raw := checkSignedCollateral(t, body, "enclaveIdentity", p.TCBSigner)
		checkStyle(t, body)
		ours := mustKeyOrders(t, body)
		checkKeyOrdersWithin(t, "QE identity", ours, intel)
		for path, keys := range intel {
			if len(ours[path]) == 0 {
				t.Errorf("tdx=%v: nothing at %q (Intel's has %v)", tdx, path, keysOf(keys))
			}
		}

		// Everything but dates and levels equals Intel's published QE
		// identity of the same kind.
		sample := "qeidentityv2_sgx.json"
		if tdx {
			sample = "qeidentityv2_tdx.json"
		}
		var doc struct {
			EnclaveIdentity map[string]json.RawMessage `json:"enclaveIdentity"`
		}
		if err := json.Unmarshal(readTestdata(t, "zkdcap", sample), &doc); err != nil {
			t.Fatal(err)
		}
		var mine map[string]json.RawMessage
		if err := json.Unmarshal(raw, &mine); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"id", "version", "tcbEvaluationDataNumber", "miscselect", "miscselectMask", "attributes", "attributesMask", "mrsigner", "isvprodid"} {
			if string(mine[k]) != string(doc.EnclaveIdentity[k]) {
				t.Errorf("tdx=%v %s: got %s, Intel's %s", tdx, k, mine[k], doc.EnclaveIdentity[k])
			}
		}
	}
}

func TestQEIdentityFields(t *testing.T) {
	p := newTestPKI(t)
	issue := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	raw, err := p.QEIdentityValue(QEIdentityOptions{
		ID:                   "QVE",
		Version:              3,
		IssueDate:            issue,
		NextUpdate:           issue.Add(48 * time.Hour),
		EvaluationDataNumber: 5,
		MiscSelect:           0x01020304,
		MiscSelectMask:       0xf0f0f0f0,
		Attributes:           [16]byte{0xaa},
		AttributesMask:       [16]byte{0xbb, 15: 0xcc},
		MRSigner:             [32]byte{0xde, 0xad},
		ISVProdID:            3,
		Levels: []IdentityLevel{
			{ISVSVN: 300, Date: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Status: StatusRevoked, Advisories: []string{"X"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"QVE","version":3,"issueDate":"2025-01-02T03:04:05Z","nextUpdate":"2025-01-04T03:04:05Z","tcbEvaluationDataNumber":5,` +
		`"miscselect":"01020304","miscselectMask":"F0F0F0F0","attributes":"AA000000000000000000000000000000","attributesMask":"BB0000000000000000000000000000CC",` +
		`"mrsigner":"DEAD` + strings.Repeat("0", 60) + `","isvprodid":3,"tcbLevels":[{"tcb":{"isvsvn":300},"tcbDate":"2024-01-01T00:00:00Z","tcbStatus":"Revoked","advisoryIDs":["X"]}]}`
	if string(raw) != want {
		t.Errorf("QE identity:\n got %s\nwant %s", raw, want)
	}

	// Defaults: id QE / TD_QE, version 2, Intel masks, levels as [].
	for tdx, id := range map[bool]string{false: `"id":"QE"`, true: `"id":"TD_QE"`} {
		raw, err := p.QEIdentityValue(QEIdentityOptions{TDX: tdx})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{id, `"version":2,`, `"miscselectMask":"FFFFFFFF"`, `"attributes":"11000000000000000000000000000000"`, `"attributesMask":"FBFFFFFFFFFFFFFF0000000000000000"`, `"tcbLevels":[]`} {
			if !bytes.Contains(raw, []byte(s)) {
				t.Errorf("default identity lacks %s: %s", s, raw)
			}
		}
	}
}

func TestSignCollateral(t *testing.T) {
	p := newTestPKI(t)
	value := []byte(`{"anything":  [1, 2]}`)
	body, err := p.SignCollateral("tcbInfo", value)
	if err != nil {
		t.Fatal(err)
	}
	raw := checkSignedCollateral(t, body, "tcbInfo", p.TCBSigner)
	if !bytes.Equal(raw, value) {
		t.Errorf("value changed: %s", raw)
	}
	if !bytes.HasPrefix(body, []byte(`{"tcbInfo":{"anything":  [1, 2]},"signature":"`)) || !bytes.HasSuffix(body, []byte(`"}`)) {
		t.Errorf("body: %s", body)
	}
	// A changed value no longer verifies: the signature covers the bytes.
	tampered := bytes.Replace(body, []byte("[1, 2]"), []byte("[1,2]"), 1)
	var doc struct {
		TCBInfo   json.RawMessage `json:"tcbInfo"`
		Signature string          `json:"signature"`
	}
	if err := json.Unmarshal(tampered, &doc); err != nil {
		t.Fatal(err)
	}
	sig, err := hex.DecodeString(doc.Signature)
	if err != nil {
		t.Fatal(err)
	}
	if verifyRaw(&p.TCBSignerKey.PublicKey, doc.TCBInfo, sig) {
		t.Error("signature verifies over re-formatted JSON")
	}
}

func TestCollateralFiles(t *testing.T) {
	p := newTestPKI(t)
	pl, err := p.DefaultPlatform(false)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "nested", "collateral")
	if err := pl.WriteCollateralDir(dir); err != nil {
		t.Fatal(err)
	}
	names := []string{"tcb_info.json", "tcb_info_issuer_chain.pem", "qe_identity.json", "qe_identity_issuer_chain.pem", "pck_crl.der", "pck_crl_issuer_chain.pem", "root_ca_crl.der"}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(keysOfSlice(got), keysOfSlice(names)) {
		t.Errorf("files %v, want %v", got, names)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name, want := range map[string][]string{
		"tcb_info_issuer_chain.pem":    {"Test SGX TCB Signing", "Test SGX Root CA"},
		"qe_identity_issuer_chain.pem": {"Test SGX TCB Signing", "Test SGX Root CA"},
		"pck_crl_issuer_chain.pem":     {"Test SGX PCK Processor CA", "Test SGX Root CA"},
	} {
		var cns []string
		for _, c := range parsePEMCerts(t, read(name)) {
			cns = append(cns, c.Subject.CommonName)
		}
		if !slices.Equal(cns, want) {
			t.Errorf("%s: %v, want %v", name, cns, want)
		}
	}
	checkSignedCollateral(t, read("tcb_info.json"), "tcbInfo", p.TCBSigner)
	checkSignedCollateral(t, read("qe_identity.json"), "enclaveIdentity", p.TCBSigner)

	// The PKI-level writer skips nil parts.
	dir2 := t.TempDir()
	tcb, err := p.TCBInfo(pl.TCBInfoOptions)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := p.PCKCRL(CAPlatform, nil, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WriteCollateralDir(dir2, tcb, nil, crl, CAPlatform, nil); err != nil {
		t.Fatal(err)
	}
	entries, err = os.ReadDir(dir2)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if want := []string{"pck_crl.der", "pck_crl_issuer_chain.pem", "tcb_info.json", "tcb_info_issuer_chain.pem"}; !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
	chain, err := os.ReadFile(filepath.Join(dir2, "pck_crl_issuer_chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if c := parsePEMCerts(t, chain); len(c) != 2 || !c[0].Equal(p.PlatformCA) || !c[1].Equal(p.Root) {
		t.Error("platform CRL issuer chain is not platform CA, root")
	}
	if err := p.WriteCollateralDir(t.TempDir(), nil, nil, crl, "bogus", nil); err == nil {
		t.Error("unknown PCK CA accepted")
	}
}

func keysOfSlice(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
