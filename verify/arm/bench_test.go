package arm

import (
	"context"
	"testing"

	"github.com/ratls/ratls/evidence/cca"
	cose "github.com/veraison/go-cose"
)

// benchVector is the TF-M example token: CMW collection 907, ES384
// platform and realm signatures, realm key as a COSE_Key.
const benchVector = "tfm-cca-example-token-cmw"

// BenchmarkVerifyCCA measures a full verification of a parsed token.
// "cold" uses a fresh verifier each time, so both signatures are verified;
// "warm" is a token whose platform token the verifier has seen (another
// realm on a known platform), so only the realm signature is.
func BenchmarkVerifyCCA(b *testing.B) {
	vec := vectorByID(b, benchVector)
	tok, err := cca.Parse(vec.raw)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	opt := Options{CPAK: loadKey(b, vec.dir, vec.PlatformKey)}
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := NewVerifier(nil).Verify(ctx, tok, opt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		v := NewVerifier(nil)
		if _, err := v.Verify(ctx, tok, opt); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, tok, opt); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTwoSignatures is the floor for a cold verification: the
// platform and realm COSE_Sign1 signature verifications of the same token
// alone, with keys, verifiers and signed bytes prepared beforehand.
func BenchmarkTwoSignatures(b *testing.B) {
	vec := vectorByID(b, benchVector)
	tok, err := cca.Parse(vec.raw)
	if err != nil {
		b.Fatal(err)
	}
	rak, err := tok.Realm.Claims.PublicKeyECDSA()
	if err != nil {
		b.Fatal(err)
	}
	pv, err := cose.NewVerifier(cose.Algorithm(tok.Platform.Alg), loadKey(b, vec.dir, vec.PlatformKey))
	if err != nil {
		b.Fatal(err)
	}
	rv, err := cose.NewVerifier(cose.Algorithm(tok.Realm.Alg), rak)
	if err != nil {
		b.Fatal(err)
	}
	ptbs, rtbs := tok.Platform.ToBeSigned(), tok.Realm.ToBeSigned()
	b.ReportAllocs()
	for b.Loop() {
		if err := pv.Verify(ptbs, tok.Platform.Signature); err != nil {
			b.Fatal(err)
		}
		if err := rv.Verify(rtbs, tok.Realm.Signature); err != nil {
			b.Fatal(err)
		}
	}
}
