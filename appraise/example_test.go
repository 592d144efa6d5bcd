package appraise_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/verify/intel"
)

// Policies are strict JSON: an unknown or misspelt key is an error, so a
// typo cannot silently weaken a policy.
func ExampleReadPolicy() {
	p, err := appraise.ReadPolicy(strings.NewReader(`{
		"id": "payments-v3",
		"accepted_tcb_statuses": ["UpToDate", "SWHardeningNeeded"],
		"tdx": {"mrtd": ["` + strings.Repeat("ab", 48) + `"]}
	}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Name(), p.AcceptedTCBStatuses)

	_, err = appraise.ReadPolicy(strings.NewReader(`{"allow_debugg": true}`))
	fmt.Println(err != nil)
	// Output:
	// payments-v3 [UpToDate SWHardeningNeeded]
	// true
}

// A verifier (here verify/intel) proves facts about a quote; the policy
// decides whether they are good enough and says why when they are not.
// Package ratls runs both steps for every TEE (ratls.VerifyEvidence).
func ExamplePolicy_AppraiseIntel() {
	s, err := sim.New(sim.InitOptions{Seed: make([]byte, sim.SeedSize), Now: time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		log.Fatal(err)
	}
	att, err := s.Attester("tdx", sim.Measurements{})
	if err != nil {
		log.Fatal(err)
	}
	ev, err := att.Attest(context.Background(), [64]byte{})
	if err != nil {
		log.Fatal(err)
	}
	q, err := quote.Parse(ev.Data)
	if err != nil {
		log.Fatal(err)
	}
	v := intel.NewVerifier(&intel.Config{ExtraRoots: []*x509.Certificate{s.Root()}})
	res, verr := v.Verify(context.Background(), q, intel.Options{Now: s.Now(), Provider: s.Provider()})

	// Reference values for the simulated TD: accepted, with the warning
	// every simulated TEE carries.
	a := sim.ReferencePolicy(att.Measurements()).AppraiseIntel(res, verr, nil)
	fmt.Println(a.Status, a.ReferenceValuesChecked)

	// Reference values for other code: refused, and the reason says why.
	other := &appraise.Policy{TDX: &appraise.TDXReference{MRTD: []string{strings.Repeat("00", 48)}}}
	a = other.AppraiseIntel(res, verr, nil)
	r := appraise.FirstRejection(a.Reasons)
	fmt.Println(a.Status, r.Check, r.Expected[:8]+"...")
	// Output:
	// warning true
	// contraindicated tdx.mrtd 00000000...
}
