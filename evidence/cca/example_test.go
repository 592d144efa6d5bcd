package cca_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/ratls/ratls/evidence/cca"
	"github.com/ratls/ratls/testing/ccatest"
)

// Parse decodes a CCA attestation token (the platform and the realm
// token) and every claim by name; ExpectedPlatformChallenge is the value
// the platform challenge holds when the platform token vouches for the
// realm token's key. Checking it, and the signatures, is verify/arm's. A
// token from a test platform stands in for one from configfs-tsm.
func ExampleParse() {
	p, err := ccatest.NewPlatform()
	if err != nil {
		log.Fatal(err)
	}
	raw, err := p.Token(ccatest.NewRealm([]byte("relying party nonce")))
	if err != nil {
		log.Fatal(err)
	}

	t, err := cca.Parse(raw)
	if err != nil {
		log.Fatal(err)
	}
	pc, rc := t.Platform.Claims, t.Realm.Claims
	fmt.Println(t.Form, pc.Profile, pc.Lifecycle.Secured())
	for _, c := range pc.SWComponents {
		fmt.Printf("%s %x...\n", c.MeasurementType, c.MeasurementValue[:4])
	}
	fmt.Printf("realm challenge %q, RIM %x...\n", rc.Challenge[:19], rc.InitialMeasurement[:4])
	want, err := t.ExpectedPlatformChallenge()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("platform challenge binds the realm key:", bytes.Equal(pc.Challenge, want))
	// Output:
	// legacy-399 http://arm.com/CCA-SSD/1.0.0 true
	// BL 33333333...
	// RMM 55555555...
	// realm challenge "relying party nonce", RIM 88888888...
	// platform challenge binds the realm key: true
}
