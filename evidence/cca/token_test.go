package cca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"
)

var formOfTag = map[uint64]Form{907: FormCMW, 399: FormLegacy, 18: FormPlatformOnly}

func TestParseVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.id, func(t *testing.T) {
			want := v.want
			if len(v.raw) != want.Len {
				t.Fatalf("token length %d, EXPECTED.json says %d", len(v.raw), want.Len)
			}
			tok, err := Parse(v.raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tok.Form != formOfTag[want.OuterTag] {
				t.Errorf("Form = %q, want %q (outer tag %d)", tok.Form, formOfTag[want.OuterTag], want.OuterTag)
			}
			if (want.PlatformCMWCF != nil) != (tok.Form == FormCMW) {
				t.Errorf("CMW content format expected %v, form %s", want.PlatformCMWCF, tok.Form)
			}
			if tok.Platform.Alg != want.PlatformAlg {
				t.Errorf("platform alg = %d, want %d", tok.Platform.Alg, want.PlatformAlg)
			}
			if !bytes.Equal(tok.PlatformRaw, tok.Platform.Raw) || tok.PlatformRaw[0] != 0xd2 {
				t.Errorf("PlatformRaw is not the tagged platform COSE_Sign1")
			}
			if tok.Form == FormPlatformOnly && !bytes.Equal(tok.PlatformRaw, v.raw) {
				t.Errorf("platform-only: PlatformRaw differs from the input")
			}
			checkPlatformClaims(t, &tok.Platform.Claims, want.PlatformClaims)

			if want.RealmAlg == nil {
				if tok.Realm != nil || tok.RealmRaw != nil {
					t.Fatalf("unexpected realm token")
				}
				return
			}
			if tok.Realm == nil {
				t.Fatalf("realm token missing")
			}
			if tok.Realm.Alg != *want.RealmAlg {
				t.Errorf("realm alg = %d, want %d", tok.Realm.Alg, *want.RealmAlg)
			}
			if !bytes.Equal(tok.RealmRaw, tok.Realm.Raw) || tok.RealmRaw[0] != 0xd2 {
				t.Errorf("RealmRaw is not the tagged realm COSE_Sign1")
			}
			checkRealmClaims(t, &tok.Realm.Claims, want.RealmClaims)
			if got := tok.Realm.Claims.PublicKeyHashAlgo; got != *want.RAKHashAlg {
				t.Errorf("PublicKeyHashAlgo = %q, want %q", got, *want.RAKHashAlg)
			}
			wantFormat := map[string]PublicKeyFormat{"COSE_Key": PublicKeyCOSEKey, "raw EC point": PublicKeyRawPoint}[*want.RAKFormat]
			if got := tok.Realm.Claims.PublicKeyFormat(); got != wantFormat {
				t.Errorf("PublicKeyFormat = %q, want %q (%s)", got, wantFormat, *want.RAKFormat)
			}
		})
	}
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

// jsonValue converts raw CBOR to the JSON shape EXPECTED.json uses: byte
// strings as hex, numbers as float64.
func jsonValue(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := cbor.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var conv func(any) any
	conv = func(v any) any {
		switch v := v.(type) {
		case []byte:
			return hex.EncodeToString(v)
		case uint64:
			return float64(v)
		case int64:
			return float64(v)
		case []any:
			for i := range v {
				v[i] = conv(v[i])
			}
			return v
		}
		return v
	}
	return conv(v)
}

// checkUnknown checks that every expected claim without a named field is in
// unknown with the expected value, and that unknown holds nothing else.
func checkUnknown(t *testing.T, what string, unknown map[int64]cbor.RawMessage, want map[string]any, named []int64) {
	t.Helper()
	for k, w := range want {
		var key int64
		if _, err := fmt.Sscan(k, &key); err != nil {
			t.Fatalf("claim key %q", k)
		}
		if slices.Contains(named, key) {
			continue
		}
		raw, ok := unknown[key]
		if !ok {
			t.Errorf("%s claim %d not kept in Unknown", what, key)
			continue
		}
		if got := jsonValue(t, raw); !reflect.DeepEqual(got, w) {
			t.Errorf("%s unknown claim %d = %v, want %v", what, key, got, w)
		}
	}
	for k := range unknown {
		if _, ok := want[fmt.Sprint(k)]; !ok {
			t.Errorf("%s Unknown holds claim %d not in EXPECTED.json", what, k)
		}
	}
}

func checkPlatformClaims(t *testing.T, c *PlatformClaims, want map[string]any) {
	t.Helper()
	str := func(k string) string { s, _ := want[k].(string); return s }
	for name, pair := range map[string][2]string{
		"profile":              {c.Profile, str("265")},
		"challenge":            {hexOf(c.Challenge), str("10")},
		"implementation id":    {hexOf(c.ImplementationID), str("2396")},
		"instance id":          {hexOf(c.InstanceID), str("256")},
		"config":               {hexOf(c.Config), str("2401")},
		"hash algo":            {c.HashAlgo, str("2402")},
		"verification service": {c.VerificationService, str("2400")},
	} {
		if pair[0] != pair[1] {
			t.Errorf("platform %s = %q, want %q", name, pair[0], pair[1])
		}
	}
	if got, w := float64(c.Lifecycle), want["2395"]; got != w {
		t.Errorf("platform lifecycle = %v, want %v", got, w)
	}
	comps, _ := want["2399"].([]any)
	if len(c.SWComponents) != len(comps) || len(comps) == 0 {
		t.Fatalf("platform sw components: %d, want %d", len(c.SWComponents), len(comps))
	}
	for i, wc := range comps {
		w := wc.(map[string]any)
		s := func(k string) string { v, _ := w[k].(string); return v }
		sw := c.SWComponents[i]
		got := [5]string{sw.MeasurementType, hexOf(sw.MeasurementValue), sw.Version, hexOf(sw.SignerID), sw.MeasurementDescription}
		exp := [5]string{s("1"), s("2"), s("4"), s("5"), s("6")}
		if got != exp {
			t.Errorf("sw component %d = %q, want %q", i, got, exp)
		}
		if len(sw.Unknown) != 0 {
			t.Errorf("sw component %d has unknown entries %v", i, sw.Unknown)
		}
	}
	checkUnknown(t, "platform", c.Unknown, want, []int64{265, 10, 2396, 256, 2401, 2395, 2399, 2400, 2402})
}

func checkRealmClaims(t *testing.T, c *RealmClaims, want map[string]any) {
	t.Helper()
	str := func(k string) string { s, _ := want[k].(string); return s }
	for name, pair := range map[string][2]string{
		"profile":               {c.Profile, str("265")},
		"challenge":             {hexOf(c.Challenge), str("10")},
		"personalization value": {hexOf(c.PersonalizationValue), str("44235")},
		"initial measurement":   {hexOf(c.InitialMeasurement), str("44238")},
		"hash algo":             {c.HashAlgo, str("44236")},
		"public key":            {hexOf(c.PublicKey), str("44237")},
		"public key hash algo":  {c.PublicKeyHashAlgo, str("44240")},
	} {
		if pair[0] != pair[1] {
			t.Errorf("realm %s = %q, want %q", name, pair[0], pair[1])
		}
	}
	rems, _ := want["44239"].([]any)
	if len(rems) != 4 || len(c.ExtensibleMeasurements) != 4 {
		t.Fatalf("REMs: %d, want %d (4)", len(c.ExtensibleMeasurements), len(rems))
	}
	for i := range rems {
		if got := hexOf(c.ExtensibleMeasurements[i]); got != rems[i] {
			t.Errorf("REM%d = %s, want %s", i, got, rems[i])
		}
	}
	checkUnknown(t, "realm", c.Unknown, want, []int64{265, 10, 44235, 44238, 44239, 44236, 44237, 44240})
}

// verifyES checks a COSE ECDSA signature (r || s) over ToBeSigned.
func verifyES(t *testing.T, s *Sign1, pub *ecdsa.PublicKey) bool {
	t.Helper()
	hash := map[int64]crypto.Hash{-7: crypto.SHA256, -35: crypto.SHA384, -36: crypto.SHA512}[s.Alg]
	if hash == 0 {
		t.Fatalf("alg %d", s.Alg)
	}
	h := hash.New()
	h.Write(s.ToBeSigned())
	n := len(s.Signature) / 2
	r, ss := new(big.Int).SetBytes(s.Signature[:n]), new(big.Int).SetBytes(s.Signature[n:])
	return ecdsa.Verify(pub, h.Sum(nil), r, ss)
}

// verifyWithGoCOSE checks the same signature through Message and go-cose.
func verifyWithGoCOSE(t *testing.T, s *Sign1, pub *ecdsa.PublicKey) bool {
	t.Helper()
	msg, err := s.Message()
	if err != nil {
		t.Fatalf("Message: %v", err)
	}
	verifier, err := cose.NewVerifier(cose.Algorithm(s.Alg), pub)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Verify(nil, verifier) == nil
}

// TestSignedBytes shows that ToBeSigned, Signature and the realm public key
// are exactly what the keys signed: the signature results recorded in
// EXPECTED.json are reproduced.
func TestSignedBytes(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.id, func(t *testing.T) {
			tok, err := Parse(v.raw)
			if err != nil {
				t.Fatal(err)
			}
			cpak := loadPublicKey(t, v.dir, v.keyFile)
			if got := verifyES(t, &tok.Platform.Sign1, cpak); got != v.want.PlatformSigValid {
				t.Errorf("platform signature valid = %v, want %v", got, v.want.PlatformSigValid)
			}
			if got := verifyWithGoCOSE(t, &tok.Platform.Sign1, cpak); got != v.want.PlatformSigValid {
				t.Errorf("go-cose: platform signature valid = %v, want %v", got, v.want.PlatformSigValid)
			}
			if tok.Realm == nil {
				return
			}
			rak, err := tok.Realm.Claims.PublicKeyECDSA()
			if err != nil {
				t.Fatalf("PublicKeyECDSA: %v", err)
			}
			if got := verifyES(t, &tok.Realm.Sign1, rak); got != *v.want.RealmSigValid {
				t.Errorf("realm signature valid = %v, want %v", got, *v.want.RealmSigValid)
			}
			if got := verifyWithGoCOSE(t, &tok.Realm.Sign1, rak); got != *v.want.RealmSigValid {
				t.Errorf("go-cose: realm signature valid = %v, want %v", got, *v.want.RealmSigValid)
			}
			// A changed payload must not verify: ToBeSigned covers it.
			changed := tok.Realm.Sign1
			changed.Payload = append(bytes.Clone(changed.Payload), 0)
			if verifyES(t, &changed, rak) {
				t.Errorf("realm signature verifies over a changed payload")
			}
		})
	}
}

func TestBinding(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.id, func(t *testing.T) {
			tok, err := Parse(v.raw)
			if err != nil {
				t.Fatal(err)
			}
			if v.want.BindingOK == nil {
				if _, err := tok.ExpectedPlatformChallenge(); !errors.Is(err, ErrNoRealmToken) {
					t.Errorf("platform-only: ExpectedPlatformChallenge err = %v, want ErrNoRealmToken", err)
				}
				return
			}
			// Only the bug-33 reproduction is a binding failure.
			if wantOK := v.id != "rust-bug-33-repro"; *v.want.BindingOK != wantOK {
				t.Fatalf("EXPECTED.json binding_ok = %v, INDEX.md says %v", *v.want.BindingOK, wantOK)
			}
			exp, err := tok.ExpectedPlatformChallenge()
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Equal(exp, tok.Platform.Claims.Challenge); got != *v.want.BindingOK {
				t.Errorf("expected challenge == platform challenge: %v, want %v", got, *v.want.BindingOK)
			}
			// verify/arm's TestRealmBinding checks the verdict on these vectors.
		})
	}
}

func TestBindingHashAlgorithms(t *testing.T) {
	tok := &Token{Platform: &PlatformToken{}, Realm: &RealmToken{}}
	tok.Realm.Claims.PublicKey = []byte("abc")
	// Digests of "abc" from FIPS 180-2 appendix examples (prefixes).
	for alg, prefix := range map[string]string{
		"sha-256": "ba7816bf8f01cfea", "sha-384": "cb00753f45a35e8b", "sha-512": "ddaf35a193617aba",
	} {
		tok.Realm.Claims.PublicKeyHashAlgo = alg
		got, err := tok.ExpectedPlatformChallenge()
		if err != nil || hexOf(got)[:16] != prefix {
			t.Errorf("%s: %x, %v", alg, got, err)
		}
	}
	for _, alg := range []string{"sha-224", "SHA-256", "sha256", ""} {
		tok.Realm.Claims.PublicKeyHashAlgo = alg
		if _, err := tok.ExpectedPlatformChallenge(); !errors.Is(err, ErrUnsupportedHash) {
			t.Errorf("%q: err = %v, want ErrUnsupportedHash", alg, err)
		}
	}
}

func TestLifecycle(t *testing.T) {
	cases := []struct {
		v     Lifecycle
		state LifecycleState
		name  string
	}{
		{0x0000, LifecycleUnknown, "unknown"},
		{0x00ff, LifecycleUnknown, "unknown"},
		{0x1000, LifecycleAssemblyAndTest, "assembly-and-test"},
		{0x2001, LifecyclePlatformRoTProvisioning, "cca-platform-rot-provisioning"},
		{0x3000, LifecycleSecured, "secured"},
		{0x3003, LifecycleSecured, "secured"},
		{0x30ff, LifecycleSecured, "secured"},
		{0x4000, LifecycleNonPlatformRoTDebug, "non-cca-platform-rot-debug"},
		{0x5000, LifecycleRecoverablePlatformRoTDebug, "recoverable-cca-platform-rot-debug"},
		{0x60ff, LifecycleDecommissioned, "decommissioned"},
		{0x0100, LifecycleInvalid, "invalid"},
		{0x3100, LifecycleInvalid, "invalid"},
		{0x7000, LifecycleInvalid, "invalid"},
		{0xffff, LifecycleInvalid, "invalid"},
	}
	for _, c := range cases {
		if got := c.v.State(); got != c.state || got.String() != c.name || got.Valid() != (c.state != LifecycleInvalid) {
			t.Errorf("Lifecycle(%#04x).State() = %v (%d), want %s", uint16(c.v), got, got, c.name)
		}
		if c.v.Secured() != (c.state == LifecycleSecured) {
			t.Errorf("Lifecycle(%#04x).Secured() = %v", uint16(c.v), c.v.Secured())
		}
	}
	if got := Lifecycle(12291).String(); got != "secured (0x3003)" {
		t.Errorf("String() = %q", got)
	}
}

func BenchmarkParse(b *testing.B) {
	for _, id := range []string{"tfm-cca-example-token-cmw", "veraison-go-tf-rmm-token", "tfm-cca-platform-token-only"} {
		raw := vectorByID(b, id).raw
		b.Run(id, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := Parse(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
