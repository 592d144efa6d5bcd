package service

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	teefamily "github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/sevsnp"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/intel"
)

// submission is evidence to appraise, from a session or the native API.
type submission struct {
	mediaType string
	body      []byte
	nonce     []byte
	policy    string // policy reference; "" for the default
	client    string
	session   string
}

// outcome is an appraisal turned into a signed EAR.
type outcome struct {
	token    string
	status   ear.Status
	tee      string
	policyID string
	reasons  []appraise.Reason
	// entry is the appraisal log entry of a session's appraisal, which
	// the session logs as it finishes; nil when already logged.
	entry *store.Appraisal
}

// parsed is evidence read according to its media type.
type parsed struct {
	cert     *x509.Certificate
	item     *evidence.Item
	amdCerts *kds.Certificates // from a configfs-tsm auxblob
}

// verdict is an appraisal's conclusion, to be signed.
type verdict struct {
	tee      string // "" for evidence that could not be read
	policyID string
	reasons  []appraise.Reason
	submods  map[string]*ear.Appraisal
	at       time.Time
}

// appraise runs the pipeline: parse, verify and appraise, sign, log. A
// problem error is the client's fault; any other error is ours.
func (s *Server) appraise(ctx context.Context, sub *submission) (*outcome, error) {
	t0 := time.Now()
	ev, err := parseEvidence(sub.mediaType, sub.body)
	if err != nil {
		return nil, err
	}
	pol, err := s.policies.resolve(ctx, sub.policy, s.cfg.DefaultPolicy)
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	s.metrics.stage("parse", t1.Sub(t0))
	// From here on an appraisal log entry follows (unless it fails).
	s.announce(sub)
	issuing := false
	defer func() {
		if !issuing {
			s.withdraw(sub)
		}
	}()

	opt := s.cfg.Verify
	opt.Policy, opt.Nonce, opt.Now = pol, sub.nonce, s.now()
	if ev.amdCerts != nil {
		// The auxblob's certificates only fill gaps; its CRL adds revocations.
		opt.TEE = sevsnp.WithPeer(opt.TEE, ev.amdCerts)
	}
	var v *ratls.Verification
	if ev.cert != nil {
		if v, err = ratls.VerifyCertificate(ctx, ev.cert, &opt); err != nil {
			return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", "%v", err)
		}
		if v.Item == nil {
			return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence",
				"the certificate carries no RA-TLS evidence that can be verified")
		}
	} else {
		v = ratls.VerifyEvidence(ctx, ev.item, &opt)
	}
	tee := v.TEE
	if tee == "" {
		return nil, problem(http.StatusUnprocessableEntity, probUnsupported, "Unsupported evidence",
			"%s evidence is recognized but cannot be verified: %s", v.Item.Kind, v.Item.Note)
	}
	if err := v.CollateralUnavailable(); err != nil {
		return nil, s.collateralUnavailable(ctx, sub, tee, err)
	}
	s.hideSources(ctx, sub, v.Appraisal.Reasons)
	s.metrics.stage("verify", time.Since(t1))
	issuing = true
	return s.issue(ctx, sub, &verdict{tee: tee, policyID: pol.ID, reasons: v.Appraisal.Reasons, at: opt.Now,
		submods: v.Submodules(pol)})
}

// isEvidenceProblem reports whether a problem is about the evidence itself
// (it does not parse, is not what its media type says, or cannot be
// verified), as opposed to the request.
func isEvidenceProblem(p *problemError) bool {
	switch p.Type {
	case api.ProblemTypeBase + probMalformed, api.ProblemTypeBase + probMediaMismatch, api.ProblemTypeBase + probUnsupported:
		return true
	}
	return false
}

// unreadable signs the verdict on evidence that could not be read or
// verified (pe says why), as Veraison's verifier gives it: a contraindicated
// result with every claim 99 (cryptographic validation failed), the
// problem in ear.veraison.policy-claims, in a submodule named after the
// scheme the media type implies.
func (s *Server) unreadable(ctx context.Context, sub *submission, pe *problemError) (*outcome, error) {
	pol, err := s.policies.resolve(ctx, sub.policy, s.cfg.DefaultPolicy)
	if err != nil {
		return nil, err
	}
	media := lookupMedia(sub.mediaType)
	if media == nil {
		return nil, pe // not evidence of a type the service takes
	}
	s.announce(sub)
	r := appraise.Reason{Check: ratls.CheckEvidence, Category: checks.Hardware, State: checks.Failed,
		Expected: "evidence that can be verified as " + media.name, Actual: strings.TrimPrefix(pe.Type, api.ProblemTypeBase),
		Message: pe.Detail, Status: appraise.Contraindicated}
	a := ear.FromReasons(appraise.Contraindicated, pol.ID, []appraise.Reason{r}, nil)
	a.TrustVector = &ear.TrustVector{InstanceIdentity: ear.CryptoFailed, Configuration: ear.CryptoFailed,
		Executables: ear.CryptoFailed, FileSystem: ear.CryptoFailed, Hardware: ear.CryptoFailed,
		RuntimeOpaque: ear.CryptoFailed, StorageOpaque: ear.CryptoFailed, SourcedData: ear.CryptoFailed}
	return s.issue(ctx, sub, &verdict{policyID: pol.ID, reasons: a.Reasons, at: s.now(),
		submods: map[string]*ear.Appraisal{media.submodule(sub.body): a}})
}

// announce tells the log writer that the appraisal log entry of a native
// API appraisal follows, so that it may wait for it to commit it with
// others. A session's entry goes with the session's outcome instead
// (outcome.entry, store.SessionOutcome), in one transaction.
func (s *Server) announce(sub *submission) {
	if sub.session == "" {
		s.log.begin()
	}
}

// withdraw withdraws an announced entry that will not be logged.
func (s *Server) withdraw(sub *submission) {
	if sub.session == "" {
		s.log.end()
	}
}

// issue signs a verdict and logs it, or for a session returns its log
// entry in the outcome. The caller has announced the entry (s.announce);
// issue adds or withdraws it.
func (s *Server) issue(ctx context.Context, sub *submission, vd *verdict) (*outcome, error) {
	t0 := time.Now()
	e := &ear.EAR{IssuedAt: vd.at.Unix(), VerifierID: s.cfg.VerifierID, Submods: vd.submods}
	if sub.nonce != nil {
		// Padded, as Veraison encodes eat_nonce (vts/appraisal).
		e.Nonce = base64.URLEncoding.EncodeToString(sub.nonce)
	}
	token, err := s.signer.Sign(e)
	if err != nil {
		s.withdraw(sub)
		return nil, fmt.Errorf("signing the EAR: %w", err)
	}
	status := ear.StatusNone
	for _, a := range vd.submods {
		status = status.Worse(a.Status)
	}
	t1 := time.Now()
	s.metrics.stage("sign", t1.Sub(t0))

	reasons, _ := json.Marshal(vd.reasons)
	sum := sha256.Sum256(sub.body)
	tee := vd.tee
	if tee == "" {
		tee = "unreadable"
	}
	s.metrics.outcome(tee, string(status))
	out := &outcome{token: string(token), status: status, tee: vd.tee, policyID: vd.policyID, reasons: vd.reasons}
	entry := &store.Appraisal{
		Time: vd.at.UTC(), SessionID: sub.session, Client: sub.client, MediaType: baseMediaType(sub.mediaType),
		TEE: vd.tee, Status: string(status), PolicyID: vd.policyID, Reasons: reasons, EvidenceHash: sum[:],
	}
	if sub.session != "" {
		// Logged in the transaction that completes the session.
		out.entry = entry
		return out, nil
	}
	if err := s.log.add(ctx, entry); err != nil {
		return nil, fmt.Errorf("appraisal log: %w", err)
	}
	s.metrics.stage("store", time.Since(t1))
	return out, nil
}

// defaultCollateralRetry is the Retry-After of a collateral-unavailable
// answer when the collateral cache does not say when it asks again.
const defaultCollateralRetry = 10 * time.Second

// collateralUnavailable is the answer to evidence that could not be
// verified because a collateral source is unavailable: 503 with when to
// try again, and no EAR, as there is no verdict about the TEE. The cause
// names the service's sources (URLs, resolver addresses): it is logged,
// not returned.
func (s *Server) collateralUnavailable(ctx context.Context, sub *submission, tee string, err error) error {
	wait := defaultCollateralRetry
	var ce *ratls.CollateralUnavailableError
	if errors.As(err, &ce) && ce.RetryAfter > 0 {
		wait = ce.RetryAfter
	}
	secs := int(math.Ceil(wait.Seconds()))
	s.logger.WarnContext(ctx, "collateral unavailable: evidence not verified", "tee", tee, "retry_after_s", secs,
		"client", sub.client, "session", sub.session, "err", err)
	p := problem(http.StatusServiceUnavailable, probCollateralUnavailable, "Collateral unavailable",
		"the %s evidence could not be verified: the collateral it needs cannot be fetched now. This is no verdict about the TEE; retry after %d s", tee, secs)
	p.RetryAfter = secs
	return p
}

// sourceChecks are the reasons whose message quotes a collateral source's
// error ("amd.certificates" is the root package's reason for SEV-SNP
// certificates it could not have).
var sourceChecks = map[string]bool{intel.CheckCollateral: true, "amd.certificates": true}

// hideSources replaces the messages of sourceChecks reasons, which may name
// the service's collateral sources (internal URLs and addresses), with a
// generic one before they reach the client in the EAR and problem details;
// the original is logged.
func (s *Server) hideSources(ctx context.Context, sub *submission, reasons []appraise.Reason) {
	for i := range reasons {
		r := &reasons[i]
		if !sourceChecks[r.Check] {
			continue
		}
		s.logger.InfoContext(ctx, "collateral for the evidence missing", "check", r.Check, "detail", r.Message,
			"client", sub.client, "session", sub.session)
		r.Message = "the collateral for this evidence could not be had or is incomplete (the service's log has the details)"
	}
}

func parseCertificate(der []byte) (*parsed, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", "certificate: %v", err)
	}
	return &parsed{cert: cert}, nil
}

// rawItem parses raw evidence and checks that it is what its media type
// says. Of several items (a CMW collection), the first verifiable one is
// appraised.
func rawItem(mt string, body []byte, is func(*evidence.Item) bool, what string) (*parsed, error) {
	items, err := evidence.ParseRaw(body)
	if err != nil {
		return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", "%v", err)
	}
	for _, it := range items {
		if !is(it) {
			return nil, problem(http.StatusBadRequest, probMediaMismatch, "Evidence does not match its media type",
				"%s: want %s, got %s %s evidence", mt, what, it.Format, it.Kind)
		}
	}
	for _, it := range items {
		if teefamily.For(it) != nil {
			return &parsed{item: it}, nil
		}
	}
	it := items[0]
	return nil, problem(http.StatusUnprocessableEntity, probUnsupported, "Unsupported evidence",
		"%s %s evidence is recognized but cannot be verified: %s", it.Format, it.Kind, it.Note)
}

// snpCertificates reads the VCEK (or VLEK) chain of a SEV-SNP certificate
// table; nil when it has no VCEK or VLEK, so the configured provider is asked.
func snpCertificates(aux []byte) (*kds.Certificates, error) {
	e, err := evidence.SNPEndorsementsFromCertTable(aux)
	if err != nil || e == nil {
		return nil, err
	}
	return kds.ParseSupplied("configfs-tsm auxblob", e.Leaf, e.Intermediate, e.Root, e.CRL)
}
