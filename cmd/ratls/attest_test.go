package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/detect"
	"github.com/ratls/ratls/evidence"
)

// fakeTEE replaces the hardware attesters: it returns the report data it
// was given, so the tests can check what reached the attester.
func fakeTEE(t *testing.T, wantName string, wantVMPL *uint) {
	t.Helper()
	old := openTEEAttester
	t.Cleanup(func() { openTEEAttester = old })
	openTEEAttester = func(name string, vmpl *uint) (ratls.Attester, error) {
		if name != wantName {
			return openAttestAttester(name, vmpl)
		}
		if (vmpl == nil) != (wantVMPL == nil) || (vmpl != nil && *vmpl != *wantVMPL) {
			t.Errorf("vmpl = %v, want %v", vmpl, wantVMPL)
		}
		return ratls.AttesterFunc(func(_ context.Context, rd [64]byte) (*evidence.Evidence, error) {
			return &evidence.Evidence{Tag: evidence.TagSEVSNP, Data: append([]byte(nil), rd[:]...)}, nil
		}), nil
	}
}

func TestAttestToFileAndStdout(t *testing.T) {
	fakeTEE(t, "sevguest", nil)
	out := filepath.Join(t.TempDir(), "ev.bin")
	code, stdout, stderr := runCLI(t, "attest", "--attester", "sevguest", "--report-data", "0102", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := make([]byte, 64)
	want[0], want[1] = 1, 2
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("file = %x, %v; want %x", got, err, want)
	}
	if !strings.Contains(stdout, "Wrote a 64-byte snp-report (CBOR tag 1733892") {
		t.Errorf("stdout = %q", stdout)
	}

	code, stdout, _ = runCLI(t, "attest", "--attester", "sevguest", "--report-data", "0102")
	if code != 0 || stdout != string(want) {
		t.Errorf("raw stdout: exit %d, %x", code, stdout)
	}
	code, stdout, _ = runCLI(t, "attest", "--attester", "sevguest", "--report-data", "0102", "--hex")
	if code != 0 || stdout != hex.EncodeToString(want)+"\n" {
		t.Errorf("--hex: exit %d, %q", code, stdout)
	}
}

func TestAttestVMPLFlag(t *testing.T) {
	two := uint(2)
	fakeTEE(t, "tsm", &two)
	if code, _, stderr := runCLI(t, "attest", "--attester", "tsm", "--vmpl", "2", "--report-data", "00"); code != 0 {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

func TestAttestErrors(t *testing.T) {
	fakeTEE(t, "none", nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"attest"}, "give --detect"},
		{[]string{"attest", "--attester", "tsm"}, "--report-data is required"},
		{[]string{"attest", "--attester", "tsm", "--report-data", "zz"}, "want hex digits"},
		{[]string{"attest", "--attester", "tsm", "--report-data", strings.Repeat("00", 65)}, "want 1 to 64 bytes, got 65"},
		{[]string{"attest", "--attester", "foo", "--report-data", "00"}, `want tsm, gramine or sevguest, got "foo"`},
		{[]string{"attest", "--attester", "gramine", "--vmpl", "1", "--report-data", "00"}, "--vmpl is an SEV-SNP setting"},
		{[]string{"attest", "--json"}, "--json applies only to --detect"},
		{[]string{"attest", "--detect", "--out", "x"}, "--detect takes no"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != exitInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

func TestAttestDetect(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "sys/kernel/config/tsm/report"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := detectTEEInterfaces
	t.Cleanup(func() { detectTEEInterfaces = old })
	detectTEEInterfaces = func() []detect.Interface { return detect.DetectAt(root) }

	code, stdout, _ := runCLI(t, "attest", "--detect")
	if code != 0 || !strings.Contains(stdout, "configfs-tsm") || !strings.Contains(stdout, "attester:        tsm (ratls attest --attester tsm") {
		t.Errorf("text: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCLI(t, "attest", "--detect", "--json")
	var got attestDetectJSON
	if code != 0 || json.Unmarshal([]byte(stdout), &got) != nil || got.Recommended != "tsm" || len(got.Interfaces) != 5 || !got.Interfaces[0].Available {
		t.Errorf("json: exit %d\n%s", code, stdout)
	}
}

func TestAttestAttesterFailure(t *testing.T) {
	old := openTEEAttester
	t.Cleanup(func() { openTEEAttester = old })
	openTEEAttester = func(string, *uint) (ratls.Attester, error) {
		return ratls.AttesterFunc(func(context.Context, [64]byte) (*evidence.Evidence, error) {
			return nil, errors.New("firmware said no")
		}), nil
	}
	code, _, stderr := runCLI(t, "attest", "--attester", "tsm", "--report-data", "00")
	if code != exitInput || !strings.Contains(stderr, "firmware said no") {
		t.Errorf("exit %d, %q", code, stderr)
	}
}
