// Package tsm obtains TEE evidence through the Linux configfs-tsm report
// interface (/sys/kernel/config/tsm/report), the kernel's single entry point
// for attestation reports of confidential VMs.
//
// An Attester is a ratls.Attester: give it to ratls.NewIssuer to serve
// RA-TLS certificates, or call Attest for raw evidence. Package
// attest/detect tells whether a machine has configfs-tsm, and attest/sim
// stands in for a TEE where there is none.
//
// # Requirements
//
// configfs-tsm reports exist since Linux 6.7. The kernel must run as a
// confidential guest with the matching guest driver loaded, which registers
// itself as the report "provider":
//
//   - tdx_guest (Intel TDX, Linux 6.7+): the outblob is a DCAP quote. The
//     kernel asks the host's quote generation service for it, so the host
//     must run one (Intel QGS) and the VM must be configured to reach it.
//     The evidence tag is 60000 (evidence.TagIntelQuote).
//   - sev_guest (AMD SEV-SNP, Linux 6.7+): the outblob is an SEV-SNP
//     ATTESTATION_REPORT. The evidence tag is evidence.TagSEVSNP. The
//     optional auxblob holds the host-supplied certificate table (VCEK or
//     VLEK chain) when the host provides one.
//   - arm_cca_guest (Arm CCA realm, Linux 6.13+): the outblob is a CCA
//     attestation token. The evidence tag is evidence.TagCCAClaims. The
//     kernel requires 32 to 64 bytes of inblob; this package always writes
//     all 64 bytes of report data.
//
// configfs must be mounted (mount -t configfs none /sys/kernel/config) and
// creating report entries needs root (or CAP_SYS_ADMIN) by default.
//
// # Concurrency
//
// An Attester is safe for concurrent use. Every Attest call creates its own
// report entry (a temporary directory under .../tsm/report), so callers do
// not share kernel state. The kernel nonetheless lets any process with access
// write to any entry; the "generation" attribute counts writes so a reader
// can tell whether the outblob it read answers its own inblob. A mismatch
// (report.GenerationErr from go-configfs-tsm) means another writer
// interfered: Attest retries with a fresh entry a bounded number of times and
// then fails with an error wrapping ErrGenerationRace.
//
// # Failure modes
//
// New fails with ErrUnavailable when the report directory does not exist
// (kernel older than 6.7, configfs not mounted, or not a confidential
// guest). Attest fails with ErrUnknownProvider when the provider is not one
// of the three above, with ErrOutBlob when the kernel returns an empty or
// oversized report, and with the context's error when ctx ends first. Kernel
// errors (EINVAL for a privilege level below privlevel_floor, EIO when the
// TEE firmware or the host's quoting service fails) are returned wrapped.
package tsm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-configfs-tsm/configfs/configfsi"
	"github.com/google/go-configfs-tsm/configfs/linuxtsm"
	"github.com/google/go-configfs-tsm/report"

	"github.com/ratls/ratls/evidence"
)

// Report providers, the values of the "provider" attribute without the
// trailing newline (the kernel module names of the guest drivers).
const (
	ProviderTDX = "tdx_guest"
	ProviderSEV = "sev_guest"
	ProviderCCA = "arm_cca_guest"
)

// Limits and defaults.
const (
	// maxOutBlobSize bounds the report accepted from the kernel. The kernel
	// itself caps outblob at 32 KiB (TSM_OUTBLOB_MAX); the margin leaves room
	// for larger TDX quotes without accepting arbitrary sizes.
	maxOutBlobSize = 64 << 10
	// MaxPrivilegeLevel is the highest privlevel the kernel accepts
	// (TSM_PRIVLEVEL_MAX); for SEV-SNP it is the VMPL.
	MaxPrivilegeLevel = 3
	// DefaultAttempts is how many report entries Attest tries when another
	// writer keeps changing the generation counter.
	DefaultAttempts = 3

	defaultBackoff = 10 * time.Millisecond
)

// Errors returned (wrapped) by this package; test for them with errors.Is.
var (
	// ErrUnavailable: the configfs-tsm report interface is not present.
	ErrUnavailable = errors.New("tsm: configfs-tsm report interface not available")
	// ErrUnknownProvider: the kernel's report provider is not tdx_guest,
	// sev_guest or arm_cca_guest.
	ErrUnknownProvider = errors.New("tsm: unknown report provider")
	// ErrGenerationRace: another writer changed the report entry on every
	// attempt.
	ErrGenerationRace = errors.New("tsm: report entry changed by another writer")
	// ErrOutBlob: the kernel returned an empty or oversized outblob.
	ErrOutBlob = errors.New("tsm: unusable outblob")
)

// Options configures an Attester. The zero value uses the real
// /sys/kernel/config/tsm/report interface with default settings.
type Options struct {
	// Client performs the configfs file operations; nil means the real
	// Linux configfs (go-configfs-tsm's linuxtsm client). Tests pass a fake.
	Client configfsi.Client
	// Privilege, when set, is written to the entry's privlevel attribute
	// before the report is read. Only sev_guest supports it: it selects the
	// VMPL recorded in the report and must be at least privlevel_floor
	// (the guest's own VMPL, e.g. 2 under an SVSM) and at most 3. Leave nil
	// for TDX and CCA, whose entries have no privlevel attribute.
	Privilege *uint
	// GetAuxBlob also reads the auxblob attribute: for sev_guest the
	// certificate table the host supplies (VCEK or VLEK chain). Report
	// returns it; Attest discards it. Other providers may not expose the
	// attribute, and reading it then fails.
	GetAuxBlob bool
	// Attempts bounds the tries when the generation counter shows another
	// writer; 0 means DefaultAttempts.
	Attempts int
}

// Attester produces evidence through configfs-tsm. It implements the
// Attester interface of the ratls package.
type Attester struct {
	client     configfsi.Client
	privilege  *uint
	getAuxBlob bool
	attempts   int
	backoff    time.Duration // first pause between attempts; doubles each time
}

// New returns an Attester. With a nil opts.Client it checks that
// /sys/kernel/config/tsm/report exists and fails with ErrUnavailable
// otherwise; it does not create a report.
func New(opts Options) (*Attester, error) {
	if opts.Privilege != nil && *opts.Privilege > MaxPrivilegeLevel {
		return nil, fmt.Errorf("tsm: privilege level: want 0..%d, got %d", MaxPrivilegeLevel, *opts.Privilege)
	}
	if opts.Attempts < 0 {
		return nil, fmt.Errorf("tsm: attempts: want >= 0, got %d", opts.Attempts)
	}
	a := &Attester{
		client:     opts.Client,
		getAuxBlob: opts.GetAuxBlob,
		attempts:   opts.Attempts,
		backoff:    defaultBackoff,
	}
	if a.attempts == 0 {
		a.attempts = DefaultAttempts
	}
	if opts.Privilege != nil {
		p := *opts.Privilege
		a.privilege = &p
	}
	if a.client == nil {
		c, err := linuxtsm.MakeClient()
		if err != nil {
			return nil, fmt.Errorf("%w (needs Linux 6.7+ running as a TDX, SEV-SNP or CCA guest, with configfs mounted): %v", ErrUnavailable, err)
		}
		a.client = c
	}
	return a, nil
}

// Report is everything one configfs-tsm report read returned.
type Report struct {
	// Provider is the provider attribute without its trailing newline.
	Provider string
	// OutBlob is the TEE evidence: quote, report or token.
	OutBlob []byte
	// AuxBlob is the auxblob attribute when Options.GetAuxBlob was set; it
	// may be empty even then (the host supplied no certificates).
	AuxBlob []byte
}

// Evidence converts the report into tagged evidence according to its
// provider.
func (r *Report) Evidence() (*evidence.Evidence, error) {
	tag, err := tagForProvider(r.Provider)
	if err != nil {
		return nil, err
	}
	if err := checkOutBlob(r.OutBlob); err != nil {
		return nil, err
	}
	ev := &evidence.Evidence{Tag: tag, Data: r.OutBlob}
	if r.Provider == ProviderSEV && len(r.AuxBlob) > 0 {
		if ev.Endorsements, err = snpEndorsements(r.AuxBlob); err != nil {
			return nil, err
		}
	}
	return ev, nil
}

// snpEndorsements turns the certificate table a SEV-SNP host returns in
// auxblob into endorsements, so the VCEK (or VLEK) chain travels with the
// report and verifiers need not ask AMD's KDS.
func snpEndorsements(aux []byte) (*evidence.Endorsements, error) {
	s, err := evidence.SNPEndorsementsFromCertTable(aux)
	if err != nil {
		return nil, fmt.Errorf("tsm: auxblob: %w", err)
	}
	if s == nil {
		return nil, nil // the host supplied no VCEK or VLEK
	}
	return &evidence.Endorsements{Version: evidence.EndorsementsVersion, SNP: s}, nil
}

// tagForProvider returns the CBOR evidence tag of the outblobs a provider
// produces, or an error wrapping ErrUnknownProvider.
func tagForProvider(provider string) (uint64, error) {
	switch provider {
	case ProviderTDX:
		return evidence.TagIntelQuote, nil
	case ProviderSEV:
		return evidence.TagSEVSNP, nil
	case ProviderCCA:
		return evidence.TagCCAClaims, nil
	}
	if len(provider) > 64 {
		provider = provider[:64] + "..."
	}
	return 0, fmt.Errorf("%w: want %s, %s or %s, got %q", ErrUnknownProvider, ProviderTDX, ProviderSEV, ProviderCCA, provider)
}

func checkOutBlob(b []byte) error {
	switch {
	case len(b) == 0:
		return fmt.Errorf("%w: outblob is empty", ErrOutBlob)
	case len(b) > maxOutBlobSize:
		return fmt.Errorf("%w: outblob size: want at most %d bytes, got %d", ErrOutBlob, maxOutBlobSize, len(b))
	}
	return nil
}

// Attest writes reportData as the inblob of a new report entry and returns
// the outblob as evidence tagged according to the provider.
func (a *Attester) Attest(ctx context.Context, reportData [64]byte) (*evidence.Evidence, error) {
	r, err := a.Report(ctx, reportData)
	if err != nil {
		return nil, err
	}
	return r.Evidence()
}

// Report is Attest without the conversion to evidence: it also returns the
// provider and, when requested, the auxblob.
func (a *Attester) Report(ctx context.Context, reportData [64]byte) (*Report, error) {
	req := &report.Request{GetAuxBlob: a.getAuxBlob}
	if a.privilege != nil {
		req.Privilege = &report.Privilege{Level: *a.privilege}
	}
	resp, err := a.withRetry(ctx, func() (*report.Response, error) {
		// The library keeps a reference to InBlob; give each try its own copy.
		req := *req
		req.InBlob = append([]byte(nil), reportData[:]...)
		return report.Get(a.client, &req)
	})
	if err != nil {
		return nil, err
	}
	r := &Report{
		Provider: strings.TrimSuffix(resp.Provider, "\n"),
		OutBlob:  resp.OutBlob,
		AuxBlob:  resp.AuxBlob,
	}
	if err := checkOutBlob(r.OutBlob); err != nil {
		return nil, err
	}
	if len(r.AuxBlob) > maxOutBlobSize {
		return nil, fmt.Errorf("tsm: auxblob size: want at most %d bytes, got %d", maxOutBlobSize, len(r.AuxBlob))
	}
	return r, nil
}

// Provider creates a report entry, reads its provider attribute (without
// the trailing newline) and removes the entry. It makes no report, so it
// is cheap; use it to learn which TEE the kernel serves.
func (a *Attester) Provider(ctx context.Context) (string, error) {
	var provider string
	_, err := a.withRetry(ctx, func() (*report.Response, error) {
		r, err := report.CreateOpenReport(a.client)
		if err != nil {
			return nil, err
		}
		b, err := r.ReadOption("provider")
		if derr := r.Destroy(); err == nil && derr != nil {
			err = fmt.Errorf("could not remove report entry: %v", derr)
		}
		if err != nil {
			return nil, err
		}
		provider = strings.TrimSuffix(string(b), "\n")
		return nil, nil
	})
	if err != nil {
		return "", err
	}
	if provider == "" {
		return "", fmt.Errorf("tsm: provider attribute is empty")
	}
	return provider, nil
}

// withRetry runs get, retrying with a fresh entry while it fails with a
// generation mismatch. Each try runs in its own goroutine so that Attest
// returns as soon as ctx ends: the kernel call itself cannot be interrupted
// (a TDX quote may take seconds), so an abandoned try finishes in the
// background and removes its entry.
func (a *Attester) withRetry(ctx context.Context, get func() (*report.Response, error)) (*report.Response, error) {
	pause := a.backoff
	var lastRace *report.GenerationErr
	for attempt := 1; attempt <= a.attempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("tsm: %w", err)
		}
		resp, err := runCtx(ctx, get)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, fmt.Errorf("tsm: %w", err)
		}
		if !errors.As(err, &lastRace) {
			return nil, fmt.Errorf("tsm: %w", err)
		}
		if attempt == a.attempts {
			break
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("tsm: %w", ctx.Err())
		case <-t.C:
		}
		pause *= 2
	}
	return nil, fmt.Errorf("%w on each of %d attempts (another process is writing to this process's report entries): last: %w",
		ErrGenerationRace, a.attempts, lastRace)
}

func runCtx(ctx context.Context, get func() (*report.Response, error)) (*report.Response, error) {
	type result struct {
		resp *report.Response
		err  error
	}
	done := make(chan result, 1) // buffered: an abandoned try must not block
	go func() {
		resp, err := get()
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		return r.resp, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
