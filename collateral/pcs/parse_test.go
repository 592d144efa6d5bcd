package pcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// mutate returns a deep copy of d (via JSON) changed by f.
func mutate(t *testing.T, d doc, f func(d doc)) doc {
	t.Helper()
	var c doc
	if err := json.Unmarshal(mustJSON(t, d), &c); err != nil {
		t.Fatal(err)
	}
	f(c)
	return c
}

func level0(d doc) doc      { return d["tcbLevels"].([]any)[0].(doc) }
func tcb0(d doc) doc        { return level0(d)["tcb"].(doc) }
func sgxComps0(d doc) []any { return tcb0(d)["sgxtcbcomponents"].([]any) }

func TestParseTCBInfoRejects(t *testing.T) {
	sgx := tcbInfoDoc(TCBInfoIDSGX, sgxLevel(svns(3, 3), 11, "UpToDate"))
	tdx := tcbInfoDoc(TCBInfoIDTDX, tdxLevel(svns(3, 3), 11, svns(5, 0, 3), "UpToDate"))
	tdx["tdxModuleIdentities"] = []any{moduleIdentity("TDX_01", moduleLevel(1, "UpToDate"))}
	for _, base := range []doc{sgx, tdx} {
		if _, err := ParseTCBInfo(bodyOf(t, "tcbInfo", base)); err != nil {
			t.Fatalf("base document: %v", err)
		}
	}
	for _, c := range []struct {
		name string
		base doc
		f    func(d doc)
		want string // part of the error
	}{
		{"version 4", sgx, func(d doc) { d["version"] = 4 }, "tcbInfo.version: want 2 or 3, got 4"},
		{"version 1", sgx, func(d doc) { d["version"] = 1 }, "want 2 or 3"},
		{"version string", sgx, func(d doc) { d["version"] = "3" }, "tcbInfo.version: want an unsigned integer"},
		{"version float", sgx, func(d doc) { d["version"] = 3.5 }, "tcbInfo.version: want an unsigned integer"},
		{"version missing", sgx, func(d doc) { delete(d, "version") }, "tcbInfo.version: missing"},
		{"version wrong case", sgx, func(d doc) { d["Version"] = d["version"]; delete(d, "version") }, "tcbInfo.version: missing"},
		{"id unknown", sgx, func(d doc) { d["id"] = "SEV" }, `tcbInfo.id: want "SGX" or "TDX", got "SEV"`},
		{"id lowercase", sgx, func(d doc) { d["id"] = "sgx" }, "tcbInfo.id"},
		{"id missing in v3", sgx, func(d doc) { delete(d, "id") }, "tcbInfo.id: missing"},
		{"id in v2", sgx, func(d doc) { d["version"] = 2 }, "tcbInfo.id: not allowed in version 2"},
		{"id null", sgx, func(d doc) { d["id"] = nil }, "tcbInfo.id: want a string, got null"},
		{"issueDate format", sgx, func(d doc) { d["issueDate"] = "2025-06-19 10:16:03" }, "tcbInfo.issueDate: want an RFC 3339"},
		{"issueDate offset", sgx, func(d doc) { d["issueDate"] = "2025-06-19T10:16:03+01:00" }, "tcbInfo.issueDate"},
		{"issueDate number", sgx, func(d doc) { d["issueDate"] = 1 }, "tcbInfo.issueDate: want a string"},
		{"nextUpdate before issueDate", sgx, func(d doc) { d["nextUpdate"] = "2025-06-19T10:16:02Z" }, "tcbInfo.nextUpdate: want later than issueDate"},
		{"nextUpdate missing", sgx, func(d doc) { delete(d, "nextUpdate") }, "tcbInfo.nextUpdate: missing"},
		{"fmspc short", sgx, func(d doc) { d["fmspc"] = "B0C06F0000" }, "tcbInfo.fmspc: want 12 hex digits, got 10"},
		{"fmspc non-hex", sgx, func(d doc) { d["fmspc"] = "B0C06F00000G" }, "tcbInfo.fmspc: invalid hex"},
		{"pceId long", sgx, func(d doc) { d["pceId"] = "000000" }, "tcbInfo.pceId: want 4 hex digits"},
		{"tcbType 1", sgx, func(d doc) { d["tcbType"] = 1 }, "tcbInfo.tcbType: want 0, got 1"},
		{"tcbType negative", sgx, func(d doc) { d["tcbType"] = json.RawMessage("-0") }, "tcbInfo.tcbType"},
		{"evaluation number negative", sgx, func(d doc) { d["tcbEvaluationDataNumber"] = -1 }, "tcbInfo.tcbEvaluationDataNumber: want an unsigned integer"},
		{"evaluation number overflow", sgx, func(d doc) { d["tcbEvaluationDataNumber"] = 1 << 32 }, "at most 32 bits"},
		{"evaluation number exponent", sgx, func(d doc) { d["tcbEvaluationDataNumber"] = 1e21 }, "tcbInfo.tcbEvaluationDataNumber"},
		{"SGX with tdxModule", sgx, func(d doc) { d["tdxModule"] = tdx["tdxModule"] }, "tcbInfo.tdxModule: not allowed in SGX TCB Info"},
		{"SGX with tdxModuleIdentities", sgx, func(d doc) { d["tdxModuleIdentities"] = []any{} }, "tcbInfo.tdxModuleIdentities: not allowed"},
		{"SGX level with tdxtcbcomponents", sgx, func(d doc) { tcb0(d)["tdxtcbcomponents"] = svns() }, "tdxtcbcomponents: not allowed in SGX"},
		{"TDX without tdxModule", tdx, func(d doc) { delete(d, "tdxModule") }, "tcbInfo.tdxModule: missing"},
		{"TDX tdxModule not object", tdx, func(d doc) { d["tdxModule"] = "x" }, "tcbInfo.tdxModule: want a JSON object"},
		{"TDX mrsigner short", tdx, func(d doc) { d["tdxModule"].(doc)["mrsigner"] = "00" }, "tcbInfo.tdxModule.mrsigner: want 96 hex digits, got 2"},
		{"TDX attributesMask missing", tdx, func(d doc) { delete(d["tdxModule"].(doc), "attributesMask") }, "tcbInfo.tdxModule.attributesMask: missing"},
		{"TDX empty module identities", tdx, func(d doc) { d["tdxModuleIdentities"] = []any{} }, "tcbInfo.tdxModuleIdentities: want a non-empty array"},
		{"TDX duplicate module identity", tdx, func(d doc) {
			d["tdxModuleIdentities"] = []any{moduleIdentity("TDX_01", moduleLevel(1, "UpToDate")), moduleIdentity("tdx_01", moduleLevel(2, "UpToDate"))}
		}, `duplicate module identity "tdx_01"`},
		{"TDX module without levels", tdx, func(d doc) { d["tdxModuleIdentities"] = []any{moduleIdentity("TDX_01")} }, "tcbLevels: want a non-empty array"},
		{"TDX module duplicate isvsvn", tdx, func(d doc) {
			d["tdxModuleIdentities"] = []any{moduleIdentity("TDX_01", moduleLevel(1, "UpToDate"), moduleLevel(1, "OutOfDate"))}
		}, "duplicate TCB level for isvsvn 1"},
		{"TDX module isvsvn 65536", tdx, func(d doc) {
			d["tdxModuleIdentities"] = []any{moduleIdentity("TDX_01", moduleLevel(65536, "UpToDate"))}
		}, "isvsvn: want an unsigned integer of at most 16 bits"},
		{"TDX module unknown status", tdx, func(d doc) {
			d["tdxModuleIdentities"] = []any{moduleIdentity("TDX_01", moduleLevel(1, "Fine"))}
		}, `tcbStatus: want one of`},
		{"TDX level without tdxtcbcomponents", tdx, func(d doc) { delete(tcb0(d), "tdxtcbcomponents") }, "tdxtcbcomponents: missing"},
		{"TDX 15 tdx components", tdx, func(d doc) { tcb0(d)["tdxtcbcomponents"] = svns()[:15] }, "want 16 components, got 15"},
		{"no levels", sgx, func(d doc) { d["tcbLevels"] = []any{} }, "tcbInfo.tcbLevels: want a non-empty array"},
		{"levels not array", sgx, func(d doc) { d["tcbLevels"] = doc{} }, "tcbInfo.tcbLevels: want an array, got an object"},
		{"level not object", sgx, func(d doc) { d["tcbLevels"] = []any{1} }, "tcbInfo.tcbLevels[0]: want a JSON object"},
		{"15 components", sgx, func(d doc) { tcb0(d)["sgxtcbcomponents"] = svns()[:15] }, "tcbInfo.tcbLevels[0].tcb.sgxtcbcomponents: want 16 components, got 15"},
		{"17 components", sgx, func(d doc) { tcb0(d)["sgxtcbcomponents"] = append(svns(), doc{"svn": 1}) }, "more than 16 elements"},
		{"component svn negative", sgx, func(d doc) { sgxComps0(d)[3] = doc{"svn": -1} }, "sgxtcbcomponents[3].svn: want an unsigned integer"},
		{"component svn string", sgx, func(d doc) { sgxComps0(d)[3] = doc{"svn": "1"} }, "sgxtcbcomponents[3].svn"},
		{"component svn missing", sgx, func(d doc) { sgxComps0(d)[3] = doc{"category": "BIOS"} }, "sgxtcbcomponents[3].svn: missing"},
		{"component category number", sgx, func(d doc) { sgxComps0(d)[3] = doc{"svn": 1, "category": 5} }, "sgxtcbcomponents[3].category: want a string"},
		{"pcesvn missing", sgx, func(d doc) { delete(tcb0(d), "pcesvn") }, "tcb.pcesvn: missing"},
		{"tcb missing", sgx, func(d doc) { delete(level0(d), "tcb") }, "tcbInfo.tcbLevels[0].tcb: missing"},
		{"tcbDate missing", sgx, func(d doc) { delete(level0(d), "tcbDate") }, "tcbInfo.tcbLevels[0].tcbDate: missing"},
		{"status unknown", sgx, func(d doc) { level0(d)["tcbStatus"] = "TDRelaunchAdvised" }, `tcbInfo.tcbLevels[0].tcbStatus: want one of`},
		{"status null", sgx, func(d doc) { level0(d)["tcbStatus"] = nil }, "tcbStatus: want a string, got null"},
		{"advisoryIDs not array", sgx, func(d doc) { level0(d)["advisoryIDs"] = "INTEL-SA-00001" }, "advisoryIDs: want an array"},
		{"advisoryIDs number", sgx, func(d doc) { level0(d)["advisoryIDs"] = []any{1} }, "advisoryIDs[0]: want a string"},
		{"v2 component missing", sgx, func(d doc) {
			d["version"] = 2
			delete(d, "id")
			l := level0(d)
			tcb := doc{"pcesvn": 1}
			for i := 1; i <= 15; i++ {
				tcb["sgxtcbcomp"+twoDigits(i)+"svn"] = 0
			}
			l["tcb"] = tcb
		}, "tcb.sgxtcbcomp16svn: missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTCBInfo(bodyOf(t, "tcbInfo", mutate(t, c.base, c.f)))
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("got %v, want ErrFormat", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%v is not a *FieldError", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func twoDigits(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

// TestParseTCBInfoV2 parses a version 2 document built like Intel's sample.
func TestParseTCBInfoV2(t *testing.T) {
	tcb := doc{"pcesvn": 3}
	for i := 1; i <= 16; i++ {
		tcb["sgxtcbcomp"+twoDigits(i)+"svn"] = i
	}
	d := tcbInfoDoc(TCBInfoIDSGX, doc{"tcb": tcb, "tcbDate": "2019-09-01T00:00:00Z", "tcbStatus": "UpToDate"})
	d["version"] = 2
	delete(d, "id")
	ti := synthTCBInfo(t, d)
	if ti.ID != TCBInfoIDSGX || ti.Version != 2 {
		t.Fatalf("id %q version %d", ti.ID, ti.Version)
	}
	for i, c := range ti.TCBLevels[0].TCB.SGXComponents {
		if c.SVN != uint32(i+1) {
			t.Fatalf("component %d svn %d", i, c.SVN)
		}
	}
}

// TestParseSignedBodyRejects covers the PCS body and JSON-level checks.
func TestParseSignedBodyRejects(t *testing.T) {
	good := string(bodyOf(t, "tcbInfo", tcbInfoDoc(TCBInfoIDSGX, sgxLevel(svns(3, 3), 11, "UpToDate"))))
	inner := good[len(`{"signature":"`+zeroSig+`","tcbInfo":`) : len(good)-1]
	if _, err := ParseTCBInfo([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, body, want string
	}{
		{"empty", "", "invalid JSON"},
		{"not an object", `[]`, "want a JSON object, got an array"},
		{"string", `"x"`, `want a JSON object, got string "x"`},
		{"extra top-level key", `{"tcbInfo":` + inner + `,"signature":"` + zeroSig + `","x":1}`, `unexpected key "x"`},
		{"missing signature", `{"tcbInfo":` + inner + `}`, "signature: missing"},
		{"short signature", `{"tcbInfo":` + inner + `,"signature":"` + zeroSig[2:] + `"}`, "signature: want 128 hex digits, got 126"},
		{"non-hex signature", `{"tcbInfo":` + inner + `,"signature":"` + "zz" + zeroSig[2:] + `"}`, "signature: invalid hex"},
		{"missing tcbInfo", `{"signature":"` + zeroSig + `"}`, "tcbInfo: missing"},
		{"tcbInfo null", `{"tcbInfo":null,"signature":"` + zeroSig + `"}`, "tcbInfo: want a JSON object, got null"},
		{"duplicate top-level key", `{"tcbInfo":` + inner + `,"tcbInfo":` + inner + `,"signature":"` + zeroSig + `"}`, `duplicate key "tcbInfo"`},
		{"duplicate nested key", `{"tcbInfo":` + strings.Replace(inner, `"version":3`, `"version":3,"version":3`, 1) + `,"signature":"` + zeroSig + `"}`, `tcbInfo: duplicate key "version"`},
		{"trailing data", good + `{}`, "invalid JSON: invalid character '{' after top-level value"},
		{"trailing garbage", good + `x`, "invalid JSON"},
		{"truncated", good[:len(good)-1], "invalid JSON"},
		{"wrong key", `{"enclaveIdentity":` + inner + `,"signature":"` + zeroSig + `"}`, `unexpected key "enclaveIdentity"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTCBInfo([]byte(c.body))
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrFormat containing %q", err, c.want)
			}
		})
	}
	big := append([]byte(good), bytes.Repeat([]byte(" "), MaxJSONSize)...)
	if _, err := ParseTCBInfo(big); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversize body: %v", err)
	}
	if _, err := parseBareTCBInfo(bytes.Repeat([]byte(" "), MaxJSONSize+1), make([]byte, 64)); !errors.Is(err, ErrFormat) {
		t.Fatalf("oversize value: %v", err)
	}
	if _, err := parseBareTCBInfo([]byte(inner+"x"), make([]byte, 64)); !errors.Is(err, ErrFormat) {
		t.Fatalf("value with trailing data: %v", err)
	}
}

// TestTruncatedBodies truncates real bodies at every byte: each prefix must
// fail cleanly.
func TestTruncatedBodies(t *testing.T) {
	for _, f := range []string{"go-tdx-guest/sample_tcbInfo_response.json", "go-tdx-guest/sample_qeIdentity_response.json"} {
		body := bytes.TrimSpace(readFile(t, f))
		for i := 0; i < len(body); i++ {
			var err error
			if strings.Contains(f, "qeIdentity") {
				_, err = ParseEnclaveIdentity(body[:i])
			} else {
				_, err = ParseTCBInfo(body[:i])
			}
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("%s truncated to %d bytes: %v", f, i, err)
			}
		}
	}
}

func TestParseEnclaveIdentityRejects(t *testing.T) {
	base := qeIdentityDoc(qeLevel(8, "UpToDate"), qeLevel(6, "OutOfDate"))
	if _, err := ParseEnclaveIdentity(bodyOf(t, "enclaveIdentity", base)); err != nil {
		t.Fatal(err)
	}
	lv := func(d doc, i int) doc { return d["tcbLevels"].([]any)[i].(doc) }
	for _, c := range []struct {
		name string
		f    func(d doc)
		want string
	}{
		{"version 1", func(d doc) { d["version"] = 1 }, "enclaveIdentity.version: want 2, got 1"},
		{"version 3", func(d doc) { d["version"] = 3 }, "want 2, got 3"},
		{"id unknown", func(d doc) { d["id"] = "PCE" }, `enclaveIdentity.id: want "QE", "QVE" or "TD_QE", got "PCE"`},
		{"miscselect short", func(d doc) { d["miscselect"] = "0000000" }, "enclaveIdentity.miscselect: want 8 hex digits, got 7"},
		{"miscselectMask missing", func(d doc) { delete(d, "miscselectMask") }, "miscselectMask: missing"},
		{"attributes long", func(d doc) { d["attributes"] = d["attributes"].(string) + "00" }, "attributes: want 32 hex digits"},
		{"attributesMask non-hex", func(d doc) { d["attributesMask"] = strings.Repeat("g", 32) }, "attributesMask: invalid hex"},
		{"mrsigner short", func(d doc) { d["mrsigner"] = d["mrsigner"].(string)[2:] }, "mrsigner: want 64 hex digits, got 62"},
		{"isvprodid 65536", func(d doc) { d["isvprodid"] = 65536 }, "isvprodid: want an unsigned integer of at most 16 bits"},
		{"isvprodid missing", func(d doc) { delete(d, "isvprodid") }, "isvprodid: missing"},
		{"no levels", func(d doc) { d["tcbLevels"] = []any{} }, "tcbLevels: want a non-empty array"},
		{"ascending levels", func(d doc) { d["tcbLevels"] = []any{qeLevel(6, "OutOfDate"), qeLevel(8, "UpToDate")} }, "want levels strictly descending by isvsvn, got 8 after 6"},
		{"duplicate isvsvn", func(d doc) { d["tcbLevels"] = []any{qeLevel(6, "UpToDate"), qeLevel(6, "OutOfDate")} }, "strictly descending"},
		{"SWHardeningNeeded", func(d doc) { lv(d, 0)["tcbStatus"] = "SWHardeningNeeded" }, "tcbLevels[0].tcbStatus: want one of"},
		{"isvsvn missing", func(d doc) { lv(d, 1)["tcb"] = doc{} }, "enclaveIdentity.tcbLevels[1].tcb.isvsvn: missing"},
		{"isvsvn 65536", func(d doc) { lv(d, 0)["tcb"] = doc{"isvsvn": 65536} }, "at most 16 bits"},
		{"tcbDate bad", func(d doc) { lv(d, 0)["tcbDate"] = "yesterday" }, "tcbLevels[0].tcbDate: want an RFC 3339"},
		{"nextUpdate equal issueDate", func(d doc) { d["nextUpdate"] = d["issueDate"] }, "nextUpdate: want later than issueDate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseEnclaveIdentity(bodyOf(t, "enclaveIdentity", mutate(t, base, c.f)))
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrFormat containing %q", err, c.want)
			}
		})
	}
	if _, err := ParseEnclaveIdentity(bodyOf(t, "tcbInfo", base)); !errors.Is(err, ErrFormat) {
		t.Fatalf("tcbInfo key: %v", err)
	}
	if _, err := parseBareEnclaveIdentity(mustJSON(t, base), make([]byte, 65)); !errors.Is(err, ErrFormat) {
		t.Fatalf("65-byte signature: %v", err)
	}
}
