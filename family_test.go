package ratls_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/cmw"
	"github.com/ratls/ratls/inspect"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/verify/checks"
)

// A TEE family outside ratls, written as its own package would be: "toy"
// evidence is a measurement and report data signed with Ed25519, carried
// in a CMW record of its own media type. Adding it takes this file and one
// registration line (the init function); nothing in ratls changes.

const (
	toyMediaType = "application/vnd.example.toy-report"
	toySection   = "toy"
	toySignature = "toy.signature"
	toyMeasure   = "toy.measurement"
)

func init() {
	checks.Define(checks.Hardware, toySignature)
	checks.Define(checks.Executables, toyMeasure)
	tee.Register(toyFamily{})
}

var errToySignature = errors.New("toy: signature")

type toyOptions struct{ key ed25519.PublicKey }

func (*toyOptions) Family() string { return toySection }

type toyPolicy struct {
	Measurements []string `json:"measurements"`
}

type toyFamily struct{}

func (toyFamily) Name() string { return toySection }

func (toyFamily) Verifies(it *evidence.Item) bool { return it.MediaType == toyMediaType }

func (toyFamily) Section() (string, func(json.RawMessage) error) {
	return toySection, func(b json.RawMessage) error {
		var p toyPolicy
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		return dec.Decode(&p)
	}
}

func (toyFamily) Verify(_ context.Context, it *evidence.Item, in *tee.Input) *tee.Result {
	var list checks.List
	o, _ := in.OptionsFor(toySection).(*toyOptions)
	switch {
	case len(it.Data) != 32+64+ed25519.SignatureSize:
		list.Fail(toySignature, errToySignature, "report of %d bytes", len(it.Data))
	case o == nil || !ed25519.Verify(o.key, it.Data[:96], it.Data[96:]):
		list.Fail(toySignature, errToySignature, "the signature does not verify")
	default:
		list.Pass(toySignature, "signed by the configured key")
	}
	var pol toyPolicy
	_ = json.Unmarshal(in.Policy.Section(toySection), &pol) // validated when the policy was read
	a, compare := in.Policy.AppraiseSection(toySection, list, []string{toySignature}, nil, false, in.Binding, len(pol.Measurements) > 0)
	r := &tee.Result{Appraisal: a, Checks: list}
	if len(it.Data) >= 32 {
		r.TEE, r.Verified = toySection, hex.EncodeToString(it.Data[:32])
		if compare && len(pol.Measurements) > 0 && !containsHex(pol.Measurements, it.Data[:32]) {
			a.Reject(toyMeasure, checks.Executables, strings.Join(pol.Measurements, " or "), hex.EncodeToString(it.Data[:32]), "the measurement is not one the policy accepts")
		}
	}
	return r
}

func containsHex(want []string, got []byte) bool {
	for _, w := range want {
		if strings.EqualFold(w, hex.EncodeToString(got)) {
			return true
		}
	}
	return false
}

func (toyFamily) Submodules(_ *evidence.Item, r *tee.Result, _ *appraise.Policy) map[string]*ear.Appraisal {
	return map[string]*ear.Appraisal{toySection: r.Appraisal.Submodule(map[string]any{"measurement": r.Verified})}
}

// Describe makes toy evidence readable in ratls inspect and the explorer.
func (toyFamily) Describe(it *evidence.Item) (any, map[string]any) {
	if len(it.Data) < 96 {
		return map[string]any{"size": len(it.Data)}, nil
	}
	return map[string]any{"report_data": hex.EncodeToString(it.Data[32:96])}, map[string]any{"measurement": hex.EncodeToString(it.Data[:32])}
}

// toyEvidence is a CMW record holding a toy report signed with key.
func toyEvidence(t *testing.T, key ed25519.PrivateKey, measurement byte) *evidence.Item {
	t.Helper()
	items, err := evidence.ParseRaw(toyEvidenceBytes(t, key, measurement))
	if err != nil || len(items) != 1 {
		t.Fatalf("parse: %v, %d items", err, len(items))
	}
	return items[0]
}

func toyEvidenceBytes(t *testing.T, key ed25519.PrivateKey, measurement byte) []byte {
	t.Helper()
	report := append(bytes.Repeat([]byte{measurement}, 32), make([]byte, 64)...)
	report = append(report, ed25519.Sign(key, report)...)
	b, err := (&cmw.CMW{Format: cmw.FormatJSON, Kind: cmw.KindRecord, MediaType: toyMediaType, Value: report}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func toyPolicyOf(t *testing.T, doc string) *appraise.Policy {
	t.Helper()
	p, err := appraise.ReadPolicy(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFifthFamily verifies and appraises evidence of a family registered
// from outside ratls: the root package finds it, the policy carries its
// section, and EAR submodules are its own. Every way to get it wrong is
// refused.
func TestFifthFamily(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	good := toyPolicyOf(t, `{"toy": {"measurements": ["`+strings.Repeat("07", 32)+`"]}}`)
	opts := func(p *appraise.Policy) *ratls.VerifyOptions {
		return &ratls.VerifyOptions{Policy: p, TEE: []tee.Options{&toyOptions{key: pub}}}
	}
	ctx := context.Background()

	v := ratls.VerifyEvidence(ctx, toyEvidence(t, priv, 7), opts(good))
	if !v.Accepted() || v.Appraisal.Status != appraise.Affirming || v.TEE != toySection || v.Result != strings.Repeat("07", 32) {
		t.Fatalf("toy evidence: want affirming, got %s %+v (TEE %q)", v.Appraisal.Status, v.Appraisal.Reasons, v.TEE)
	}
	if c, ok := v.Checks().Get(toySignature); !ok || c.State != checks.Passed {
		t.Errorf("checks: want %s passed, got %+v", toySignature, v.Checks())
	}
	sub := v.Submodules(good)
	if len(sub) != 1 || sub[toySection] == nil || sub[toySection].Status != ear.StatusAffirming {
		t.Fatalf("submodules: %+v", sub)
	}

	for name, tc := range map[string]struct {
		item  *evidence.Item
		opt   *ratls.VerifyOptions
		check string
	}{
		"another measurement": {toyEvidence(t, priv, 8), opts(good), toyMeasure},
		"another signer":      {toyEvidence(t, other, 7), opts(good), toySignature},
		"no key configured":   {toyEvidence(t, priv, 7), &ratls.VerifyOptions{Policy: good}, toySignature},
		"policy for another TEE": {toyEvidence(t, priv, 7),
			opts(toyPolicyOf(t, `{"sgx": {"mrsigner": ["`+strings.Repeat("00", 32)+`"]}}`)), appraise.CheckTEE},
	} {
		v := ratls.VerifyEvidence(ctx, tc.item, tc.opt)
		if v.Accepted() || !hasReason(v, tc.check) {
			t.Errorf("%s: want refused by %s, got %s %+v", name, tc.check, v.Appraisal.Status, v.Appraisal.Reasons)
		}
	}
	// A section without reference values cannot affirm the workload.
	if v := ratls.VerifyEvidence(ctx, toyEvidence(t, priv, 7), opts(toyPolicyOf(t, `{"toy": {"measurements": []}}`))); v.Appraisal.Status != appraise.Warning || !hasReason(v, appraise.CheckReferenceValues) {
		t.Errorf("empty section: want a warning for want of reference values, got %s %+v", v.Appraisal.Status, v.Appraisal.Reasons)
	}
	// Its section is read strictly, and survives a round trip through JSON.
	if _, err := appraise.ReadPolicy(strings.NewReader(`{"toy": {"measurement": []}}`)); err == nil {
		t.Error("a misspelt key in the family's section was accepted")
	}
	if _, err := appraise.ReadPolicy(strings.NewReader(`{"toy": {}, "toy": {}}`)); err == nil {
		t.Error("a section given twice was accepted")
	}
	b, err := json.Marshal(good)
	if err != nil || !bytes.Contains(b, []byte(`"toy":{"measurements"`)) {
		t.Fatalf("policy JSON: %s %v", b, err)
	}
	if again, err := appraise.ReadPolicy(bytes.NewReader(b)); err != nil || again.Section(toySection) == nil {
		t.Fatalf("policy round trip: %v", err)
	}
	// inspect describes it through the family.
	rep, err := inspect.EvidenceBytes(toyEvidenceBytes(t, priv, 7))
	if err != nil || len(rep.Evidence) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	e := rep.Evidence[0]
	if e.Family[toySection] == nil || e.Measurements.Get("measurement") != strings.Repeat("07", 32) || e.Unsupported != "" {
		t.Errorf("inspect: family %v, measurements %v, unsupported %q", e.Family, e.Measurements, e.Unsupported)
	}
}

// greedy families claim the same evidence, or return nothing: either way
// the evidence is refused, whatever order the families were registered in.
type greedy struct {
	name   string
	answer bool
}

const greedyMediaType = "application/vnd.example.greedy"

func (g greedy) Name() string                  { return g.name }
func (greedy) Verifies(it *evidence.Item) bool { return it.MediaType == greedyMediaType }
func (g greedy) Verify(context.Context, *evidence.Item, *tee.Input) *tee.Result {
	if !g.answer {
		return nil
	}
	a := appraise.NewAppraisal("p") // affirming: no reasons at all
	return &tee.Result{TEE: g.name, Verified: "anything", Appraisal: a}
}
func (greedy) Submodules(*evidence.Item, *tee.Result, *appraise.Policy) map[string]*ear.Appraisal {
	return nil
}

type silent struct{}

const silentMediaType = "application/vnd.example.silent"

func (silent) Name() string                                                   { return "silent" }
func (silent) Verifies(it *evidence.Item) bool                                { return it.MediaType == silentMediaType }
func (silent) Verify(context.Context, *evidence.Item, *tee.Input) *tee.Result { return &tee.Result{} }
func (silent) Submodules(*evidence.Item, *tee.Result, *appraise.Policy) map[string]*ear.Appraisal {
	return nil
}

func init() {
	tee.Register(greedy{name: "greedy-a", answer: true})
	tee.Register(greedy{name: "greedy-b", answer: true})
	tee.Register(silent{})
}

func TestFamiliesThatMustNotDecide(t *testing.T) {
	for _, mt := range []string{greedyMediaType, silentMediaType} {
		b, err := (&cmw.CMW{Format: cmw.FormatJSON, Kind: cmw.KindRecord, MediaType: mt, Value: []byte("x")}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		items, err := evidence.ParseRaw(b)
		if err != nil {
			t.Fatal(err)
		}
		v := ratls.VerifyEvidence(context.Background(), items[0], &ratls.VerifyOptions{Policy: &appraise.Policy{AcceptAnyMeasurement: true}})
		if v.Accepted() || !hasReason(v, ratls.CheckVerifier) || v.Result != nil {
			t.Errorf("%s: want refused by %s, got %s %+v", mt, ratls.CheckVerifier, v.Appraisal.Status, v.Appraisal.Reasons)
		}
		if sub := v.Submodules(nil); sub != nil {
			t.Errorf("%s: submodules %v for evidence nothing verified", mt, sub)
		}
		if mt == greedyMediaType && !errors.Is(v.Err, tee.ErrAmbiguous) {
			t.Errorf("two families claiming one item: error %v, want ErrAmbiguous", v.Err)
		}
	}
}

func hasReason(v *ratls.Verification, check string) bool {
	for _, r := range v.Appraisal.Reasons {
		if r.Check == check {
			return true
		}
	}
	return false
}
