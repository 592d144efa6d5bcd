package shared_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/service/shared"
	"github.com/ratls/ratls/service/store"
)

// down is an upstream that cannot be reached.
type down struct{}

func (down) Collateral(context.Context, pcs.Request) (*pcs.Collateral, error) {
	return nil, fmt.Errorf("PCS: connection refused: %w", pcs.ErrUnavailable)
}

// Two replicas share one store: the first fetches the collateral from
// upstream (Intel's PCS; here a simulated TEE's collateral) and stores
// it, and the second is served from the store, even while upstream is
// down for it. The service puts a pcs.Cache in front of each.
func ExampleNewIntel() {
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	s, err := sim.New(sim.InitOptions{Seed: make([]byte, sim.SeedSize), Now: now})
	if err != nil {
		log.Fatal(err)
	}
	coll, err := s.Collateral(sim.TEETDX)
	if err != nil {
		log.Fatal(err)
	}
	req := pcs.Request{TEE: pcs.TEETDX, FMSPC: coll.TCBInfo.FMSPC, CA: pcs.CAPlatform, Update: pcs.UpdateStandard}

	st, err := store.Open(context.Background(), "sqlite::memory:") // PostgreSQL for replicas on several hosts
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	clock := shared.Config{Now: func() time.Time { return now }}

	first := shared.NewIntel(st, s.Provider(), clock)
	if _, err := first.Collateral(context.Background(), req); err != nil {
		log.Fatal(err)
	}
	second := shared.NewIntel(st, down{}, clock)
	got, err := second.Collateral(context.Background(), req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("second replica got TCB Info", got.TCBInfo.ID, "without asking upstream")
	fmt.Printf("first: %+v\n", first.Stats())
	fmt.Printf("second: %+v\n", second.Stats())

	// Collateral nobody stored is unavailable while upstream is down.
	req.FMSPC[0] ^= 1
	_, err = second.Collateral(context.Background(), req)
	fmt.Println(errors.Is(err, pcs.ErrUnavailable))
	// Output:
	// second replica got TCB Info TDX without asking upstream
	// first: {StoreHits:0 UpstreamFetches:1 StoreErrors:0 UpstreamErrors:0}
	// second: {StoreHits:1 UpstreamFetches:0 StoreErrors:0 UpstreamErrors:0}
	// true
}
