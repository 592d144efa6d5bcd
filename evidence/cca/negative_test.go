package cca

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// baseParts returns the pieces of the profiled CMW example token, whose
// realm claims include the unknown claims 256 and 44243.
func baseParts(t *testing.T) parts {
	return splitVector(t, vectorByID(t, "tfm-cca-example-token-cmw").raw)
}

func TestRebuiltTokenParses(t *testing.T) {
	p := baseParts(t)
	for name, in := range map[string][]byte{
		"cmw":    p.cmw(),
		"legacy": legacyCollection(p.platformToken(), p.realmToken()),
	} {
		tok, err := Parse(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := tok.Realm.Claims.UnknownClaimKeys(); !slices.Equal(got, []int64{256, 44243}) {
			t.Errorf("%s: unknown realm claims %v, want [256 44243]", name, got)
		}
	}
	tok, err := Parse(p.platformToken())
	if err != nil || tok.Form != FormPlatformOnly || tok.Realm != nil {
		t.Fatalf("platform only: %v", err)
	}
}

func TestParseTopLevelErrors(t *testing.T) {
	p := baseParts(t)
	plat, realm := p.platformToken(), p.realmToken()
	good := p.cmw()
	record := func(b []byte) []byte { return arrayItem(uintItem(CollectionContentFormat), bstr(b)) }
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"too large", append(bytes.Clone(good), make([]byte, maxTokenSize)...), ErrTooLarge},
		{"untagged map", mapItem(pair{uintItem(KeyPlatformToken), bstr(plat)}), ErrWrongTag},
		{"untagged COSE_Sign1", arrayItem(bstr(p.platformProtected), mapItem(), bstr(p.platform.encode()), bstr(p.platformSig)), ErrWrongTag},
		{"tag 400", tagItem(400, mapItem()), ErrWrongTag},
		{"tag 61 (CWT)", tagItem(61, plat), ErrWrongTag},
		{"trailing byte", append(bytes.Clone(good), 0x00), ErrMalformed},
		{"trailing item", append(bytes.Clone(good), good...), ErrMalformed},
		{"truncated", good[:len(good)-1], ErrMalformed},
		{"collection not a map", tagItem(907, arrayItem(bstr(plat), bstr(realm))), ErrMalformed},
		{"missing realm (907)", tagItem(907, mapItem(pair{uintItem(KeyPlatformToken), record(plat)})), ErrMissingClaim},
		{"missing platform (907)", tagItem(907, mapItem(pair{uintItem(KeyRealmToken), record(realm)})), ErrMissingClaim},
		{"missing realm (399)", tagItem(399, mapItem(pair{uintItem(KeyPlatformToken), bstr(plat)})), ErrMissingClaim},
		{"missing platform (399)", tagItem(399, mapItem(pair{uintItem(KeyRealmToken), bstr(realm)})), ErrMissingClaim},
		{"extra key", tagItem(907, mapItem(
			pair{uintItem(KeyPlatformToken), record(plat)}, pair{uintItem(KeyRealmToken), record(realm)},
			pair{uintItem(1), record(realm)})), ErrMalformed},
		{"text key", tagItem(907, mapItem(
			pair{uintItem(KeyPlatformToken), record(plat)}, pair{uintItem(KeyRealmToken), record(realm)},
			pair{tstr("__cmwc_t"), tstr("x")})), ErrMalformed},
		{"duplicate platform key", tagItem(907, mapItem(
			pair{uintItem(KeyPlatformToken), record(plat)}, pair{uintItem(KeyRealmToken), record(realm)},
			pair{uintItem(KeyPlatformToken), record(plat)})), ErrMalformed},
		{"duplicate key, non-preferred encoding", tagItem(399, mapItem(
			pair{uintItem(KeyPlatformToken), bstr(plat)}, pair{uintItem(KeyRealmToken), bstr(realm)},
			pair{[]byte{0x1a, 0x00, 0x00, 0xac, 0xca}, bstr(plat)})), ErrMalformed},
		{"907 with bare bstr entries", tagItem(907, mapItem(
			pair{uintItem(KeyPlatformToken), bstr(plat)}, pair{uintItem(KeyRealmToken), bstr(realm)})), ErrMalformed},
		{"399 with CMW records", tagItem(399, mapItem(
			pair{uintItem(KeyPlatformToken), record(plat)}, pair{uintItem(KeyRealmToken), record(realm)})), ErrMalformed},
		{"CMW record of 3", tagItem(907, mapItem(
			pair{uintItem(KeyPlatformToken), arrayItem(uintItem(263), bstr(plat), uintItem(0))}, pair{uintItem(KeyRealmToken), record(realm)})), ErrMalformed},
		{"CMW content format 264", tagItem(907, mapItem(
			pair{uintItem(KeyPlatformToken), arrayItem(uintItem(264), bstr(plat))}, pair{uintItem(KeyRealmToken), record(realm)})), ErrInvalidClaim},
		{"CMW content format text", tagItem(907, mapItem(
			pair{uintItem(KeyPlatformToken), arrayItem(tstr("application/cose"), bstr(plat))}, pair{uintItem(KeyRealmToken), record(realm)})), ErrMalformed},
		{"platform token as text", tagItem(399, mapItem(
			pair{uintItem(KeyPlatformToken), tstr("x")}, pair{uintItem(KeyRealmToken), bstr(realm)})), ErrMalformed},
		{"indefinite-length collection map", append(append([]byte{0xd9, 0x03, 0x8b, 0xbf},
			append(uintItem(KeyPlatformToken), record(plat)...)...), append(append(uintItem(KeyRealmToken), record(realm)...), 0xff)...), ErrMalformed},
		{"indefinite-length platform bstr", tagItem(399, mapItem(
			pair{uintItem(KeyPlatformToken), append(append([]byte{0x5f}, bstr(plat)...), 0xff)}, pair{uintItem(KeyRealmToken), bstr(realm)})), ErrMalformed},
		{"platform bstr with trailing byte", legacyCollection(append(bytes.Clone(plat), 0), realm), ErrMalformed},
		{"realm bstr with trailing item", legacyCollection(plat, append(bytes.Clone(realm), realm...)), ErrMalformed},
		{"realm token tagged 17", legacyCollection(plat, append([]byte{0xd1}, realm[1:]...)), ErrWrongTag},
		{"realm token untagged", legacyCollection(plat, realm[1:]), ErrWrongTag},
		{"platform token is a collection", legacyCollection(legacyCollection(plat, realm), realm), ErrWrongTag},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := Parse(c.in)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if tok != nil {
				t.Fatalf("token returned with error")
			}
			var e *Error
			if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), "cca: ") || e.Field == "" {
				t.Fatalf("error %q is not a descriptive *Error", err)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	p := baseParts(t)
	p.realm[ClaimChallenge] = bstr(make([]byte, 32))
	_, err := Parse(p.cmw())
	if want := "cca: realm token: claims: claim 10 (challenge): want 64 bytes, got 32 bytes"; err == nil || err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	p = baseParts(t)
	p.realm[ClaimRealmInitialMeasurement] = bstr(make([]byte, 20))
	_, err = Parse(p.cmw())
	if want := "cca: realm token: claims: claim 44238 (initial measurement): want 32, 48 or 64 bytes, got 20 bytes"; err == nil || err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	_, err = Parse(p.cmw()[:100])
	if want := "cca: token: truncated item (unexpected EOF)"; err == nil || err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	_, err = Parse(tagItem(400, mapItem()))
	if want := "cca: token: want tag 907 (CMW collection), 399 (legacy collection) or 18 (platform token), got tag 400"; err == nil || err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	var dup *cbor.DupMapKeyError
	q := baseParts(t)
	_, err = Parse(tagItem(399, mapItem(pair{uintItem(KeyPlatformToken), bstr(q.platformToken())},
		pair{uintItem(KeyPlatformToken), bstr(q.platformToken())})))
	if !errors.As(err, &dup) || !strings.Contains(err.Error(), "duplicate map key") {
		t.Errorf("duplicate key error %q does not expose the decoder error", err)
	}
}

func TestParseCOSEErrors(t *testing.T) {
	p := baseParts(t)
	payload := p.platform.encode()
	build := func(items ...[]byte) []byte {
		return legacyCollection(tagItem(tagCOSESign1, arrayItem(items...)), p.realmToken())
	}
	prot, sig := bstr(p.platformProtected), bstr(p.platformSig)
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"3 elements", build(prot, mapItem(), bstr(payload)), ErrMalformed},
		{"5 elements", build(prot, mapItem(), bstr(payload), sig, sig), ErrMalformed},
		{"not an array", legacyCollection(tagItem(tagCOSESign1, mapItem()), p.realmToken()), ErrMalformed},
		{"protected not bstr", build(mapItem(pair{uintItem(1), intItem(-35)}), mapItem(), bstr(payload), sig), ErrMalformed},
		{"empty protected header", build(bstr(nil), mapItem(), bstr(payload), sig), ErrMissingClaim},
		{"protected without alg", build(bstr(mapItem(pair{uintItem(3), uintItem(0)})), mapItem(), bstr(payload), sig), ErrMissingClaim},
		{"alg as text", build(bstr(mapItem(pair{uintItem(1), tstr("ES384")})), mapItem(), bstr(payload), sig), ErrMalformed},
		{"duplicate alg", build(bstr(mapItem(pair{uintItem(1), intItem(-35)}, pair{uintItem(1), intItem(-7)})), mapItem(), bstr(payload), sig), ErrMalformed},
		{"protected trailing bytes", build(bstr(append(mapItem(pair{uintItem(1), intItem(-35)}), 0)), mapItem(), bstr(payload), sig), ErrMalformed},
		{"unprotected not a map", build(prot, bstr(nil), bstr(payload), sig), ErrMalformed},
		{"unprotected duplicate key", build(prot, mapItem(pair{uintItem(4), bstr(nil)}, pair{uintItem(4), bstr(nil)}), bstr(payload), sig), ErrMalformed},
		{"detached payload", build(prot, mapItem(), []byte{0xf6}, sig), ErrMalformed},
		{"payload as text", build(prot, mapItem(), tstr("x"), sig), ErrMalformed},
		{"payload not a map", build(prot, mapItem(), bstr(arrayItem()), sig), ErrMalformed},
		{"payload trailing bytes", build(prot, mapItem(), bstr(append(bytes.Clone(payload), 0)), sig), ErrMalformed},
		{"payload indefinite-length map", build(prot, mapItem(), bstr(append(append([]byte{0xbf}, payload[1:]...), 0xff)), sig), ErrMalformed},
		{"empty signature", build(prot, mapItem(), bstr(payload), bstr(nil)), ErrMalformed},
		{"signature as array", build(prot, mapItem(), bstr(payload), arrayItem()), ErrMalformed},
	}
	if payload[0] != 0xa9 { // the indefinite-length case below rewrites this one-byte head
		t.Fatalf("unexpected payload head %#x", payload[0])
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Parse(c.in); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestRealmClaimErrors(t *testing.T) {
	mandatory := []int64{ClaimChallenge, ClaimRealmPersonalizationValue, ClaimRealmInitialMeasurement,
		ClaimRealmExtensibleMeasurements, ClaimRealmHashAlgo, ClaimRealmPublicKey, ClaimRealmPublicKeyHashAlgo}
	for _, key := range mandatory {
		p := baseParts(t)
		delete(p.realm, key)
		if _, err := Parse(p.cmw()); !errors.Is(err, ErrMissingClaim) {
			t.Errorf("without realm claim %d: err = %v, want ErrMissingClaim", key, err)
		}
	}
	p := baseParts(t)
	delete(p.realm, ClaimProfile)
	if tok, err := Parse(p.cmw()); err != nil || tok.Realm.Claims.Profile != "" {
		t.Errorf("realm profile is optional: %v", err)
	}

	rem := func(sizes ...int) []byte {
		var items [][]byte
		for _, n := range sizes {
			items = append(items, bstr(make([]byte, n)))
		}
		return arrayItem(items...)
	}
	cases := []struct {
		name string
		key  int64
		val  []byte
		want error
	}{
		{"challenge 32 bytes", ClaimChallenge, bstr(make([]byte, 32)), ErrInvalidClaim},
		{"challenge 65 bytes", ClaimChallenge, bstr(make([]byte, 65)), ErrInvalidClaim},
		{"challenge as text", ClaimChallenge, tstr(strings.Repeat("a", 64)), ErrMalformed},
		{"challenge tagged", ClaimChallenge, tagItem(24, bstr(make([]byte, 64))), ErrMalformed},
		{"challenge as array", ClaimChallenge, arrayItem(bstr(make([]byte, 64))), ErrMalformed},
		{"personalization 63 bytes", ClaimRealmPersonalizationValue, bstr(make([]byte, 63)), ErrInvalidClaim},
		{"RIM 20 bytes", ClaimRealmInitialMeasurement, bstr(make([]byte, 20)), ErrInvalidClaim},
		{"RIM empty", ClaimRealmInitialMeasurement, bstr(nil), ErrInvalidClaim},
		{"3 REMs", ClaimRealmExtensibleMeasurements, rem(32, 32, 32), ErrInvalidClaim},
		{"5 REMs", ClaimRealmExtensibleMeasurements, rem(32, 32, 32, 32, 32), ErrInvalidClaim},
		{"REM 31 bytes", ClaimRealmExtensibleMeasurements, rem(32, 32, 31, 32), ErrInvalidClaim},
		{"REM not bstr", ClaimRealmExtensibleMeasurements, arrayItem(bstr(make([]byte, 32)), bstr(make([]byte, 32)), bstr(make([]byte, 32)), uintItem(1)), ErrMalformed},
		{"REMs not array", ClaimRealmExtensibleMeasurements, bstr(make([]byte, 128)), ErrMalformed},
		{"hash algo empty", ClaimRealmHashAlgo, tstr(""), ErrInvalidClaim},
		{"hash algo int", ClaimRealmHashAlgo, intItem(-16), ErrMalformed},
		{"public key empty", ClaimRealmPublicKey, bstr(nil), ErrInvalidClaim},
		{"public key hash algo bstr", ClaimRealmPublicKeyHashAlgo, bstr([]byte("sha-256")), ErrMalformed},
		{"profile int", ClaimProfile, uintItem(1), ErrMalformed},
		{"profile empty", ClaimProfile, tstr(""), ErrInvalidClaim},
		{"profile invalid UTF-8", ClaimProfile, append(appendHead(nil, majorText, 2), 0xc3, 0x28), ErrMalformed},
		{"unknown claim nested too deep", 99, append(bytes.Repeat([]byte{0x81}, 20), 0x00), ErrTooLarge},
		{"unknown claim indefinite", 99, []byte{0x9f, 0x01, 0xff}, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := baseParts(t)
			p.realm[c.key] = c.val
			if _, err := Parse(p.cmw()); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}

	// Duplicate claim in the realm payload, written by hand.
	p = baseParts(t)
	dup := p.realm.encode()
	dup[0]++ // one more pair in the map head (the map has fewer than 23 pairs)
	dup = append(dup, append(intItem(ClaimChallenge), bstr(make([]byte, 64))...)...)
	realm := sign1(p.realmProtected, dup, p.realmSig)
	if _, err := Parse(cmwCollection(p.platformToken(), realm)); !errors.Is(err, ErrMalformed) {
		t.Errorf("duplicate realm claim: err = %v, want ErrMalformed", err)
	}
	// A text claim key.
	p = baseParts(t)
	textKey := p.realm.encode()
	textKey[0]++
	textKey = append(textKey, append(tstr("nonce"), bstr(nil)...)...)
	if _, err := Parse(cmwCollection(p.platformToken(), sign1(p.realmProtected, textKey, p.realmSig))); !errors.Is(err, ErrMalformed) {
		t.Errorf("text claim key: err = %v, want ErrMalformed", err)
	}
}

func TestUnknownClaimsKept(t *testing.T) {
	p := baseParts(t)
	p.realm[-70000] = tstr("neg")
	p.platform[99999] = arrayItem(uintItem(1), tstr("x"))
	tok, err := Parse(p.cmw())
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Realm.Claims.UnknownClaimKeys(); !slices.Equal(got, []int64{-70000, 256, 44243}) {
		t.Errorf("realm unknown keys = %v", got)
	}
	if got := tok.Platform.Claims.UnknownClaimKeys(); !slices.Equal(got, []int64{99999}) {
		t.Errorf("platform unknown keys = %v", got)
	}
	if got := tok.Platform.Claims.Unknown[99999]; !bytes.Equal(got, arrayItem(uintItem(1), tstr("x"))) {
		t.Errorf("platform unknown claim raw = %x", got)
	}
	if got := tok.Realm.Claims.Unknown[44243]; !bytes.Equal(got, []byte{0x01}) {
		t.Errorf("realm claim 44243 raw = %x, want 01", got)
	}
}

func TestPlatformClaimErrors(t *testing.T) {
	mandatory := []int64{ClaimProfile, ClaimChallenge, ClaimPlatformImplementationID, ClaimInstanceID,
		ClaimPlatformConfig, ClaimPlatformLifecycle, ClaimPlatformSWComponents, ClaimPlatformHashAlgo}
	for _, key := range mandatory {
		p := baseParts(t)
		delete(p.platform, key)
		if _, err := Parse(p.cmw()); !errors.Is(err, ErrMissingClaim) {
			t.Errorf("without platform claim %d: err = %v, want ErrMissingClaim", key, err)
		}
		if _, err := Parse(p.platformToken()); !errors.Is(err, ErrMissingClaim) {
			t.Errorf("platform-only without claim %d: err = %v, want ErrMissingClaim", key, err)
		}
	}
	p := baseParts(t)
	delete(p.platform, ClaimPlatformVerificationService)
	if tok, err := Parse(p.cmw()); err != nil || tok.Platform.Claims.VerificationService != "" {
		t.Errorf("verification service is optional: %v", err)
	}

	inst := append([]byte{0x01}, make([]byte, 32)...)
	badInst := append([]byte{0x02}, make([]byte, 32)...)
	sw := func(pairs ...pair) []byte { return arrayItem(mapItem(pairs...)) }
	h32 := bstr(make([]byte, 32))
	cases := []struct {
		name string
		key  int64
		val  []byte
		want error
	}{
		{"challenge 31 bytes", ClaimChallenge, bstr(make([]byte, 31)), ErrInvalidClaim},
		{"challenge 48 bytes", ClaimChallenge, bstr(make([]byte, 48)), nil},
		{"implementation id 31 bytes", ClaimPlatformImplementationID, bstr(make([]byte, 31)), ErrInvalidClaim},
		{"instance id 32 bytes", ClaimInstanceID, bstr(inst[:32]), ErrInvalidClaim},
		{"instance id type 0x02", ClaimInstanceID, bstr(badInst), ErrInvalidClaim},
		{"config empty", ClaimPlatformConfig, bstr(nil), ErrInvalidClaim},
		{"lifecycle 0x7000", ClaimPlatformLifecycle, uintItem(0x7000), ErrInvalidClaim},
		{"lifecycle 0x3100", ClaimPlatformLifecycle, uintItem(0x3100), ErrInvalidClaim},
		{"lifecycle 0x13000", ClaimPlatformLifecycle, uintItem(0x13000), ErrInvalidClaim},
		{"lifecycle negative", ClaimPlatformLifecycle, intItem(-1), ErrMalformed},
		{"lifecycle 0x30ff", ClaimPlatformLifecycle, uintItem(0x30ff), nil},
		{"sw components empty", ClaimPlatformSWComponents, arrayItem(), ErrInvalidClaim},
		{"sw components map", ClaimPlatformSWComponents, mapItem(), ErrMalformed},
		{"sw component not a map", ClaimPlatformSWComponents, arrayItem(h32), ErrMalformed},
		{"sw component without value", ClaimPlatformSWComponents, sw(pair{uintItem(swSignerID), h32}), ErrMissingClaim},
		{"sw component without signer", ClaimPlatformSWComponents, sw(pair{uintItem(swMeasurementValue), h32}), ErrMissingClaim},
		{"sw component value 20 bytes", ClaimPlatformSWComponents, sw(pair{uintItem(swMeasurementValue), bstr(make([]byte, 20))}, pair{uintItem(swSignerID), h32}), ErrInvalidClaim},
		{"sw component type as bstr", ClaimPlatformSWComponents, sw(pair{uintItem(swMeasurementType), bstr(nil)}, pair{uintItem(swMeasurementValue), h32}, pair{uintItem(swSignerID), h32}), ErrMalformed},
		{"sw component duplicate key", ClaimPlatformSWComponents, sw(pair{uintItem(swMeasurementValue), h32}, pair{uintItem(swSignerID), h32}, pair{uintItem(swSignerID), h32}), ErrMalformed},
		{"sw component minimal", ClaimPlatformSWComponents, sw(pair{uintItem(swMeasurementValue), h32}, pair{uintItem(swSignerID), h32}), nil},
		{"verification service empty", ClaimPlatformVerificationService, tstr(""), ErrInvalidClaim},
		{"hash algo as int", ClaimPlatformHashAlgo, uintItem(1), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := baseParts(t)
			p.platform[c.key] = c.val
			_, err := Parse(p.cmw())
			if c.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}

	// Unknown sw component entries are kept.
	p = baseParts(t)
	p.platform[ClaimPlatformSWComponents] = sw(pair{uintItem(swMeasurementValue), h32}, pair{uintItem(swSignerID), h32}, pair{uintItem(3), tstr("x")})
	tok, err := Parse(p.cmw())
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Platform.Claims.SWComponents[0].Unknown[3]; !bytes.Equal(got, tstr("x")) {
		t.Errorf("sw component unknown entry = %x", got)
	}
}

// TestTruncation parses every proper prefix of every vector; all must fail
// cleanly.
func TestTruncation(t *testing.T) {
	for _, v := range loadVectors(t) {
		for n := 0; n < len(v.raw); n++ {
			tok, err := Parse(v.raw[:n])
			if err == nil || tok != nil {
				t.Fatalf("%s: prefix of %d bytes accepted", v.id, n)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%s: prefix %d: error %v is not *Error", v.id, n, err)
			}
		}
	}
}

func TestPublicKeyECDSAErrors(t *testing.T) {
	cases := map[string][]byte{
		"empty":              nil,
		"unknown format":     {0x02, 1, 2, 3},
		"raw 64 bytes":       append([]byte{0x04}, make([]byte, 63)...),
		"raw off curve":      append([]byte{0x04}, make([]byte, 96)...),
		"COSE_Key duplicate": mapItem(pair{uintItem(1), uintItem(2)}, pair{uintItem(1), uintItem(2)}),
		"COSE_Key OKP":       mapItem(pair{uintItem(1), uintItem(1)}, pair{intItem(-1), uintItem(6)}, pair{intItem(-2), bstr(make([]byte, 32))}),
		"COSE_Key bad":       mapItem(pair{uintItem(1), uintItem(2)}),
	}
	for name, key := range cases {
		c := &RealmClaims{PublicKey: key}
		if pub, err := c.PublicKeyECDSA(); err == nil || pub != nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if (&RealmClaims{}).PublicKeyFormat() != PublicKeyOther {
		t.Errorf("empty key format")
	}
}

// TestNonIntegerMapKeys checks that claim maps with keys other than integers
// are rejected without panicking, whatever Go type the key decodes to.
func TestNonIntegerMapKeys(t *testing.T) {
	keys := map[string][]byte{
		"text":             tstr("nonce"),
		"byte string":      bstr([]byte{0}),
		"array":            arrayItem(uintItem(0)),
		"map":              mapItem(pair{uintItem(0), uintItem(0)}),
		"float":            {0xf9, 0x3c, 0x00},
		"null":             {0xf6},
		"uint above int64": {0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"int below int64":  {0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"bignum tag":       tagItem(2, bstr([]byte{1})),
		"tagged array":     tagItem(6, arrayItem(uintItem(0))),
	}
	for name, key := range keys {
		p := baseParts(t)
		payload := p.realm.encode()
		payload[0]++ // one more pair; the realm map has fewer than 23 claims
		payload = append(append(payload, key...), 0x00)
		_, err := Parse(cmwCollection(p.platformToken(), sign1(p.realmProtected, payload, p.realmSig)))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s key: err = %v, want ErrMalformed", name, err)
		}
	}
}
