package main

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/inspect"
)

func newCollateralCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collateral",
		Short: "Fetch verification collateral (Intel SGX/TDX, AMD SEV-SNP) for offline use",
		Long: `Collateral manages what offline verification needs: for Intel SGX and TDX
quotes the TCB Info, QE Identity, the PCK CRL, the Intel SGX Root CA CRL and
their issuer chains; for AMD SEV-SNP reports the VCEK, the ASK (or ASVK) and
ARK, and AMD's CRL.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.AddCommand(newCollateralFetchCommand())
	return cmd
}

// collateralFetchFlags are the flags of "collateral fetch".
type collateralFetchFlags struct {
	tee        string
	kds        string
	amdProduct string
	signingKey string
	fmspcs     []string
	ca         string
	update     string
	pccs       string
	out        string
	timeout    time.Duration
}

func newCollateralFetchCommand() *cobra.Command {
	var f collateralFetchFlags
	cmd := &cobra.Command{
		Use:   "fetch --out DIR [--pccs URL] [--update standard|early] {SOURCE... | --tee sgx|tdx --fmspc HEX... | --tee sev_snp --amd-product P}",
		Short: "Download the collateral of SGX/TDX platforms or SEV-SNP chips into a directory",
		Long: `Fetch downloads, for each platform, the TCB Info, the QE Identity, the PCK
CRL and the root CA CRL with their issuer chains from Intel's Provisioning
Certification Service (or the PCCS given with --pccs), checks that they
parse and answer the request, and writes them in the directory layout that
"ratls verify --collateral DIR" reads. Signatures are not verified here;
verification does that.

A platform is a TEE (sgx or tdx), an FMSPC and a PCK CA (processor or
platform). Platforms come from:
  - SOURCE arguments: a raw DCAP quote file (binary, hex or base64), an
    RA-TLS certificate carrying a quote, or a PCK certificate (PEM or DER;
    say --tee, a PCK certificate does not tell). The TEE comes from the
    quote, the FMSPC and the CA from the PCK certificate;
  - --fmspc HEX (repeatable), with --tee and --ca. Without --fmspc, a
    --tee or --ca that disagrees with a SOURCE quote is an error.

With one platform the files go straight into --out; with several, into
--out/<tee>-<fmspc>-<ca>/ (for example tdx-b0c06f000000-platform).

Fetching retries rate limiting (429, honouring Retry-After) and server
errors (5xx) a few times with backoff.

SEV-SNP: for each report (a raw or hex SEV-SNP report, or an RA-TLS
certificate carrying one) fetch downloads from AMD's Key Distribution
Service (or --kds URL) the VCEK for the report's chip and REPORTED_TCB,
the certificate chain (ASK and ARK) and the VCEK CRL, and writes them as
"ratls verify --amd-certs DIR" reads them: vcek.pem, ask.pem, ark.pem,
vcek-crl.der. For a VLEK-signed report it writes asvk.pem, ark.pem and
vlek-crl.der: KDS does not serve VLEKs, which the evidence carries. Reports
of version 2 do not name their product: say --amd-product. With --tee
sev_snp --amd-product P and no SOURCE, only the chain and CRL of product P
are fetched (--signing-key vlek for the VLEK chain). With several reports
each gets --out/<product>-<key>-<chip ID prefix>-<TCB>/.

On a terminal a progress line shows what is being fetched and for how long
(KDS rate-limits; retries wait as it asks).

Exit status: 0 when every platform was fetched and written, 2 when an input
is unusable or any platform could not be fetched (network failure, HTTP
error, unknown FMSPC, malformed collateral) or written. The other
platforms are still written.`,
		Example: `  ratls collateral fetch --out coll/ quote.bin
  ratls collateral fetch --out coll/ --tee tdx --fmspc B0C06F000000
  ratls collateral fetch --out amd/ --amd-product Milan snp-report.bin
  ratls collateral fetch --out coll/ --pccs https://pccs.internal:8081 --update early cert.pem`,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCollateralFetch(cmd, &f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.tee, "tee", "", `TEE of the --fmspc platforms and PCK certificate sources: "sgx" or "tdx"; "sev_snp" for AMD`)
	fl.StringVar(&f.kds, "kds", "", "SEV-SNP: AMD KDS base URL (default "+kds.DefaultBaseURL+")")
	fl.StringVar(&f.amdProduct, "amd-product", "", "SEV-SNP: product of version 2 reports, or of --tee sev_snp without SOURCE: Milan, Genoa or Turin")
	fl.StringVar(&f.signingKey, "signing-key", "vcek", `SEV-SNP: with --tee sev_snp and no SOURCE, the chain to fetch: "vcek" or "vlek"`)
	fl.StringSliceVar(&f.fmspcs, "fmspc", nil, "FMSPC of a platform, 12 hex digits (repeatable)")
	fl.StringVar(&f.ca, "ca", string(pcs.CAPlatform), `PCK CA of the --fmspc platforms: "processor" or "platform"`)
	fl.StringVar(&f.update, "update", string(pcs.UpdateStandard), `TCB update channel: "standard" or "early"`)
	fl.StringVar(&f.pccs, "pccs", "", "PCCS base URL (default Intel's PCS, "+pcs.DefaultBaseURL+")")
	fl.StringVar(&f.out, "out", "", "directory to write (created if needed; required)")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "time limit for fetching each platform")
	_ = cmd.MarkFlagRequired("out") // the flag exists
	return cmd
}

// fetchPlatform is one platform to fetch and the inputs that asked for it.
type fetchPlatform struct {
	req     pcs.Request
	sources []string
}

func inputError(format string, args ...any) error {
	return &exitError{code: exitInput, err: fmt.Errorf(format, args...)}
}

func runCollateralFetch(cmd *cobra.Command, f *collateralFetchFlags, args []string) error {
	if f.tee == "sev-snp" { // the name before 0.x; one name now, as in policies
		f.tee = teeSNP
	}
	if f.tee != "" && f.tee != string(pcs.TEESGX) && f.tee != string(pcs.TEETDX) && f.tee != teeSNP {
		return inputError(`--tee: want "sgx", "tdx" or "sev_snp", got %q`, f.tee)
	}
	snpRun, err := isSNPFetch(f, args)
	if err != nil {
		return err
	}
	if snpRun {
		return runSNPFetch(cmd, f, args)
	}
	for _, n := range []string{"kds", "amd-product", "signing-key"} {
		if cmd.Flags().Changed(n) {
			return inputError("--%s applies to SEV-SNP (--tee sev_snp or SEV-SNP report sources), not to Intel collateral", n)
		}
	}
	if f.ca != string(pcs.CAProcessor) && f.ca != string(pcs.CAPlatform) {
		return inputError(`--ca: want "processor" or "platform", got %q`, f.ca)
	}
	if f.update != string(pcs.UpdateStandard) && f.update != string(pcs.UpdateEarly) {
		return inputError(`--update: want "standard" or "early", got %q`, f.update)
	}
	if f.out == "" {
		return inputError("--out: empty directory name")
	}
	update := pcs.Update(f.update)
	caChanged := cmd.Flags().Changed("ca")

	var platforms []*fetchPlatform
	add := func(req pcs.Request, source string) {
		req.Update = update
		for _, p := range platforms {
			if p.req == req {
				p.sources = append(p.sources, source)
				return
			}
		}
		platforms = append(platforms, &fetchPlatform{req: req, sources: []string{source}})
	}

	if len(f.fmspcs) > 0 && f.tee == "" {
		return inputError("--fmspc needs --tee sgx or --tee tdx")
	}
	for _, s := range f.fmspcs {
		fmspc, err := parseFMSPC(s)
		if err != nil {
			return inputError("--fmspc %q: %v", s, err)
		}
		add(pcs.Request{TEE: pcs.TEE(f.tee), FMSPC: fmspc, CA: pcs.CA(f.ca)}, "--fmspc "+s)
	}
	for _, path := range args {
		reqs, err := platformsOf(path, pcs.TEE(f.tee))
		if err != nil {
			return &exitError{code: exitInput, err: err}
		}
		for _, req := range reqs {
			// Without --fmspc, --tee and --ca can only be meant for the
			// sources: a disagreement is a mistake worth reporting.
			if len(f.fmspcs) == 0 && f.tee != "" && req.TEE != pcs.TEE(f.tee) {
				return inputError("%s: the quote is %s but --tee says %s", path, req.TEE, f.tee)
			}
			if len(f.fmspcs) == 0 && caChanged && req.CA != pcs.CA(f.ca) {
				return inputError("%s: the PCK certificate is issued by the %s CA but --ca says %s", path, req.CA, f.ca)
			}
			add(req, path)
		}
	}
	if len(platforms) == 0 {
		return inputError("nothing to fetch: give SOURCE files or --tee and --fmspc")
	}

	client := pcs.NewClient(pcs.ClientConfig{BaseURL: f.pccs, UserAgent: "ratls/" + buildVersion().Version})
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	w := cmd.ErrOrStderr()
	failed := 0
	var firstErr error
	for i, p := range platforms {
		dir := f.out
		if len(platforms) > 1 {
			dir = filepath.Join(f.out, fmt.Sprintf("%s-%x-%s", p.req.TEE, p.req.FMSPC[:], p.req.CA))
		}
		stop := startProgress(w, fmt.Sprintf("[%d/%d] fetching %s from %s", i+1, len(platforms), p.req, client.BaseURL()))
		summary, err := fetchOne(ctx, client, p.req, dir, f.timeout)
		stop()
		if err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
			if len(platforms) > 1 { // a single failure is the command's error
				fmt.Fprintf(w, "%s: FAILED: %v\n", p.req, err)
			}
			continue
		}
		fmt.Fprintf(w, "%s: %s\n", p.req, summary)
	}
	switch {
	case failed == 0:
		return nil
	case len(platforms) == 1:
		return &exitError{code: exitInput, err: firstErr}
	default:
		return &exitError{code: exitInput, err: fmt.Errorf("%d of %d platforms failed; first: %w", failed, len(platforms), firstErr)}
	}
}

// fetchOne fetches and writes one platform and describes the result.
func fetchOne(ctx context.Context, client *pcs.Client, req pcs.Request, dir string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	col, err := client.Collateral(ctx, req)
	if err != nil {
		return "", err
	}
	if err := pcs.WriteDir(dir, col); err != nil {
		return "", err
	}
	until, what := pcs.EarliestNextUpdate(col)
	note := ""
	if !time.Now().Before(until) {
		note = ", ALREADY EXPIRED"
	}
	return fmt.Sprintf("wrote %s: tcbEvaluationDataNumber %d, valid until %s (%s nextUpdate)%s",
		dir, col.TCBInfo.TCBEvaluationDataNumber, until.UTC().Format(time.RFC3339), what, note), nil
}

func parseFMSPC(s string) ([6]byte, error) {
	var fmspc [6]byte
	if len(s) != 12 {
		return fmspc, fmt.Errorf("want 12 hex digits, got %d characters", len(s))
	}
	if _, err := hex.Decode(fmspc[:], []byte(s)); err != nil {
		return fmspc, fmt.Errorf("want 12 hex digits: %v", err)
	}
	return fmspc, nil
}

// platformsOf derives the platforms of a SOURCE file: every DCAP quote in
// it, or the PCK certificate it is (whose TEE is tee).
func platformsOf(path string, tee pcs.TEE) ([]pcs.Request, error) {
	r, err := inspect.File(path)
	if err != nil {
		return nil, err
	}
	var reqs []pcs.Request
	for i, it := range r.Items {
		if it.Quote == nil {
			continue
		}
		req, err := platformOfQuote(it)
		if err != nil {
			return nil, fmt.Errorf("%s: evidence item %d: %w", path, i, err)
		}
		if !slices.Contains(reqs, req) {
			reqs = append(reqs, req)
		}
	}
	if len(reqs) > 0 {
		return reqs, nil
	}
	if len(r.Certs) > 0 && hasSGXExtensions(r.Certs[0]) {
		if tee == "" {
			return nil, fmt.Errorf("%s: a PCK certificate does not say whether the platform is SGX or TDX: add --tee sgx or --tee tdx", path)
		}
		req, err := platformOfPCK(r.Certs[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		req.TEE = tee
		return []pcs.Request{req}, nil
	}
	kinds := make([]string, 0, len(r.Items))
	for _, it := range r.Items {
		kinds = append(kinds, fmt.Sprint(it.Kind))
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("%s: no DCAP quote and no PCK certificate", path)
	}
	return nil, fmt.Errorf("%s: no DCAP quote (found %s)", path, strings.Join(kinds, ", "))
}

func platformOfQuote(it *evidence.Item) (pcs.Request, error) {
	ders, err := it.Quote.Signature.Certification.PCKChainDER()
	if err != nil {
		return pcs.Request{}, err
	}
	if len(ders) == 0 {
		return pcs.Request{}, errors.New("the quote carries no PCK certificate")
	}
	leaf, err := x509.ParseCertificate(ders[0])
	if err != nil {
		return pcs.Request{}, fmt.Errorf("PCK certificate: %w", err)
	}
	req, err := platformOfPCK(leaf)
	if err != nil {
		return pcs.Request{}, err
	}
	req.TEE = pcs.TEESGX
	if it.Quote.IsTDX() {
		req.TEE = pcs.TEETDX
	}
	return req, nil
}

// platformOfPCK returns the FMSPC and CA of a PCK certificate.
func platformOfPCK(cert *x509.Certificate) (pcs.Request, error) {
	ext, err := pcs.ParsePCKExtensions(cert)
	if err != nil {
		return pcs.Request{}, err
	}
	ca, err := pcs.CAType(cert)
	if err != nil {
		return pcs.Request{}, err
	}
	return pcs.Request{FMSPC: ext.FMSPC, CA: ca}, nil
}

func hasSGXExtensions(cert *x509.Certificate) bool {
	for _, e := range cert.Extensions {
		if e.Id.Equal(pcs.OIDSGXExtensions) {
			return true
		}
	}
	return false
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
