package ear

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Profiles (eat_profile values).
const (
	// ProfileVeraison is the profile of draft-fv-rats-ear-05 /
	// draft-ietf-rats-ear-00 and of the Veraison library; MarshalJSON
	// always emits it, with the dotted claim names.
	ProfileVeraison = "tag:github.com,2023:veraison/ear"
	// ProfileIETF01 is the profile of draft-ietf-rats-ear-01 and -02
	// (dotted claim names); accepted on input.
	ProfileIETF01 = "tag:ietf.org,2025-07:ear"
	// ProfileIETF03 is the profile of draft-ietf-rats-ear-03 (underscore
	// claim names, policy IDs as an array); accepted on input.
	ProfileIETF03 = "tag:ietf.org,2026:rats/ear#03"
	// ProfileTrustee is an alias of ProfileVeraison used by Confidential
	// Containers' Trustee; accepted on input.
	ProfileTrustee = "tag:github.com,2024:confidential-containers/Trustee"
)

var acceptedProfiles = []string{ProfileVeraison, ProfileIETF01, ProfileIETF03, ProfileTrustee}

// Limits on decoded input.
const (
	maxPayloadSize = 1 << 20 // bytes of JSON claims set
	maxSubmods     = 64
	maxReasons     = 1024
	maxPolicyIDs   = 64
)

// Nonce length limits for eat_nonce in JSON (RFC 9711: 8..64 bytes,
// 8..88 characters of text).
const (
	minNonceLen = 8
	maxNonceLen = 88
)

// ErrClaims is wrapped by every error about a missing or invalid claim.
var ErrClaims = errors.New("ear: invalid claims")

func claimErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrClaims}, args...)...)
}

// VerifierID identifies the software that produced the result (AR4SI
// verifier-id); both members are mandatory.
type VerifierID struct {
	Build     string `json:"build"`
	Developer string `json:"developer"`
}

// Appraisal is one submodule's result (an entry of "submods").
type Appraisal struct {
	Status      Status
	TrustVector *TrustVector
	// PolicyID is ear.appraisal-policy-id. From a -03 ear_appraisal_policy_ids
	// array it is the first element; PolicyIDs then holds them all.
	PolicyID  string
	PolicyIDs []string
	// AnnotatedEvidence is ear.veraison.annotated-evidence: the verified
	// measurements the result is about. Numbers decode as json.Number.
	AnnotatedEvidence map[string]any
	// PolicyClaims is ear.veraison.policy-claims: claims the appraisal
	// policy adds, where Veraison's tools show them. FromReasons puts the
	// reasons there too. Numbers decode as json.Number.
	PolicyClaims map[string]any
	// Reasons is the ratls extension claim "ratls.reasons": why the status
	// is not affirming, as Reason objects ({"check","category","state",
	// "expected","actual","message","status"}).
	Reasons []Reason
}

// EAR is an EAT Attestation Result (draft-ietf-rats-ear).
type EAR struct {
	// Profile is eat_profile as received; MarshalJSON always writes
	// ProfileVeraison.
	Profile     string
	IssuedAt    int64 // iat, seconds since the Unix epoch
	Expiry      int64 // exp, optional (0 = absent)
	VerifierID  VerifierID
	Nonce       string // eat_nonce, optional
	RawEvidence []byte // ear.raw-evidence, optional
	Submods     map[string]*Appraisal
}

type appraisalJSON struct {
	Status            Status         `json:"ear.status"`
	TrustVector       *TrustVector   `json:"ear.trustworthiness-vector,omitempty"`
	PolicyID          string         `json:"ear.appraisal-policy-id,omitempty"`
	AnnotatedEvidence map[string]any `json:"ear.veraison.annotated-evidence,omitempty"`
	PolicyClaims      map[string]any `json:"ear.veraison.policy-claims,omitempty"`
	Reasons           []Reason       `json:"ratls.reasons,omitempty"`
}

type earJSON struct {
	Profile     string                   `json:"eat_profile"`
	IssuedAt    int64                    `json:"iat"`
	Expiry      int64                    `json:"exp,omitempty"`
	VerifierID  VerifierID               `json:"ear.verifier-id"`
	Nonce       string                   `json:"eat_nonce,omitempty"`
	RawEvidence string                   `json:"ear.raw-evidence,omitempty"`
	Submods     map[string]appraisalJSON `json:"submods"`
}

// MarshalJSON writes the dotted-name (ProfileVeraison) form. It refuses an
// EAR that UnmarshalJSON would reject.
func (e *EAR) MarshalJSON() ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	out := earJSON{
		Profile: ProfileVeraison, IssuedAt: e.IssuedAt, Expiry: e.Expiry, VerifierID: e.VerifierID,
		Nonce: e.Nonce, Submods: make(map[string]appraisalJSON, len(e.Submods)),
	}
	if len(e.RawEvidence) > 0 {
		out.RawEvidence = base64.RawURLEncoding.EncodeToString(e.RawEvidence)
	}
	for name, a := range e.Submods {
		policy := a.PolicyID
		if policy == "" && len(a.PolicyIDs) > 0 {
			policy = a.PolicyIDs[0]
		}
		out.Submods[name] = appraisalJSON{a.Status, a.TrustVector, policy, a.AnnotatedEvidence, a.PolicyClaims, a.Reasons}
	}
	return json.Marshal(out)
}

// validate checks the mandatory claims and the consistency rules.
func (e *EAR) validate() error {
	if e.IssuedAt <= 0 {
		return claimErr("iat: want a positive integer, got %d", e.IssuedAt)
	}
	if e.Expiry != 0 && e.Expiry < e.IssuedAt {
		return claimErr("exp: want >= iat %d, got %d", e.IssuedAt, e.Expiry)
	}
	if e.VerifierID.Build == "" || e.VerifierID.Developer == "" {
		return claimErr("verifier-id: want non-empty build and developer, got build %q developer %q", e.VerifierID.Build, e.VerifierID.Developer)
	}
	if e.Nonce != "" {
		if n := utf8.RuneCountInString(e.Nonce); n < minNonceLen || n > maxNonceLen {
			return claimErr("eat_nonce: want %d..%d characters, got %d", minNonceLen, maxNonceLen, n)
		}
	}
	if len(e.Submods) == 0 {
		return claimErr("submods: want at least one submodule, got none")
	}
	if len(e.Submods) > maxSubmods {
		return claimErr("submods: want at most %d, got %d", maxSubmods, len(e.Submods))
	}
	for name, a := range e.Submods {
		if a == nil {
			return claimErr("submods[%q]: missing", name)
		}
		if err := a.validate(); err != nil {
			return fmt.Errorf("submods[%q]: %w", name, err)
		}
	}
	return nil
}

func (a *Appraisal) validate() error {
	if !a.Status.Valid() {
		return claimErr("ear.status: want none, affirming, warning or contraindicated, got %q", string(a.Status))
	}
	if a.TrustVector != nil {
		if worst := a.TrustVector.Status(); a.Status.Code() < worst.Code() {
			return claimErr("ear.status: must be no better than the trustworthiness vector's worst claim: want %s or worse, got %s", worst, a.Status)
		}
	}
	if len(a.Reasons) > maxReasons {
		return claimErr("ratls.reasons: want at most %d, got %d", maxReasons, len(a.Reasons))
	}
	for i, r := range a.Reasons {
		switch r.Status {
		case StatusAffirming, StatusWarning, StatusContraindicated:
		default:
			return claimErr("ratls.reasons[%d].status: want affirming, warning or contraindicated, got %q", i, string(r.Status))
		}
	}
	if len(a.PolicyIDs) > maxPolicyIDs {
		return claimErr("appraisal policy IDs: want at most %d, got %d", maxPolicyIDs, len(a.PolicyIDs))
	}
	return nil
}

// pick returns the value of a claim spelled either way; both at once is
// ambiguous and rejected.
func pick(m map[string]json.RawMessage, dotted, underscore string) (json.RawMessage, string, error) {
	d, hasD := m[dotted]
	u, hasU := m[underscore]
	switch {
	case hasD && hasU:
		return nil, "", claimErr("both %s and %s are present", dotted, underscore)
	case hasD:
		return d, dotted, nil
	case hasU:
		return u, underscore, nil
	}
	return nil, dotted, nil
}

func isNull(raw json.RawMessage) bool { return raw == nil || string(bytes.TrimSpace(raw)) == "null" }

func decodeObject(raw json.RawMessage, name string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, claimErr("%s: want a JSON object, got %.40s", name, raw)
	}
	return m, nil
}

func decodeString(raw json.RawMessage, name string) (string, error) {
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil {
		return "", claimErr("%s: want a string, got %.40s", name, raw)
	}
	return s, nil
}

func decodeInt(raw json.RawMessage, name string) (int64, error) {
	v, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	if err != nil {
		return 0, claimErr("%s: want an integer, got %.40s", name, raw)
	}
	return v, nil
}

// UnmarshalJSON parses an EAR claims set in the dotted-name form (Veraison,
// drafts -00 to -02) or the underscore form of draft -03, then applies the
// same checks as MarshalJSON. Unknown claims are ignored.
func (e *EAR) UnmarshalJSON(b []byte) error {
	if len(b) > maxPayloadSize {
		return claimErr("claims set: want at most %d bytes, got %d", maxPayloadSize, len(b))
	}
	top, err := decodeObject(b, "claims set")
	if err != nil {
		return err
	}
	var out EAR
	raw, ok := top["eat_profile"]
	if !ok {
		return claimErr("eat_profile: missing")
	}
	if out.Profile, err = decodeString(raw, "eat_profile"); err != nil {
		return err
	}
	if !slices.Contains(acceptedProfiles, out.Profile) {
		return claimErr("eat_profile: want one of %q, got %q", acceptedProfiles, out.Profile)
	}
	raw, ok = top["iat"]
	if !ok {
		return claimErr("iat: missing")
	}
	if out.IssuedAt, err = decodeInt(raw, "iat"); err != nil {
		return err
	}
	if raw, ok = top["exp"]; ok {
		if out.Expiry, err = decodeInt(raw, "exp"); err != nil {
			return err
		}
		if out.Expiry == 0 {
			return claimErr("exp: want a positive integer, got 0")
		}
	}
	raw, name, err := pick(top, "ear.verifier-id", "ear_verifier_id")
	if err != nil {
		return err
	}
	if raw == nil {
		return claimErr("%s: missing", name)
	}
	vid, err := decodeObject(raw, name)
	if err != nil {
		return err
	}
	for field, dst := range map[string]*string{"build": &out.VerifierID.Build, "developer": &out.VerifierID.Developer} {
		v, ok := vid[field]
		if !ok {
			return claimErr("%s.%s: missing", name, field)
		}
		if *dst, err = decodeString(v, name+"."+field); err != nil {
			return err
		}
	}
	if raw, ok = top["eat_nonce"]; ok {
		if out.Nonce, err = decodeString(raw, "eat_nonce"); err != nil {
			return claimErr("eat_nonce: want a string (arrays of nonces are not supported), got %.40s", raw)
		}
		if out.Nonce == "" {
			return claimErr("eat_nonce: want %d..%d characters, got 0", minNonceLen, maxNonceLen)
		}
	}
	if raw, name, err = pick(top, "ear.raw-evidence", "ear_raw_evidence"); err != nil {
		return err
	}
	if raw != nil {
		s, err := decodeString(raw, name)
		if err != nil {
			return err
		}
		if out.RawEvidence, err = base64.RawURLEncoding.Strict().DecodeString(s); err != nil {
			return claimErr("%s: want unpadded base64url: %v", name, err)
		}
	}
	raw, ok = top["submods"]
	if !ok {
		return claimErr("submods: missing")
	}
	subs, err := decodeObject(raw, "submods")
	if err != nil {
		return err
	}
	if len(subs) > maxSubmods {
		return claimErr("submods: want at most %d, got %d", maxSubmods, len(subs))
	}
	out.Submods = make(map[string]*Appraisal, len(subs))
	for sub, raw := range subs {
		a, err := parseAppraisal(raw)
		if err != nil {
			return fmt.Errorf("submods[%q]: %w", sub, err)
		}
		out.Submods[sub] = a
	}
	if err := out.validate(); err != nil {
		return err
	}
	*e = out
	return nil
}

func parseAppraisal(b json.RawMessage) (*Appraisal, error) {
	m, err := decodeObject(b, "submodule")
	if err != nil {
		return nil, claimErr("want a JSON object (nested tokens are not supported), got %.40s", b)
	}
	a := &Appraisal{}
	raw, name, err := pick(m, "ear.status", "ear_status")
	if err != nil {
		return nil, err
	}
	if isNull(raw) {
		return nil, claimErr("%s: missing", name)
	}
	if err := json.Unmarshal(raw, &a.Status); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrClaims, name, err)
	}
	if raw, name, err = pick(m, "ear.trustworthiness-vector", "ear_trustworthiness_vector"); err != nil {
		return nil, err
	}
	if raw != nil {
		a.TrustVector = new(TrustVector)
		if err := json.Unmarshal(raw, a.TrustVector); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrClaims, name, err)
		}
	}
	if raw, name, err = pick(m, "ear.appraisal-policy-id", "ear_appraisal_policy_ids"); err != nil {
		return nil, err
	}
	switch {
	case raw == nil:
	case name == "ear.appraisal-policy-id":
		if a.PolicyID, err = decodeString(raw, name); err != nil {
			return nil, err
		}
	default:
		if err := json.Unmarshal(raw, &a.PolicyIDs); err != nil || len(a.PolicyIDs) == 0 {
			return nil, claimErr("%s: want a non-empty array of strings, got %.40s", name, raw)
		}
		a.PolicyID = a.PolicyIDs[0]
	}
	for _, c := range []struct {
		dotted, underscore string
		dst                *map[string]any
	}{
		{"ear.veraison.annotated-evidence", "ear_veraison_annotated_evidence", &a.AnnotatedEvidence},
		{"ear.veraison.policy-claims", "ear_veraison_policy_claims", &a.PolicyClaims},
	} {
		if raw, name, err = pick(m, c.dotted, c.underscore); err != nil {
			return nil, err
		}
		if raw != nil {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber() // keep integers exact
			if err := dec.Decode(c.dst); err != nil || *c.dst == nil {
				return nil, claimErr("%s: want a JSON object, got %.40s", name, raw)
			}
		}
	}
	if raw, ok := m["ratls.reasons"]; ok {
		if err := json.Unmarshal(raw, &a.Reasons); err != nil {
			return nil, claimErr("ratls.reasons: want an array of reasons: %v", err)
		}
	}
	return a, nil
}
