package ccatest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ratls/ratls/testing/ccatest"
	"github.com/ratls/ratls/verify/arm"
)

// A test makes the CCA tokens it needs and trusts the platform's key: here
// a token that answers the relying party's nonce, and a verification that
// expects another one.
func ExampleNewPlatform() {
	p, err := ccatest.NewPlatform()
	if err != nil {
		log.Fatal(err)
	}
	token, err := p.Token(ccatest.NewRealm([]byte("nonce-01")))
	if err != nil {
		log.Fatal(err)
	}

	v := arm.NewVerifier(nil)
	_, err = v.VerifyBytes(context.Background(), token, arm.Options{CPAK: p.Public(), ExpectedChallenge: []byte("nonce-01")})
	fmt.Println(err)
	_, err = v.VerifyBytes(context.Background(), token, arm.Options{CPAK: p.Public(), ExpectedChallenge: []byte("nonce-02")})
	fmt.Println(err != nil)
	// Output:
	// <nil>
	// true
}
