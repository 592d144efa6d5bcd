package pcs_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/collateral/pcs"
)

// A verifier usually gets collateral from Intel's PCS or a PCCS through a
// Cache, which keeps it (in memory and on disk) until its next update and
// backs off while the source is down. Pass the cache to the verifier
// (intel.Options.Provider, or ratls.VerifyOptions).
func ExampleNewCache() {
	client := pcs.NewClient(pcs.ClientConfig{BaseURL: "https://pccs.example:8081"}) // zero value: Intel's PCS
	cache := pcs.NewCache(client, pcs.CacheConfig{Dir: "/var/cache/ratls/pcs"})
	var _ pcs.Provider = cache
}

// Offline collateral: a directory in the layout LoadDir reads (written by
// "ratls collateral fetch", or here by a simulated TEE) serves an
// air-gapped verifier through Static.
func ExampleLoadDir() {
	dir, err := os.MkdirTemp("", "ratls-pcs")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	if err := sim.Init(dir, sim.InitOptions{Seed: make([]byte, sim.SeedSize), Now: now}); err != nil {
		log.Fatal(err)
	}

	c, err := pcs.LoadDir(filepath.Join(dir, "tdx"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("TCB Info:", c.TCBInfo.ID, "FMSPC", hex.EncodeToString(c.TCBInfo.FMSPC[:]))
	fmt.Println("QE Identity:", c.QEIdentity.ID)
	fmt.Println("missing:", c.Missing())
	expiry, err := pcs.CacheExpiry(c, now)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("valid until:", expiry.Format(time.DateOnly))

	var p pcs.Provider = pcs.Static{C: c}
	got, err := p.Collateral(context.Background(), pcs.Request{TEE: pcs.TEETDX, FMSPC: c.TCBInfo.FMSPC})
	fmt.Println(got == c, err)
	// Output:
	// TCB Info: TDX FMSPC 00806f050000
	// QE Identity: TD_QE
	// missing: []
	// valid until: 2027-01-15
	// true <nil>
}
