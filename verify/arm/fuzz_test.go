package arm

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ratls/ratls/evidence/cca"
)

// FuzzVerifyBytes verifies mutated tokens with the TF-M test CPAK. Besides
// not panicking, the result must agree with the error, and a token can only
// verify if the bytes its signatures cover are those of a seed: mutations
// may touch only what no signature covers.
func FuzzVerifyBytes(f *testing.F) {
	signed := map[string]bool{} // to-be-signed bytes || signature of every seed token
	for _, vec := range loadVectors(f) {
		f.Add(vec.raw)
		tok, err := cca.Parse(vec.raw)
		if err != nil {
			f.Fatal(err)
		}
		signed[string(append(tok.Platform.ToBeSigned(), tok.Platform.Signature...))] = true
		if tok.Realm != nil {
			signed[string(append(tok.Realm.ToBeSigned(), tok.Realm.Signature...))] = true
		}
	}
	key := loadKey(f, "cca-tfm", "cca_platform_CPAK.pub.pem")
	v := NewVerifier(&Config{CacheSize: 4})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := v.VerifyBytes(ctx, b, Options{CPAK: key, AllowPlatformOnly: true, ExpectedChallenge: bytes.Repeat([]byte{0xab}, 64)})
		if r == nil {
			t.Fatal("nil result")
		}
		failed := r.Failed()
		if (err == nil) != (len(failed) == 0) {
			t.Fatalf("err %v with %d failed checks", err, len(failed))
		}
		for _, c := range failed {
			if c.Err() == nil {
				t.Errorf("failed check %s has no class", c.Name)
			}
		}
		if err != nil {
			var ve *VerificationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *VerificationError", err)
			}
			return
		}
		p := r.Token.Platform
		if !signed[string(append(p.ToBeSigned(), p.Signature...))] {
			t.Fatal("a platform token no seed signed verified")
		}
		if rt := r.Token.Realm; rt != nil && !signed[string(append(rt.ToBeSigned(), rt.Signature...))] {
			t.Fatal("a realm token no seed signed verified")
		}
	})
}
