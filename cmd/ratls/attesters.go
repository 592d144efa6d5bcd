package main

import (
	"fmt"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/gramine"
	"github.com/ratls/ratls/attest/sevguest"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/attest/tsm"
	"github.com/ratls/ratls/evidence"
)

// attesterFlags select where evidence comes from in serve and connect.
type attesterFlags struct {
	name   string // sim, tsm, gramine, sevguest
	simDir string // sim: a directory from "ratls sim init" ("" = in memory)
	tee    string // sim: sgx or tdx
}

// openAttester returns the attester and, for the simulator, the simulation
// (whose root and collateral the caller may need).
func (f *attesterFlags) openAttester() (ratls.Attester, *sim.Sim, error) {
	switch f.name {
	case "sim":
		var s *sim.Sim
		var err error
		if f.simDir != "" {
			s, err = sim.Load(f.simDir)
		} else {
			s, err = sim.New(sim.InitOptions{})
		}
		if err != nil {
			return nil, nil, err
		}
		a, err := s.Attester(f.tee, sim.Measurements{})
		if err != nil {
			return nil, nil, err
		}
		return a, s, nil
	case "tsm":
		a, err := tsm.New(tsm.Options{})
		return a, nil, err
	case "gramine":
		a, err := gramine.New(gramine.Options{})
		return a, nil, err
	case "sevguest":
		a, err := sevguest.New(sevguest.Options{})
		return a, nil, err
	}
	return nil, nil, fmt.Errorf("--attester: want sim, tsm, gramine or sevguest, got %q", f.name)
}

// simEndorsements packs the simulator's collateral into the certificate so
// clients can verify offline.
func simEndorsements(s *sim.Sim, tee string) (*evidence.Endorsements, error) {
	c, err := s.Collateral(tee)
	if err != nil {
		return nil, err
	}
	return ratls.EndorsementsFromCollateral(c), nil
}
