// Package sevguest obtains AMD SEV-SNP attestation reports from the Linux
// SEV guest device /dev/sev-guest, for guests whose kernel predates the
// configfs-tsm report interface (use package tsm where it exists).
//
// An Attester is a ratls.Attester: give it to ratls.NewIssuer to serve
// RA-TLS certificates, or call Attest for raw evidence. Package
// attest/detect tells which interface a machine has, and attest/sim stands
// in for a TEE where there is none.
//
// # Requirements
//
// The guest must run as an SEV-SNP VM on Linux 5.19 or later with the
// sev-guest driver loaded (CONFIG_SEV_GUEST; module sev-guest), which
// creates /dev/sev-guest. Opening it needs root by default. The report is
// requested with the SNP_GET_REPORT ioctl (message version 1): the 64 bytes
// of report data and the VMPL go in, the 1184-byte ATTESTATION_REPORT signed
// by the VCEK (or VLEK) comes back. The returned evidence has tag
// evidence.TagSEVSNP. Certificates (SNP_GET_EXT_REPORT) are not requested;
// verifiers fetch the VCEK from AMD's KDS.
//
// The VMPL in the request must be at least the VMPL the guest runs at: 0
// for an ordinary guest, typically 2 under an SVSM (Options.VMPL).
//
// # Concurrency
//
// An Attester is safe for concurrent use: every call opens the device and
// issues its own ioctl, and the kernel serializes guest requests and manages
// the message sequence numbers.
//
// # Failure modes
//
// New fails with ErrUnavailable when the device does not exist and with
// ErrUnsupported on operating systems other than Linux. A failed guest
// request is a *RequestError carrying the system call error and the
// firmware and hypervisor error codes from exitinfo2. When the hypervisor
// reports BUSY (it throttles guest requests), Attest retries a bounded number
// of times; the ioctl itself cannot be interrupted, but the kernel bounds
// its own waiting. A response whose status is not success is a
// *StatusError; a report of the wrong size, that does not parse, or that
// does not carry the requested report data or VMPL fails with ErrResponse.
// Note that after some failures the kernel disables the guest's message key
// to prevent nonce reuse, and the device then fails every request until the
// VM restarts.
package sevguest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/snp"
)

// DefaultPath is the SEV guest device.
const DefaultPath = "/dev/sev-guest"

// Sizes of the ioctl payloads (Linux uapi/linux/sev-guest.h).
const (
	// ReportRequestSize is sizeof(struct snp_report_req): user_data[64],
	// u32 vmpl, rsvd[28].
	ReportRequestSize = 96
	// ReportResponseSize is sizeof(struct snp_report_resp): data[4000],
	// holding the decrypted MSG_REPORT_RSP.
	ReportResponseSize = 4000
)

// MSG_REPORT_RSP layout (SEV-SNP firmware ABI): u32 status, u32
// report_size, 24 reserved bytes, then the report.
const (
	respStatusOffset = 0x00
	respSizeOffset   = 0x04
	respReportOffset = 0x20
)

// Limits and defaults.
const (
	// MaxVMPL is the highest virtual machine privilege level.
	MaxVMPL = 3
	// DefaultAttempts is how many requests Attest makes while the
	// hypervisor answers BUSY.
	DefaultAttempts = 3

	defaultBackoff = 50 * time.Millisecond
)

// Hypervisor (VMM) error codes in the upper half of exitinfo2.
const (
	VMMErrInvalidLen = 1
	VMMErrBusy       = 2
	VMMErrGeneric    = 0xFFFFFFFF // the kernel's code for failures with no firmware status
)

// Errors returned (wrapped) by this package; test for them with errors.Is.
var (
	// ErrUnavailable: the SEV guest device does not exist.
	ErrUnavailable = errors.New("sevguest: SEV guest device not available")
	// ErrUnsupported: the operating system has no SEV guest device.
	ErrUnsupported = errors.New("sevguest: unsupported on this OS")
	// ErrBusy: the hypervisor kept answering BUSY.
	ErrBusy = errors.New("sevguest: hypervisor busy")
	// ErrResponse: the response did not hold a usable report for the request.
	ErrResponse = errors.New("sevguest: unusable report response")
)

// Device issues SNP_GET_REPORT requests. The Linux implementation performs
// the ioctl on /dev/sev-guest; tests substitute a fake.
type Device interface {
	// GetReport sends one report request. req is struct snp_report_req;
	// resp receives struct snp_report_resp. It returns the exitinfo2 value
	// the kernel stored (firmware error in the low 32 bits, VMM error in the
	// high 32 bits) and the system call error, if any.
	GetReport(req *[ReportRequestSize]byte, resp *[ReportResponseSize]byte) (exitInfo2 uint64, err error)
}

// Options configures an Attester.
type Options struct {
	// Path is the device; empty means DefaultPath. Ignored when Device is set.
	Path string
	// VMPL is the privilege level recorded in the report (0..3); it must be
	// at least the guest's own VMPL.
	VMPL uint
	// Device, when set, replaces the real device.
	Device Device
	// Attempts bounds the requests made while the hypervisor answers BUSY;
	// 0 means DefaultAttempts.
	Attempts int
}

// Attester produces SEV-SNP reports through /dev/sev-guest. It implements
// the Attester interface of the ratls package.
type Attester struct {
	dev      Device
	vmpl     uint32
	attempts int
	backoff  time.Duration // first pause after BUSY; doubles each time
}

// New returns an Attester. Without opts.Device it opens the device once to
// check that it exists and is accessible.
func New(opts Options) (*Attester, error) {
	if opts.VMPL > MaxVMPL {
		return nil, fmt.Errorf("sevguest: VMPL: want 0..%d, got %d", MaxVMPL, opts.VMPL)
	}
	if opts.Attempts < 0 {
		return nil, fmt.Errorf("sevguest: attempts: want >= 0, got %d", opts.Attempts)
	}
	a := &Attester{dev: opts.Device, vmpl: uint32(opts.VMPL), attempts: opts.Attempts, backoff: defaultBackoff}
	if a.attempts == 0 {
		a.attempts = DefaultAttempts
	}
	if a.dev == nil {
		path := opts.Path
		if path == "" {
			path = DefaultPath
		}
		dev, err := openDevice(path)
		if err != nil {
			return nil, err
		}
		a.dev = dev
	}
	return a, nil
}

// Attest requests a report whose REPORT_DATA is reportData and returns it
// as evidence with tag evidence.TagSEVSNP. The report is parsed and must
// carry exactly the requested report data and VMPL.
func (a *Attester) Attest(ctx context.Context, reportData [64]byte) (*evidence.Evidence, error) {
	req := new([ReportRequestSize]byte)
	copy(req[:64], reportData[:])
	binary.LittleEndian.PutUint32(req[64:], a.vmpl)

	pause := a.backoff
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sevguest: %w", err)
		}
		resp := new([ReportResponseSize]byte)
		exitInfo2, err := a.dev.GetReport(req, resp)
		if err == nil && exitInfo2 == 0 {
			report, err := parseReportResponse(resp[:])
			if err != nil {
				return nil, err
			}
			if err := checkReport(report, reportData, a.vmpl); err != nil {
				return nil, err
			}
			return &evidence.Evidence{Tag: evidence.TagSEVSNP, Data: report}, nil
		}
		rerr := &RequestError{Err: err, FWError: uint32(exitInfo2), VMMError: uint32(exitInfo2 >> 32)}
		if rerr.VMMError != VMMErrBusy {
			return nil, rerr
		}
		if attempt >= a.attempts {
			return nil, fmt.Errorf("%w on each of %d attempts: %w", ErrBusy, a.attempts, rerr)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("sevguest: %w", ctx.Err())
		case <-t.C:
		}
		pause *= 2
	}
}

// parseReportResponse extracts the report from a MSG_REPORT_RSP.
func parseReportResponse(resp []byte) ([]byte, error) {
	if len(resp) < respReportOffset {
		return nil, fmt.Errorf("%w: response size: want at least %d bytes, got %d", ErrResponse, respReportOffset, len(resp))
	}
	le := binary.LittleEndian
	if status := le.Uint32(resp[respStatusOffset:]); status != 0 {
		return nil, &StatusError{Status: status}
	}
	size := le.Uint32(resp[respSizeOffset:])
	if size != snp.ReportSize {
		return nil, fmt.Errorf("%w: report_size: want %d, got %d", ErrResponse, snp.ReportSize, size)
	}
	if len(resp)-respReportOffset < snp.ReportSize {
		return nil, fmt.Errorf("%w: response size: want at least %d bytes, got %d", ErrResponse, respReportOffset+snp.ReportSize, len(resp))
	}
	return bytes.Clone(resp[respReportOffset : respReportOffset+snp.ReportSize]), nil
}

// checkReport validates the report and that it answers the request.
func checkReport(report []byte, reportData [64]byte, vmpl uint32) error {
	r, err := snp.ParseReport(report)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrResponse, err)
	}
	if r.ReportData != reportData {
		return fmt.Errorf("%w: report_data: want %x, got %x", ErrResponse, reportData, r.ReportData)
	}
	if r.VMPL != vmpl {
		return fmt.Errorf("%w: vmpl: want %d, got %d", ErrResponse, vmpl, r.VMPL)
	}
	return nil
}

// RequestError is a failed SNP_GET_REPORT request.
type RequestError struct {
	// Err is the system call error (a syscall.Errno on Linux), or nil when
	// the call succeeded but exitinfo2 reported an error.
	Err error
	// FWError is the SEV firmware status of the guest request, 0 if none.
	FWError uint32
	// VMMError is the hypervisor's error (VMMErr* constants), 0 if none.
	VMMError uint32
}

func (e *RequestError) Error() string {
	msg := "sevguest: SNP_GET_REPORT failed"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.FWError != 0 {
		msg += fmt.Sprintf(", firmware error %#x (%s)", e.FWError, firmwareStatusName(e.FWError))
	}
	if e.VMMError != 0 {
		msg += fmt.Sprintf(", VMM error %#x (%s)", e.VMMError, vmmErrorName(e.VMMError))
	}
	return msg
}

// Unwrap returns the system call error.
func (e *RequestError) Unwrap() error { return e.Err }

// StatusError is a report response whose status is not success.
type StatusError struct {
	Status uint32 // MSG_REPORT_RSP status, a firmware status code
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("sevguest: report response status: want 0 (success), got %#x (%s)", e.Status, firmwareStatusName(e.Status))
}

// Unwrap lets errors.Is(err, ErrResponse) match a failed status too.
func (e *StatusError) Unwrap() error { return ErrResponse }

// firmwareStatusNames are the SEV firmware status codes (SEV API
// specification, "Status Codes").
var firmwareStatusNames = [...]string{
	0x00: "SUCCESS",
	0x01: "INVALID_PLATFORM_STATE",
	0x02: "INVALID_GUEST_STATE",
	0x03: "INVALID_CONFIG",
	0x04: "INVALID_LENGTH",
	0x05: "ALREADY_OWNED",
	0x06: "INVALID_CERTIFICATE",
	0x07: "POLICY_FAILURE",
	0x08: "INACTIVE",
	0x09: "INVALID_ADDRESS",
	0x0A: "BAD_SIGNATURE",
	0x0B: "BAD_MEASUREMENT",
	0x0C: "ASID_OWNED",
	0x0D: "INVALID_ASID",
	0x0E: "WBINVD_REQUIRED",
	0x0F: "DFFLUSH_REQUIRED",
	0x10: "INVALID_GUEST",
	0x11: "INVALID_COMMAND",
	0x12: "ACTIVE",
	0x13: "HWERROR_PLATFORM",
	0x14: "HWERROR_UNSAFE",
	0x15: "UNSUPPORTED",
	0x16: "INVALID_PARAM",
	0x17: "RESOURCE_LIMIT",
}

func firmwareStatusName(s uint32) string {
	if int64(s) < int64(len(firmwareStatusNames)) {
		return firmwareStatusNames[s]
	}
	return "unknown status"
}

func vmmErrorName(e uint32) string {
	switch e {
	case VMMErrInvalidLen:
		return "INVALID_LEN"
	case VMMErrBusy:
		return "BUSY"
	case VMMErrGeneric:
		return "GENERIC"
	}
	return "unknown"
}
