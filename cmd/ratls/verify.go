package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/inspect"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/client"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/verify/amd"
	"github.com/ratls/ratls/verify/arm"
	azureverify "github.com/ratls/ratls/verify/azure"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/intel"
)

type verifyFlags struct {
	asJSON     bool
	at         string
	collateral string
	offline    bool
	pccs       string
	policy     string
	trustRoots []string
	onlyRoots  bool
	update     string
	pckChain   string
	sni        string
	timeout    time.Duration
	cacheDir   string
	amdCerts   string
	amdProduct string
	kdsURL     string
	ccaCPAK    string
	// cacheBytes bounds each cache of the verifiers (0: their defaults).
	cacheBytes int64
	// ccaPlatformOnly accepts Arm CCA platform tokens alone.
	ccaPlatformOnly bool
	// With --verifier the evidence is appraised by a verification
	// service instead of locally.
	verifier      string
	verifierToken string
	policyName    string
	// mediaType, with --verifier, sends SOURCE as it is with this type.
	mediaType string
}

func newVerifyCommand() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify [flags] SOURCE",
		Short: "Verify an RA-TLS certificate or TEE evidence and appraise it against a policy",
		Long: `Verify checks the evidence in SOURCE completely — signatures, certificate
chains to the vendor root, revocation, collateral validity, the TCB level —
checks that it binds the certificate's key, and appraises the result against
a policy (default: TCB UpToDate only, no debug TEEs, key bound).

SOURCE is as for "ratls inspect": a certificate file, a raw evidence file or
host:port.

Collateral (Intel TCB Info, QE Identity, CRLs) comes from, in order: the
certificate's endorsements extension; --collateral (a directory in the
"ratls collateral fetch" layout, or a dcap-qvl collateral JSON file); Intel's
PCS or the PCCS given with --pccs, with an on-disk cache (unless --offline).

With --verifier URL the evidence is not verified here: it is sent to the
verification service at URL ("ratls verifier serve", POST /v1/attest), whose
signed EAR result is checked against the service's keys (/v1/keys) and
shown. The policy is then the service's: its default, or the stored policy
named with --policy-name. The local verification flags do not apply.

Exit status: 0 when the policy accepts the evidence, 1 when it rejects it
(including verification that could not complete), 2 for unusable input
(and, with --verifier, when the service fails or cannot be trusted).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runVerify(cmd, args[0], &f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.asJSON, "json", false, "print the report as JSON (fields documented in docs/cli.md)")
	fl.StringVar(&f.at, "at", "", "verification time, RFC 3339 (default: now)")
	fl.StringVar(&f.collateral, "collateral", "", "offline Intel collateral: a directory or a dcap-qvl collateral JSON file")
	fl.BoolVar(&f.offline, "offline", false, "never use the network for collateral")
	fl.StringVar(&f.pccs, "pccs", "", "PCCS base URL to fetch collateral from instead of Intel's PCS")
	fl.StringVar(&f.update, "update", "standard", "Intel TCB update channel: standard or early")
	fl.StringVar(&f.policy, "policy", "", "appraisal policy file (JSON, see docs/policy.md)")
	fl.StringArrayVar(&f.trustRoots, "trust-root", nil, "additional trusted root certificate (PEM); repeatable")
	fl.BoolVar(&f.onlyRoots, "only-trust-roots", false, "trust only the --trust-root certificates, not Intel's root")
	fl.StringVar(&f.pckChain, "pck-chain", "", "PCK certificate chain (PEM) for quotes that carry only a PPID")
	fl.StringVar(&f.cacheDir, "cache-dir", defaultCacheDir(), "collateral cache directory (empty disables the disk cache)")
	f.addOtherTEEFlags(fl)
	fl.StringVar(&f.sni, "sni", "", "server name to send when SOURCE is host:port")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "network timeout")
	fl.StringVar(&f.verifier, "verifier", "", "appraise with the verification service at this URL instead of locally")
	fl.StringVar(&f.verifierToken, "verifier-token", "", "with --verifier: API token, if the service requires one (default: $"+envVerifierToken+")")
	fl.StringVar(&f.policyName, "policy-name", "", "with --verifier: stored policy to appraise with, NAME or NAME@VERSION (default: the service's)")
	fl.StringVar(&f.mediaType, "media-type", "", "with --verifier: send SOURCE's bytes as they are, as this evidence media type (default: detected)")
	return cmd
}

func defaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "ratls", "collateral")
}

func inputErr(format string, args ...any) error {
	return &exitError{code: exitInput, err: fmt.Errorf(format, args...)}
}

func runVerify(cmd *cobra.Command, source string, f *verifyFlags) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if err := f.checkVerifierFlags(cmd.Flags()); err != nil {
		return err
	}
	if f.verifier != "" {
		return runRemoteVerify(ctx, cmd.OutOrStdout(), source, f)
	}
	opt, err := f.options()
	if err != nil {
		return err
	}
	report, err := inspect.Source(ctx, source, &inspect.Options{SNI: f.sni, Timeout: f.timeout})
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	var v *ratls.Verification
	switch {
	case len(report.Certs) > 0:
		if v, err = ratls.VerifyCertificate(ctx, report.Certs[0], opt); err != nil {
			return &exitError{code: exitInput, err: err}
		}
	case len(report.Items) > 0:
		v = ratls.VerifyEvidence(ctx, report.Items[0], opt)
	default:
		return inputErr("%s: no evidence found", source)
	}
	out := &verifyReport{Report: report, Verification: describeVerification(v)}
	if f.asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		writeVerification(cmd.OutOrStdout(), out)
	}
	return verdictError("evidence rejected", v)
}

// verdictError is the exit error of a verification that is not accepted:
// "could not verify" when collateral was unavailable, which is no verdict
// about the TEE, otherwise rejected with the first reason.
func verdictError(rejected string, v *ratls.Verification) error {
	if v.Accepted() {
		return nil
	}
	if err := v.CollateralUnavailable(); err != nil {
		return &exitError{code: exitRejected, err: err}
	}
	return &exitError{code: exitRejected, err: fmt.Errorf("%s: %s", rejected, appraise.RejectionSummary(v.Appraisal.Status, v.Appraisal.Reasons))}
}

// options turns flags into verification options.
func (f *verifyFlags) options() (*ratls.VerifyOptions, error) {
	opt := &ratls.VerifyOptions{TEE: []tee.Options{&dcap.Options{Update: pcs.Update(f.update)}}}
	if f.update != string(pcs.UpdateStandard) && f.update != string(pcs.UpdateEarly) {
		return nil, inputErr("--update: want standard or early, got %q", f.update)
	}
	if f.at != "" {
		t, err := time.Parse(time.RFC3339, f.at)
		if err != nil {
			return nil, inputErr("--at: want an RFC 3339 time such as 2025-07-19T10:00:00Z: %v", err)
		}
		opt.Now = t
	}
	if f.policy != "" {
		p, err := appraise.LoadPolicy(f.policy)
		if err != nil {
			return nil, inputErr("--policy: %v", err)
		}
		opt.Policy = p
	}
	var roots []*x509.Certificate
	for _, path := range f.trustRoots {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, inputErr("--trust-root: %v", err)
		}
		certs, err := pcs.ParsePEMChain(b)
		if err != nil {
			return nil, inputErr("--trust-root %s: %v", path, err)
		}
		roots = append(roots, certs...)
	}
	if f.onlyRoots && len(roots) == 0 {
		return nil, inputErr("--only-trust-roots needs at least one --trust-root")
	}
	if len(roots) > 0 {
		dcapOptions(opt).Verifier = intel.NewVerifier(&intel.Config{ExtraRoots: roots, WithoutIntelRoot: f.onlyRoots, CacheBytes: f.cacheBytes})
	}
	if f.pckChain != "" {
		b, err := os.ReadFile(f.pckChain)
		if err != nil {
			return nil, inputErr("--pck-chain: %v", err)
		}
		dcapOptions(opt).PCKChainPEM = b
	}
	if err := f.otherTEEOptions(opt); err != nil {
		return nil, err
	}
	switch {
	case f.collateral != "":
		if err := f.offlineCollateral(opt, roots); err != nil {
			return nil, err
		}
	case !f.offline:
		p, err := onlineProvider(f, opt.Now)
		if err != nil {
			return nil, inputErr("%v", err)
		}
		dcapOptions(opt).Collateral = p
	}
	return opt, nil
}

type verifyReport struct {
	*inspect.Report
	Verification *verificationJSON `json:"verification"`
}

// verificationJSON is the "verification" object of ratls verify --json.
type verificationJSON struct {
	Status                 string                `json:"status"`
	PolicyID               string                `json:"policy_id"`
	TCBStatus              string                `json:"tcb_status,omitempty"`
	AdvisoryIDs            []string              `json:"advisory_ids"`
	TCBDate                string                `json:"tcb_date,omitempty"`
	TCB                    *intel.TCB            `json:"tcb,omitempty"`
	FMSPC                  string                `json:"fmspc,omitempty"`
	TrustAnchor            *intel.Anchor         `json:"trust_anchor,omitempty"`
	Collateral             *intel.CollateralInfo `json:"collateral,omitempty"`
	ValidFrom              string                `json:"valid_from,omitempty"`
	ValidUntil             string                `json:"valid_until,omitempty"`
	KeyBinding             string                `json:"key_binding"`
	Checks                 checks.List           `json:"checks"`
	SNP                    *amd.Result           `json:"sev_snp,omitempty"`
	CCA                    *arm.Result           `json:"cca,omitempty"`
	Azure                  *azureverify.Result   `json:"azure_vtpm,omitempty"`
	MeasuredBoot           *measuredBootJSON     `json:"measured_boot,omitempty"`
	Reasons                []appraise.Reason     `json:"reasons"`
	ReferenceValuesChecked bool                  `json:"reference_values_checked"`
	Notes                  []string              `json:"notes,omitempty"`
	Error                  string                `json:"error,omitempty"`
	// Unverified says why there is no verdict (status "unverified").
	Unverified *unverifiedJSON `json:"unverified,omitempty"`
}

// statusUnverified is the status of a verification that could not
// complete for a reason that is no verdict about the TEE.
const statusUnverified = "unverified"

// Classes of unverified results.
const classCollateralUnavailable = "collateral-unavailable"

// unverifiedJSON is why a verification could not complete.
type unverifiedJSON struct {
	Class   string `json:"class"`
	Message string `json:"message"`
	// RetryAfter is when to try again, in seconds, when known.
	RetryAfter int `json:"retry_after,omitempty"`
}

// collateralUnavailable describes a verification whose collateral could
// not be fetched: its reasons are dropped, as they would be a verdict on
// checks that could not run.
func (out *verificationJSON) collateralUnavailable(err error) {
	out.Status, out.Reasons = statusUnverified, []appraise.Reason{}
	out.Unverified = &unverifiedJSON{Class: classCollateralUnavailable, Message: err.Error()}
	var ce *ratls.CollateralUnavailableError
	if errors.As(err, &ce) && ce.RetryAfter > 0 {
		out.Unverified.RetryAfter = int(math.Ceil(ce.RetryAfter.Seconds()))
	}
}

func describeVerification(v *ratls.Verification) *verificationJSON {
	out := &verificationJSON{
		Status: string(v.Appraisal.Status), PolicyID: v.Appraisal.PolicyID, Reasons: v.Appraisal.Reasons,
		ReferenceValuesChecked: v.Appraisal.ReferenceValuesChecked, Notes: v.Appraisal.Notes,
		AdvisoryIDs: []string{}, Checks: checks.List{}, KeyBinding: string(evidence.BindingNotApplicable),
	}
	if v.Binding != nil {
		out.KeyBinding = string(v.Binding.Status)
	}
	if v.Err != nil {
		out.Error = v.Err.Error()
	}
	if err := v.CollateralUnavailable(); err != nil {
		out.collateralUnavailable(err)
	}
	// What every TEE family reports, then what one verifier says beyond it.
	out.Checks = append(out.Checks, v.Checks()...)
	out.MeasuredBoot = describeMeasuredBoot(v)
	switch r := v.Result.(type) {
	case *amd.Result:
		out.SNP = r
		out.ValidFrom, out.ValidUntil = fmtWindow(r.Valid.From), fmtWindow(r.Valid.Until)
	case *arm.Result:
		out.CCA = r
	case *azureverify.Result:
		describeAzure(r, out)
	case *intel.Result:
		describeIntel(r, out)
	}
	return out
}

// describeIntel adds what the Intel verifier says of a quote: its
// platform, trust anchor, collateral and TCB level.
func describeIntel(r *intel.Result, out *verificationJSON) {
	out.FMSPC, out.TrustAnchor, out.Collateral = r.FMSPC, r.TrustAnchor, r.Collateral
	if !r.Valid.From.IsZero() {
		out.ValidFrom, out.ValidUntil = r.Valid.From.UTC().Format(time.RFC3339), r.Valid.Until.UTC().Format(time.RFC3339)
	}
	if t := r.TCB; t != nil {
		out.TCB, out.TCBStatus, out.AdvisoryIDs = t, string(t.Status), t.AdvisoryIDs
		if !t.Date.IsZero() {
			out.TCBDate = t.Date.UTC().Format(time.RFC3339)
		}
	}
}

func fmtWindow(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func writeVerification(w io.Writer, r *verifyReport) {
	writeReportBody(w, r.Report)
	v := r.Verification
	p := &printer{w: w}
	p.section("Verification")
	for _, c := range v.Checks {
		mark := "ok  "
		switch {
		case c.NotApplicable:
			mark = "n/a "
		case !c.OK && v.Unverified != nil:
			mark = "n/r " // not run: its input could not be had
		case !c.OK:
			mark = "FAIL"
		}
		p.line(1, mark+" "+c.Name, c.Detail)
	}
	if v.TCBStatus != "" {
		p.line(1, "TCB status", tcbStatusLine(v.TCBStatus, v.TCBDate, v.AdvisoryIDs))
	}
	if v.TrustAnchor != nil {
		p.line(1, "trust anchor", intelAnchorLine(v.TrustAnchor))
	}
	if s := v.SNP; s != nil && s.TrustAnchor != nil {
		p.line(1, "trust anchor", amdAnchorLine(s))
	}
	if c := v.CCA; c != nil {
		p.line(1, "platform", fmt.Sprintf("lifecycle %s, CPAK SHA-256 %s", c.LifecycleState, c.CPAKSHA256))
	}
	if v.ValidUntil != "" {
		p.line(1, "valid", v.ValidFrom+" .. "+v.ValidUntil)
	}
	p.line(1, "key binding", v.KeyBinding)
	writeMeasuredBoot(p, v.MeasuredBoot)
	if u := v.Unverified; u != nil {
		p.section("Not verified")
		p.line(1, u.Class, u.Message)
		p.line(1, "note", "this is no verdict about the TEE: try again later")
		fmt.Fprintf(w, "\nResult: COULD NOT VERIFY (%s)\n", strings.ReplaceAll(u.Class, "-", " "))
		return
	}
	p.section("Appraisal (policy " + v.PolicyID + ")")
	for _, rs := range v.Reasons {
		p.line(1, string(rs.Status)+" "+rs.Check, reasonLine(rs))
	}
	for _, n := range v.Notes {
		p.line(1, "note", n)
	}
	fmt.Fprintf(w, "\nResult: %s\n", strings.ToUpper(string(v.Status)))
}

// addOtherTEEFlags registers the SEV-SNP and Arm CCA flags shared by
// verify and connect.
func (f *verifyFlags) addOtherTEEFlags(fl *pflag.FlagSet) {
	fl.StringVar(&f.amdCerts, "amd-certs", "", "SEV-SNP: directory with vcek.pem or vlek.pem, ask.pem or asvk.pem, ark.pem (optional vcek-crl.der, vlek-crl.der); default: AMD's KDS unless --offline")
	fl.StringVar(&f.amdProduct, "amd-product", "", "SEV-SNP: product of version 2 reports (Milan, Genoa, Turin)")
	fl.StringVar(&f.kdsURL, "kds", "", "SEV-SNP: base URL of AMD's KDS or a mirror of it (default "+kds.DefaultBaseURL+")")
	fl.StringVar(&f.ccaCPAK, "cca-cpak", "", "Arm CCA: the platform attestation public key, PEM or JWK (Veraison's form); keys in the policy's cca.platform_keys come first")
	fl.BoolVar(&f.ccaPlatformOnly, "cca-allow-platform-only", false, "Arm CCA: accept a platform token without a realm token")
}

// otherTEEOptions fills the SEV-SNP and Arm CCA options.
func (f *verifyFlags) otherTEEOptions(opt *ratls.VerifyOptions) error {
	sevsnpOptions(opt).Product = f.amdProduct
	ccaOptions(opt).AllowPlatformOnly = f.ccaPlatformOnly
	switch {
	case f.amdCerts != "":
		c, err := kds.LoadDir(f.amdCerts)
		if err != nil {
			return inputErr("--amd-certs: %v", err)
		}
		sevsnpOptions(opt).Certificates = kds.Static{C: c}
	case !f.offline:
		cc := kds.CacheConfig{}
		if f.cacheDir != "" {
			cc.Dir = filepath.Join(filepath.Dir(f.cacheDir), "amd")
		}
		if !opt.Now.IsZero() {
			now := opt.Now
			cc.Now = func() time.Time { return now }
		}
		sevsnpOptions(opt).Certificates = kds.NewCache(f.kdsClient(), cc)
	}
	if f.ccaCPAK != "" {
		b, err := os.ReadFile(f.ccaCPAK)
		if err != nil {
			return inputErr("--cca-cpak: %v", err)
		}
		key, err := arm.ParsePublicKey(b)
		if err != nil {
			return inputErr("--cca-cpak %s: %v", f.ccaCPAK, err)
		}
		ccaOptions(opt).Key = key
	}
	return nil
}

// kdsClient fetches SEV-SNP certificates from --kds (default AMD's KDS).
func (f *verifyFlags) kdsClient() *kds.Client {
	return kds.NewClient(kds.ClientConfig{BaseURL: f.kdsURL, HTTPClient: &http.Client{Timeout: f.timeout}})
}

// onlineProvider fetches collateral from Intel's PCS (or --pccs) through a
// cache in --cache-dir.
// With --at the cache judges expiry at that time too.
func onlineProvider(f *verifyFlags, at time.Time) (pcs.Provider, error) {
	cfg := pcs.ClientConfig{BaseURL: f.pccs, HTTPClient: &http.Client{Timeout: f.timeout}}
	cc := pcs.CacheConfig{Dir: f.cacheDir}
	if !at.IsZero() {
		cc.Now = func() time.Time { return at }
	}
	return pcs.NewCache(pcs.NewClient(cfg), cc), nil
}

// ---- verify --verifier: appraisal by a verification service ----

// envVerifierToken is read when --verifier-token is not given, so that the
// token need not appear in the process list.
const envVerifierToken = "RATLS_VERIFIER_TOKEN"

// localOnlyFlags configure local verification; with --verifier the service
// decides them, so giving one is a mistake worth reporting.
var localOnlyFlags = []string{"at", "collateral", "offline", "pccs", "update", "policy", "trust-root", "only-trust-roots",
	"pck-chain", "cache-dir", "amd-certs", "amd-product", "kds", "cca-cpak", "cca-allow-platform-only"}

func (f *verifyFlags) checkVerifierFlags(fl *pflag.FlagSet) error {
	if f.verifier == "" {
		for _, n := range []string{"verifier-token", "policy-name", "media-type"} {
			if fl.Changed(n) {
				return inputErr("--%s needs --verifier", n)
			}
		}
		return nil
	}
	for _, n := range localOnlyFlags {
		if fl.Changed(n) {
			return inputErr("--%s configures local verification; it does not apply with --verifier (the service's settings do)", n)
		}
	}
	return nil
}

// remoteReport is the output of verify --verifier --json.
type remoteReport struct {
	Source    string `json:"source"`
	Input     string `json:"input,omitempty"`
	Service   string `json:"service"`
	MediaType string `json:"media_type"`
	// Result is read from the verified EAR.
	Result *remoteResult `json:"result"`
	// EAR is the verified EAR's claims; Token the EAR itself.
	EAR   *ear.EAR `json:"ear"`
	Token string   `json:"ear_token"`
	KeyID string   `json:"key_id,omitempty"`
	// Problem is the service's rejection (HTTP 422), when it rejected, or
	// why it could not verify (503 collateral-unavailable).
	Problem *api.Problem `json:"problem,omitempty"`
	// Unverified says why there is no verdict, when the service could not
	// verify the evidence.
	Unverified *unverifiedJSON `json:"unverified,omitempty"`
}

type remoteResult struct {
	Status   ear.Status        `json:"status"`
	TEE      string            `json:"tee"`
	PolicyID string            `json:"policy_id"`
	Reasons  []appraise.Reason `json:"reasons"`
}

// runRemoteVerify sends the evidence of source to the service's
// POST /v1/attest, verifies the EAR it answers with against the service's
// keys and reports it.
func runRemoteVerify(ctx context.Context, w io.Writer, source string, f *verifyFlags) error {
	report, mt, body, err := f.remoteInput(ctx, source)
	if err != nil {
		return err
	}
	token := f.verifierToken
	if token == "" {
		token = os.Getenv(envVerifierToken)
	}
	c := &client.Client{BaseURL: f.verifier, HTTPClient: &http.Client{Timeout: f.timeout}, Token: token}
	out := &remoteReport{Source: report.Source, Input: report.Input, Service: f.verifier, MediaType: mt}

	res, err := c.Attest(ctx, &api.AttestRequest{MediaType: mt, Evidence: body, Policy: f.policyName})
	var prob *api.Problem
	switch {
	case errors.As(err, &prob) && prob.Type == api.ProblemTypeBase+api.ProblemCollateralUnavailable:
		// Not verified: no verdict, and nothing signed to check.
		out.Problem = prob
		out.Unverified = &unverifiedJSON{Class: classCollateralUnavailable, Message: prob.Detail, RetryAfter: prob.RetryAfter}
		if err := out.write(w, f.asJSON); err != nil {
			return err
		}
		return &exitError{code: exitRejected, err: fmt.Errorf("%w at the service; retry after %d s", ratls.ErrCollateralUnavailable, prob.RetryAfter)}
	case errors.As(err, &prob) && prob.Status == http.StatusUnprocessableEntity:
		out.Problem = prob
		if prob.EAR == "" {
			// Evidence the service recognizes but cannot verify: a
			// rejection without a signed result.
			if err := out.write(w, f.asJSON); err != nil {
				return err
			}
			return &exitError{code: exitRejected, err: fmt.Errorf("evidence rejected by the service: %v", prob)}
		}
		out.Token = prob.EAR
	case err != nil:
		return &exitError{code: exitInput, err: err}
	default:
		out.Token = res.EAR
	}
	e, err := c.VerifyEAR(ctx, out.Token)
	if err != nil {
		return &exitError{code: exitInput, err: fmt.Errorf("the service's result cannot be trusted: %w", err)}
	}
	out.EAR, out.KeyID = e, earKeyID(out.Token)
	if out.Result, err = resultOf(e); err != nil {
		return &exitError{code: exitInput, err: fmt.Errorf("the service's result: %w", err)}
	}
	// The unsigned members of the answer must say what the EAR says.
	if res != nil && (string(out.Result.Status) != res.Status || out.Result.TEE != res.TEE || out.Result.PolicyID != res.PolicyID) {
		return &exitError{code: exitInput, err: fmt.Errorf("the service's answer (status %s, TEE %s, policy %s) disagrees with its signed EAR (status %s, TEE %s, policy %s)",
			res.Status, res.TEE, res.PolicyID, out.Result.Status, out.Result.TEE, out.Result.PolicyID)}
	}
	if err := out.write(w, f.asJSON); err != nil {
		return err
	}
	switch out.Result.Status {
	case ear.StatusAffirming, ear.StatusWarning:
		if prob != nil {
			return &exitError{code: exitInput, err: fmt.Errorf("the service rejected evidence whose signed EAR says %s", out.Result.Status)}
		}
		return nil
	}
	why := appraise.RejectionSummary(out.Result.Status, out.Result.Reasons)
	return &exitError{code: exitRejected, err: fmt.Errorf("evidence rejected by the service (policy %s): %s", out.Result.PolicyID, why)}
}

// write prints the report, as JSON or for a person.
func (r *remoteReport) write(w io.Writer, asJSON bool) error {
	if asJSON {
		return writeJSONReport(w, r)
	}
	writeRemote(w, r)
	return nil
}

func writeJSONReport(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// resultOf reads the appraisal of a service's EAR: one submodule, or the
// submodules of one TEE (Arm CCA's platform and realm), as one result: the
// worst status, and each reason once.
func resultOf(e *ear.EAR) (*remoteResult, error) {
	if len(e.Submods) == 0 {
		return nil, errors.New("the EAR has no submodule")
	}
	out := &remoteResult{Status: ear.StatusNone, Reasons: []appraise.Reason{}}
	seen := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(e.Submods)) {
		a := e.Submods[name]
		tee, ok := api.SubmoduleTEE[name]
		if !ok {
			tee = name
		}
		if out.TEE != "" && (tee != out.TEE || a.PolicyID != out.PolicyID) {
			return nil, fmt.Errorf("the EAR's submodules are about different TEEs or policies: %v", slices.Sorted(maps.Keys(e.Submods)))
		}
		out.TEE, out.PolicyID, out.Status = tee, a.PolicyID, out.Status.Worse(a.Status)
		for _, r := range a.Reasons {
			if k := string(r.Status) + " " + r.Check + ": " + r.Message; !seen[k] {
				seen[k] = true
				out.Reasons = append(out.Reasons, r)
			}
		}
	}
	return out, nil
}

// earKeyID reads the kid of a JWT's header, for display; "" if unreadable.
func earKeyID(token string) string {
	h, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	json.Unmarshal(b, &hdr)
	return hdr.Kid
}

// remoteEvidence returns the evidence of a source and its media type for
// the service: a certificate's DER, or raw evidence as the bytes given
// (decoded from hex or base64 text as "ratls inspect" does).
func remoteEvidence(source string, r *inspect.Report) (string, []byte, error) {
	if len(r.Items) == 0 {
		return "", nil, inputErr("%s: no evidence found", source)
	}
	if r.Source == inspect.SourceCertificate {
		return api.MediaCertificateDER, r.Certs[0].Raw, nil
	}
	fh, err := os.Open(source)
	if err != nil {
		return "", nil, inputErr("%v", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, inspect.MaxInputSize+1))
	if err != nil {
		return "", nil, inputErr("%v", err)
	}
	if len(b) > inspect.MaxInputSize {
		return "", nil, inputErr("%s: file exceeds the limit of %d bytes", source, inspect.MaxInputSize)
	}
	b = inspect.DecodeText(b)
	items, err := evidence.ParseRaw(b)
	if err != nil {
		return "", nil, inputErr("%s: %v", source, err)
	}
	it := items[0]
	switch {
	case it.Format == evidence.FormatCMW:
		if t := bytes.TrimSpace(b); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
			return api.MediaCMWJSON, b, nil
		}
		return api.MediaCMWCBOR, b, nil
	case it.Format != evidence.FormatRaw:
		return api.MediaTaggedEvidence, b, nil
	case it.Quote != nil:
		return api.MediaDCAPQuote, b, nil
	case it.SNP != nil:
		return api.MediaSNPReport, b, nil
	case it.CCA != nil:
		return api.MediaCCAToken, b, nil
	}
	return "", nil, inputErr("%s: %s evidence cannot be sent to a verification service (it takes DCAP quotes, SEV-SNP reports, Arm CCA tokens, tagged evidence, CMWs and certificates)", source, it.Kind)
}

func writeRemote(w io.Writer, r *remoteReport) {
	p := &printer{w: w}
	if r.Input != "" {
		p.line(0, "Source", fmt.Sprintf("%s (%s)", r.Input, r.Source))
	}
	p.section("Verification service")
	p.line(1, "service", r.Service)
	p.line(1, "sent as", r.MediaType)
	if u := r.Unverified; u != nil {
		p.line(1, "not verified", u.Message)
		fmt.Fprintf(w, "\nResult: COULD NOT VERIFY (%s at the service; retry after %d s)\n", strings.ReplaceAll(u.Class, "-", " "), u.RetryAfter)
		return
	}
	if r.EAR == nil {
		if pr := r.Problem; pr != nil {
			p.line(1, "rejected", pr.Error())
		}
		fmt.Fprintf(w, "\nResult: REJECTED (no attestation result)\n")
		return
	}
	p.line(1, "EAR", fmt.Sprintf("signature verified with key %s of %s", r.KeyID, r.Service+api.PathKeys))
	p.line(1, "verifier", strings.TrimSpace(r.EAR.VerifierID.Build)+" ("+r.EAR.VerifierID.Developer+")")
	p.line(1, "issued at", time.Unix(r.EAR.IssuedAt, 0).UTC().Format(time.RFC3339))
	p.line(1, "TEE", r.Result.TEE)
	for _, name := range slices.Sorted(maps.Keys(r.EAR.Submods)) {
		label := "trust vector"
		if len(r.EAR.Submods) > 1 {
			label += " " + name
		}
		if tv := r.EAR.Submods[name].TrustVector; tv != nil {
			p.line(1, label, fmt.Sprintf("instance-identity %d, configuration %d, executables %d, hardware %d, runtime-opaque %d",
				tv.InstanceIdentity, tv.Configuration, tv.Executables, tv.Hardware, tv.RuntimeOpaque))
		}
	}
	p.section("Appraisal (policy " + r.Result.PolicyID + ")")
	for _, rs := range r.Result.Reasons {
		p.line(1, string(rs.Status)+" "+rs.Check, reasonLine(rs))
	}
	fmt.Fprintf(w, "\nResult: %s\n", strings.ToUpper(string(r.Result.Status)))
}
