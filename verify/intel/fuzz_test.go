package intel

import (
	"context"
	"crypto/x509"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/testing/dcaptest"
)

// forgedFixture is one deterministic test PKI with an SGX and a TDX
// platform: their parsed quotes and complete collateral. The PKI is the
// same on every run, so the committed seed corpus holds documents whose
// signatures verify.
type forgedFixture struct {
	pki    *dcaptest.PKI
	quotes [2]*quote.Quote // SGX, TDX
	good   [2]*pcs.Collateral
}

var fuzzNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

var newForgedFixture = sync.OnceValues(func() (*forgedFixture, error) {
	pki, err := dcaptest.New(dcaptest.Options{Now: fuzzNow, Rand: mrand.NewChaCha8([32]byte{10})})
	if err != nil {
		return nil, err
	}
	fx := &forgedFixture{pki: pki}
	for i, tdx := range []bool{false, true} {
		pl, err := pki.DefaultPlatform(tdx)
		if err != nil {
			return nil, err
		}
		raw, err := pl.NewQuote([64]byte{7})
		if err != nil {
			return nil, err
		}
		if fx.quotes[i], err = quote.Parse(raw); err != nil {
			return nil, err
		}
		if fx.good[i], err = signedCollateral(pl); err != nil {
			return nil, err
		}
	}
	return fx, nil
})

func fixture(t testing.TB) *forgedFixture {
	t.Helper()
	fx, err := newForgedFixture()
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

// signedCollateral parses a platform's signed collateral as a source would.
func signedCollateral(pl *dcaptest.Platform) (*pcs.Collateral, error) {
	d, err := pl.Collateral()
	if err != nil {
		return nil, err
	}
	c := &pcs.Collateral{Source: "fuzz"}
	if c.TCBInfo, err = pcs.ParseTCBInfo(d.TCBInfo); err != nil {
		return nil, err
	}
	if c.QEIdentity, err = pcs.ParseEnclaveIdentity(d.QEIdentity); err != nil {
		return nil, err
	}
	if c.TCBInfoIssuerChain, err = pcs.ParsePEMChain(d.TCBInfoIssuerChain); err != nil {
		return nil, err
	}
	if c.QEIdentityIssuerChain, err = pcs.ParsePEMChain(d.QEIdentityIssuerChain); err != nil {
		return nil, err
	}
	if c.PCKCRLIssuerChain, err = pcs.ParsePEMChain(d.PCKCRLIssuerChain); err != nil {
		return nil, err
	}
	if c.PCKCRL, err = pcs.ParseCRL(d.PCKCRL); err != nil {
		return nil, err
	}
	c.RootCACRL, err = pcs.ParseCRL(d.RootCRL)
	return c, err
}

// Ways FuzzVerifyForgedCollateral uses the forged documents.
const (
	forgedAsOwn           = iota // the verifier's own collateral
	forgedAsPeer                 // the attester's, with no own collateral
	forgedAsPeerBesideOwn        // the attester's, beside complete own collateral
	forgedModes
)

// FuzzVerifyForgedCollateral verifies a genuine (test PKI) quote against
// forged TCB Info and QE Identity documents. Verification must never panic,
// and must never succeed unless both documents carry a valid signature of
// the TCB signing key. Beside complete, current own collateral, the
// attester's documents must not change the outcome at all.
func FuzzVerifyForgedCollateral(f *testing.F) {
	fx := fixture(f)
	for i := range fx.good {
		f.Add(fx.good[i].TCBInfo.Body(), fx.good[i].QEIdentity.Body(), i == 1, uint8(forgedAsOwn))
		f.Add(fx.good[i].TCBInfo.Body(), fx.good[i].QEIdentity.Body(), i == 1, uint8(forgedAsPeer))
	}
	f.Add([]byte(`{"tcbInfo":{},"signature":""}`), []byte(`{"enclaveIdentity":{},"signature":""}`), false, uint8(forgedAsPeerBesideOwn))
	f.Fuzz(func(t *testing.T, tcbInfo, qeIdentity []byte, tdx bool, mode uint8) {
		fx := fixture(t)
		i := 0
		if tdx {
			i = 1
		}
		good := fx.good[i]
		forged := *good
		forged.Source = "forged"
		var err error
		// Unparsable documents are left out: the verifier must then
		// report them missing.
		if forged.TCBInfo, err = pcs.ParseTCBInfo(tcbInfo); err != nil {
			forged.TCBInfo = nil
		}
		if forged.QEIdentity, err = pcs.ParseEnclaveIdentity(qeIdentity); err != nil {
			forged.QEIdentity = nil
		}
		opt := Options{Now: fuzzNow}
		switch mode % forgedModes {
		case forgedAsOwn:
			opt.Collateral = &forged
		case forgedAsPeer:
			opt.PeerCollateral = &forged
		case forgedAsPeerBesideOwn:
			opt.Collateral, opt.PeerCollateral = good, &forged
		}
		v := NewVerifier(&Config{ExtraRoots: []*x509.Certificate{fx.pki.Root}, WithoutIntelRoot: true})
		r, err := v.Verify(context.Background(), fx.quotes[i], opt)
		if r == nil {
			t.Fatal("no result")
		}
		if mode%forgedModes == forgedAsPeerBesideOwn {
			if err != nil || strings.Contains(r.Collateral.Source, "forged") {
				t.Fatalf("the attester's documents changed a verification with complete own collateral: %v (source %q)", err, r.Collateral.Source)
			}
			return
		}
		if err != nil {
			return
		}
		signer := fx.pki.TCBSigner
		if forged.TCBInfo == nil || forged.TCBInfo.CheckSignature(signer) != nil {
			t.Fatalf("verified with a TCB Info whose signature does not verify: %s", tcbInfo)
		}
		if forged.QEIdentity == nil || forged.QEIdentity.CheckSignature(signer) != nil {
			t.Fatalf("verified with a QE Identity whose signature does not verify: %s", qeIdentity)
		}
		if r.TCB == nil || r.TCB.Status == "" {
			t.Fatalf("verified without a TCB status")
		}
	})
}

// The fuzz fixture verifies with its own documents in every mode, and a
// document with one changed byte of its signed body does not, so the fuzz
// target's property is not vacuous.
func TestForgedCollateralFixture(t *testing.T) {
	fx := fixture(t)
	for i, q := range fx.quotes {
		good := fx.good[i]
		for _, opt := range []Options{{Collateral: good}, {PeerCollateral: good}} {
			opt.Now = fuzzNow
			v := NewVerifier(&Config{ExtraRoots: []*x509.Certificate{fx.pki.Root}, WithoutIntelRoot: true})
			if _, err := v.Verify(context.Background(), q, opt); err != nil {
				t.Fatalf("quote %d: %v", i, err)
			}
		}
		body := []byte(strings.Replace(string(good.TCBInfo.Body()), `"tcbEvaluationDataNumber":17`, `"tcbEvaluationDataNumber":18`, 1))
		ti, err := pcs.ParseTCBInfo(body)
		if err != nil || ti.TCBEvaluationDataNumber != 18 {
			t.Fatalf("changed TCB Info: %v", err)
		}
		forged := *good
		forged.TCBInfo = ti
		v := NewVerifier(&Config{ExtraRoots: []*x509.Certificate{fx.pki.Root}, WithoutIntelRoot: true})
		if r, _ := v.Verify(context.Background(), q, Options{Now: fuzzNow, PeerCollateral: &forged}); !hasFailure(r, CheckTCBInfoSignature, ErrSignature) {
			t.Errorf("quote %d: changed TCB Info not refused: %v", i, r.Failed())
		}
	}
}
