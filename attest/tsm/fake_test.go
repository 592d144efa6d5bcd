package tsm

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"

	"github.com/google/go-configfs-tsm/configfs/configfsi"
)

// fakeConfigfs emulates the kernel's configfs-tsm report subsystem closely
// enough to exercise the generation protocol: every write of an attribute
// increments the entry's generation, outblob/auxblob need an inblob, and
// privlevel exists only for sev_guest.
type fakeConfigfs struct {
	mu sync.Mutex

	provider       string // provider attribute, including any newline
	privlevelFloor uint
	// outblob returns the report for an inblob; nil means EINVAL (the
	// kernel's answer when the TEE refuses).
	outblob func(inblob []byte) []byte
	auxblob []byte
	// interfere is how many upcoming outblob reads see a concurrent writer:
	// the generation is bumped right after the read, as if another process
	// had written inblob in between. -1 means every read.
	interfere int
	// block, when non-nil, makes outblob reads wait until it is closed.
	block chan struct{}

	entries   map[string]*fakeEntry
	created   int
	removed   int
	lastIn    []byte // last inblob written, for the tests to check
	lastPriv  string // last privlevel written
	mkdirErr  error
	readBlock chan struct{} // closed when a read starts waiting on block
}

type fakeEntry struct {
	generation uint64
	inblob     []byte
	privlevel  string
}

func newFake(provider string, outblob func([]byte) []byte) *fakeConfigfs {
	return &fakeConfigfs{provider: provider, outblob: outblob, entries: map[string]*fakeEntry{}}
}

func (f *fakeConfigfs) MkdirTemp(dir, pattern string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mkdirErr != nil {
		return "", f.mkdirErr
	}
	if dir != configfsi.TsmPrefix+"/report" {
		return "", fmt.Errorf("fake: MkdirTemp in %q", dir)
	}
	f.created++
	name := pattern + strconv.Itoa(f.created)
	f.entries[name] = &fakeEntry{}
	return dir + "/" + name, nil
}

func (f *fakeConfigfs) entry(path string) (*fakeEntry, string, error) {
	p, err := configfsi.ParseTsmPath(path)
	if err != nil {
		return nil, "", err
	}
	if p.Subsystem != "report" {
		return nil, "", fmt.Errorf("fake: subsystem %q", p.Subsystem)
	}
	e, ok := f.entries[p.Entry]
	if !ok {
		return nil, "", os.ErrNotExist
	}
	return e, p.Attribute, nil
}

func (f *fakeConfigfs) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	e, attr, err := f.entry(name)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	switch attr {
	case "generation":
		defer f.mu.Unlock()
		return []byte(fmt.Sprintf("%d\n", e.generation)), nil
	case "provider":
		defer f.mu.Unlock()
		return []byte(f.provider), nil
	case "auxblob":
		defer f.mu.Unlock()
		if len(e.inblob) == 0 {
			return nil, syscall.EINVAL
		}
		return bytes.Clone(f.auxblob), nil
	case "outblob":
		if len(e.inblob) == 0 {
			f.mu.Unlock()
			return nil, syscall.EINVAL
		}
		in := bytes.Clone(e.inblob)
		block, started := f.block, f.readBlock
		f.mu.Unlock()
		if block != nil {
			if started != nil {
				close(started)
			}
			<-block
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.interfere != 0 {
			e.generation++
			if f.interfere > 0 {
				f.interfere--
			}
		}
		if f.outblob == nil {
			return nil, syscall.EINVAL
		}
		out := f.outblob(in)
		if out == nil {
			return nil, syscall.EIO
		}
		return out, nil
	}
	f.mu.Unlock()
	return nil, os.ErrNotExist
}

func (f *fakeConfigfs) ReadDir(string) ([]os.DirEntry, error) {
	return nil, fmt.Errorf("fake: ReadDir not supported")
}

func (f *fakeConfigfs) WriteFile(name string, contents []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, attr, err := f.entry(name)
	if err != nil {
		return err
	}
	switch attr {
	case "inblob":
		if len(contents) > 64 {
			return syscall.EINVAL
		}
		e.inblob = bytes.Clone(contents)
		f.lastIn = bytes.Clone(contents)
	case "privlevel":
		if f.provider != ProviderSEV+"\n" {
			return os.ErrNotExist // the attribute is only visible for sev_guest
		}
		lvl, err := configfsi.Kstrtouint(contents, 10, 32)
		if err != nil || lvl > MaxPrivilegeLevel || uint(lvl) < f.privlevelFloor {
			return syscall.EINVAL
		}
		e.privlevel = string(contents)
		f.lastPriv = string(contents)
	default:
		return os.ErrPermission
	}
	e.generation++
	return nil
}

func (f *fakeConfigfs) RemoveAll(path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := configfsi.ParseTsmPath(path)
	if err != nil {
		return err
	}
	if p.Attribute != "" {
		return fmt.Errorf("fake: rmdir of attribute %q", path)
	}
	if _, ok := f.entries[p.Entry]; !ok {
		return os.ErrNotExist
	}
	delete(f.entries, p.Entry)
	f.removed++
	return nil
}

func (f *fakeConfigfs) counts() (created, removed, live int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.created, f.removed, len(f.entries)
}
