package rtmr

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ratls/ratls/evidence/eventlog"
	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/verify/measuredboot"
)

// fakeTDX behaves like the tdx_guest measurements directory of Linux 6.16:
// registers named NAME:HASH, RTMRs extended by writing one digest, other
// registers read-only, writes of another size refused with EINVAL.
type fakeTDX struct {
	mu       sync.Mutex
	values   map[string][]byte
	writable map[string]bool
	writes   int
	fail     error // returned by the next write
}

func newFakeTDX() *fakeTDX {
	f := &fakeTDX{values: map[string][]byte{}, writable: map[string]bool{}}
	for _, n := range []string{"rtmr0:sha384", "rtmr1:sha384", "rtmr2:sha384", "rtmr3:sha384", "mrtd:sha384"} {
		f.values[n] = make([]byte, 48)
		f.writable[n] = strings.HasPrefix(n, "rtmr")
	}
	f.values["mrconfigid"] = make([]byte, 48)
	return f
}

func (f *fakeTDX) List() ([]string, error) {
	var n []string
	for k := range f.values {
		n = append(n, k)
	}
	return n, nil
}

func (f *fakeTDX) Read(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.values[name]
	if !ok {
		return nil, os.ErrNotExist
	}
	return bytes.Clone(v), nil
}

func (f *fakeTDX) Write(name string, b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail; err != nil {
		f.fail = nil
		return err
	}
	if !f.writable[name] {
		return syscall.EACCES
	}
	if len(b) != 48 {
		return syscall.EINVAL
	}
	f.writes++
	f.values[name] = eventlog.SHA384.Sum(append(bytes.Clone(f.values[name]), b...))
	return nil
}

func (f *fakeTDX) Writable(name string) bool { return f.writable[name] }

func rtmrs(t *testing.T, f *fakeTDX) [4][48]byte {
	var r [4][48]byte
	for i := range r {
		copy(r[i][:], f.values["rtmr"+string(rune('0'+i))+":sha384"])
	}
	return r
}

// Extended events land in the log in the order they reach the register,
// and the log replays to the register, alone or appended to a CCEL.
func TestExtendAndReplay(t *testing.T) {
	fs := newFakeTDX()
	logPath := filepath.Join(t.TempDir(), "run", "eventlog")
	x, err := NewExtender(fs, "rtmr3", logPath)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := x.Extend("example.com/app", "load", "plugin-"+string(rune('a'+i))); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	first, err := x.Extend("github.com/confidential-containers", "PullImage", `{"digest":"sha256:0c0c","image":"alpine"}`)
	if err != nil {
		t.Fatal(err)
	}
	// The digest is SHA-384 of the entry, computed here independently.
	want := eventlog.SHA384.Sum([]byte(`github.com/confidential-containers PullImage {"digest":"sha256:0c0c","image":"alpine"}`))
	if !bytes.Equal(first.Digest, want) || fs.writes != 9 {
		t.Fatalf("digest %x (want %x), %d writes", first.Digest, want, fs.writes)
	}
	runtime, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := eventlog.Parse(runtime)
	if err != nil {
		t.Fatal(err)
	}
	res, err := measuredboot.Verify(nil, rl, measuredboot.TDX(rtmrs(t, fs)))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Facts().Runtime) != 9 || res.Facts().Runtime[8].Operation != "PullImage" || res.Facts().Runtime[0].Register != "RTMR3" {
		t.Errorf("runtime facts %+v", res.Facts().Runtime)
	}

	// Appended to a firmware log whose RTMR0..2 the fake registers take.
	ccel, err := os.ReadFile(testvectors.Path("trustee-cvm/CCEL_data_ovmf"))
	if err != nil {
		t.Fatal(err)
	}
	boot, _ := eventlog.Parse(ccel)
	replayed, _ := measuredboot.Replay(boot.Events, eventlog.SHA384, false)
	for i := 1; i <= 3; i++ {
		fs.values["rtmr"+string(rune('0'+i-1))+":sha384"] = replayed[uint32(i)]
	}
	combined, err := EventLog(ccel, runtime)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := eventlog.Parse(combined)
	if err != nil {
		t.Fatal(err)
	}
	res, err = measuredboot.Verify(cl, nil, measuredboot.TDX(rtmrs(t, fs)))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Facts().Runtime) != 9 || res.Facts().Kernel == nil || len(cl.Events) != 20+9 {
		t.Errorf("combined log: %d events, runtime facts %d, kernel %v", len(cl.Events), len(res.Facts().Runtime), res.Facts().Kernel)
	}
}

// A refused extension leaves the log as it was, so log and register still
// agree; malformed entries and read-only registers are refused up front.
func TestExtendFailures(t *testing.T) {
	fs := newFakeTDX()
	logPath := filepath.Join(t.TempDir(), "eventlog")
	x, err := NewExtender(fs, "rtmr3", logPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Extend("d", "op", "one"); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(logPath)
	fs.fail = syscall.EIO
	if _, err := x.Extend("d", "op", "two"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Extend with a failing register: %v", err)
	}
	after, _ := os.ReadFile(logPath)
	if !bytes.Equal(before, after) {
		t.Fatal("the log kept a record the register did not take")
	}
	rl, _ := eventlog.Parse(after)
	if _, err := measuredboot.Verify(nil, rl, measuredboot.TDX(rtmrs(t, fs))); err != nil {
		t.Fatalf("log and register disagree after a failed extension: %v", err)
	}
	for _, e := range [][3]string{{"", "op", "c"}, {"a b", "op", "c"}, {"d", "o\tp", "c"}, {"d", "op", "line\nbreak"}} {
		if _, err := x.Extend(e[0], e[1], e[2]); err == nil {
			t.Errorf("entry %q accepted", e)
		}
	}
	if _, err := NewExtender(fs, "mrtd", logPath); !errors.Is(err, ErrNoRegister) {
		t.Errorf("mrtd: %v", err)
	}
	fs.writable["rtmr2:sha384"] = false
	if _, err := NewExtender(fs, "rtmr2", logPath); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only rtmr2: %v", err)
	}
	if _, err := NewExtender(fs, "rtmr9", logPath); !errors.Is(err, ErrNoRegister) {
		t.Errorf("rtmr9: %v", err)
	}
	// A log that is not ours is not written to.
	other := filepath.Join(t.TempDir(), "other")
	os.WriteFile(other, []byte("not an event log"), 0o644)
	y, _ := NewExtender(fs, "rtmr3", other)
	if _, err := y.Extend("d", "op", "c"); err == nil {
		t.Error("extended with a log that is not an event log")
	}
}

// Dir reads the sysfs layout and writes one digest per extension.
func TestDir(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"rtmr3:sha384": 0o644, "mrtd:sha384": 0o444, "mrconfigid": 0o444, "rtmr9:md5": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, 48), mode); err != nil {
			t.Fatal(err)
		}
	}
	regs, err := Registers(Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range regs {
		got = append(got, r.File+map[bool]string{true: " rw", false: " ro"}[r.Writable])
	}
	if strings.Join(got, ",") != "mrconfigid ro,mrtd:sha384 ro,rtmr3:sha384 rw" {
		t.Errorf("registers %v", got)
	}
	r, _ := Find(Dir(dir), "rtmr3")
	d := bytes.Repeat([]byte{0xAB}, 48)
	if err := Dir(dir).Write(r.File, d); err != nil {
		t.Fatal(err)
	}
	if v, _ := Read(Dir(dir), r); !bytes.Equal(v, d) {
		t.Errorf("wrote %x, read %s", d, hex.EncodeToString(v))
	}
	if _, err := Registers(Dir(filepath.Join(dir, "missing"))); !errors.Is(err, ErrUnavailable) {
		t.Errorf("missing directory: %v", err)
	}
}
