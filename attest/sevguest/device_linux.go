//go:build linux

package sevguest

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// guestRequest is struct snp_guest_request_ioctl: msg_version, pointers to
// the request and response payloads, and the exitinfo2 union (fw_error in
// the low, vmm_error in the high 32 bits).
type guestRequest struct {
	MsgVersion uint8
	_          [7]byte
	ReqData    uint64
	RespData   uint64
	ExitInfo2  uint64
}

// Linux generic ioctl number encoding (asm-generic/ioctl.h), which x86
// uses: direction in bits 30-31, size in 16-29, type in 8-15, number in 0-7.
const (
	iocWrite = 1
	iocRead  = 2
)

func iowr(typ, nr, size uintptr) uintptr {
	return (iocRead|iocWrite)<<30 | size<<16 | typ<<8 | nr
}

// snpGetReport is SNP_GET_REPORT = _IOWR('S', 0x0, struct snp_guest_request_ioctl).
var snpGetReport = iowr('S', 0x0, unsafe.Sizeof(guestRequest{}))

// snpMsgVersion is the guest message version for MSG_REPORT_REQ.
const snpMsgVersion = 1

// linuxDevice performs SNP_GET_REPORT on a device node, opening it for
// each request so that an Attester holds no file descriptor.
type linuxDevice struct{ path string }

func openDevice(path string) (Device, error) {
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		if err == syscall.ENOENT {
			return nil, fmt.Errorf("%w: %s does not exist (needs an SEV-SNP guest on Linux 5.19+ with the sev-guest driver)", ErrUnavailable, path)
		}
		return nil, fmt.Errorf("sevguest: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	syscall.Close(fd)
	return linuxDevice{path: path}, nil
}

func (d linuxDevice) GetReport(req *[ReportRequestSize]byte, resp *[ReportResponseSize]byte) (uint64, error) {
	fd, err := syscall.Open(d.path, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: d.path, Err: err}
	}
	defer syscall.Close(fd)

	// The kernel reads the payload addresses out of arg, so the payloads
	// must stay put in memory until the call returns: pin them.
	var pinner runtime.Pinner
	defer pinner.Unpin()
	pinner.Pin(req)
	pinner.Pin(resp)
	arg := &guestRequest{
		MsgVersion: snpMsgVersion,
		ReqData:    uint64(uintptr(unsafe.Pointer(req))),
		RespData:   uint64(uintptr(unsafe.Pointer(resp))),
	}
	pinner.Pin(arg)
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), snpGetReport, uintptr(unsafe.Pointer(arg)))
	if errno != 0 {
		return arg.ExitInfo2, &os.SyscallError{Syscall: "ioctl SNP_GET_REPORT", Err: errno}
	}
	return arg.ExitInfo2, nil
}
