package sim

import (
	"slices"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/verify/intel"
)

// VerifyOptions returns what a relying party that trusts the simulation
// verifies with: an Intel verifier that trusts the simulation's root and
// the simulation's collateral (Provider). cfg, which may be nil, configures
// the verifier (cache bounds, other roots); the root is added to its
// ExtraRoots. The policy is left to the caller (see ReferencePolicy).
//
// It is how a verification service, or any other verifier, is set up for
// the simulation: service.Config{Verify: s.VerifyOptions(nil), …}.
func (s *Sim) VerifyOptions(cfg *intel.Config) ratls.VerifyOptions {
	c := intel.Config{}
	if cfg != nil {
		c = *cfg
	}
	c.ExtraRoots = append(slices.Clip(c.ExtraRoots), s.Root())
	return ratls.VerifyOptions{TEE: []tee.Options{&dcap.Options{Verifier: intel.NewVerifier(&c), Collateral: s.Provider()}}}
}
