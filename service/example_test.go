package service_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/client"
	"github.com/ratls/ratls/service/store"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/verify/intel"
)

// A verification service on an SQLite store (PostgreSQL for replicas):
// an operator stores a policy through the management API, and relying
// parties name it when they send evidence. Here the service trusts a
// simulated TEE; in production its Verify options hold collateral
// sources for Intel's PCS and AMD's KDS (see "ratls verifier serve").
func ExampleNew() {
	s, err := sim.New(sim.InitOptions{})
	if err != nil {
		log.Fatal(err)
	}
	att, err := s.Attester(sim.TEETDX, sim.Measurements{})
	if err != nil {
		log.Fatal(err)
	}

	st, err := store.Open(context.Background(), "sqlite::memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // signs the EARs
	if err != nil {
		log.Fatal(err)
	}
	srv, err := service.New(context.Background(), service.Config{
		Store:  st,
		Signer: key,
		Verify: ratls.VerifyOptions{
			TEE: []tee.Options{&dcap.Options{Verifier: intel.NewVerifier(&intel.Config{ExtraRoots: []*x509.Certificate{s.Root()}}), Collateral: s.Provider()}},
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler()) // srv.Serve in production
	defer hs.Close()

	// The operator: a token (as "ratls verifier token create" makes), then
	// the first version of a policy.
	tok, err := service.CreateToken(context.Background(), st, "operator", store.RoleAdmin, "example", time.Now())
	if err != nil {
		log.Fatal(err)
	}
	admin := &client.Client{BaseURL: hs.URL, Token: tok.Secret}
	policy, err := json.Marshal(sim.ReferencePolicy(att.Measurements()))
	if err != nil {
		log.Fatal(err)
	}
	doc, err := admin.PutPolicy(context.Background(), "simulated-td", policy)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored", doc.Name, "version", doc.Version)

	// A relying party names the policy.
	ev, err := att.Attest(context.Background(), [64]byte{})
	if err != nil {
		log.Fatal(err)
	}
	rp := &client.Client{BaseURL: hs.URL}
	res, err := rp.Attest(context.Background(), &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: ev.Data, Policy: "simulated-td"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status, res.PolicyID)
	// Output:
	// stored simulated-td version 1
	// warning simulated-td@1
}
