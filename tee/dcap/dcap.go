// Package dcap is the TEE family of Intel SGX and TDX DCAP quotes: it
// verifies a quote with verify/intel against the verifier's own collateral
// (and the peer's, to fill gaps), appraises it with the policy's sgx or tdx
// section, and replays a TDX guest's CC event log into the quote's RTMRs.
//
// SGX and TDX are one family: they share the quote format, the verifier,
// the collateral and so the options.
package dcap

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"math"
	"sync"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/inspect"
	"github.com/ratls/ratls/internal/contentkey"
	"github.com/ratls/ratls/internal/lru"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/verify/intel"
	"github.com/ratls/ratls/verify/measuredboot"
)

// Name names the family.
const Name = "dcap"

// Options configure the verification of SGX and TDX quotes.
type Options struct {
	// Verifier verifies the quotes; nil means a shared verifier that trusts
	// the Intel SGX Root CA only. Reuse one verifier: it caches.
	Verifier *intel.Verifier
	// Collateral is the verifier's own source of Intel collateral; nil
	// means none. It wins over collateral a certificate carries in its
	// endorsements extension, which only fills gaps and never rolls the
	// TCB back (see intel.Options.PeerCollateral).
	Collateral pcs.Provider
	// Update is the Intel TCB update channel asked of Collateral.
	Update pcs.Update
	// PCKChainPEM is the PCK chain for quotes that carry only a PPID.
	PCKChainPEM []byte
}

// Family reports Name.
func (*Options) Family() string { return Name }

// Of returns the dcap options among in's, the zero options when none were
// given. Other families whose evidence holds a quote (Azure vTPM) use it.
func Of(in *tee.Input) *Options {
	o, _ := in.OptionsFor(Name).(*Options)
	if o == nil {
		return &Options{}
	}
	return o
}

// defaultVerifier is the verifier used when the options name none: its
// caches are what make repeated verifications cheap.
var defaultVerifier = sync.OnceValue(func() *intel.Verifier { return intel.NewVerifier(nil) })

// VerifierOf returns o's verifier, or the shared default.
func (o *Options) VerifierOf() *intel.Verifier {
	if o.Verifier != nil {
		return o.Verifier
	}
	return defaultVerifier()
}

// IntelOptions are the quote verifier's options for a verification at in.
func (o *Options) IntelOptions(in *tee.Input) intel.Options {
	return intel.Options{Now: in.Now, Provider: o.Collateral, Update: o.Update, PCKChainPEM: o.PCKChainPEM}
}

func init() { tee.Register(family{}) }

type family struct{}

func (family) Name() string { return Name }

func (family) Verifies(it *evidence.Item) bool { return it.Quote != nil }

func (family) Verify(ctx context.Context, it *evidence.Item, in *tee.Input) *tee.Result {
	o := Of(in)
	opts := o.IntelOptions(in)
	r := &tee.Result{}
	if e := in.Peer; e != nil && !e.Empty && e.SNP == nil {
		c, err := endorsementCollateral.get(e)
		if err != nil {
			r.Err = &tee.EndorsementsError{Err: err}
			r.Appraisal = in.Policy.AppraiseIntel(nil, r.Err, in.Binding)
			return r
		}
		opts.PeerCollateral = c
	}
	res, err := o.VerifierOf().Verify(ctx, it.Quote, opts)
	r.Err, r.Appraisal = err, in.Policy.AppraiseIntel(res, err, in.Binding)
	if res != nil {
		r.Verified, r.Checks, r.Valid, r.TEE = res, res.Checks, res.Valid, res.TEE
	}
	if td := it.Quote.TD; td != nil {
		r.ReplayEventLog(it, it.EventLog, measuredboot.TDX(td.RTMR), "the quote's RTMR0..3")
	} else {
		r.ReplayEventLog(it, it.EventLog, measuredboot.Bank{}, "")
	}
	return r
}

func (family) Submodules(it *evidence.Item, r *tee.Result, _ *appraise.Policy) map[string]*ear.Appraisal {
	return map[string]*ear.Appraisal{r.TEE: r.Appraisal.Submodule(inspect.Measurements(it))}
}

// endorsementCollateral remembers the collateral parsed from endorsements
// extensions, by content, so that every certificate carrying the same
// collateral yields the same *pcs.Collateral and the quote verifier's cache
// of verified collateral applies: collateral is parsed and its signatures
// checked once, not per handshake.
var endorsementCollateral = &collateralCache{c: lru.New[[32]byte, *pcs.Collateral](math.MaxInt64, 256)}

type collateralCache struct {
	c *lru.Cache[[32]byte, *pcs.Collateral]
}

func (cc *collateralCache) get(e *evidence.Endorsements) (*pcs.Collateral, error) {
	key := contentkey.Of("endorsements", e.TCBInfo, e.TCBInfoIssuerChain, e.PCKCRL, e.RootCACRL, e.PCKCRLIssuerChain, e.QEIdentity, e.QEIdentityIssuerChain)
	if c, ok := cc.c.Get(key); ok {
		return c, nil
	}
	c, err := fromEndorsements(e)
	if err != nil {
		return nil, err
	}
	cc.c.Add(key, c, 0)
	return c, nil
}

// fromEndorsements turns the Intel collateral carried in an RA-TLS
// endorsements extension into verifiable collateral.
func fromEndorsements(e *evidence.Endorsements) (*pcs.Collateral, error) {
	c := &pcs.Collateral{Source: "certificate endorsements extension"}
	var err error
	steps := []struct {
		name string
		do   func() error
	}{
		{"TCB_INFO", func() error { c.TCBInfo, err = pcs.ParseTCBInfo(trimNUL(e.TCBInfo)); return err }},
		{"TCB_ISSUER_CHAIN", func() error { c.TCBInfoIssuerChain, err = pcs.ParsePEMChain(e.TCBInfoIssuerChain); return err }},
		{"CRL_PCK_CERT", func() error { c.PCKCRL, err = parseEndorsedCRL(e.PCKCRL); return err }},
		{"CRL_PCK_PROC_CA", func() error { c.RootCACRL, err = parseEndorsedCRL(e.RootCACRL); return err }},
		{"CRL_ISSUER_CHAIN_PCK_CERT", func() error { c.PCKCRLIssuerChain, err = pcs.ParsePEMChain(e.PCKCRLIssuerChain); return err }},
		{"QE_ID_INFO", func() error { c.QEIdentity, err = pcs.ParseEnclaveIdentity(trimNUL(e.QEIdentity)); return err }},
		{"QE_ID_ISSUER_CHAIN", func() error { c.QEIdentityIssuerChain, err = pcs.ParsePEMChain(e.QEIdentityIssuerChain); return err }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return c, nil
}

// trimNUL drops the C string terminators rats-tls leaves on collateral.
// Only for text (JSON, PEM): a DER value may end in zero bytes.
func trimNUL(b []byte) []byte { return bytes.TrimRight(b, "\x00") }

// parseEndorsedCRL parses a CRL from an endorsements extension: DER, or PEM
// or hex with a C string terminator. A DER CRL's signature may end in 0x00,
// so the value is parsed as is first; only if that fails is one trailing
// terminator removed.
func parseEndorsedCRL(b []byte) (*x509.RevocationList, error) {
	crl, err := pcs.ParseCRL(b)
	if err != nil && len(b) > 0 && b[len(b)-1] == 0 {
		if crl2, err2 := pcs.ParseCRL(b[:len(b)-1]); err2 == nil {
			return crl2, nil
		}
	}
	return crl, err
}
