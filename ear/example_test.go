package ear_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log"
	"time"

	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/verify/checks"
)

// A verifier (such as the verification service) signs an EAR; a relying
// party verifies it against the verifier's published keys and reads the
// status, the trust vector and the reasons.
func ExampleVerify() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

	// The verifier's side: the appraisal's reasons become the submodule.
	reasons := []ear.Reason{{Check: "tcb_status", Category: checks.Configuration, State: checks.Failed,
		Expected: "UpToDate", Actual: "SWHardeningNeeded", Message: "accepted by accepted_tcb_statuses", Status: ear.StatusWarning}}
	e := &ear.EAR{
		IssuedAt:   now.Unix(),
		VerifierID: ear.VerifierID{Build: "ratls example", Developer: "example.com"},
		Nonce:      "cmF0bHMtZXhhbXBsZS1ub25jZQ",
		Submods:    map[string]*ear.Appraisal{"tdx": ear.FromReasons(ear.StatusWarning, "payments-v3", reasons, nil)},
	}
	token, err := e.Sign(key)
	if err != nil {
		log.Fatal(err)
	}

	// The relying party's side: keys from the verifier (a JWK set, as the
	// service publishes at /v1/keys).
	keys := &ear.JWKSet{Keys: []ear.JWK{ear.NewJWK(&key.PublicKey)}}
	got, err := ear.Verify(token, keys, now)
	if err != nil {
		log.Fatal(err)
	}
	a := got.Submods["tdx"]
	fmt.Println(a.Status, a.PolicyID, got.Nonce)
	fmt.Printf("trust vector: %+v\n", *a.TrustVector)
	fmt.Println("reason:", a.Reasons[0].Check, a.Reasons[0].Actual)

	// A token signed by another key is refused.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged, _ := e.Sign(other)
	_, err = ear.Verify(forged, keys, now)
	fmt.Println("forged:", err != nil)
	// Output:
	// warning payments-v3 cmF0bHMtZXhhbXBsZS1ub25jZQ
	// trust vector: {InstanceIdentity:2 Configuration:32 Executables:2 FileSystem:0 Hardware:2 RuntimeOpaque:2 StorageOpaque:0 SourcedData:0}
	// reason: tcb_status SWHardeningNeeded
	// forged: true
}
