package gramine

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/internal/testvectors"
)

// sgxQuoteReportData is the report_data of testdata/dcap-qvl/sgx_quote, from
// its EXPECTED.json ("Hello, world!" zero-padded).
const sgxQuoteReportData = "48656c6c6f2c20776f726c6421"

// reportDataOffset is where report_data sits in a v3 SGX quote (docs/formats.md,
// "SGX report body": body at 48, report_data at body offset 320).
const reportDataOffset = 368

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path("dcap-qvl", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func vectorReportData(t testing.TB) [64]byte {
	t.Helper()
	b, err := hex.DecodeString(sgxQuoteReportData)
	if err != nil {
		t.Fatal(err)
	}
	var rd [64]byte
	copy(rd[:], b)
	return rd
}

// fakeDevDir builds a directory laid out like /dev/attestation, with
// regular files standing in for the pseudo-files.
func fakeDevDir(t *testing.T, attType string, quote []byte) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		fileAttestationType: []byte(attType),
		fileUserReportData:  make([]byte, 64),
		fileQuote:           quote,
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestAttestDirectory(t *testing.T) {
	q := readVector(t, "sgx_quote")
	dir := fakeDevDir(t, "dcap", q)
	a, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rd := vectorReportData(t)
	ev, err := a.Attest(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Tag != 60000 { // evidence.TagIntelQuote
		t.Errorf("tag = %d, want 60000", ev.Tag)
	}
	if !bytes.Equal(ev.Data, q) {
		t.Error("evidence differs from the quote file")
	}
	written, err := os.ReadFile(filepath.Join(dir, fileUserReportData))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(written, rd[:]) {
		t.Errorf("user_report_data = %x, want %x", written, rd)
	}
}

func TestAttestationTypes(t *testing.T) {
	tests := []struct {
		content string
		ok      bool
		want    string
	}{
		{"dcap", true, ""},
		{"dcap\n", true, ""},
		{"dcap\x00\x00", true, ""},
		{"none", false, `attestation_type is "none": the manifest does not enable remote attestation (set sgx.remote_attestation = "dcap"`},
		{"epid", false, `attestation_type is "epid": EPID attestation is retired`},
		{"", false, `want "dcap", got ""`},
		{"DCAP", false, `want "dcap", got "DCAP"`},
		{"dcapx", false, `want "dcap", got "dcapx"`},
	}
	for _, tc := range tests {
		dir := fakeDevDir(t, tc.content, nil)
		_, err := New(Options{Dir: dir})
		if tc.ok {
			if err != nil {
				t.Errorf("attestation_type %q: %v", tc.content, err)
			}
			continue
		}
		if !errors.Is(err, ErrAttestationType) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("attestation_type %q: err = %v, want ErrAttestationType containing %q", tc.content, err, tc.want)
		}
	}

	// Longer than the read limit.
	dir := fakeDevDir(t, strings.Repeat("d", maxAttestationTypeSize+1), nil)
	if _, err := New(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized attestation_type: err = %v", err)
	}
}

func TestNewUnavailable(t *testing.T) {
	_, err := New(Options{Dir: filepath.Join(t.TempDir(), "attestation")})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "gramine-sgx") {
		t.Errorf("err = %v, want ErrUnavailable with a hint", err)
	}

	// Directory without attestation_type: a Gramine too old for this package.
	dir := t.TempDir()
	_, err = New(Options{Dir: dir})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "attestation_type") {
		t.Errorf("err = %v, want a missing attestation_type error", err)
	}
}

func TestQuoteChecks(t *testing.T) {
	sgx := readVector(t, "sgx_quote")
	tests := []struct {
		name  string
		quote []byte
		want  string
	}{
		{"empty", []byte{}, "quote is empty"},
		{"truncated", sgx[:len(sgx)-1], "signature"},
		{"header only", sgx[:48], "quote size"},
		{"TDX quote", readVector(t, "tdx_quote"), "want an SGX enclave report, got a TD report"},
		{"oversized", make([]byte, maxQuoteSize+1), "want at most 65536 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New(Options{Dir: fakeDevDir(t, "dcap", tc.quote)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.Attest(context.Background(), vectorReportData(t))
			if !errors.Is(err, ErrQuote) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrQuote containing %q", err, tc.want)
			}
		})
	}
}

func TestQuoteReportDataMismatch(t *testing.T) {
	a, err := New(Options{Dir: fakeDevDir(t, "dcap", readVector(t, "sgx_quote"))})
	if err != nil {
		t.Fatal(err)
	}
	var rd [64]byte
	rd[0] = 1
	_, err = a.Attest(context.Background(), rd)
	if !errors.Is(err, ErrQuote) || !strings.Contains(err.Error(), "quote report_data: want 01") ||
		!strings.Contains(err.Error(), "got "+sgxQuoteReportData) {
		t.Errorf("err = %v, want a report_data mismatch naming both values", err)
	}
}

func TestWriteFails(t *testing.T) {
	dir := fakeDevDir(t, "dcap", readVector(t, "sgx_quote"))
	if err := os.Remove(filepath.Join(dir, fileUserReportData)); err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Attest(context.Background(), vectorReportData(t))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "writing "+filepath.Join(dir, fileUserReportData)) {
		t.Errorf("err = %v, want a user_report_data write error", err)
	}
	// The pseudo-file must not be created by the attester.
	if _, err := os.Stat(filepath.Join(dir, fileUserReportData)); !os.IsNotExist(err) {
		t.Error("Attest created user_report_data")
	}
}

// gramineEmulator behaves like Gramine's pseudo-files: the quote answers
// the last user_report_data written, and it detects callers that let
// another write slip between their write and their read.
type gramineEmulator struct {
	mu       sync.Mutex
	base     []byte // a real SGX quote, its report_data replaced per request
	last     []byte
	inFlight int
	overlaps int
	writes   [][]byte
	// interleave pauses after each write so that unserialized callers
	// would overlap.
	interleave bool
}

func (g *gramineEmulator) ReadFile(name string, limit int) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch name {
	case fileAttestationType:
		return []byte("dcap"), nil
	case fileQuote:
		if g.last == nil {
			return nil, errors.New("emulator: quote read before user_report_data was written")
		}
		q := bytes.Clone(g.base)
		copy(q[reportDataOffset:reportDataOffset+64], g.last)
		g.inFlight--
		return q, nil
	}
	return nil, os.ErrNotExist
}

func (g *gramineEmulator) WriteFile(name string, data []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if name != fileUserReportData || len(data) != 64 {
		return errors.New("emulator: bad write")
	}
	g.inFlight++
	if g.inFlight > 1 {
		g.overlaps++
	}
	g.last = bytes.Clone(data)
	g.writes = append(g.writes, g.last)
	if g.interleave {
		g.mu.Unlock()
		time.Sleep(100 * time.Microsecond)
		g.mu.Lock()
	}
	return nil
}

func TestConcurrentAttestSerialized(t *testing.T) {
	emu := &gramineEmulator{base: readVector(t, "sgx_quote"), interleave: true}
	a, err := newWithFiles(emu, "emulated")
	if err != nil {
		t.Fatal(err)
	}
	b, err := newWithFiles(emu, "emulated") // a second Attester shares the lock
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rd [64]byte
			rd[0], rd[63] = byte(i), 0xff
			att := a
			if i%2 == 1 {
				att = b
			}
			ev, err := att.Attest(context.Background(), rd)
			if err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(ev.Data[reportDataOffset:reportDataOffset+64], rd[:]) {
				t.Errorf("call %d got a quote for other report data", i)
			}
		}()
	}
	wg.Wait()
	if emu.overlaps != 0 {
		t.Errorf("%d write/read pairs overlapped", emu.overlaps)
	}
	if len(emu.writes) != 16 {
		t.Errorf("%d writes, want 16", len(emu.writes))
	}
}

func TestAttestContextWhileWaiting(t *testing.T) {
	a, err := New(Options{Dir: fakeDevDir(t, "dcap", readVector(t, "sgx_quote"))})
	if err != nil {
		t.Fatal(err)
	}
	deviceLock <- struct{}{} // another caller holds the device
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = a.Attest(ctx, vectorReportData(t))
	<-deviceLock
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	// The lock is free again and a normal call succeeds.
	if _, err := a.Attest(context.Background(), vectorReportData(t)); err != nil {
		t.Error(err)
	}
}

// FuzzCheckQuote feeds arbitrary quote-file contents through the checks
// Attest applies: no panic, and acceptance implies the quote carries the
// requested report data.
func FuzzCheckQuote(f *testing.F) {
	f.Add(readVector(f, "sgx_quote"))
	f.Add(readVector(f, "tdx_quote"))
	f.Add([]byte{})
	rd := vectorReportData(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := checkQuote(b, rd); err != nil {
			if !errors.Is(err, ErrQuote) {
				t.Fatalf("error does not wrap ErrQuote: %v", err)
			}
			return
		}
		if len(b) < reportDataOffset+64 || !bytes.Equal(b[reportDataOffset:reportDataOffset+64], rd[:]) {
			t.Fatal("accepted a quote without the requested report data at the SGX offset")
		}
	})
}

// FuzzCheckAttestationType: no panic, and only "dcap" (padded) is accepted.
func FuzzCheckAttestationType(f *testing.F) {
	for _, s := range []string{"dcap", "dcap\n", "none", "epid", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkAttestationType(b) == nil && string(bytes.Trim(b, " \t\r\n\x00")) != "dcap" {
			t.Fatalf("accepted %q", b)
		}
	})
}

func BenchmarkAttest(b *testing.B) {
	emu := &gramineEmulator{base: readVector(b, "sgx_quote")}
	a, err := newWithFiles(emu, "emulated")
	if err != nil {
		b.Fatal(err)
	}
	rd := vectorReportData(b)
	b.ReportAllocs()
	for b.Loop() {
		emu.writes = emu.writes[:0]
		if _, err := a.Attest(context.Background(), rd); err != nil {
			b.Fatal(err)
		}
	}
}
