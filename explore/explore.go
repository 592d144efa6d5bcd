// Package explore is the evidence explorer: a web page, served by "ratls
// verifier serve" at / and by "ratls explore", where a person pastes or
// drops a certificate, a quote, an SEV-SNP report, an Arm CCA token, a CMW,
// a collateral document or an EAR and sees it decoded field by field, with
// what each field means, the verification checks (passed, failed or not
// run, with expected and actual values), the TCB status and advisories, the
// policy verdict and its reasons, and for an EAR its signature status and
// trust vector.
//
// The page is self-contained (no external assets; its Content-Security-
// Policy allows connections to its own origin only): input goes to the
// serving process and nowhere else.
package explore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/inspect"
	"github.com/ratls/ratls/verify/amd"
	"github.com/ratls/ratls/verify/arm"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/intel"
)

// MaxInput bounds what the explorer analyses.
const MaxInput = inspect.MaxInputSize

// Config configures the explorer.
type Config struct {
	// Verify is the template of every verification: trust anchors,
	// collateral, policy. Its Now is set per request unless Now is set.
	Verify ratls.VerifyOptions
	// Keys returns the keys EARs are verified with, nil when there are
	// none (the EAR is then decoded, its signature reported as not
	// verified).
	Keys func(ctx context.Context) (*ear.JWKSet, error)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Where names the serving process on the page, e.g. "ratls verifier
	// serve".
	Where string
}

// Analysis is what the page shows for one input.
type Analysis struct {
	Name string `json:"name,omitempty"`
	Size int    `json:"size"`
	// Kind is "certificate", "evidence", "collateral" or "ear".
	Kind string `json:"kind,omitempty"`
	// Error says why the input could not be decoded.
	Error string `json:"error,omitempty"`
	// Tree is the decoded structure, each field named and explained.
	Tree []*Node `json:"tree,omitempty"`
	// Verification is the verification and appraisal of a certificate or
	// evidence.
	Verification *Verification `json:"verification,omitempty"`
	// EAR is an attestation result's signature status and appraisals.
	EAR *EARResult `json:"ear,omitempty"`
}

// Verification is the outcome of verifying and appraising evidence.
type Verification struct {
	Status     appraise.Status   `json:"status"`
	PolicyID   string            `json:"policy_id"`
	Checks     checks.List       `json:"checks"`
	Reasons    []appraise.Reason `json:"reasons"`
	TCBStatus  string            `json:"tcb_status,omitempty"`
	TCBDate    string            `json:"tcb_date,omitempty"`
	Advisories []string          `json:"advisory_ids,omitempty"`
	TEE        string            `json:"tee,omitempty"`
	// TrustAnchor describes the root the evidence chains to.
	TrustAnchor string `json:"trust_anchor,omitempty"`
	KeyBinding  string `json:"key_binding,omitempty"`
	Error       string `json:"error,omitempty"`
}

// EARResult is an EAR's signature status and content.
type EARResult struct {
	// Signature is "verified", "invalid" or "not verified".
	Signature string `json:"signature"`
	Detail    string `json:"detail"`
	KeyID     string `json:"key_id,omitempty"`
	IssuedAt  string `json:"issued_at,omitempty"`
	Verifier  string `json:"verifier,omitempty"`
	Nonce     string `json:"nonce,omitempty"`
	// Submods are the appraisals by TEE.
	Submods map[string]*EARAppraisal `json:"submods"`
}

// EARAppraisal is one submodule's appraisal.
type EARAppraisal struct {
	Status      ear.Status        `json:"status"`
	PolicyID    string            `json:"policy_id"`
	TrustVector []TrustClaim      `json:"trust_vector"`
	Reasons     []appraise.Reason `json:"reasons"`
}

// TrustClaim is one trust-vector claim with what its value means.
type TrustClaim struct {
	Claim   string `json:"claim"`
	Value   int8   `json:"value"`
	Meaning string `json:"meaning"`
}

// Analyze decodes b and, for evidence, verifies and appraises it; for an
// EAR it checks the signature with cfg.Keys.
func (cfg *Config) Analyze(ctx context.Context, name string, b []byte) *Analysis {
	a := &Analysis{Name: name, Size: len(b)}
	if len(b) > MaxInput {
		a.Error = fmt.Sprintf("input of %d bytes exceeds the limit of %d", len(b), MaxInput)
		return a
	}
	if tok, ok := earToken(b); ok {
		a.Kind = "ear"
		cfg.analyzeEAR(ctx, a, tok)
		return a
	}
	r, err := inspect.Bytes(b)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	a.Kind = r.Source
	a.Tree = treeOf(r)
	if r.Source == inspect.SourceCollateral || (len(r.Certs) == 0 && len(r.Items) == 0) {
		return a
	}
	opt := cfg.Verify
	opt.Now = cfg.now()
	var v *ratls.Verification
	if len(r.Certs) > 0 {
		if v, err = ratls.VerifyCertificate(ctx, r.Certs[0], &opt); err != nil {
			a.Verification = &Verification{Error: err.Error(), Checks: checks.List{}, Reasons: []appraise.Reason{}}
			return a
		}
	} else {
		v = ratls.VerifyEvidence(ctx, r.Items[0], &opt)
	}
	a.Verification = describe(v)
	return a
}

func (cfg *Config) now() time.Time {
	if cfg.Now != nil {
		return cfg.Now()
	}
	return time.Now()
}

func describe(v *ratls.Verification) *Verification {
	out := &Verification{Status: v.Appraisal.Status, PolicyID: v.Appraisal.PolicyID, Reasons: v.Appraisal.Reasons, Checks: checks.List{}}
	if out.Reasons == nil {
		out.Reasons = []appraise.Reason{}
	}
	if v.Err != nil {
		out.Error = v.Err.Error()
	}
	if v.Binding != nil {
		out.KeyBinding = string(v.Binding.Status)
	}
	out.Checks = append(out.Checks, v.Checks()...)
	out.TEE = v.TEE
	switch r := v.Result.(type) {
	case *intel.Result:
		out.TEE = "Intel SGX/TDX"
		if t := r.TCB; t != nil {
			out.TCBStatus, out.Advisories = string(t.Status), t.AdvisoryIDs
			if !t.Date.IsZero() {
				out.TCBDate = t.Date.UTC().Format("2006-01-02")
			}
		}
		if a := r.TrustAnchor; a != nil {
			out.TrustAnchor = a.Subject + anchorNote(a.Intel, a.Simulated, "Intel")
		}
	case *amd.Result:
		out.TEE = "AMD SEV-SNP"
		if a := r.TrustAnchor; a != nil {
			out.TrustAnchor = a.Subject + anchorNote(a.AMD, false, "AMD")
		}
	case *arm.Result:
		out.TEE = "Arm CCA"
	}
	return out
}

func anchorNote(genuine, simulated bool, vendor string) string {
	switch {
	case genuine:
		return " (" + vendor + "'s genuine root)"
	case simulated:
		return " (SIMULATED: a ratls simulation's root; proves nothing about hardware)"
	}
	return " (NOT " + vendor + "'s root: a configured test root)"
}

// earToken reports whether b is a compact JWT.
func earToken(b []byte) (string, bool) {
	s := strings.TrimSpace(string(b))
	parts := strings.Split(s, ".")
	if len(parts) != 3 || !strings.HasPrefix(s, "eyJ") {
		return "", false
	}
	for _, p := range parts {
		if _, err := base64.RawURLEncoding.DecodeString(p); err != nil {
			return "", false
		}
	}
	return s, true
}

func (cfg *Config) analyzeEAR(ctx context.Context, a *Analysis, tok string) {
	res := &EARResult{Submods: map[string]*EARAppraisal{}}
	a.EAR = res
	parts := strings.Split(tok, ".")
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if h, err := base64.RawURLEncoding.DecodeString(parts[0]); err == nil {
		json.Unmarshal(h, &hdr)
	}
	res.KeyID = hdr.Kid
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var e *ear.EAR
	var keys *ear.JWKSet
	var kerr error
	if cfg.Keys != nil {
		keys, kerr = cfg.Keys(ctx)
	}
	switch {
	case keys == nil:
		res.Signature = "not verified"
		res.Detail = "no EAR signing keys are configured here"
		if kerr != nil {
			res.Detail = "the signing keys could not be read: " + kerr.Error()
		}
	default:
		var err error
		if e, err = ear.Verify([]byte(tok), keys, cfg.now()); err != nil {
			res.Signature, res.Detail = "invalid", err.Error()
			e = nil
		} else {
			res.Signature, res.Detail = "verified", fmt.Sprintf("signature (%s) verified with key %s", hdr.Alg, hdr.Kid)
		}
	}
	if e == nil {
		// Shown anyway, marked as unverified.
		e = &ear.EAR{}
		if err := json.Unmarshal(payload, e); err != nil {
			a.Error = "EAR claims: " + err.Error()
			return
		}
	}
	res.IssuedAt = time.Unix(e.IssuedAt, 0).UTC().Format(time.RFC3339)
	res.Verifier = strings.TrimSpace(e.VerifierID.Developer + " " + e.VerifierID.Build)
	res.Nonce = e.Nonce
	for tee, ap := range e.Submods {
		out := &EARAppraisal{Status: ap.Status, PolicyID: ap.PolicyID, Reasons: []appraise.Reason{}, TrustVector: []TrustClaim{}}
		for _, r := range ap.Reasons {
			out.Reasons = append(out.Reasons, appraise.Reason{Check: r.Check, Expected: r.Expected, Actual: r.Actual, Message: r.Message, Status: appraise.Status(r.Status)})
		}
		if tv := ap.TrustVector; tv != nil {
			out.TrustVector = trustClaims(tv)
		}
		res.Submods[tee] = out
	}
	var claims any
	if err := json.Unmarshal(payload, &claims); err == nil {
		a.Tree = treeOfJSON(payload)
	}
}

// trustClaims lists a trust vector's claims with the meaning of each value
// (draft-ietf-rats-ar4si).
func trustClaims(tv *ear.TrustVector) []TrustClaim {
	vals := []struct {
		name string
		v    int8
	}{
		{"instance-identity", tv.InstanceIdentity}, {"configuration", tv.Configuration}, {"executables", tv.Executables},
		{"file-system", tv.FileSystem}, {"hardware", tv.Hardware}, {"runtime-opaque", tv.RuntimeOpaque},
		{"storage-opaque", tv.StorageOpaque}, {"sourced-data", tv.SourcedData},
	}
	var out []TrustClaim
	for _, c := range vals {
		out = append(out, TrustClaim{Claim: c.name, Value: c.v, Meaning: trustMeaning(c.v)})
	}
	return out
}

// trustMeaning names the AR4SI tier of a trust claim value.
func trustMeaning(v int8) string {
	switch {
	case v == 0:
		return "no claim"
	case v >= -1 && v <= 1:
		return "verifier malfunction"
	case v >= 2 && v <= 31:
		return "affirming"
	case v >= 32 && v <= 95:
		return "warning"
	case v >= 96:
		return "contraindicated"
	}
	return "implementation specific"
}
