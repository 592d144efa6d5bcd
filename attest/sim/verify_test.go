package sim_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"testing"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/verify/intel"
)

// The options VerifyOptions returns verify the simulation's quotes with
// its collateral, and leave the caller's configuration as it was.
func TestVerifyOptions(t *testing.T) {
	s := newSim(t)
	o, err := sim.New(sim.InitOptions{Seed: bytes.Repeat([]byte{1}, 32), Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	other := o.Root()
	cfg := &intel.Config{ExtraRoots: make([]*x509.Certificate, 1, 4), WithoutIntelRoot: true}
	cfg.ExtraRoots[0] = other
	opt := s.VerifyOptions(cfg)
	if len(cfg.ExtraRoots) != 1 || cfg.ExtraRoots[:2][1] != nil {
		t.Errorf("the caller's ExtraRoots changed: %v", cfg.ExtraRoots[:2])
	}
	if opt.Policy != nil {
		t.Error("VerifyOptions chose a policy")
	}
	d := tee.Find[*dcap.Options](opt.TEE)
	if d == nil {
		t.Fatal("VerifyOptions gave no options for SGX and TDX quotes")
	}
	for _, kind := range []string{sim.TEESGX, sim.TEETDX} {
		att, err := s.Attester(kind, sim.Measurements{})
		if err != nil {
			t.Fatal(err)
		}
		q := attest(t, att, reportData(kind))
		req := pcs.Request{TEE: pcs.TEESGX}
		if kind == sim.TEETDX {
			req.TEE = pcs.TEETDX
		}
		coll, err := d.Collateral.Collateral(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Verifier.Verify(context.Background(), q, intel.Options{Now: s.Now(), Collateral: coll}); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
}
