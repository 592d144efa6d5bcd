//go:build linux

package sevguest

import (
	"errors"
	"path/filepath"
	"testing"
	"unsafe"
)

// TestIoctlABI checks the ioctl argument layout and number against
// uapi/linux/sev-guest.h: a 32-byte struct (u8 padded to 8, three u64) and
// SNP_GET_REPORT = 0xC0205300 (_IOWR('S', 0, 32)).
func TestIoctlABI(t *testing.T) {
	var g guestRequest
	if s := unsafe.Sizeof(g); s != 32 {
		t.Errorf("sizeof(snp_guest_request_ioctl) = %d, want 32", s)
	}
	for name, got := range map[string]uintptr{
		"req_data":  unsafe.Offsetof(g.ReqData),
		"resp_data": unsafe.Offsetof(g.RespData),
		"exitinfo2": unsafe.Offsetof(g.ExitInfo2),
	} {
		want := map[string]uintptr{"req_data": 8, "resp_data": 16, "exitinfo2": 24}[name]
		if got != want {
			t.Errorf("offset of %s = %d, want %d", name, got, want)
		}
	}
	if snpGetReport != 0xC0205300 {
		t.Errorf("SNP_GET_REPORT = %#x, want 0xc0205300", snpGetReport)
	}
}

func TestOpenDeviceMissing(t *testing.T) {
	_, err := New(Options{Path: filepath.Join(t.TempDir(), "sev-guest")})
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}

func TestOpenDeviceNotADevice(t *testing.T) {
	// A directory cannot be opened read-write: the error is reported as is.
	dir := t.TempDir()
	_, err := New(Options{Path: dir})
	if err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v, want an open error other than ErrUnavailable", err)
	}
}
