package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"

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

// startService runs a verification service on loopback (what "ratls
// verifier serve" runs) that trusts the simulation s and appraises with
// its reference values.
func startService(s *sim.Sim, att *sim.Attester) (url string, stop func()) {
	st, err := store.Open(context.Background(), "sqlite::memory:")
	if err != nil {
		log.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := service.New(context.Background(), service.Config{
		Store:  st,
		Signer: key,
		Verify: ratls.VerifyOptions{
			Policy: sim.ReferencePolicy(att.Measurements()),
			TEE:    []tee.Options{&dcap.Options{Verifier: intel.NewVerifier(&intel.Config{ExtraRoots: []*x509.Certificate{s.Root()}}), Collateral: s.Provider()}},
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	return hs.URL, func() { hs.Close(); srv.Close(); st.Close() }
}

// A relying party that cannot verify TEE evidence itself sends it to the
// verification service and gets a signed EAR, whose signature it checks
// against the service's published keys. The nonce makes the answer fresh:
// the service refuses evidence that does not carry it.
func ExampleClient_Attest() {
	s, err := sim.New(sim.InitOptions{})
	if err != nil {
		log.Fatal(err)
	}
	att, err := s.Attester(sim.TEETDX, sim.Measurements{})
	if err != nil {
		log.Fatal(err)
	}
	url, stop := startService(s, att)
	defer stop()

	// The relying party's nonce, and the TEE's quote answering it.
	nonce := []byte("relying party's nonce 0000000001")
	var rd [64]byte
	copy(rd[:], nonce)
	ev, err := att.Attest(context.Background(), rd)
	if err != nil {
		log.Fatal(err)
	}

	c := &client.Client{BaseURL: url}
	res, err := c.Attest(context.Background(), &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: ev.Data, Nonce: nonce})
	var p *api.Problem
	if errors.As(err, &p) && p.EAR != "" {
		log.Fatalf("rejected by policy: %v", p.Reasons)
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.TEE, res.Status, res.Reasons[0].Check)

	e, err := c.VerifyEAR(context.Background(), res.EAR)
	if err != nil {
		log.Fatal(err)
	}
	for name, a := range e.Submods {
		fmt.Println("signed EAR:", name, a.Status)
	}

	// A replayed quote does not carry another relying party's nonce.
	_, err = c.Attest(context.Background(), &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: ev.Data, Nonce: []byte("another relying party's nonce 02")})
	fmt.Println("replayed:", errors.As(err, &p), p.Status)
	// Output:
	// tdx warning trust_anchor
	// signed EAR: tdx warning
	// replayed: true 422
}
