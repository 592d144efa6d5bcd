package cca

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics and that an accepted token is
// internally consistent: raw messages, forms, sizes, and the helpers that
// work on parsed tokens.
func FuzzParse(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.raw)
	}
	p := splitVector(f, vectorByID(f, "veraison-go-testGoodCCAToken").raw)
	f.Add(legacyCollection(p.platformToken(), p.realmToken()))
	f.Add(p.platformToken())
	f.Add(tagItem(TagCollectionCMW, mapItem()))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := Parse(b)
		if err != nil {
			if tok != nil {
				t.Fatal("token returned with an error")
			}
			return
		}
		if tok.Platform == nil || !bytes.Equal(tok.PlatformRaw, tok.Platform.Raw) {
			t.Fatal("platform token missing or PlatformRaw inconsistent")
		}
		switch tok.Form {
		case FormPlatformOnly:
			if tok.Realm != nil || tok.RealmRaw != nil || !bytes.Equal(tok.PlatformRaw, b) {
				t.Fatal("platform-only token inconsistent")
			}
		case FormCMW, FormLegacy:
			if tok.Realm == nil || !bytes.Equal(tok.RealmRaw, tok.Realm.Raw) {
				t.Fatal("collection without a consistent realm token")
			}
			c := &tok.Realm.Claims
			if len(c.Challenge) != RealmChallengeSize || len(c.PersonalizationValue) != PersonalizationValueSize ||
				len(c.ExtensibleMeasurements) != ExtensibleMeasurementsLen || len(c.PublicKey) == 0 {
				t.Fatal("realm claims violate size rules")
			}
			_, _ = c.PublicKeyECDSA()
			_, _ = tok.ExpectedPlatformChallenge()
			checkToBeSigned(t, &tok.Realm.Sign1)
		default:
			t.Fatalf("unknown form %q", tok.Form)
		}
		pc := &tok.Platform.Claims
		if !pc.Lifecycle.State().Valid() || len(pc.InstanceID) != InstanceIDSize || len(pc.SWComponents) == 0 {
			t.Fatal("platform claims violate the rules")
		}
		checkToBeSigned(t, &tok.Platform.Sign1)
		again, err := Parse(b)
		if err != nil || !reflect.DeepEqual(again, tok) {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}

// checkToBeSigned decodes the Sig_structure and compares it with the message.
func checkToBeSigned(t *testing.T, s *Sign1) {
	items, err := decodeArray(s.ToBeSigned(), "Sig_structure")
	if err != nil || len(items) != 4 {
		t.Fatalf("Sig_structure: %v", err)
	}
	ctx, err1 := decodeText(items[0], "context")
	prot, err2 := decodeBytes(items[1], "protected")
	aad, err3 := decodeBytes(items[2], "aad")
	payload, err4 := decodeBytes(items[3], "payload")
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || ctx != "Signature1" ||
		!bytes.Equal(prot, s.Protected) || len(aad) != 0 || !bytes.Equal(payload, s.Payload) {
		t.Fatal("Sig_structure does not match the message")
	}
}
