package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/inspect"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
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
	// From here on an appraisal log entry of the native API follows
	// (unless it fails): the log writer may wait for it to commit it with
	// others.
	logged := sub.session != ""
	if !logged {
		s.log.begin()
	}
	defer func() {
		if !logged {
			s.log.end()
		}
	}()

	opt := s.cfg.Verify
	opt.Policy, opt.Nonce, opt.Now = pol, sub.nonce, s.now()
	if ev.amdCerts != nil {
		// The auxblob's certificates only fill gaps; its CRL adds revocations.
		opt.AMDCertificates = kds.WithPeer(opt.AMDCertificates, ev.amdCerts)
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
	tee := teeName(v)
	if tee == "" {
		return nil, problem(http.StatusUnprocessableEntity, probUnsupported, "Unsupported evidence",
			"%s evidence is recognized but cannot be verified: %s", v.Item.Kind, v.Item.Note)
	}
	if err := v.CollateralUnavailable(); err != nil {
		return nil, s.collateralUnavailable(ctx, sub, tee, err)
	}
	s.hideSources(ctx, sub, v.Appraisal.Reasons)
	t2 := time.Now()
	s.metrics.stage("verify", t2.Sub(t1))

	e := &ear.EAR{
		IssuedAt:   opt.Now.Unix(),
		VerifierID: s.cfg.VerifierID,
		Submods:    map[string]*ear.Appraisal{tee: v.Appraisal.Submodule(inspect.Measurements(v.Item))},
	}
	if sub.nonce != nil {
		e.Nonce = base64.RawURLEncoding.EncodeToString(sub.nonce)
	}
	token, err := s.signer.Sign(e)
	if err != nil {
		return nil, fmt.Errorf("signing the EAR: %w", err)
	}
	sm := e.Submods[tee]
	t3 := time.Now()
	s.metrics.stage("sign", t3.Sub(t2))

	reasons, _ := json.Marshal(v.Appraisal.Reasons)
	sum := sha256.Sum256(sub.body)
	out := &outcome{token: string(token), status: sm.Status, tee: tee, policyID: pol.ID, reasons: v.Appraisal.Reasons}
	entry := &store.Appraisal{
		Time: opt.Now.UTC(), SessionID: sub.session, Client: sub.client, MediaType: baseMediaType(sub.mediaType),
		TEE: tee, Status: string(sm.Status), PolicyID: pol.ID, Reasons: reasons, EvidenceHash: sum[:],
	}
	s.metrics.outcome(tee, string(sm.Status))
	if sub.session != "" {
		// Logged in the transaction that completes the session.
		out.entry = entry
		return out, nil
	}
	logged = true
	if err := s.log.add(ctx, entry); err != nil {
		return nil, fmt.Errorf("appraisal log: %w", err)
	}
	s.metrics.stage("store", time.Since(t3))
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

// teeName names the EAR submodule of a verification; "" when nothing was
// verified.
func teeName(v *ratls.Verification) string {
	switch {
	case v.Intel != nil:
		return v.Intel.TEE
	case v.AMD != nil:
		return "sev_snp"
	case v.CCA != nil:
		return "cca"
	case v.Azure != nil:
		return "azure_vtpm"
	}
	return ""
}

// parseEvidence reads body as mediaType says.
func parseEvidence(mediaType string, body []byte) (*parsed, error) {
	mt, params, err := mime.ParseMediaType(mediaType)
	if err != nil {
		return nil, unsupportedMedia(mediaType)
	}
	if len(body) == 0 {
		return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", "the request body is empty")
	}
	switch mt {
	case api.MediaCertificateDER:
		return parseCertificate(body)
	case api.MediaCertificatePEM:
		blk, _ := pem.Decode(body)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", "want a PEM CERTIFICATE block")
		}
		return parseCertificate(blk.Bytes)
	case api.MediaDCAPQuote:
		return rawItem(mt, body, func(it *evidence.Item) bool { return it.Quote != nil }, "an Intel DCAP quote")
	case api.MediaSNPReport:
		return rawItem(mt, body, func(it *evidence.Item) bool { return it.SNP != nil }, "an AMD SEV-SNP report")
	case "application/eat-collection":
		if params["profile"] != "http://arm.com/CCA-SSD/1.0.0" {
			return nil, unsupportedMedia(mediaType)
		}
		return rawItem(mt, body, func(it *evidence.Item) bool { return it.CCA != nil }, "an Arm CCA token")
	case api.MediaTSMReport:
		return parseTSMReport(body)
	case api.MediaTrusteeTDX:
		return rawItem(mt, body, func(it *evidence.Item) bool { return it.Format == evidence.FormatTrustee && it.Quote != nil }, "Trustee TDX evidence JSON")
	case api.MediaAzureVTPM:
		return rawItem(mt, body, func(it *evidence.Item) bool { return it.Azure != nil }, "Azure vTPM evidence JSON")
	case api.MediaTaggedEvidence, api.MediaCMWCBOR, api.MediaCMWJSON:
		return rawItem(mt, body, func(it *evidence.Item) bool { return it.Format != evidence.FormatRaw }, "tagged RA-TLS evidence or a CMW")
	}
	return nil, unsupportedMedia(mediaType)
}

func unsupportedMedia(mt string) error {
	return problem(http.StatusUnsupportedMediaType, probUnsupportedMedia, "Unsupported media type",
		"evidence of type %q is not accepted; accepted: %v", clip(mt), api.EvidenceMedia)
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
		if it.Quote != nil || it.SNP != nil || it.CCA != nil || it.Azure != nil {
			return &parsed{item: it}, nil
		}
	}
	it := items[0]
	return nil, problem(http.StatusUnprocessableEntity, probUnsupported, "Unsupported evidence",
		"%s %s evidence is recognized but cannot be verified: %s", it.Format, it.Kind, it.Note)
}

// tsmReport is a configfs-tsm report as JSON (Veraison's tsm-report+json).
type tsmReport struct {
	Provider     string `json:"provider"`
	OutBlob      []byte `json:"outblob"`
	AuxBlob      []byte `json:"auxblob,omitempty"`
	ManifestBlob []byte `json:"manifestblob,omitempty"`
	Generation   uint64 `json:"generation,omitempty"`
}

func parseTSMReport(body []byte) (*parsed, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var r tsmReport
	if err := dec.Decode(&r); err != nil {
		return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", "configfs-tsm report: %v", err)
	}
	var want func(*evidence.Item) bool
	switch r.Provider {
	case "tdx_guest":
		want = func(it *evidence.Item) bool { return it.Quote != nil && it.Quote.TD != nil }
	case "sev_guest":
		want = func(it *evidence.Item) bool { return it.SNP != nil }
	case "arm_cca_guest":
		want = func(it *evidence.Item) bool { return it.CCA != nil }
	default:
		return nil, problem(http.StatusUnprocessableEntity, probUnsupported, "Unsupported evidence",
			"configfs-tsm provider: want tdx_guest, sev_guest or arm_cca_guest, got %q", r.Provider)
	}
	p, err := rawItem(api.MediaTSMReport, r.OutBlob, want, "outblob of provider "+r.Provider)
	if err != nil {
		return nil, err
	}
	if len(r.AuxBlob) > 0 && r.Provider == "sev_guest" {
		if p.amdCerts, err = snpCertificates(r.AuxBlob); err != nil {
			return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", "configfs-tsm auxblob: %v", err)
		}
	}
	return p, nil
}

// snpCertificates reads the VCEK (or VLEK) chain of a SEV-SNP certificate
// table; nil when it has no VCEK or VLEK, so the configured provider is asked.
func snpCertificates(aux []byte) (*kds.Certificates, error) {
	t, err := snp.ParseCertTable(aux)
	if err != nil {
		return nil, err
	}
	leaf := t.VCEK
	if leaf == nil {
		leaf = t.VLEK
	}
	if leaf == nil {
		return nil, nil
	}
	c := &kds.Certificates{Source: "configfs-tsm auxblob"}
	if c.Leaf, err = kds.ParseCertificate("SEV-SNP VCEK/VLEK", leaf); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		der  []byte
		name string
		dst  **x509.Certificate
	}{{t.ASK, "SEV-SNP ASK/ASVK", &c.Intermediate}, {t.ARK, "SEV-SNP ARK", &c.Root}} {
		if len(f.der) > 0 {
			if *f.dst, err = kds.ParseCertificate(f.name, f.der); err != nil {
				return nil, err
			}
		}
	}
	if len(t.CRL) > 0 {
		crl, err := kds.ParseCRL("SEV-SNP CRL", t.CRL)
		if err != nil {
			return nil, err
		}
		c.CRLs = []kds.CRL{{List: crl, Source: c.Source}}
	}
	return c, nil
}
