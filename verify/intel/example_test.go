package intel_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/verify/intel"
)

// Verify checks a quote's signatures, its PCK chain, the collateral and the
// TCB level, and reports every check. It proves facts and decides nothing:
// package appraise (or ratls.VerifyEvidence, which runs both) applies a
// policy. A simulated TDX quote stands in for real evidence here.
func ExampleVerifier_Verify() {
	s, err := sim.New(sim.InitOptions{Seed: make([]byte, sim.SeedSize), Now: time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		log.Fatal(err)
	}
	att, err := s.Attester(sim.TEETDX, sim.Measurements{})
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

	// One Verifier for the process: it caches what platforms and
	// collateral have proven. The simulation's root is trusted on top of
	// Intel's; its Provider stands in for Intel's PCS (pcs.NewClient) behind
	// a cache (pcs.NewCache).
	v := intel.NewVerifier(&intel.Config{ExtraRoots: []*x509.Certificate{s.Root()}})
	res, err := v.Verify(context.Background(), q, intel.Options{Now: s.Now(), Provider: s.Provider()})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.TEE, res.TCB.Status, len(res.Failed()), "failed checks")

	// Trusting Intel's root alone, the simulated quote is refused, and the
	// error names the check.
	res, err = intel.NewVerifier(nil).Verify(context.Background(), q, intel.Options{Now: s.Now(), Provider: s.Provider()})
	fmt.Println(errors.Is(err, intel.ErrChain), res.Failed()[0].Name)
	// Output:
	// tdx UpToDate 0 failed checks
	// true pck.chain
}
