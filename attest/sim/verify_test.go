package sim_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"testing"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/collateral/pcs"
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
	for _, tee := range []string{sim.TEESGX, sim.TEETDX} {
		att, err := s.Attester(tee, sim.Measurements{})
		if err != nil {
			t.Fatal(err)
		}
		q := attest(t, att, reportData(tee))
		req := pcs.Request{TEE: pcs.TEESGX}
		if tee == sim.TEETDX {
			req.TEE = pcs.TEETDX
		}
		coll, err := opt.Collateral.Collateral(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := opt.Intel.Verify(context.Background(), q, intel.Options{Now: s.Now(), Collateral: coll}); err != nil {
			t.Errorf("%s: %v", tee, err)
		}
	}
}
