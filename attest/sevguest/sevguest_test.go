package sevguest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/internal/testvectors"
)

// Facts about testdata/snp-go-sev-guest/attestation.bin from its
// EXPECTED.json.
const (
	vectorReportData = "0102030405"
	vectorVMPL       = 0
)

func readReport(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path("snp-go-sev-guest", "attestation.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func vectorRD(t testing.TB) [64]byte {
	t.Helper()
	b, err := hex.DecodeString(vectorReportData)
	if err != nil {
		t.Fatal(err)
	}
	var rd [64]byte
	copy(rd[:], b)
	return rd
}

// response builds a MSG_REPORT_RSP: status, report_size, reserved, report.
func response(status, size uint32, report []byte) []byte {
	resp := make([]byte, ReportResponseSize)
	binary.LittleEndian.PutUint32(resp[0:], status)
	binary.LittleEndian.PutUint32(resp[4:], size)
	copy(resp[0x20:], report)
	return resp
}

// fakeReply is one answer of fakeDevice.
type fakeReply struct {
	resp      []byte
	exitInfo2 uint64
	err       error
}

// fakeDevice answers requests from a script and records them. After the
// script runs out it repeats the last reply.
type fakeDevice struct {
	mu      sync.Mutex
	replies []fakeReply
	reqs    [][]byte
}

func (d *fakeDevice) GetReport(req *[ReportRequestSize]byte, resp *[ReportResponseSize]byte) (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reqs = append(d.reqs, bytes.Clone(req[:]))
	r := d.replies[min(len(d.reqs), len(d.replies))-1]
	copy(resp[:], r.resp)
	return r.exitInfo2, r.err
}

func (d *fakeDevice) calls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.reqs)
}

func newTestAttester(t testing.TB, dev Device, opts Options) *Attester {
	t.Helper()
	opts.Device = dev
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	a.backoff = time.Millisecond
	return a
}

func TestAttest(t *testing.T) {
	report := readReport(t)
	dev := &fakeDevice{replies: []fakeReply{{resp: response(0, snp.ReportSize, report)}}}
	rd := vectorRD(t)
	ev, err := newTestAttester(t, dev, Options{}).Attest(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Tag != 0x1a7504 {
		t.Errorf("tag = %#x, want 0x1a7504 (evidence.TagSEVSNP)", ev.Tag)
	}
	if !bytes.Equal(ev.Data, report) {
		t.Error("evidence differs from the report")
	}
	// snp_report_req: user_data[64], vmpl (LE u32), 28 reserved zero bytes.
	wantReq := make([]byte, ReportRequestSize)
	copy(wantReq, rd[:])
	if got := dev.reqs[0]; !bytes.Equal(got, wantReq) {
		t.Errorf("request = %x, want %x", got, wantReq)
	}
}

func TestAttestVMPL(t *testing.T) {
	report := readReport(t)
	dev := &fakeDevice{replies: []fakeReply{{resp: response(0, snp.ReportSize, report)}}}
	_, err := newTestAttester(t, dev, Options{VMPL: 2}).Attest(context.Background(), vectorRD(t))
	// The request carries VMPL 2 ...
	if v := binary.LittleEndian.Uint32(dev.reqs[0][64:]); v != 2 {
		t.Errorf("request vmpl = %d, want 2", v)
	}
	// ... and the vector, made at VMPL 0, must then be refused.
	if !errors.Is(err, ErrResponse) || !strings.Contains(err.Error(), "vmpl: want 2, got 0") {
		t.Errorf("err = %v, want a vmpl mismatch", err)
	}
	if _, err := New(Options{Device: dev, VMPL: 4}); err == nil || !strings.Contains(err.Error(), "want 0..3, got 4") {
		t.Errorf("VMPL 4: err = %v", err)
	}
	if _, err := New(Options{Device: dev, Attempts: -1}); err == nil || !strings.Contains(err.Error(), "attempts") {
		t.Errorf("attempts -1: err = %v", err)
	}
}

func TestAttestReportDataMismatch(t *testing.T) {
	dev := &fakeDevice{replies: []fakeReply{{resp: response(0, snp.ReportSize, readReport(t))}}}
	var rd [64]byte
	rd[0] = 0xff
	_, err := newTestAttester(t, dev, Options{}).Attest(context.Background(), rd)
	if !errors.Is(err, ErrResponse) || !strings.Contains(err.Error(), "report_data: want ff00") ||
		!strings.Contains(err.Error(), "got 0102030405") {
		t.Errorf("err = %v, want a report_data mismatch naming both values", err)
	}
}

func TestAttestResponseErrors(t *testing.T) {
	report := readReport(t)
	badVersion := bytes.Clone(report)
	binary.LittleEndian.PutUint32(badVersion[0:], 1)
	tests := []struct {
		name string
		resp []byte
		is   error
		want string
	}{
		{"status invalid param", response(0x16, snp.ReportSize, report), ErrResponse, "status: want 0 (success), got 0x16 (INVALID_PARAM)"},
		{"status unknown", response(0x99, snp.ReportSize, report), ErrResponse, "got 0x99 (unknown status)"},
		{"size zero", response(0, 0, report), ErrResponse, "report_size: want 1184, got 0"},
		{"size short", response(0, snp.ReportSize-1, report), ErrResponse, "report_size: want 1184, got 1183"},
		{"size long", response(0, snp.ReportSize+1, report), ErrResponse, "report_size: want 1184, got 1185"},
		{"size huge", response(0, 0xFFFFFFFF, report), ErrResponse, "got 4294967295"},
		{"bad report", response(0, snp.ReportSize, badVersion), snp.ErrVersion, "version"},
		{"empty report", response(0, snp.ReportSize, nil), ErrResponse, "snp:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dev := &fakeDevice{replies: []fakeReply{{resp: tc.resp}}}
			_, err := newTestAttester(t, dev, Options{}).Attest(context.Background(), vectorRD(t))
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %v containing %q", err, tc.is, tc.want)
			}
			if dev.calls() != 1 {
				t.Errorf("%d requests, want 1 (no retry)", dev.calls())
			}
		})
	}
	var se *StatusError
	dev := &fakeDevice{replies: []fakeReply{{resp: response(0x16, snp.ReportSize, report)}}}
	if _, err := newTestAttester(t, dev, Options{}).Attest(context.Background(), vectorRD(t)); !errors.As(err, &se) || se.Status != 0x16 {
		t.Errorf("err = %v, want *StatusError{0x16}", err)
	}
}

func TestParseReportResponseShort(t *testing.T) {
	for _, n := range []int{0, 1, 0x1F} {
		if _, err := parseReportResponse(make([]byte, n)); !errors.Is(err, ErrResponse) || !strings.Contains(err.Error(), "want at least 32 bytes") {
			t.Errorf("%d bytes: err = %v", n, err)
		}
	}
	resp := response(0, snp.ReportSize, readReport(t))[:0x20+snp.ReportSize-1]
	if _, err := parseReportResponse(resp); !errors.Is(err, ErrResponse) || !strings.Contains(err.Error(), "want at least 1216 bytes") {
		t.Errorf("truncated report: err = %v", err)
	}
}

func TestAttestRequestErrors(t *testing.T) {
	tests := []struct {
		name      string
		exitInfo2 uint64
		err       error
		want      []string
	}{
		{"firmware error", 0x16, syscall.EIO, []string{"input/output error", "firmware error 0x16 (INVALID_PARAM)"}},
		{"invalid len", VMMErrInvalidLen << 32, syscall.EINVAL, []string{"VMM error 0x1 (INVALID_LEN)"}},
		{"generic", VMMErrGeneric << 32, syscall.EIO, []string{"VMM error 0xffffffff (GENERIC)"}},
		{"unknown codes", 0x7f<<32 | 0x40, syscall.EIO, []string{"firmware error 0x40 (unknown status)", "VMM error 0x7f (unknown)"}},
		{"exitinfo2 without errno", 0x07, nil, []string{"firmware error 0x7 (POLICY_FAILURE)"}},
		{"errno only", 0, syscall.ENOTTY, []string{"SNP_GET_REPORT failed: inappropriate ioctl"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dev := &fakeDevice{replies: []fakeReply{{exitInfo2: tc.exitInfo2, err: tc.err}}}
			_, err := newTestAttester(t, dev, Options{}).Attest(context.Background(), vectorRD(t))
			var re *RequestError
			if !errors.As(err, &re) || re.FWError != uint32(tc.exitInfo2) || re.VMMError != uint32(tc.exitInfo2>>32) {
				t.Fatalf("err = %v, want *RequestError with exitinfo2 %#x", err, tc.exitInfo2)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("err = %v does not wrap %v", err, tc.err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
			if dev.calls() != 1 {
				t.Errorf("%d requests, want 1 (no retry)", dev.calls())
			}
		})
	}
}

func TestAttestBusyRetry(t *testing.T) {
	report := readReport(t)
	busy := fakeReply{exitInfo2: VMMErrBusy << 32, err: syscall.EAGAIN}
	dev := &fakeDevice{replies: []fakeReply{busy, busy, {resp: response(0, snp.ReportSize, report)}}}
	ev, err := newTestAttester(t, dev, Options{}).Attest(context.Background(), vectorRD(t))
	if err != nil {
		t.Fatalf("want success on the third attempt, got %v", err)
	}
	if !bytes.Equal(ev.Data, report) || dev.calls() != 3 {
		t.Errorf("calls = %d, want 3", dev.calls())
	}
	for i, r := range dev.reqs {
		if !bytes.Equal(r, dev.reqs[0]) {
			t.Errorf("retry %d sent a different request", i)
		}
	}

	dev = &fakeDevice{replies: []fakeReply{busy}}
	_, err = newTestAttester(t, dev, Options{Attempts: 4}).Attest(context.Background(), vectorRD(t))
	var re *RequestError
	if !errors.Is(err, ErrBusy) || !errors.As(err, &re) || re.VMMError != VMMErrBusy ||
		!strings.Contains(err.Error(), "4 attempts") || !strings.Contains(err.Error(), "(BUSY)") {
		t.Errorf("err = %v, want ErrBusy after 4 attempts wrapping the BUSY RequestError", err)
	}
	if dev.calls() != 4 {
		t.Errorf("calls = %d, want 4", dev.calls())
	}
}

func TestAttestContext(t *testing.T) {
	dev := &fakeDevice{replies: []fakeReply{{exitInfo2: VMMErrBusy << 32, err: syscall.EAGAIN}}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newTestAttester(t, dev, Options{}).Attest(ctx, vectorRD(t)); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if dev.calls() != 0 {
		t.Errorf("%d requests with a canceled context", dev.calls())
	}

	a := newTestAttester(t, dev, Options{})
	a.backoff = time.Hour
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := a.Attest(ctx, vectorRD(t)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded during the BUSY backoff", err)
	}
}

// FuzzParseReportResponse: arbitrary response buffers never panic, and an
// accepted one yields exactly the 1184 bytes at 0x20.
func FuzzParseReportResponse(f *testing.F) {
	report := readReport(f)
	f.Add(response(0, snp.ReportSize, report))
	f.Add(response(0x16, snp.ReportSize, report))
	f.Add(response(0, 0, nil))
	f.Add([]byte{})
	rd := vectorRD(f)
	f.Fuzz(func(t *testing.T, resp []byte) {
		got, err := parseReportResponse(resp)
		if err != nil {
			if !errors.Is(err, ErrResponse) {
				t.Fatalf("error does not wrap ErrResponse: %v", err)
			}
			return
		}
		if len(got) != snp.ReportSize || !bytes.Equal(got, resp[0x20:0x20+snp.ReportSize]) {
			t.Fatal("accepted response does not yield the report at 0x20")
		}
		if err := checkReport(got, rd, vectorVMPL); err == nil {
			r, _ := snp.ParseReport(got)
			if r.ReportData != rd || r.VMPL != vectorVMPL || !bytes.Equal(r.Marshal(), got) {
				t.Fatal("checkReport accepted a report that does not match the request")
			}
		}
	})
}

func BenchmarkAttest(b *testing.B) {
	dev := &fakeDevice{replies: []fakeReply{{resp: response(0, snp.ReportSize, readReport(b))}}}
	a := newTestAttester(b, dev, Options{})
	rd := vectorRD(b)
	b.ReportAllocs()
	for b.Loop() {
		dev.reqs = dev.reqs[:0]
		if _, err := a.Attest(context.Background(), rd); err != nil {
			b.Fatal(err)
		}
	}
}
