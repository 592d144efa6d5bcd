package sim_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/verify/intel"
)

// An in-memory simulation: a TDX attester whose quotes verify against the
// simulation's root and collateral. With a fixed seed and reference time
// the simulation is the same on every run.
func ExampleNew() {
	s, err := sim.New(sim.InitOptions{Seed: make([]byte, sim.SeedSize), Now: time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		log.Fatal(err)
	}
	att, err := s.Attester(sim.TEETDX, sim.Measurements{})
	if err != nil {
		log.Fatal(err)
	}
	ev, err := att.Attest(context.Background(), [64]byte{'h', 'i'})
	if err != nil {
		log.Fatal(err)
	}
	q, err := quote.Parse(ev.Data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("quote version", q.Header.Version, "TDX:", q.IsTDX())

	// A verifier trusts the simulation only when told to.
	v := intel.NewVerifier(&intel.Config{ExtraRoots: []*x509.Certificate{s.Root()}})
	res, err := v.Verify(context.Background(), q, intel.Options{Now: s.Now(), Provider: s.Provider()})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("TCB:", res.TCB.Status, "simulated root:", res.TrustAnchor.Simulated)
	// Output:
	// quote version 4 TDX: true
	// TCB: UpToDate simulated root: true
}

// A simulation kept on disk: Init writes the seed, the root to trust and
// the collateral in the layout of pcs.LoadDir; Load rebuilds the same PKI,
// so quotes made later still verify against those files.
func ExampleInit() {
	dir, err := os.MkdirTemp("", "ratls-sim")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := sim.Init(dir, sim.InitOptions{}); err != nil {
		log.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Name())
	}

	s, err := sim.Load(dir)
	if err != nil {
		log.Fatal(err)
	}
	coll, err := pcs.LoadDir(filepath.Join(dir, "tdx"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Root().Subject.CommonName, "/", coll.TCBInfo.ID)
	// Output:
	// policy.json
	// root.pem
	// sgx
	// sim.json
	// tdx
	// ratls Simulated SGX Root CA / TDX
}

// ReferencePolicy is an appraisal policy that expects the simulated
// attester's measurements.
func ExampleReferencePolicy() {
	p := sim.ReferencePolicy(sim.Measurements{})
	fmt.Println(p.Name())
	fmt.Println("mrtd:", p.TDX.MRTD[0][:16]+"...")
	// Output:
	// ratls-simulated-tee
	// mrtd: 8b315a11a617b2ce...
}
