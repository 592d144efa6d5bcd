package explore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/explore"
)

// Analyze is what the explorer page shows for one input: the decoded
// structure, each field explained, and the verification. Here a simulated
// quote is decoded, and refused by the default options, which trust only
// Intel's root; Config.Verify sets the trust anchors, collateral and
// policy, as in ratls.VerifyEvidence.
func ExampleConfig_Analyze() {
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

	cfg := &explore.Config{Now: s.Now}
	a := cfg.Analyze(context.Background(), "quote.bin", ev.Data)
	fmt.Println(a.Kind)
	fmt.Println(explore.Explain("mrtd"))
	fmt.Println(a.Verification.TEE, a.Verification.Status, a.Verification.Reasons[0].Check)
	// Output:
	// evidence
	// Measurement of the TD's initial contents (firmware).
	// Intel SGX/TDX contraindicated pck.chain
}

// Handler serves the page and its analysis endpoint; "ratls explore" and
// "ratls verifier serve" mount it.
func ExampleConfig_Handler() {
	srv := httptest.NewServer((&explore.Config{Where: "example"}).Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	// Output:
	// 200 text/html; charset=utf-8
}
