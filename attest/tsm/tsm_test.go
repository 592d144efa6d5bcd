package tsm

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-configfs-tsm/report"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/internal/testvectors"
)

func readVector(t testing.TB, folder, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path(folder, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustHex64(t testing.TB, s string) [64]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) > 64 {
		t.Fatalf("bad test hex %q", s)
	}
	var rd [64]byte
	copy(rd[:], b)
	return rd
}

// Report data of the vectors, from their EXPECTED.json / PROVENANCE.md.
const (
	tdxReportData = "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20"
	snpReportData = "0102030405"
	ccaChallenge  = "abababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababab"
)

// kernelLike returns an outblob function that answers with blob only when
// the inblob is the 64 bytes the blob was made for, as the TEE would.
func kernelLike(t testing.TB, want [64]byte, blob []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		if !bytes.Equal(in, want[:]) {
			t.Errorf("inblob = %x, want %x", in, want)
			return nil
		}
		return bytes.Clone(blob)
	}
}

func newTestAttester(t testing.TB, opts Options) *Attester {
	t.Helper()
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	a.backoff = time.Millisecond
	return a
}

func TestAttestProviders(t *testing.T) {
	tests := []struct {
		provider string
		folder   string
		file     string
		rd       string
		tag      uint64
	}{
		{ProviderTDX, "dcap-qvl", "tdx_quote", tdxReportData, evidence.TagIntelQuote},
		{ProviderSEV, "snp-go-sev-guest", "attestation.bin", snpReportData, evidence.TagSEVSNP},
		{ProviderCCA, "cca-tfm", "cca_token.cbor", ccaChallenge, 0x1a7507},
	}
	for _, tc := range tests {
		t.Run(tc.provider, func(t *testing.T) {
			blob := readVector(t, tc.folder, tc.file)
			rd := mustHex64(t, tc.rd)
			fake := newFake(tc.provider+"\n", kernelLike(t, rd, blob))
			a := newTestAttester(t, Options{Client: fake})

			ev, err := a.Attest(context.Background(), rd)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Tag != tc.tag {
				t.Errorf("tag = %#x, want %#x", ev.Tag, tc.tag)
			}
			if !bytes.Equal(ev.Data, blob) {
				t.Errorf("evidence data differs from the %s vector (%d vs %d bytes)", tc.file, len(ev.Data), len(blob))
			}
			if len(fake.lastIn) != 64 || !bytes.Equal(fake.lastIn, rd[:]) {
				t.Errorf("inblob written = %x, want all 64 bytes %x", fake.lastIn, rd)
			}
			if fake.lastPriv != "" {
				t.Errorf("privlevel written without Options.Privilege: %q", fake.lastPriv)
			}
			if created, removed, live := fake.counts(); created != 1 || removed != 1 || live != 0 {
				t.Errorf("entries created/removed/live = %d/%d/%d, want 1/1/0", created, removed, live)
			}
		})
	}
}

func TestReportProviderTrimmed(t *testing.T) {
	for _, p := range []string{ProviderSEV + "\n", ProviderSEV} {
		fake := newFake(p, func([]byte) []byte { return []byte{1} })
		r, err := newTestAttester(t, Options{Client: fake}).Report(context.Background(), [64]byte{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Provider != ProviderSEV {
			t.Errorf("provider %q read as %q, want %q", p, r.Provider, ProviderSEV)
		}
	}
}

func TestPrivilegeAndAuxBlob(t *testing.T) {
	blob := readVector(t, "snp-go-sev-guest", "attestation.bin")
	rd := mustHex64(t, snpReportData)
	fake := newFake(ProviderSEV+"\n", kernelLike(t, rd, blob))
	fake.auxblob = []byte("cert table")
	fake.privlevelFloor = 2
	lvl := uint(2)
	a := newTestAttester(t, Options{Client: fake, Privilege: &lvl, GetAuxBlob: true})
	lvl = 0 // New must have copied the value
	r, err := a.Report(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if fake.lastPriv != "2" {
		t.Errorf("privlevel written = %q, want \"2\"", fake.lastPriv)
	}
	if string(r.AuxBlob) != "cert table" {
		t.Errorf("auxblob = %q, want %q", r.AuxBlob, "cert table")
	}
	if r.Provider != ProviderSEV || !bytes.Equal(r.OutBlob, blob) {
		t.Errorf("report = %q, %d bytes", r.Provider, len(r.OutBlob))
	}

	// Below privlevel_floor the kernel answers EINVAL.
	low := uint(1)
	a = newTestAttester(t, Options{Client: fake, Privilege: &low})
	if _, err := a.Attest(context.Background(), rd); err == nil || !strings.Contains(err.Error(), "privlevel") {
		t.Errorf("privlevel below floor: err = %v, want a privlevel write error", err)
	}
	if _, _, live := fake.counts(); live != 0 {
		t.Errorf("%d entries left behind after a failed write", live)
	}
}

func TestPrivilegeOnTDXFails(t *testing.T) {
	fake := newFake(ProviderTDX+"\n", func([]byte) []byte { return []byte{1} })
	lvl := uint(0)
	_, err := newTestAttester(t, Options{Client: fake, Privilege: &lvl}).Attest(context.Background(), [64]byte{})
	if err == nil || !strings.Contains(err.Error(), "privlevel") {
		t.Errorf("err = %v, want a privlevel write error", err)
	}
}

func TestNewValidation(t *testing.T) {
	fake := newFake(ProviderSEV+"\n", nil)
	four := uint(4)
	if _, err := New(Options{Client: fake, Privilege: &four}); err == nil || !strings.Contains(err.Error(), "want 0..3, got 4") {
		t.Errorf("privilege 4: err = %v", err)
	}
	if _, err := New(Options{Client: fake, Attempts: -1}); err == nil || !strings.Contains(err.Error(), "attempts") {
		t.Errorf("attempts -1: err = %v", err)
	}
	a, err := New(Options{Client: fake})
	if err != nil {
		t.Fatal(err)
	}
	if a.attempts != DefaultAttempts {
		t.Errorf("attempts = %d, want %d", a.attempts, DefaultAttempts)
	}
}

func TestGenerationRaceRetrySucceeds(t *testing.T) {
	blob := readVector(t, "dcap-qvl", "tdx_quote")
	rd := mustHex64(t, tdxReportData)
	fake := newFake(ProviderTDX+"\n", kernelLike(t, rd, blob))
	fake.interfere = 2 // the first two entries see a concurrent writer
	a := newTestAttester(t, Options{Client: fake})
	ev, err := a.Attest(context.Background(), rd)
	if err != nil {
		t.Fatalf("want success on the third attempt, got %v", err)
	}
	if !bytes.Equal(ev.Data, blob) {
		t.Error("evidence differs from the vector")
	}
	if created, removed, live := fake.counts(); created != 3 || removed != 3 || live != 0 {
		t.Errorf("entries created/removed/live = %d/%d/%d, want 3/3/0", created, removed, live)
	}
}

func TestGenerationRaceExhausted(t *testing.T) {
	fake := newFake(ProviderTDX+"\n", func([]byte) []byte { return []byte{1} })
	fake.interfere = -1
	a := newTestAttester(t, Options{Client: fake})
	_, err := a.Attest(context.Background(), [64]byte{})
	if !errors.Is(err, ErrGenerationRace) {
		t.Fatalf("err = %v, want ErrGenerationRace", err)
	}
	var ge *report.GenerationErr
	if !errors.As(err, &ge) || ge.Attribute != "outblob" || ge.Got != ge.Want+1 {
		t.Errorf("err = %v, want a wrapped *report.GenerationErr on outblob one write ahead", err)
	}
	if !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("err = %q, want it to name the 3 attempts", err)
	}
	if created, _, live := fake.counts(); created != DefaultAttempts || live != 0 {
		t.Errorf("created %d entries (want %d), %d left", created, DefaultAttempts, live)
	}

	fake = newFake(ProviderTDX+"\n", func([]byte) []byte { return []byte{1} })
	fake.interfere = -1
	a = newTestAttester(t, Options{Client: fake, Attempts: 5})
	if _, err := a.Attest(context.Background(), [64]byte{}); !errors.Is(err, ErrGenerationRace) {
		t.Fatalf("err = %v, want ErrGenerationRace", err)
	}
	if created, _, _ := fake.counts(); created != 5 {
		t.Errorf("created %d entries, want 5", created)
	}
}

func TestUnknownProvider(t *testing.T) {
	for _, p := range []string{"fake\n", "\n", "", "tdx_guest\n\n", "TDX_GUEST\n", strings.Repeat("x", 200)} {
		fake := newFake(p, func([]byte) []byte { return []byte{1} })
		_, err := newTestAttester(t, Options{Client: fake}).Attest(context.Background(), [64]byte{})
		if !errors.Is(err, ErrUnknownProvider) {
			t.Errorf("provider %q: err = %v, want ErrUnknownProvider", p, err)
			continue
		}
		if !strings.Contains(err.Error(), "want tdx_guest, sev_guest or arm_cca_guest") {
			t.Errorf("provider %q: error %q does not list the known providers", p, err)
		}
		if len(err.Error()) > 200 {
			t.Errorf("provider %q: error not truncated (%d chars)", p, len(err.Error()))
		}
	}
}

func TestOutBlobSize(t *testing.T) {
	tests := []struct {
		name string
		out  []byte
		want string
	}{
		{"empty", []byte{}, "outblob is empty"},
		{"oversized", make([]byte, maxOutBlobSize+1), fmt.Sprintf("want at most %d bytes, got %d", maxOutBlobSize, maxOutBlobSize+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake(ProviderSEV+"\n", func([]byte) []byte { return tc.out })
			_, err := newTestAttester(t, Options{Client: fake}).Attest(context.Background(), [64]byte{})
			if !errors.Is(err, ErrOutBlob) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrOutBlob containing %q", err, tc.want)
			}
		})
	}
	// Exactly the limit is accepted.
	fake := newFake(ProviderSEV+"\n", func([]byte) []byte { return make([]byte, maxOutBlobSize) })
	if _, err := newTestAttester(t, Options{Client: fake}).Attest(context.Background(), [64]byte{}); err != nil {
		t.Errorf("outblob of exactly %d bytes: %v", maxOutBlobSize, err)
	}
	// Oversized auxblob.
	fake = newFake(ProviderSEV+"\n", func([]byte) []byte { return []byte{1} })
	fake.auxblob = make([]byte, maxOutBlobSize+1)
	if _, err := newTestAttester(t, Options{Client: fake, GetAuxBlob: true}).Attest(context.Background(), [64]byte{}); err == nil || !strings.Contains(err.Error(), "auxblob size") {
		t.Errorf("oversized auxblob: err = %v", err)
	}
}

func TestKernelErrors(t *testing.T) {
	// The TEE refuses: the kernel returns EIO on the outblob read.
	fake := newFake(ProviderTDX+"\n", func([]byte) []byte { return nil })
	_, err := newTestAttester(t, Options{Client: fake}).Attest(context.Background(), [64]byte{})
	if err == nil || !strings.Contains(err.Error(), "outblob") || !strings.Contains(err.Error(), "input/output error") {
		t.Errorf("EIO: err = %v", err)
	}
	if created, _, live := fake.counts(); created != 1 || live != 0 {
		t.Errorf("EIO must not be retried and must clean up: created %d, live %d", created, live)
	}

	fake = newFake(ProviderTDX+"\n", nil)
	fake.mkdirErr = os.ErrPermission
	if _, err := newTestAttester(t, Options{Client: fake}).Attest(context.Background(), [64]byte{}); !errors.Is(err, os.ErrPermission) && (err == nil || !strings.Contains(err.Error(), "permission denied")) {
		t.Errorf("mkdir EPERM: err = %v", err)
	}
}

func TestContextCanceledBefore(t *testing.T) {
	fake := newFake(ProviderTDX+"\n", func([]byte) []byte { return []byte{1} })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newTestAttester(t, Options{Client: fake}).Attest(ctx, [64]byte{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if created, _, _ := fake.counts(); created != 0 {
		t.Errorf("created %d entries with a canceled context", created)
	}
}

func TestContextCanceledDuringReport(t *testing.T) {
	fake := newFake(ProviderTDX+"\n", func([]byte) []byte { return []byte{1} })
	fake.block = make(chan struct{})
	fake.readBlock = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := newTestAttester(t, Options{Client: fake}).Attest(ctx, [64]byte{})
		errc <- err
	}()
	<-fake.readBlock // the kernel call is in progress
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Attest did not return after cancellation")
	}
	// The abandoned kernel call completes and its entry is removed.
	close(fake.block)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, removed, live := fake.counts(); removed == 1 && live == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the abandoned report entry was not removed")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestContextCanceledDuringBackoff(t *testing.T) {
	fake := newFake(ProviderTDX+"\n", func([]byte) []byte { return []byte{1} })
	fake.interfere = -1
	a := newTestAttester(t, Options{Client: fake})
	a.backoff = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := a.Attest(ctx, [64]byte{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("backoff ignored the context")
	}
}

func TestProvider(t *testing.T) {
	fake := newFake(ProviderCCA+"\n", nil)
	p, err := newTestAttester(t, Options{Client: fake}).Provider(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p != ProviderCCA {
		t.Errorf("provider = %q, want %q", p, ProviderCCA)
	}
	if fake.lastIn != nil {
		t.Error("Provider wrote an inblob")
	}
	if created, removed, live := fake.counts(); created != 1 || removed != 1 || live != 0 {
		t.Errorf("entries created/removed/live = %d/%d/%d, want 1/1/0", created, removed, live)
	}

	fake = newFake("\n", nil)
	if _, err := newTestAttester(t, Options{Client: fake}).Provider(context.Background()); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty provider: err = %v", err)
	}
}

// TestConcurrentAttest checks that parallel calls each get the report for
// their own report data (each call uses its own entry).
func TestConcurrentAttest(t *testing.T) {
	fake := newFake(ProviderSEV+"\n", func(in []byte) []byte { return append([]byte("report:"), in...) })
	a := newTestAttester(t, Options{Client: fake})
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rd [64]byte
			rd[0], rd[63] = byte(i), byte(i)
			ev, err := a.Attest(context.Background(), rd)
			if err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(ev.Data, append([]byte("report:"), rd[:]...)) {
				t.Errorf("call %d got another call's report", i)
			}
		}()
	}
	wg.Wait()
	if created, _, live := fake.counts(); created != 32 || live != 0 {
		t.Errorf("created %d entries (want 32), %d left", created, live)
	}
}

func TestTagForProvider(t *testing.T) {
	want := map[string]uint64{ProviderTDX: 60000, ProviderSEV: 0x1a7504, ProviderCCA: 0x1a7507}
	for p, tag := range want {
		got, err := tagForProvider(p)
		if err != nil || got != tag {
			t.Errorf("tagForProvider(%q) = %#x, %v; want %#x", p, got, err, tag)
		}
	}
}

func TestReportEvidence(t *testing.T) {
	r := &Report{Provider: ProviderTDX}
	if _, err := r.Evidence(); !errors.Is(err, ErrOutBlob) {
		t.Errorf("empty outblob: err = %v, want ErrOutBlob", err)
	}
	r = &Report{Provider: "x", OutBlob: []byte{1}}
	if _, err := r.Evidence(); !errors.Is(err, ErrUnknownProvider) {
		t.Errorf("bad provider: err = %v, want ErrUnknownProvider", err)
	}
}

// FuzzReportEvidence checks the conversion of whatever the kernel returns
// (provider text, outblob) into evidence: no panic, and on success the tag
// is one of the three known ones and the data is the outblob unchanged.
func FuzzReportEvidence(f *testing.F) {
	f.Add("tdx_guest\n", readVector(f, "dcap-qvl", "tdx_quote"))
	f.Add("sev_guest\n", readVector(f, "snp-go-sev-guest", "attestation.bin"))
	f.Add("arm_cca_guest\n", readVector(f, "cca-tfm", "cca_token.cbor"))
	f.Add("fake\n", []byte{})
	f.Fuzz(func(t *testing.T, provider string, out []byte) {
		fake := newFake(provider, func([]byte) []byte { return out })
		a := newTestAttester(t, Options{Client: fake})
		ev, err := a.Attest(context.Background(), [64]byte{})
		if err != nil {
			return
		}
		switch ev.Tag {
		case evidence.TagIntelQuote, evidence.TagSEVSNP, evidence.TagCCAClaims:
		default:
			t.Fatalf("unexpected tag %#x", ev.Tag)
		}
		if !bytes.Equal(ev.Data, out) || len(out) == 0 || len(out) > maxOutBlobSize {
			t.Fatal("evidence data is not the accepted outblob")
		}
	})
}

func BenchmarkAttest(b *testing.B) {
	blob := readVector(b, "dcap-qvl", "tdx_quote")
	fake := newFake(ProviderTDX+"\n", func([]byte) []byte { return blob })
	a := newTestAttester(b, Options{Client: fake})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Attest(context.Background(), [64]byte{}); err != nil {
			b.Fatal(err)
		}
	}
}

// The certificate table a SEV-SNP host returns in auxblob becomes the
// evidence's endorsements: the VCEK travels with the report.
func TestAuxBlobCertificatesBecomeEndorsements(t *testing.T) {
	blob := readVector(t, "snp-go-sev-guest", "attestation.bin")
	vcek := readVector(t, "snp-go-sev-guest", "vcek.testcer.der")
	rd := mustHex64(t, snpReportData)
	// One entry (the VCEK GUID 63da758d-e664-4564-adc5-f4b93be8accd, stored
	// mixed-endian), the all-zero terminator, then the certificate.
	table := make([]byte, 48)
	copy(table, []byte{0x8d, 0x75, 0xda, 0x63, 0x64, 0xe6, 0x64, 0x45, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd})
	binary.LittleEndian.PutUint32(table[16:], 48)
	binary.LittleEndian.PutUint32(table[20:], uint32(len(vcek)))
	fake := newFake(ProviderSEV+"\n", kernelLike(t, rd, blob))
	fake.auxblob = append(table, vcek...)
	ev, err := newTestAttester(t, Options{Client: fake, GetAuxBlob: true}).Attest(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Endorsements == nil || ev.Endorsements.SNP == nil || !bytes.Equal(ev.Endorsements.SNP.Leaf, vcek) {
		t.Fatalf("endorsements: %+v", ev.Endorsements)
	}
	// A malformed table is an error, not silently dropped certificates.
	fake.auxblob = []byte("not a table")
	if _, err := newTestAttester(t, Options{Client: fake, GetAuxBlob: true}).Attest(context.Background(), rd); err == nil || !strings.Contains(err.Error(), "auxblob") {
		t.Errorf("malformed table: %v", err)
	}
}
