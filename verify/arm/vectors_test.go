package arm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ratls/ratls/evidence/cca"
	cose "github.com/veraison/go-cose"
)

var formByTag = map[uint64]cca.Form{907: cca.FormCMW, 399: cca.FormLegacy, 18: cca.FormPlatformOnly}

var algNames = map[int64]string{-7: "ES256", -35: "ES384", -36: "ES512"}

// TestVectors verifies every vector with the key named in EXPECTED.json and
// compares each check and fact with the recorded results.
func TestVectors(t *testing.T) {
	ctx := context.Background()
	v := NewVerifier(nil)
	for _, vec := range loadVectors(t) {
		t.Run(vec.ID, func(t *testing.T) {
			c := &vec.Computed
			platformOnly := c.OuterTag == 18
			key := loadKey(t, vec.dir, vec.PlatformKey)
			r, err := v.VerifyBytes(ctx, vec.raw, Options{CPAK: key, AllowPlatformOnly: platformOnly})

			// The check outcomes recorded in EXPECTED.json.
			if got := mustCheck(t, r, CheckPlatformSignature).OK; got != c.PlatformSigValid {
				t.Errorf("platform.signature ok = %v, want %v", got, c.PlatformSigValid)
			}
			for _, e := range []struct {
				name string
				want *bool
			}{{CheckRealmSignature, c.RealmSigValid}, {CheckBinding, c.BindingOK}} {
				got := mustCheck(t, r, e.name)
				switch {
				case e.want == nil && !got.NotApplicable:
					t.Errorf("%s = %+v, want not applicable", e.name, got)
				case e.want != nil && got.OK != *e.want:
					t.Errorf("%s ok = %v, want %v (%s)", e.name, got.OK, *e.want, got.Detail)
				}
			}

			// The overall outcome, from the recorded flags and from the
			// human-written expectation, which must agree.
			wantFailed := []string{}
			if !c.PlatformSigValid {
				wantFailed = append(wantFailed, CheckPlatformSignature)
			}
			if c.RealmSigValid != nil && !*c.RealmSigValid {
				wantFailed = append(wantFailed, CheckRealmSignature)
			}
			if c.BindingOK != nil && !*c.BindingOK {
				wantFailed = append(wantFailed, CheckBinding)
			}
			slices.Sort(wantFailed)
			negative := strings.HasPrefix(vec.Expected, "NEGATIVE")
			if negative != (len(wantFailed) > 0) {
				t.Fatalf("EXPECTED.json disagrees with itself: expected %q, failing checks %v", vec.Expected, wantFailed)
			}
			if got := failedNames(r); !slices.Equal(got, wantFailed) {
				t.Errorf("failed checks %v, want %v (err %v)", got, wantFailed, err)
			}
			if negative {
				if err == nil {
					t.Fatal("negative vector verified")
				}
				if c.BindingOK != nil && !*c.BindingOK && !errors.Is(err, ErrBinding) {
					t.Errorf("err = %v, want ErrBinding", err)
				}
			} else if err != nil {
				t.Fatalf("valid vector: %v", err)
			}

			// Facts.
			if r.TEE != "cca" {
				t.Errorf("TEE = %q", r.TEE)
			}
			if want := formByTag[c.OuterTag]; r.Form != want {
				t.Errorf("Form = %q, want %q (outer tag %d)", r.Form, want, c.OuterTag)
			}
			if r.PlatformAlg != algNames[c.PlatformAlg] {
				t.Errorf("PlatformAlg = %q, want %q", r.PlatformAlg, algNames[c.PlatformAlg])
			}
			pc := c.PlatformClaims
			checkFact(t, "PlatformProfile", r.PlatformProfile, pc["265"])
			checkFact(t, "PlatformHashAlgo", r.PlatformHashAlgo, pc["2402"])
			if want := pc["2395"].(float64); float64(r.Lifecycle) != want {
				t.Errorf("Lifecycle = %d, want %v", r.Lifecycle, want)
			}
			// 12288-12543 (0x3000-0x30ff) is the secured state.
			if want := pc["2395"].(float64); want >= 0x3000 && want <= 0x30ff && r.LifecycleState != "secured" {
				t.Errorf("LifecycleState = %q, want secured", r.LifecycleState)
			}
			if got := hex.EncodeToString(r.Platform.InstanceID); got != pc["256"] {
				t.Errorf("platform instance ID = %s, want %v", got, pc["256"])
			}
			if platformOnly {
				if r.Realm != nil || r.RealmAlg != "" {
					t.Errorf("platform-only token has realm facts: %+v", r)
				}
			} else {
				rc := c.RealmClaims
				if r.RealmAlg != algNames[*c.RealmAlg] {
					t.Errorf("RealmAlg = %q, want %q", r.RealmAlg, algNames[*c.RealmAlg])
				}
				checkFact(t, "RealmHashAlgo", r.RealmHashAlgo, rc["44236"])
				checkFact(t, "RealmPublicKeyHashAlgo", r.RealmPublicKeyHashAlgo, *c.RAKHashAlg)
				wantProfile, _ := rc["265"].(string)
				checkFact(t, "RealmProfile", r.RealmProfile, wantProfile)
				if got := hex.EncodeToString(r.Realm.Challenge); got != rc["10"] {
					t.Errorf("realm challenge = %s, want %v", got, rc["10"])
				}
			}
			// For PEM keys the expected SPKI hash is the hash of the file's DER.
			if blk, _ := pem.Decode(readFile(t, vec.dir, vec.PlatformKey)); blk != nil {
				sum := sha256.Sum256(blk.Bytes)
				if want := hex.EncodeToString(sum[:]); r.CPAKSHA256 != want {
					t.Errorf("CPAKSHA256 = %s, want %s", r.CPAKSHA256, want)
				}
			}
		})
	}
}

func checkFact(t *testing.T, name string, got string, want any) {
	t.Helper()
	if got != fmt.Sprint(want) {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

// TestPlatformOnly checks that platform-only tokens fail with ErrNoRealm
// (and only at token.format) unless Options.AllowPlatformOnly is set.
func TestPlatformOnly(t *testing.T) {
	ctx := context.Background()
	v := NewVerifier(nil)
	n := 0
	for _, vec := range loadVectors(t) {
		if vec.Computed.OuterTag != 18 {
			continue
		}
		n++
		key := loadKey(t, vec.dir, vec.PlatformKey)
		r, err := v.VerifyBytes(ctx, vec.raw, Options{CPAK: key})
		if !errors.Is(err, ErrNoRealm) {
			t.Errorf("%s: err = %v, want ErrNoRealm", vec.ID, err)
		}
		if got := failedNames(r); !slices.Equal(got, []string{CheckTokenFormat}) {
			t.Errorf("%s: failed %v, want only %s", vec.ID, got, CheckTokenFormat)
		}
		if !mustCheck(t, r, CheckPlatformSignature).OK {
			t.Errorf("%s: platform signature not verified", vec.ID)
		}
		for _, name := range []string{CheckRealmSignature, CheckBinding, CheckChallenge} {
			if c := mustCheck(t, r, name); !c.NotApplicable || c.OK {
				t.Errorf("%s: %s = %+v, want not applicable", vec.ID, name, c)
			}
		}

		// The platform challenge is the freshness value of a platform-only token.
		challenge := mustHex(t, vec.Computed.PlatformClaims["10"].(string))
		opt := Options{CPAK: key, AllowPlatformOnly: true, ExpectedChallenge: challenge}
		if _, err := v.VerifyBytes(ctx, vec.raw, opt); err != nil {
			t.Errorf("%s: with the platform challenge: %v", vec.ID, err)
		}
		wrong := slices.Clone(challenge)
		wrong[0] ^= 1
		opt.ExpectedChallenge = wrong
		r, err = v.VerifyBytes(ctx, vec.raw, opt)
		if !errors.Is(err, ErrChallenge) || !slices.Equal(failedNames(r), []string{CheckChallenge}) {
			t.Errorf("%s: wrong platform challenge: err %v, failed %v", vec.ID, err, failedNames(r))
		}
	}
	if n != 3 {
		t.Fatalf("%d platform-only vectors, want 3", n)
	}
}

// TestKeyStore looks platform keys up by instance ID in the rust-ccatoken
// trust anchor files, with the outcomes PROVENANCE.md records.
func TestKeyStore(t *testing.T) {
	ctx := context.Background()
	v := NewVerifier(nil)
	for _, tc := range []struct {
		vector, store string
		wantFailed    []string
		class         error
	}{
		{"rust-cca-token-02", "rust/ta-02-ok.json", nil, nil},
		{"rust-cca-token-01", "rust/ta-tfa.json", nil, nil},
		{"veraison-go-tf-rmm-token", "rust/ta-tfa.json", nil, nil},
		{"rust-cca-token-draft-ffm-00", "rust/ta-tfa.json", nil, nil},
		{"rust-bug-33-repro", "rust/ta-tfa.json", []string{CheckBinding}, ErrBinding},
		// ta-02-bad.json holds the right instance ID with a key whose x
		// coordinate was altered: it is not a point on P-256.
		{"rust-cca-token-02", "rust/ta-02-bad.json", []string{CheckPlatformKey, CheckPlatformSignature}, ErrKey},
		// ta.json holds another instance ID.
		{"rust-cca-token-02", "rust/ta.json", []string{CheckPlatformKey, CheckPlatformSignature}, ErrNoKey},
		{"rust-cca-token-01", "rust/ta-02-ok.json", []string{CheckPlatformKey, CheckPlatformSignature}, ErrNoKey},
	} {
		vec := vectorByID(t, tc.vector)
		store := loadKeyStore(t, "cca-veraison", tc.store)
		r, err := v.VerifyBytes(ctx, vec.raw, Options{KeyStore: store})
		if got := failedNames(r); !slices.Equal(got, tc.wantFailed) {
			t.Errorf("%s with %s: failed %v, want %v (err %v)", tc.vector, tc.store, got, tc.wantFailed, err)
		}
		if tc.class == nil {
			if err != nil {
				t.Errorf("%s with %s: %v", tc.vector, tc.store, err)
			}
			continue
		}
		if !errors.Is(err, tc.class) {
			t.Errorf("%s with %s: err %v, want %v", tc.vector, tc.store, err, tc.class)
		}
		if tc.class == ErrNoKey && !errors.Is(err, errNotFound) {
			t.Errorf("%s with %s: the key store's error is not wrapped: %v", tc.vector, tc.store, err)
		}
	}
}

// TestWrongPlatformKeys checks the negative outcomes PROVENANCE.md records:
// testRMMLegacyEvidence must fail with testIAK, cca-token-02 with the ta.json
// key (and the TF-M realm key is no platform key).
func TestWrongPlatformKeys(t *testing.T) {
	ctx := context.Background()
	v := NewVerifier(nil)
	var taKey jwk
	var entries []struct{ PKey jwk }
	if err := json.Unmarshal(readFile(t, "cca-veraison", "rust/ta.json"), &entries); err != nil || len(entries) == 0 {
		t.Fatalf("ta.json: %v", err)
	}
	taKey = entries[0].PKey
	taPub, err := taKey.publicKey()
	if err != nil {
		t.Fatalf("ta.json key: %v", err)
	}
	for _, tc := range []struct {
		vector string
		key    any
		detail string
	}{
		// ES384 token, P-256 key: the algorithm and key disagree.
		{"veraison-go-testRMMLegacyEvidence", loadKey(t, "cca-veraison", "go/testIAK.pub.jwk.json"), "needs a P-384 key"},
		{"rust-cca-token-02", taPub, "does not verify"},
		{"tfm-cca-token", loadKey(t, "cca-tfm", "cca_realm_RAK.pub.pem"), "does not verify"},
		{"tfm-cca-example-token-cmw", loadKey(t, "cca-veraison", "go/testRMMCPAK.pub.jwk.json"), ""}, // the right key, as a JWK
	} {
		vec := vectorByID(t, tc.vector)
		r, err := v.VerifyBytes(ctx, vec.raw, Options{CPAK: tc.key})
		if tc.detail == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.vector, err)
			}
			continue
		}
		if !errors.Is(err, ErrSignature) {
			t.Errorf("%s: err %v, want ErrSignature", tc.vector, err)
		}
		if got := failedNames(r); !slices.Equal(got, []string{CheckPlatformSignature}) {
			t.Errorf("%s: failed %v, want only platform.signature", tc.vector, got)
		}
		if d := mustCheck(t, r, CheckPlatformSignature).Detail; !strings.Contains(d, tc.detail) {
			t.Errorf("%s: detail %q does not say %q", tc.vector, d, tc.detail)
		}
		// The realm side is independent of the platform key.
		if !mustCheck(t, r, CheckRealmSignature).OK || !mustCheck(t, r, CheckBinding).OK {
			t.Errorf("%s: realm checks failed with a wrong platform key: %+v", tc.vector, r.Checks)
		}
	}
}

// TestGoCOSEAgrees checks the signature checks against go-cose's own
// COSE_Sign1 decoding and verification of the whole message, which rebuilds
// the signed bytes itself.
func TestGoCOSEAgrees(t *testing.T) {
	for _, vec := range loadVectors(t) {
		tok, err := cca.Parse(vec.raw)
		if err != nil {
			t.Fatal(err)
		}
		sign1s := []*cca.Sign1{&tok.Platform.Sign1}
		keys := []crypto.PublicKey{loadKey(t, vec.dir, vec.PlatformKey)}
		if tok.Realm != nil {
			rak, err := tok.Realm.Claims.PublicKeyECDSA()
			if err != nil {
				t.Fatal(err)
			}
			sign1s = append(sign1s, &tok.Realm.Sign1)
			keys = append(keys, rak)
		}
		for i, s := range sign1s {
			msg, err := s.Message()
			if err != nil {
				t.Fatalf("%s: %v", vec.ID, err)
			}
			alg, err := msg.Headers.Protected.Algorithm()
			if err != nil {
				t.Fatalf("%s: %v", vec.ID, err)
			}
			ver, err := cose.NewVerifier(alg, keys[i])
			if err != nil {
				t.Fatalf("%s: %v", vec.ID, err)
			}
			if err := msg.Verify(nil, ver); err != nil {
				t.Errorf("%s: token %d: go-cose: %v", vec.ID, i, err)
			}
			if detail, class := verifySign1(s, s.ToBeSigned(), keys[i].(*ecdsa.PublicKey), "test"); class != nil {
				t.Errorf("%s: token %d: %s", vec.ID, i, detail)
			}
		}
	}
}
