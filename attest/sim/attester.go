package sim

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"sync/atomic"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/internal/dcapsim"
)

// Measurements are the values a simulated quote reports for the enclave
// (SGX) or trust domain (TDX). Only the part for the attester's TEE is used.
type Measurements struct {
	SGX SGXMeasurements
	TDX TDXMeasurements
}

// SGXMeasurements are the identity of a simulated SGX enclave.
type SGXMeasurements struct {
	// MREnclave zero means SHA-256("ratls simulated enclave").
	MREnclave [32]byte
	// MRSigner zero means SHA-256("ratls simulated enclave signer").
	MRSigner [32]byte
	// ISVProdID and ISVSVN are used as given.
	ISVProdID, ISVSVN uint16
	// Debug sets the DEBUG attribute.
	Debug bool
}

// TDXMeasurements are the identity of a simulated TDX trust domain.
type TDXMeasurements struct {
	// MRTD zero means SHA-384("ratls simulated TD").
	MRTD [48]byte
	// RTMR, MRConfigID and MROwner are used as given (zero is what a TD
	// that does not use them reports).
	RTMR       [4][48]byte
	MRConfigID [48]byte
	MROwner    [48]byte
	// Debug sets the DEBUG bit of the TD attributes.
	Debug bool
}

// Default measurement inputs: obviously fake values, hashed so that they
// have the form of real measurements.
const (
	defaultMREnclaveInput = "ratls simulated enclave"
	defaultMRSignerInput  = "ratls simulated enclave signer"
	defaultMRTDInput      = "ratls simulated TD"
)

func sha384(b []byte) [48]byte { return sha512.Sum384(b) }

// ReferencePolicyID names the policy ReferencePolicy returns.
const ReferencePolicyID = "ratls-simulated-tee"

// ReferencePolicy returns an appraisal policy whose reference values are
// the measurements m (with the defaults for zero values): the simulated
// enclave's MRENCLAVE and MRSIGNER and the simulated TD's MRTD. Evidence of
// an attester with these measurements is affirmed by it, apart from the
// warning every simulated TEE carries.
func ReferencePolicy(m Measurements) *appraise.Policy {
	m = m.withDefaults()
	return &appraise.Policy{
		ID: ReferencePolicyID,
		SGX: &appraise.SGXReference{
			MREnclave: []string{hex.EncodeToString(m.SGX.MREnclave[:])},
			MRSigner:  []string{hex.EncodeToString(m.SGX.MRSigner[:])},
		},
		TDX: &appraise.TDXReference{MRTD: []string{hex.EncodeToString(m.TDX.MRTD[:])}},
	}
}

// withDefaults returns m with the documented defaults for zero values.
func (m Measurements) withDefaults() Measurements {
	if m.SGX.MREnclave == ([32]byte{}) {
		m.SGX.MREnclave = sha256.Sum256([]byte(defaultMREnclaveInput))
	}
	if m.SGX.MRSigner == ([32]byte{}) {
		m.SGX.MRSigner = sha256.Sum256([]byte(defaultMRSignerInput))
	}
	if m.TDX.MRTD == ([48]byte{}) {
		m.TDX.MRTD = sha384([]byte(defaultMRTDInput))
	}
	return m
}

// Attester produces simulated quotes of one TEE with fixed measurements. It
// implements the Attester interface of package ratls and is safe for
// concurrent use.
type Attester struct {
	tee  string
	pki  *dcapsim.PKI
	opts dcapsim.QuoteOptions // read-only; each quote works on a copy
	m    Measurements
	// calls counts the quotes produced.
	calls atomic.Int64
}

// Attester returns an attester for the simulated SGX ("sgx") or TDX ("tdx")
// platform reporting the measurements m, zero fields replaced by the
// defaults documented on [SGXMeasurements] and [TDXMeasurements]. SGX quotes
// are version 3, TDX quotes version 4.
func (s *Sim) Attester(tee string, m Measurements) (*Attester, error) {
	pl, ok := s.platforms[tee]
	if !ok {
		return nil, teeError(tee)
	}
	m = m.withDefaults()
	opts := pl.QuoteOptions // a copy; the keys and PCK it points to are never modified
	if tee == TEETDX {
		m.SGX = SGXMeasurements{}
		td := &opts.TD
		td.MRTD = m.TDX.MRTD
		td.RTMR = m.TDX.RTMR
		td.MRConfigID = m.TDX.MRConfigID
		td.MROwner = m.TDX.MROwner
		if m.TDX.Debug {
			td.TDAttributes[0] |= byte(quote.TDAttrDebug)
		}
	} else {
		m.TDX = TDXMeasurements{}
		body := &opts.SGX
		body.MREnclave = m.SGX.MREnclave
		body.MRSigner = m.SGX.MRSigner
		body.ISVProdID = m.SGX.ISVProdID
		body.ISVSVN = m.SGX.ISVSVN
		if m.SGX.Debug {
			body.Attributes[0] |= byte(quote.SGXAttrDebug)
		}
	}
	return &Attester{tee: tee, pki: s.pki, opts: opts, m: m}, nil
}

// Attest returns a fresh, correctly signed quote (SGX version 3 or TDX
// version 4) whose report data is reportData, as evidence tagged
// evidence.TagIntelQuote.
func (a *Attester) Attest(ctx context.Context, reportData [64]byte) (*evidence.Evidence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := a.opts
	if a.tee == TEETDX {
		o.TD.ReportData = reportData
	} else {
		o.SGX.ReportData = reportData
	}
	q, err := a.pki.NewQuote(o)
	if err != nil {
		return nil, fmt.Errorf("sim: %s quote: %w", a.tee, err)
	}
	a.calls.Add(1)
	return &evidence.Evidence{Tag: evidence.TagIntelQuote, Data: q}, nil
}

// Calls returns how many quotes the attester has produced.
func (a *Attester) Calls() int { return int(a.calls.Load()) }

// TEE returns "sgx" or "tdx".
func (a *Attester) TEE() string { return a.tee }

// Measurements returns the measurements the attester's quotes report, with
// defaults applied; the part of the other TEE is zero.
func (a *Attester) Measurements() Measurements { return a.m }

// NewMachine returns an attester for another machine of the same simulated
// platform: it reports the same measurements, but its quotes carry a PCK
// certificate of its own (a new key, PPID and platform instance ID) and are
// signed by an attestation key of its own, as each machine of a real fleet
// does. The simulation's collateral rates every machine. It is for load
// tests of fleets; a simulation directory does not remember the machines.
func (a *Attester) NewMachine() (*Attester, error) {
	o := a.opts.PCK.Options
	o.Key, o.PPID, o.PlatformInstanceID = nil, [16]byte{}, [16]byte{}
	pck, err := a.pki.NewPCK(o)
	if err != nil {
		return nil, fmt.Errorf("sim: new machine: %w", err)
	}
	attKey, err := a.pki.NewKey()
	if err != nil {
		return nil, fmt.Errorf("sim: new machine: %w", err)
	}
	m := &Attester{tee: a.tee, pki: a.pki, opts: a.opts, m: a.m}
	m.opts.PCK, m.opts.AttestationKey = pck, attKey
	m.opts.UserData = [20]byte{}
	if _, err := rand.Read(m.opts.UserData[:16]); err != nil { // its QE ID
		return nil, fmt.Errorf("sim: new machine: %w", err)
	}
	return m, nil
}
