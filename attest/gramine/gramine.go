// Package gramine obtains Intel SGX DCAP quotes inside a Gramine enclave
// through Gramine's /dev/attestation pseudo-filesystem.
//
// An Attester is a ratls.Attester: give it to ratls.NewIssuer to serve
// RA-TLS certificates, or call Attest for raw evidence. Package
// attest/detect tells whether a process runs under Gramine, and attest/sim
// stands in for a TEE where there is none.
//
// # Requirements
//
// The program must run under gramine-sgx (not gramine-direct) with remote
// attestation enabled in its manifest:
//
//	sgx.remote_attestation = "dcap"
//
// (older Gramine releases spelled it sgx.remote_attestation = true). The
// host needs the SGX DCAP quoting stack: the AESM service with the DCAP
// quote provider library (libsgx-dcap-ql, libsgx-dcap-default-qpl)
// configured to reach a PCCS or Intel PCS. Gramine then exposes:
//
//	/dev/attestation/attestation_type   "dcap", or "none" without the manifest option
//	/dev/attestation/user_report_data   64 bytes written by the application
//	/dev/attestation/quote              the DCAP quote over the last user_report_data
//
// An attestation_type of "none" means the manifest does not enable remote
// attestation; "epid" means an old Gramine configured for the retired EPID
// scheme, which this package does not support.
//
// # Concurrency
//
// The pseudo-files are global to the enclave process: a quote answers the
// last write of user_report_data by anyone. Attest therefore serializes all
// calls in this process (across all Attesters) around the write-then-read
// pair, and checks that the quote it read carries the requested report data,
// which catches other code in the process using /dev/attestation directly.
// Quote generation goes through the untrusted host and typically takes tens
// to hundreds of milliseconds.
//
// # Failure modes
//
// New fails with ErrUnavailable when the directory does not exist (not
// running under Gramine) and with ErrAttestationType when remote attestation
// is not configured as DCAP. Attest fails with ErrQuote when the quote is
// empty, too large, unparsable or carries other report data, and otherwise
// with the file error (EACCES, or EIO when the host quoting service fails).
package gramine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/quote"
)

// DefaultDir is where Gramine mounts its attestation pseudo-filesystem.
const DefaultDir = "/dev/attestation"

// Pseudo-file names under the attestation directory.
const (
	fileAttestationType = "attestation_type"
	fileUserReportData  = "user_report_data"
	fileQuote           = "quote"
)

// Read limits. A DCAP quote with its PCK certificate chain is about 5 KiB;
// the quote limit leaves room for larger certification data without letting
// a broken file drive allocation.
const (
	maxQuoteSize           = 64 << 10
	maxAttestationTypeSize = 64
)

// Errors returned (wrapped) by this package; test for them with errors.Is.
var (
	// ErrUnavailable: the attestation directory does not exist.
	ErrUnavailable = errors.New("gramine: /dev/attestation not available")
	// ErrAttestationType: attestation_type is not "dcap".
	ErrAttestationType = errors.New("gramine: remote attestation type is not dcap")
	// ErrQuote: the quote file held no usable quote for the request.
	ErrQuote = errors.New("gramine: unusable quote")
)

// errTooLarge reports a pseudo-file longer than the read limit.
var errTooLarge = errors.New("file larger than the limit")

// Options configures an Attester.
type Options struct {
	// Dir is the attestation pseudo-filesystem; empty means DefaultDir.
	Dir string
}

// Attester produces DCAP quotes through Gramine. It implements the Attester
// interface of the ratls package and is safe for concurrent use.
type Attester struct {
	files deviceFiles
	dir   string
}

// deviceFiles is the file access Attester needs, so tests can emulate a
// quote that depends on the report data written before it.
type deviceFiles interface {
	// ReadFile returns the whole named file, failing with errTooLarge when
	// it holds more than limit bytes.
	ReadFile(name string, limit int) ([]byte, error)
	// WriteFile writes data to the existing named file in one write.
	WriteFile(name string, data []byte) error
}

// New checks that dir (default /dev/attestation) exists and that its
// attestation_type is "dcap", and returns an Attester for it.
func New(opts Options) (*Attester, error) {
	dir := opts.Dir
	if dir == "" {
		dir = DefaultDir
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%w: %v (run the program under gramine-sgx)", ErrUnavailable, err)
	}
	return newWithFiles(dirFiles(dir), dir)
}

func newWithFiles(files deviceFiles, dir string) (*Attester, error) {
	b, err := files.ReadFile(fileAttestationType, maxAttestationTypeSize)
	if err != nil {
		return nil, fmt.Errorf("gramine: reading %s: %w (releases of Gramine that lack this file are too old)", filepath.Join(dir, fileAttestationType), err)
	}
	if err := checkAttestationType(b); err != nil {
		return nil, err
	}
	return &Attester{files: files, dir: dir}, nil
}

// checkAttestationType accepts "dcap", with optional surrounding whitespace
// or NUL padding.
func checkAttestationType(b []byte) error {
	t := string(bytes.Trim(b, " \t\r\n\x00"))
	switch t {
	case "dcap":
		return nil
	case "none":
		return fmt.Errorf("%w: attestation_type is %q: the manifest does not enable remote attestation (set sgx.remote_attestation = \"dcap\" and run under gramine-sgx)", ErrAttestationType, t)
	case "epid":
		return fmt.Errorf("%w: attestation_type is %q: EPID attestation is retired and not supported (set sgx.remote_attestation = \"dcap\")", ErrAttestationType, t)
	}
	return fmt.Errorf("%w: attestation_type: want \"dcap\", got %q", ErrAttestationType, t)
}

// deviceLock serializes the write-then-read pair process-wide: the
// pseudo-files are shared by every thread of the enclave. A channel rather
// than a mutex lets a waiting caller give up when its context ends.
var deviceLock = make(chan struct{}, 1)

// Attest writes reportData to user_report_data, reads the quote and returns
// it as evidence with tag 60000 (evidence.TagIntelQuote).
func (a *Attester) Attest(ctx context.Context, reportData [64]byte) (*evidence.Evidence, error) {
	select {
	case deviceLock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("gramine: waiting for /dev/attestation: %w", ctx.Err())
	}
	q, err := a.quote(reportData)
	<-deviceLock
	if err != nil {
		return nil, err
	}
	return &evidence.Evidence{Tag: evidence.TagIntelQuote, Data: q}, nil
}

func (a *Attester) quote(reportData [64]byte) ([]byte, error) {
	if err := a.files.WriteFile(fileUserReportData, reportData[:]); err != nil {
		return nil, fmt.Errorf("gramine: writing %s: %w", filepath.Join(a.dir, fileUserReportData), err)
	}
	b, err := a.files.ReadFile(fileQuote, maxQuoteSize)
	switch {
	case errors.Is(err, errTooLarge):
		return nil, fmt.Errorf("%w: quote size: want at most %d bytes, got more", ErrQuote, maxQuoteSize)
	case err != nil:
		return nil, fmt.Errorf("gramine: reading %s: %w", filepath.Join(a.dir, fileQuote), err)
	}
	return b, checkQuote(b, reportData)
}

// checkQuote makes sure the quote is well formed and answers reportData.
func checkQuote(b []byte, reportData [64]byte) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: quote is empty", ErrQuote)
	}
	q, err := quote.Parse(b)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrQuote, err)
	}
	if q.IsTDX() {
		return fmt.Errorf("%w: quote body: want an SGX enclave report, got a TD report", ErrQuote)
	}
	if got := q.ReportData(); got != reportData {
		return fmt.Errorf("%w: quote report_data: want %x, got %x (another user of /dev/attestation in this process wrote user_report_data concurrently)",
			ErrQuote, reportData, got)
	}
	return nil
}

// dirFiles accesses the pseudo-files of a real directory.
type dirFiles string

func (d dirFiles) ReadFile(name string, limit int) ([]byte, error) {
	f, err := os.Open(filepath.Join(string(d), name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

func (d dirFiles) WriteFile(name string, data []byte) error {
	// No O_CREATE or O_TRUNC: the pseudo-file exists and is rewritten whole.
	f, err := os.OpenFile(filepath.Join(string(d), name), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	n, err := f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != len(data) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(data))
	}
	return err
}
