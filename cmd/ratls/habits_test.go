package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/ratls/ratls/explore"
	"github.com/ratls/ratls/service/api"
)

// -o json is --json; -o yaml the same document in YAML, in the same order.
func TestOutputFormats(t *testing.T) {
	cert := certDir + "rats-rs_demo-sgx-cert.pem"
	_, viaFlag, _ := runCLI(t, "inspect", "--json", cert)
	code, viaO, _ := runCLI(t, "inspect", "-o", "json", cert)
	if code != exitOK || viaO != viaFlag || !json.Valid([]byte(viaO)) {
		t.Fatalf("-o json differs from --json (exit %d)", code)
	}
	code, y, _ := runCLI(t, "inspect", "-o", "yaml", cert)
	if code != exitOK {
		t.Fatal(code)
	}
	for _, want := range []string{"source: certificate\n", "certificate:\n  subject: \"CN=rats-rs,O=Inclavare Containers\"\n",
		"  serial: \"2a\"\n", "evidence:\n  - format: interop\n", "    measurements:\n      mrenclave: \"488615372ec6d4b5a27dd7673697113808653b749615b8a58f62e71df0660e85\"\n",
		"      debug: true\n", "endorsements:\n  empty: true\n"} {
		if !strings.Contains(y, want) {
			t.Errorf("YAML lacks %q", want)
		}
	}
	if strings.Index(y, "subject:") > strings.Index(y, "issuer:") {
		t.Error("YAML does not keep the JSON order")
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect", "-o", "xml", cert}, `ratls: -o: want text, json or yaml, got "xml"`},
		{[]string{"inspect", "-o", "text", "--json", cert}, "ratls: --json and -o text disagree"},
		// The error of a JSON run is JSON.
		{[]string{"collateral", "fetch", "-o", "json", "--out", t.TempDir()}, `{"error":"-o json: \"ratls collateral fetch\" prints no report to format","exit_status":2}`},
	} {
		if code, _, stderr := runCLI(t, tc.args...); code != exitInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// With JSON output errors are JSON too: standard output holds exactly one
// document, the report or the error.
func TestJSONErrors(t *testing.T) {
	code, stdout, stderr := runCLI(t, "verify", "-o", "json", "/does/not/exist")
	var doc struct {
		Error      string `json:"error"`
		ExitStatus int    `json:"exit_status"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != exitInput || doc.ExitStatus != exitInput ||
		!strings.Contains(doc.Error, "/does/not/exist") {
		t.Errorf("input error: exit %d, stdout %q", code, stdout)
	}
	if err := json.Unmarshal([]byte(stderr), &doc); err != nil {
		t.Errorf("standard error is not JSON: %q", stderr)
	}
	// A rejection prints its report; the error goes to standard error only.
	code, stdout, stderr = runCLI(t, "verify", "--json", "--offline", certDir+"rats-rs_demo-sgx-cert.pem")
	var report map[string]any
	if err := json.Unmarshal([]byte(stdout), &report); err != nil || code != exitRejected || report["verification"] == nil {
		t.Errorf("rejection: exit %d, stdout is not the one report: %v", code, err)
	}
	if err := json.Unmarshal([]byte(stderr), &doc); err != nil || doc.ExitStatus != exitRejected || !strings.HasPrefix(doc.Error, "evidence rejected: ") {
		t.Errorf("rejection: stderr %q", stderr)
	}
	// Flag errors too.
	code, stdout, _ = runCLI(t, "verify", "-o", "json", "--no-such-flag", "x")
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != exitInput || !strings.Contains(doc.Error, "unknown flag: --no-such-flag") {
		t.Errorf("flag error: exit %d, %q", code, stdout)
	}
}

// -q prints nothing but errors; the exit status says the result.
func TestQuiet(t *testing.T) {
	args := []string{"verify", "-q", "--collateral", vec + "dcap-qvl/tdx_quote_collateral.json", "--at", "2025-07-19T10:00:34Z", vec + "dcap-qvl/tdx_quote"}
	if code, stdout, stderr := runCLI(t, args...); code != exitOK || stdout != "" || stderr != "" {
		t.Errorf("accepted: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr := runCLI(t, "verify", "-q", "--offline", certDir+"rats-rs_demo-sgx-cert.pem")
	if code != exitRejected || stdout != "" || !strings.HasPrefix(stderr, "ratls: evidence rejected: ") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("rejected: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// Data asked for still comes out.
	out := filepath.Join(t.TempDir(), "q")
	if code, _, stderr := runCLI(t, "inspect", "-q", "--extract", "quote", certDir+"rats-rs_demo-sgx-cert.pem", out); code != exitOK || stderr != "" {
		t.Errorf("extract -q: exit %d, %q", code, stderr)
	}
	if st, err := os.Stat(out); err != nil || st.Size() != 4734 {
		t.Errorf("extract -q wrote %v", err)
	}
}

// "ratls version" and "ratls --version" print the same line, with the
// module version and the VCS revision Go recorded.
func TestVersion(t *testing.T) {
	readBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/ratls/ratls", Version: "v1.4.0"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "3a98b36c1f2e4d5a6b7c8d9e0f1a2b3c4d5e6f7a"},
				{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}, true
	}
	t.Cleanup(func() { readBuildInfo = debug.ReadBuildInfo })
	const want = "ratls v1.4.0 (revision 3a98b36c1f2e, 2026-12-01T10:00:00Z, modified) go1.26.0\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if code, out, _ := runCLI(t, args...); code != exitOK || out != want {
			t.Errorf("%v: exit %d, %q; want %q", args, code, out, want)
		}
	}
	_, out, _ := runCLI(t, "version", "-o", "json")
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version != "v1.4.0" || v.Revision != "3a98b36c1f2e4d5a6b7c8d9e0f1a2b3c4d5e6f7a" || !v.Modified {
		t.Errorf("version -o json: %v %+v", err, v)
	}
	// Without build information, it says so rather than inventing one.
	readBuildInfo = func() (*debug.BuildInfo, bool) { return nil, false }
	if _, out, _ := runCLI(t, "version"); out != "ratls (devel) (no VCS revision recorded) \n" {
		t.Errorf("no build info: %q", out)
	}
}

// Shells complete flag values: TEE names, media types, files.
func TestCompletion(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"__complete", "collateral", "fetch", "--tee", ""}, "sgx\ntdx\nsev_snp\n:4\n"},
		{[]string{"__complete", "sim", "quote", "--tee", ""}, "sgx\ntdx\n:4\n"},
		{[]string{"__complete", "verify", "--update", ""}, "standard\nearly\n:4\n"},
		{[]string{"__complete", "verify", "-o", ""}, "text\njson\nyaml\n:4\n"},
		{[]string{"__complete", "serve", "--attester", ""}, "sim\ntsm\ngramine\nsevguest\n:4\n"},
		{[]string{"__complete", "inspect", "--extract", ""}, "quote\nreport\ntoken\nclaims\n:4\n"},
		{[]string{"__complete", "verify", "--trust-root", ""}, "pem\ncrt\ncer\n:8\n"},
		{[]string{"__complete", "verify", "--amd-certs", ""}, ":16\n"},
		{[]string{"__complete", "verify", ""}, ":0\n"}, // SOURCE: files
	} {
		if code, out, _ := runCLI(t, tc.args...); code != exitOK || out != tc.want {
			t.Errorf("%v: exit %d, %q; want %q", tc.args, code, out, tc.want)
		}
	}
	_, out, _ := runCLI(t, "__complete", "verify", "--media-type", "")
	for _, mt := range []string{api.MediaDCAPQuote + "\n", api.MediaTSMReport + "\n", api.MediaCMWCBOR + "\n"} {
		if !strings.Contains(out, mt) {
			t.Errorf("media types lack %q", mt)
		}
	}
}

func TestJSONToYAML(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1,"b":"x y","c":[1,"2"],"d":{},"e":[],"f":null,"g":true}`:    "a: 1\nb: x y\nc:\n  - 1\n  - \"2\"\nd: {}\ne: []\nf: null\ng: true\n",
		`{"l":[{"k":"v","m":{"name":"yes"}}]}`:                             "l:\n  - k: v\n    m:\n      name: \"yes\"\n",
		`{"s":"a: b","t":"#x","u":"","v":"-1","w":".5","x":"line\nbreak"}`: "s: \"a: b\"\nt: \"#x\"\nu: \"\"\nv: \"-1\"\nw: \".5\"\nx: \"line\\nbreak\"\n",
	} {
		got, err := jsonToYAML([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("%s:\n got %q (%v)\nwant %q", in, got, err, want)
		}
	}
}

// --media-type sends the file's bytes as they are, with that type.
func TestVerifyRemoteMediaType(t *testing.T) {
	r := startRemoteService(t, nil, nil)
	path, _ := r.quoteFile(t, r.sgx, "quote.bin")
	code, out, stderr := runBounded(t, "verify", "--json", "--verifier", r.url, "--media-type", api.MediaDCAPQuote, path)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if rep := decodeRemote(t, out); rep.MediaType != api.MediaDCAPQuote || rep.Result == nil || rep.Result.TEE != "sgx" {
		t.Errorf("report %+v", rep)
	}
	// As a type it is not, the service refuses it, and says so.
	if code, _, stderr := runBounded(t, "verify", "--verifier", r.url, "--media-type", api.MediaSNPReport, path); code == exitOK || !strings.Contains(stderr, "ratls: ") {
		t.Errorf("a quote sent as an SNP report: exit %d %q", code, stderr)
	}
	if code, _, stderr := runBounded(t, "verify", "--verifier", r.url, "--media-type", "text/plain", path); code != exitInput ||
		!strings.Contains(stderr, `--media-type: want one of [`) || !strings.Contains(stderr, `got "text/plain"`) {
		t.Errorf("unknown type: exit %d %q", code, stderr)
	}
	if code, _, stderr := runBounded(t, "verify", "--media-type", api.MediaDCAPQuote, path); code != exitInput || !strings.Contains(stderr, "--media-type needs --verifier") {
		t.Errorf("without --verifier: exit %d %q", code, stderr)
	}
}

// "ratls verifier serve" serves the explorer at /; its analysis checks
// EARs with the service's own keys.
func TestVerifierServesExplorer(t *testing.T) {
	p := startVerifier(t, "--db", "sqlite:"+filepath.Join(t.TempDir(), "db"), "--key", filepath.Join(t.TempDir(), "key.pem"), "--offline")
	resp, err := http.Get(p.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "ratls evidence explorer") || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("GET /: %d %q", resp.StatusCode, page)
	}
	// An EAR of this service: the explorer verifies it with the service's key.
	body, _ := json.Marshal(api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: mustReadFile(t, vec+"dcap-qvl/tdx_quote")})
	resp, err = http.Post(p.base+api.PathAttest, api.JSONMedia, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var prob struct {
		EAR string `json:"ear"`
	}
	json.NewDecoder(resp.Body).Decode(&prob)
	resp.Body.Close()
	if prob.EAR == "" {
		t.Fatal("the service signed no EAR")
	}
	req, _ := json.Marshal(explore.Request{Name: "ear", Data: []byte(prob.EAR)})
	resp, err = http.Post(p.base+explore.PathAnalyze, api.JSONMedia, bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a explore.Analysis
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || a.EAR == nil || a.EAR.Signature != "verified" {
		t.Errorf("EAR analysis: %v %+v", err, a.EAR)
	}
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A build without VCS stamping still reports the revision "make build"
// gives it.
func TestVersionRevisionFromBuild(t *testing.T) {
	readBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, true
	}
	revision, version = "0123456789abcdef0123", "v0.9.0-3-gabcdef"
	t.Cleanup(func() { readBuildInfo, revision, version = debug.ReadBuildInfo, "", "" })
	if _, out, _ := runCLI(t, "--version"); out != "ratls v0.9.0-3-gabcdef (revision 0123456789ab) go1.26.0\n" {
		t.Errorf("--version: %q", out)
	}
}
