package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/eventlog"
	"github.com/ratls/ratls/internal/testvectors"
)

// ratls rtmr against a directory laid out like the kernel's (whose files,
// being plain files, take each write instead of extending).
func TestRTMRCommand(t *testing.T) {
	dir := t.TempDir()
	sysfs := filepath.Join(dir, "measurements")
	os.Mkdir(sysfs, 0o755)
	for i := 0; i < 4; i++ {
		os.WriteFile(filepath.Join(sysfs, "rtmr"+string(rune('0'+i))+":sha384"), make([]byte, 48), 0o644)
	}
	os.WriteFile(filepath.Join(sysfs, "mrtd:sha384"), make([]byte, 48), 0o444)
	logPath := filepath.Join(dir, "runtime.log")
	ccel := testvectors.Path("trustee-cvm/CCEL_data_ovmf")
	common := []string{"--sysfs", sysfs, "--log", logPath, "--ccel", ccel}

	code, out, errOut := runCLI(t, append([]string{"rtmr", "extend", "--domain", "example.com/app", "--operation", "start", "--content", "v1.2 sha256:00ff"}, common...)...)
	if code != 0 {
		t.Fatalf("extend: exit %d: %s %s", code, out, errOut)
	}
	digest := eventlog.SHA384.Sum([]byte("example.com/app start v1.2 sha256:00ff"))
	if got, _ := os.ReadFile(filepath.Join(sysfs, "rtmr3:sha384")); !bytes.Equal(got, digest) {
		t.Errorf("wrote %x to rtmr3, want the entry's SHA-384 %x", got, digest)
	}
	if !strings.Contains(out, hex.EncodeToString(digest)) {
		t.Errorf("extend output %q", out)
	}
	if code, _, _ := runCLI(t, append([]string{"rtmr", "extend", "--domain", "a b", "--operation", "x"}, common...)...); code != exitInput {
		t.Errorf("an entry with white space in its domain: exit %d", code)
	}

	logFile := filepath.Join(dir, "combined")
	if code, out, errOut := runCLI(t, append([]string{"rtmr", "eventlog", "--out", logFile}, common...)...); code != 0 {
		t.Fatalf("eventlog: exit %d: %s %s", code, out, errOut)
	}
	b, _ := os.ReadFile(logFile)
	l, err := eventlog.Parse(b)
	if err != nil || len(l.Events) != 21 || l.Events[20].Index != 4 || string(l.Events[20].Data) != "example.com/app start v1.2 sha256:00ff" {
		t.Fatalf("combined log: %v, %d events", err, len(l.Events))
	}

	quote, _ := os.ReadFile(testvectors.Path("trustee-cvm/az-tdx-vtpm/td-quote.bin"))
	qf := filepath.Join(dir, "quote")
	os.WriteFile(qf, quote, 0o644)
	code, out, errOut = runCLI(t, append([]string{"rtmr", "evidence", "--quote", qf}, common...)...)
	if code != 0 {
		t.Fatalf("evidence: exit %d: %s", code, errOut)
	}
	items, err := evidence.ParseRaw(bytes.TrimSpace([]byte(out)))
	if err != nil || items[0].Quote == nil || !bytes.Equal(items[0].EventLog, b) {
		t.Fatalf("evidence: %v", err)
	}

	// The plain files took the digest instead of extending: the log does
	// not replay, and list says so.
	code, out, _ = runCLI(t, append([]string{"rtmr", "list"}, common...)...)
	if code != exitRejected || !strings.Contains(out, "does NOT replay") || !strings.Contains(out, "mrtd:sha384") {
		t.Errorf("list: exit %d\n%s", code, out)
	}
}
