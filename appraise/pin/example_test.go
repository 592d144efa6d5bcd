package pin_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/ratls/ratls/appraise/pin"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/evidence"
)

// FromEvidence writes a policy that pins a known-good machine's
// measurements, with a note explaining each value ("ratls policy pin"
// prints both). Verify the evidence before trusting what it pins. A
// simulated TD stands in for the known-good machine.
func ExampleFromEvidence() {
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
	items, err := evidence.ParseRaw(ev.Data)
	if err != nil {
		log.Fatal(err)
	}

	r, err := pin.FromEvidence(items[0], ev.Data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("mrtd:", r.Policy.TDX.MRTD[0][:16]+"...")
	for _, n := range r.Notes {
		fmt.Println("pinned", n.Key)
	}
	fmt.Printf("%.60s...\n", r.Notes[0].What)
	// Output:
	// mrtd: 8b315a11a617b2ce...
	// pinned tdx.mrtd
	// pinned tdx.rtmr0
	// pinned tdx.rtmr1
	// pinned tdx.rtmr2
	// MRTD of the TD quote: the TD's initial firmware (TDVF/OVMF o...
}
