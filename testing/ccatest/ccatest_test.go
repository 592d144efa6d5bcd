package ccatest

import (
	"bytes"
	"context"
	"testing"

	"github.com/ratls/ratls/evidence/cca"
	"github.com/ratls/ratls/verify/arm"
)

// A token verifies with the platform's CPAK and carries the claims asked
// for; with another platform's key it does not.
func TestToken(t *testing.T) {
	p, err := NewPlatform()
	if err != nil {
		t.Fatal(err)
	}
	nonce := []byte("a nonce of 16 B.")
	b, err := p.Token(NewRealm(nonce))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cca.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Form != cca.FormLegacy || !bytes.Equal(tok.Platform.Claims.InstanceID, p.InstanceID) ||
		!bytes.HasPrefix(tok.Realm.Claims.Challenge, nonce) || len(tok.Realm.Claims.Challenge) != 64 {
		t.Errorf("token: %+v", tok)
	}
	v := arm.NewVerifier(nil)
	if _, err := v.Verify(context.Background(), tok, arm.Options{CPAK: p.Public(), ExpectedChallenge: nonce}); err != nil {
		t.Errorf("verify with the CPAK: %v", err)
	}
	other, _ := NewPlatform()
	if _, err := v.Verify(context.Background(), tok, arm.Options{CPAK: other.Public()}); err == nil {
		t.Error("verify with another platform's key: want an error")
	}
}
