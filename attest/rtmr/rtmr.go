// Package rtmr extends a confidential VM's runtime measurement registers
// with application events and keeps the event log a verifier replays
// them from.
//
// A verifier replays the log with verify/measuredboot (ratls.VerifyEvidence
// does, when the log comes with the evidence), and a policy's
// measured_boot.runtime_events section can then require the events.
//
// # Kernel interface
//
// Linux 6.16 exposes measurement registers through the TSM
// measurement-register sysfs ABI (Documentation/ABI/testing/
// sysfs-devices-virtual-misc-tdx_guest, driver-api/coco/
// measurement-registers): one file per register, named NAME:HASH, in
// /sys/class/misc/tdx_guest/measurements for TDX (rtmr0:sha384 ..
// rtmr3:sha384, mrtd:sha384, mrconfigid, ...). Reading a file gives the
// register's current value; writing exactly one digest of the register's
// hash size to a writable one extends it: R = H(R || digest).
//
// # The runtime event log
//
// Each event is a TCG_PCR_EVENT2 record (the format of the CC event log,
// TCG PC Client PFP §10.2.2) in a log file that starts with a "Spec ID
// Event03" header: register index = CC measurement-register index (RTMR3 is
// 4, UEFI 2.10 §38.4.1), type EV_IPL, data = one entry of the CoCo
// Attestation Agent event log (AAEL) format, "domain operation content",
// and digest = H(data) in the register's algorithm.
//
// Why this format rather than the Canonical Event Log (TCG CEL) or the
// text AAEL: it is the format of the CC event log itself, so the runtime
// events can be appended to the firmware's CCEL and one log replays all
// four RTMRs — which is what CoCo's attestation agent now does and what
// Trustee's TDX verifier replays (its cc_eventlog). A verifier needs one
// parser, and unlike the text AAEL's INIT line, nothing extended into the
// register before the first logged event can hide: the replay starts from
// the register's reset value. The entries keep AAEL's readable
// domain/operation/content form, so CoCo event policies apply.
//
// # Crash and concurrency safety
//
// Extend appends the record to the log (fsync'ed) before it extends the
// register and removes it again if the kernel refuses the extension. A
// crash between the two leaves a record the register lacks: the log then
// no longer replays and verifiers refuse it, which is safe. On Unix the log
// file is locked for the whole operation, so concurrent extenders (several
// processes included) keep log and register in the same order.
package rtmr

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ratls/ratls/evidence/eventlog"
)

// DefaultRoot is where Linux exposes TDX measurement registers.
const DefaultRoot = "/sys/class/misc/tdx_guest/measurements"

// DefaultLog is where the runtime event log is kept by default.
const DefaultLog = "/run/ratls/runtime-eventlog"

// DefaultCCEL is the CC event log the firmware leaves in ACPI.
const DefaultCCEL = "/sys/firmware/acpi/tables/data/CCEL"

// Errors for errors.Is.
var (
	ErrUnavailable = errors.New("rtmr: no measurement registers (Linux 6.16+ TSM measurement-register sysfs)")
	ErrNoRegister  = errors.New("rtmr: no such register")
	ErrReadOnly    = errors.New("rtmr: register is not writable")
)

// FS is the measurement-register directory: the kernel's sysfs, or a fake
// in tests.
type FS interface {
	// List returns the file names of the directory.
	List() ([]string, error)
	// Read returns a register's value.
	Read(name string) ([]byte, error)
	// Write writes b to a register file in one write at offset 0.
	Write(name string, b []byte) error
	// Writable reports whether a register file may be written.
	Writable(name string) bool
}

// Dir is the sysfs directory at a path.
type Dir string

func (d Dir) List() ([]string, error) {
	ents, err := os.ReadDir(string(d))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist", ErrUnavailable, d)
		}
		return nil, err
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, nil
}

func (d Dir) Read(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(string(d), name))
}

func (d Dir) Write(name string, b []byte) error {
	f, err := os.OpenFile(filepath.Join(string(d), name), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	n, err := f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	return err
}

func (d Dir) Writable(name string) bool {
	st, err := os.Stat(filepath.Join(string(d), name))
	return err == nil && st.Mode().Perm()&0o222 != 0
}

// Register is one measurement register.
type Register struct {
	// Name is the register's name (rtmr3), File its file (rtmr3:sha384).
	Name, File string
	// Alg is its hash; zero for registers without one (mrconfigid).
	Alg      eventlog.Alg
	Writable bool
}

// Index is the register's CC measurement-register index (RTMRn is n+1),
// or -1 for a register that is not an RTMR.
func (r *Register) Index() int {
	n, ok := strings.CutPrefix(r.Name, "rtmr")
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i > 3 {
		return -1
	}
	return i + 1
}

// Registers lists the registers of fs, sorted by name.
func Registers(fs FS) ([]Register, error) {
	names, err := fs.List()
	if err != nil {
		return nil, err
	}
	var regs []Register
	for _, n := range names {
		r := Register{Name: n, File: n, Writable: fs.Writable(n)}
		if name, hash, ok := strings.Cut(n, ":"); ok {
			a, err := eventlog.ParseAlg(hash)
			if err != nil {
				continue // a hash this package cannot extend with
			}
			r.Name, r.Alg = name, a
		}
		regs = append(regs, r)
	}
	sort.Slice(regs, func(i, j int) bool { return regs[i].Name < regs[j].Name })
	return regs, nil
}

// Find returns the register of the given name (rtmr3) that has a hash.
func Find(fs FS, name string) (*Register, error) {
	regs, err := Registers(fs)
	if err != nil {
		return nil, err
	}
	for i := range regs {
		if regs[i].Name == name && regs[i].Alg != 0 {
			return &regs[i], nil
		}
	}
	var have []string
	for _, r := range regs {
		if r.Alg != 0 {
			have = append(have, r.Name)
		}
	}
	return nil, fmt.Errorf("%w: %q (have %s)", ErrNoRegister, name, strings.Join(have, ", "))
}

// Read returns a register's current value.
func Read(fs FS, r *Register) ([]byte, error) {
	v, err := fs.Read(r.File)
	if err != nil {
		return nil, err
	}
	if len(v) != r.Alg.Size() {
		return nil, fmt.Errorf("rtmr: %s holds %d bytes, want %d", r.File, len(v), r.Alg.Size())
	}
	return v, nil
}

// Event is an extended runtime event.
type Event struct {
	Register string
	Entry    string
	Digest   []byte
}

// Extender extends one register and appends to one log.
type Extender struct {
	FS       FS
	Register *Register
	// Log is the runtime event log's path.
	Log string

	mu sync.Mutex
}

// NewExtender opens the named register (rtmr3) of fs for extension,
// logging to logPath.
func NewExtender(fs FS, register, logPath string) (*Extender, error) {
	r, err := Find(fs, register)
	if err != nil {
		return nil, err
	}
	if r.Index() < 0 {
		return nil, fmt.Errorf("%w: %s is not a runtime register (rtmr0..rtmr3)", ErrNoRegister, r.Name)
	}
	if !r.Writable {
		return nil, fmt.Errorf("%w: %s", ErrReadOnly, r.File)
	}
	return &Extender{FS: fs, Register: r, Log: logPath}, nil
}

// Entry formats an AAEL entry, refusing what a verifier could not read
// back unambiguously: white space in domain or operation, line breaks or
// other control characters anywhere.
func Entry(domain, operation, content string) (string, error) {
	for _, f := range []struct{ name, v string }{{"domain", domain}, {"operation", operation}} {
		if f.v == "" || strings.ContainsAny(f.v, " \t") {
			return "", fmt.Errorf("rtmr: %s %q must be non-empty and hold no white space", f.name, f.v)
		}
	}
	s := domain + " " + operation + " " + content
	for _, r := range s {
		if r < 0x20 || r == 0x7F {
			return "", fmt.Errorf("rtmr: entry %q holds a control character (line breaks included)", s)
		}
	}
	return s, nil
}

// Extend records "domain operation content": the record goes to the log,
// then its digest into the register.
func (x *Extender) Extend(domain, operation, content string) (*Event, error) {
	entry, err := Entry(domain, operation, content)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(x.Log), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(x.Log, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	unlock, err := lock(f)
	if err != nil {
		return nil, fmt.Errorf("rtmr: locking %s: %w", x.Log, err)
	}
	defer unlock()
	old, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	alg := x.Register.Alg
	var rec []byte
	if len(old) == 0 {
		rec = eventlog.AppendHeader(nil, []eventlog.Alg{alg})
	} else if err := checkLog(old, alg); err != nil {
		return nil, fmt.Errorf("rtmr: %s: %w", x.Log, err)
	}
	e := eventlog.NewEvent(uint32(x.Register.Index()), eventlog.EvIPL, []byte(entry), alg)
	rec = eventlog.AppendEvent(rec, &e)
	if _, err := f.WriteAt(rec, int64(len(old))); err != nil {
		f.Truncate(int64(len(old)))
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Truncate(int64(len(old)))
		return nil, err
	}
	digest := e.Digests[0].Value
	if err := x.FS.Write(x.Register.File, digest); err != nil {
		// The register is unchanged: take the record back so log and
		// register still agree.
		if terr := f.Truncate(int64(len(old))); terr != nil {
			return nil, fmt.Errorf("rtmr: extending %s: %w (and the log could not be restored: %v)", x.Register.File, err, terr)
		}
		f.Sync()
		return nil, fmt.Errorf("rtmr: extending %s: %w", x.Register.File, err)
	}
	return &Event{Register: x.Register.Name, Entry: entry, Digest: digest}, nil
}

// checkLog refuses a log file that is not a runtime log for alg.
func checkLog(b []byte, alg eventlog.Alg) error {
	l, err := eventlog.Parse(b)
	if err != nil {
		return err
	}
	if l.Padding != -1 {
		return errors.New("padding after the events: not a runtime event log")
	}
	for _, a := range l.SpecID.Algorithms {
		if a.Alg == alg {
			return nil
		}
	}
	return fmt.Errorf("the log has no %v digests", alg)
}
