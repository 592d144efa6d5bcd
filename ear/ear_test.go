package ear

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// draftExample is the dotted-name example of docs/formats.md, "EAR claims" (from the
// Veraison EAR test data), written out by hand.
const draftExample = `{
  "eat_profile": "tag:github.com,2023:veraison/ear",
  "iat": 1666091373,
  "ear.verifier-id": {"build": "rrtrap-v1.0.0", "developer": "Acme Inc."},
  "ear.raw-evidence": "3q2-7w",
  "submods": {"test": {
    "ear.status": "affirming",
    "ear.trustworthiness-vector": {"instance-identity": 2, "configuration": 2, "executables": 3,
      "file-system": 2, "hardware": 2, "runtime-opaque": 2, "storage-opaque": 2, "sourced-data": 2},
    "ear.appraisal-policy-id": "https://veraison.example/policy/1/60a0068d"}}}`

// ietf03Example is the same result with the draft -03 profile and names.
const ietf03Example = `{
  "eat_profile": "tag:ietf.org,2026:rats/ear#03",
  "iat": 1666091373,
  "exp": 1666094973,
  "ear_verifier_id": {"build": "rrtrap-v1.0.0", "developer": "Acme Inc."},
  "ear_raw_evidence": "3q2-7w",
  "eat_nonce": "0123456789abcdef",
  "submods": {"test": {
    "ear_status": 32,
    "ear_trustworthiness_vector": {"instance-identity": 2, "configuration": 32},
    "ear_appraisal_policy_ids": ["https://veraison.example/policy/1", "https://veraison.example/policy/2"],
    "ear_veraison_annotated_evidence": {"mrtd": "00ff", "svn": 12345678901234567}}}}`

var wantVector = TrustVector{InstanceIdentity: 2, Configuration: 2, Executables: 3, FileSystem: 2,
	Hardware: 2, RuntimeOpaque: 2, StorageOpaque: 2, SourcedData: 2}

func TestUnmarshalDraftExample(t *testing.T) {
	var e EAR
	if err := json.Unmarshal([]byte(draftExample), &e); err != nil {
		t.Fatal(err)
	}
	if e.Profile != ProfileVeraison || e.IssuedAt != 1666091373 || e.Expiry != 0 || e.Nonce != "" {
		t.Errorf("top-level claims: %+v", e)
	}
	if e.VerifierID != (VerifierID{"rrtrap-v1.0.0", "Acme Inc."}) {
		t.Errorf("verifier-id = %+v", e.VerifierID)
	}
	if want := []byte{0xde, 0xad, 0xbe, 0xef}; string(e.RawEvidence) != string(want) {
		t.Errorf("raw evidence = %x, want %x", e.RawEvidence, want)
	}
	a := e.Submods["test"]
	if a == nil || len(e.Submods) != 1 {
		t.Fatalf("submods = %v", e.Submods)
	}
	if a.Status != StatusAffirming || a.PolicyID != "https://veraison.example/policy/1/60a0068d" || a.PolicyIDs != nil {
		t.Errorf("submod = %+v", a)
	}
	if a.TrustVector == nil || *a.TrustVector != wantVector {
		t.Errorf("trust vector = %+v, want %+v", a.TrustVector, wantVector)
	}
}

func TestUnmarshalIETF03(t *testing.T) {
	var e EAR
	if err := json.Unmarshal([]byte(ietf03Example), &e); err != nil {
		t.Fatal(err)
	}
	if e.Profile != ProfileIETF03 || e.Expiry != 1666094973 || e.Nonce != "0123456789abcdef" || len(e.RawEvidence) != 4 {
		t.Errorf("top-level claims: %+v", e)
	}
	if e.VerifierID.Developer != "Acme Inc." {
		t.Errorf("verifier-id = %+v", e.VerifierID)
	}
	a := e.Submods["test"]
	if a.Status != StatusWarning {
		t.Errorf("status = %q, want warning (code 32)", a.Status)
	}
	if want := []string{"https://veraison.example/policy/1", "https://veraison.example/policy/2"}; !reflect.DeepEqual(a.PolicyIDs, want) || a.PolicyID != want[0] {
		t.Errorf("policy IDs = %q / %q", a.PolicyID, a.PolicyIDs)
	}
	if got := a.AnnotatedEvidence["svn"]; got != json.Number("12345678901234567") {
		t.Errorf("annotated svn = %v (%T), want the exact integer", got, got)
	}
}

func TestMarshalDottedForm(t *testing.T) {
	var e EAR
	if err := json.Unmarshal([]byte(ietf03Example), &e); err != nil {
		t.Fatal(err)
	}
	e.Submods["test"].Reasons = nil
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"eat_profile", "iat", "exp", "ear.verifier-id", "eat_nonce", "ear.raw-evidence", "submods"} {
		if _, ok := m[k]; !ok {
			t.Errorf("claim %q missing from %s", k, b)
		}
	}
	if m["eat_profile"] != ProfileVeraison || m["ear.raw-evidence"] != "3q2-7w" {
		t.Errorf("profile/raw evidence: %s", b)
	}
	sub := m["submods"].(map[string]any)["test"].(map[string]any)
	want := map[string]any{
		"ear.status":                      "warning",
		"ear.trustworthiness-vector":      map[string]any{"instance-identity": 2.0, "configuration": 32.0},
		"ear.appraisal-policy-id":         "https://veraison.example/policy/1",
		"ear.veraison.annotated-evidence": map[string]any{"mrtd": "00ff", "svn": 12345678901234567.0},
	}
	if !reflect.DeepEqual(sub, want) {
		t.Errorf("submod = %v\nwant %v", sub, want)
	}
	if !strings.Contains(string(b), `"svn":12345678901234567`) {
		t.Errorf("annotated integer not preserved: %s", b)
	}
	var back EAR
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.Profile, back.Submods["test"].PolicyIDs = e.Profile, e.Submods["test"].PolicyIDs
	if !reflect.DeepEqual(&back, &e) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, e)
	}
}

func TestUnmarshalRejects(t *testing.T) {
	base := func() map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(draftExample), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	sub := func(m map[string]any) map[string]any { return m["submods"].(map[string]any)["test"].(map[string]any) }
	tests := []struct {
		name   string
		mutate func(m map[string]any)
		want   string
	}{
		{"no profile", func(m map[string]any) { delete(m, "eat_profile") }, "eat_profile: missing"},
		{"unknown profile", func(m map[string]any) { m["eat_profile"] = "tag:example.com,2020:x" }, "eat_profile: want one of"},
		{"profile not a string", func(m map[string]any) { m["eat_profile"] = 7 }, "eat_profile: want a string"},
		{"no iat", func(m map[string]any) { delete(m, "iat") }, "iat: missing"},
		{"iat float", func(m map[string]any) { m["iat"] = 1.5 }, "iat: want an integer"},
		{"iat zero", func(m map[string]any) { m["iat"] = 0 }, "iat: want a positive integer"},
		{"exp before iat", func(m map[string]any) { m["exp"] = 5 }, "exp: want >= iat"},
		{"no verifier-id", func(m map[string]any) { delete(m, "ear.verifier-id") }, "ear.verifier-id: missing"},
		{"no build", func(m map[string]any) { m["ear.verifier-id"] = map[string]any{"developer": "x"} }, "ear.verifier-id.build: missing"},
		{"empty developer", func(m map[string]any) { m["ear.verifier-id"] = map[string]any{"build": "b", "developer": ""} }, "want non-empty build and developer"},
		{"both spellings", func(m map[string]any) { m["ear_verifier_id"] = m["ear.verifier-id"] }, "both ear.verifier-id and ear_verifier_id"},
		{"short nonce", func(m map[string]any) { m["eat_nonce"] = "1234567" }, "eat_nonce: want 8..88 characters, got 7"},
		{"long nonce", func(m map[string]any) { m["eat_nonce"] = strings.Repeat("n", 89) }, "eat_nonce: want 8..88 characters, got 89"},
		{"nonce array", func(m map[string]any) { m["eat_nonce"] = []string{"12345678", "abcdefgh"} }, "arrays of nonces are not supported"},
		{"padded raw evidence", func(m map[string]any) { m["ear.raw-evidence"] = "3q2-7w==" }, "ear.raw-evidence: want unpadded base64url"},
		{"std base64 raw evidence", func(m map[string]any) { m["ear.raw-evidence"] = "3q2+7w" }, "ear.raw-evidence: want unpadded base64url"},
		{"no submods", func(m map[string]any) { delete(m, "submods") }, "submods: missing"},
		{"empty submods", func(m map[string]any) { m["submods"] = map[string]any{} }, "want at least one submodule"},
		{"nested token submod", func(m map[string]any) { m["submods"] = map[string]any{"x": "eyJ..."} }, "nested tokens are not supported"},
		{"no status", func(m map[string]any) { delete(sub(m), "ear.status") }, "ear.status: missing"},
		{"bad status", func(m map[string]any) { sub(m)["ear.status"] = "fine" }, `got "fine"`},
		{"bad status code", func(m map[string]any) { sub(m)["ear.status"] = 3 }, "want code 0, 2, 32 or 96, got 3"},
		{"status better than vector", func(m map[string]any) {
			sub(m)["ear.trustworthiness-vector"].(map[string]any)["hardware"] = 97
		}, "want contraindicated or worse, got affirming"},
		{"unknown vector claim", func(m map[string]any) {
			sub(m)["ear.trustworthiness-vector"].(map[string]any)["firmware"] = 2
		}, `unknown claim "firmware"`},
		{"vector claim out of range", func(m map[string]any) {
			sub(m)["ear.trustworthiness-vector"].(map[string]any)["hardware"] = 128
		}, "hardware: want an integer in -128..127"},
		{"policy id array in dotted form", func(m map[string]any) { sub(m)["ear.appraisal-policy-id"] = []string{"a"} }, "ear.appraisal-policy-id: want a string"},
		{"empty policy ids", func(m map[string]any) {
			delete(sub(m), "ear.appraisal-policy-id")
			sub(m)["ear_appraisal_policy_ids"] = []string{}
		}, "want a non-empty array"},
		{"annotated not object", func(m map[string]any) { sub(m)["ear.veraison.annotated-evidence"] = []int{1} }, "want a JSON object"},
		{"bad reason status", func(m map[string]any) {
			sub(m)["ratls.reasons"] = []any{map[string]any{"check": "debug", "message": "m", "status": "bad"}}
		}, `ratls.reasons: want an array of reasons: ear: status: want none, affirming, warning or contraindicated, got "bad"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.mutate(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var e EAR
			err = e.UnmarshalJSON(b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
			if !errors.Is(err, ErrClaims) {
				t.Errorf("error %v does not wrap ErrClaims", err)
			}
		})
	}
	for _, bad := range []string{"", "null", "[]", "{", `{"eat_profile":null}`} {
		var e EAR
		if err := e.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("UnmarshalJSON(%q) succeeded", bad)
		}
	}
	big := make([]byte, maxPayloadSize+1)
	var e EAR
	if err := e.UnmarshalJSON(big); err == nil || !strings.Contains(err.Error(), "want at most") {
		t.Errorf("oversized payload: %v", err)
	}
}

func TestMarshalRejectsInvalid(t *testing.T) {
	valid := func() *EAR {
		return &EAR{IssuedAt: 1, VerifierID: VerifierID{"b", "d"}, Submods: map[string]*Appraisal{"s": {Status: StatusAffirming}}}
	}
	if _, err := json.Marshal(valid()); err != nil {
		t.Fatalf("valid EAR: %v", err)
	}
	for name, mutate := range map[string]func(*EAR){
		"no iat":       func(e *EAR) { e.IssuedAt = 0 },
		"no submods":   func(e *EAR) { e.Submods = nil },
		"nil submod":   func(e *EAR) { e.Submods["s"] = nil },
		"empty status": func(e *EAR) { e.Submods["s"].Status = "" },
		"inconsistent": func(e *EAR) { e.Submods["s"].TrustVector = &TrustVector{Executables: 33} },
		"no verifier":  func(e *EAR) { e.VerifierID.Build = "" },
	} {
		e := valid()
		mutate(e)
		if _, err := e.MarshalJSON(); !errors.Is(err, ErrClaims) {
			t.Errorf("%s: error = %v, want ErrClaims", name, err)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	for in, want := range map[string]Status{
		`"none"`: StatusNone, `"affirming"`: StatusAffirming, `"warning"`: StatusWarning, `"contraindicated"`: StatusContraindicated,
		`0`: StatusNone, `2`: StatusAffirming, `32`: StatusWarning, `96`: StatusContraindicated,
	} {
		var s Status
		if err := json.Unmarshal([]byte(in), &s); err != nil || s != want {
			t.Errorf("Unmarshal(%s) = %q, %v; want %q", in, s, err, want)
		}
		b, err := json.Marshal(want)
		if err != nil || string(b) != `"`+string(want)+`"` {
			t.Errorf("Marshal(%q) = %s, %v", want, b, err)
		}
	}
	for _, in := range []string{`"Affirming"`, `1`, `97`, `2.0`, `null`, `true`, `-2`} {
		var s Status
		if err := json.Unmarshal([]byte(in), &s); err == nil {
			t.Errorf("Unmarshal(%s) = %q, want error", in, s)
		}
	}
	if _, err := json.Marshal(Status("bogus")); err == nil {
		t.Error("Marshal(bogus) succeeded")
	}
}

func TestTierBoundaries(t *testing.T) {
	// AR4SI tiers (docs/formats.md, "AR4SI trustworthiness claims").
	for v, want := range map[int8]Status{
		0: StatusNone, 1: StatusNone, -1: StatusNone,
		2: StatusAffirming, 31: StatusAffirming, -2: StatusAffirming, -32: StatusAffirming,
		32: StatusWarning, 95: StatusWarning, -33: StatusWarning, -96: StatusWarning,
		96: StatusContraindicated, 127: StatusContraindicated, -97: StatusContraindicated, -128: StatusContraindicated,
	} {
		if got := TierOf(v); got != want {
			t.Errorf("TierOf(%d) = %s, want %s", v, got, want)
		}
		if got := (TrustVector{SourcedData: v}).Status(); got != want {
			t.Errorf("vector with sourced-data %d: Status = %s, want %s", v, got, want)
		}
	}
	tv := TrustVector{InstanceIdentity: 2, Configuration: 32, Hardware: -97, Executables: 1}
	if got := tv.Status(); got != StatusContraindicated {
		t.Errorf("worst of 2, 32, -97, 1 = %s, want contraindicated", got)
	}
	if got := (TrustVector{}).Status(); got != StatusNone {
		t.Errorf("empty vector = %s, want none", got)
	}
	if got := (TrustVector{Executables: 1, Hardware: 2}).Status(); got != StatusAffirming {
		t.Errorf("1 and 2 = %s, want affirming", got)
	}
}
