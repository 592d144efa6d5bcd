package intel

import (
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/testing/dcaptest"
)

const day = 24 * time.Hour

// staleWindow is an issue date and next update that ended ten days before
// the platform case's verification time.
func (c *platformCase) staleWindow() (time.Time, time.Time) {
	return c.now.Add(-40 * day), c.now.Add(-10 * day)
}

// failedWith returns the names of the failed checks whose class is class.
func failedWith(r *Result, class error) []string {
	var names []string
	for _, f := range r.Failed() {
		if errors.Is(f.Err(), class) {
			names = append(names, f.Name)
		}
	}
	return names
}

// Expired collateral is still evaluated: only its validity check fails (with
// ErrValidity, the class allow_expired_collateral excuses), and everything
// the collateral says still applies. Each case pairs a stale item with what
// it says against the platform.
func TestStaleCollateralStillApplies(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tdx      bool
		mutate   func(t *testing.T, c *platformCase)
		validity string // the only check that may fail with ErrValidity
		check    string // a check that must fail with class
		class    error
		status   pcs.Status // the TCB status that must be reported, if any
	}{
		{"stale TCB Info rating the platform Revoked", false, func(t *testing.T, c *platformCase) {
			c.pl.TCBInfoOptions.IssueDate, c.pl.TCBInfoOptions.NextUpdate = c.staleWindow()
			c.pl.TCBInfoOptions.Levels[0].Status = dcaptest.StatusRevoked
		}, CheckTCBInfoValidity, "", nil, pcs.StatusRevoked},
		{"stale TDX TCB Info rating the platform OutOfDate", true, func(t *testing.T, c *platformCase) {
			c.pl.TCBInfoOptions.IssueDate, c.pl.TCBInfoOptions.NextUpdate = c.staleWindow()
			c.pl.TCBInfoOptions.Levels[0].Status = dcaptest.StatusOutOfDate
		}, CheckTCBInfoValidity, "", nil, pcs.StatusOutOfDate},
		{"stale TCB Info the platform is below", false, func(t *testing.T, c *platformCase) {
			c.pl.TCBInfoOptions.IssueDate, c.pl.TCBInfoOptions.NextUpdate = c.staleWindow()
			for i := range c.pl.TCBInfoOptions.Levels {
				c.pl.TCBInfoOptions.Levels[i].PCESVN = 0xffff
			}
		}, CheckTCBInfoValidity, CheckTCBLevel, ErrTCBUnsupported, TCBStatusNotSupported},
		{"stale QE Identity of another signer (foreign QE)", false, func(t *testing.T, c *platformCase) {
			c.pl.QEIdentityOptions.IssueDate, c.pl.QEIdentityOptions.NextUpdate = c.staleWindow()
			c.pl.QEIdentityOptions.MRSigner[0] ^= 1
		}, CheckQEIDValidity, CheckQEIDMatch, ErrMismatch, ""},
		{"stale TD QE Identity of another product (foreign QE)", true, func(t *testing.T, c *platformCase) {
			c.pl.QEIdentityOptions.IssueDate, c.pl.QEIdentityOptions.NextUpdate = c.staleWindow()
			c.pl.QEIdentityOptions.ISVProdID++
		}, CheckQEIDValidity, CheckQEIDMatch, ErrMismatch, ""},
		{"stale QE Identity rating the QE Revoked", true, func(t *testing.T, c *platformCase) {
			c.pl.QEIdentityOptions.IssueDate, c.pl.QEIdentityOptions.NextUpdate = c.staleWindow()
			c.pl.QEIdentityOptions.Levels[0].Status = dcaptest.StatusRevoked
		}, CheckQEIDValidity, "", nil, pcs.StatusRevoked},
		{"stale PCK CRL listing the PCK certificate", false, func(t *testing.T, c *platformCase) {
			c.changeCollateral = func(t *testing.T, col *dcaptest.Collateral) {
				from, until := c.staleWindow()
				pck := c.pl.QuoteOptions.PCK
				crl, err := c.pki.PCKCRL(pck.Options.CA, []*big.Int{pck.Cert.SerialNumber}, from, until)
				if err != nil {
					t.Fatal(err)
				}
				col.PCKCRL = crl
			}
		}, CheckPCKCRL, CheckRevocation, ErrRevoked, ""},
		{"stale root CA CRL listing the PCK CA", true, func(t *testing.T, c *platformCase) {
			c.changeCollateral = func(t *testing.T, col *dcaptest.Collateral) {
				from, until := c.staleWindow()
				ca, _, _ := c.pki.PCKCA(c.pl.QuoteOptions.PCK.Options.CA)
				crl, err := c.pki.RootCRL([]*big.Int{ca.SerialNumber}, from, until)
				if err != nil {
					t.Fatal(err)
				}
				col.RootCRL = crl
			}
		}, CheckRootCRL, CheckRootCRL, ErrRevoked, ""},
		{"stale root CA CRL listing the TCB signer", false, func(t *testing.T, c *platformCase) {
			c.changeCollateral = func(t *testing.T, col *dcaptest.Collateral) {
				from, until := c.staleWindow()
				crl, err := c.pki.RootCRL([]*big.Int{c.pki.TCBSigner.SerialNumber}, from, until)
				if err != nil {
					t.Fatal(err)
				}
				col.RootCRL = crl
			}
		}, CheckRootCRL, CheckTCBInfoSignature, ErrRevoked, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newPlatformCase(t, tc.tdx)
			tc.mutate(t, c)
			r, err := c.verify(t)
			if err == nil {
				t.Fatal("verified")
			}
			// The expiry is reported, under the name and class the policy's
			// allow_expired_collateral excuses, and nothing else is.
			if got := failedWith(r, ErrValidity); !slices.Equal(got, []string{tc.validity}) {
				t.Errorf("checks failing with ErrValidity: want [%s], got %v (%v)", tc.validity, got, err)
			}
			if tc.check != "" && !hasFailure(r, tc.check, tc.class) {
				t.Errorf("want %s to fail with %v despite the stale collateral, got %v", tc.check, tc.class, err)
			}
			if tc.status != "" {
				if r.TCB == nil || r.TCB.Status != tc.status {
					t.Fatalf("TCB status: want %s from the stale collateral, got %+v (%v)", tc.status, r.TCB, err)
				}
				if _, ran := r.Check(CheckTCBLevel); !ran {
					t.Errorf("%s did not run", CheckTCBLevel)
				}
			}
		})
	}
}

// Stale collateral that says nothing against the platform fails only its
// validity check: that alone is what a policy may excuse.
func TestStaleCollateralOnlyValidityFails(t *testing.T) {
	c := newPlatformCase(t, true)
	c.pl.TCBInfoOptions.IssueDate, c.pl.TCBInfoOptions.NextUpdate = c.staleWindow()
	c.pl.QEIdentityOptions.IssueDate, c.pl.QEIdentityOptions.NextUpdate = c.staleWindow()
	c.pl.CRLThisUpdate, c.pl.CRLNextUpdate = c.staleWindow()
	r, err := c.verify(t)
	want := []string{CheckRootCRL, CheckPCKCRL, CheckTCBInfoValidity, CheckQEIDValidity}
	var failed []string
	for _, f := range r.Failed() {
		failed = append(failed, f.Name)
	}
	if !slices.Equal(failed, want) || !slices.Equal(failedWith(r, ErrValidity), want) {
		t.Fatalf("failed checks: want %v, all ErrValidity; got %v", want, err)
	}
	if r.TCB == nil || r.TCB.Status != pcs.StatusUpToDate {
		t.Errorf("TCB: want UpToDate from the stale collateral, got %+v", r.TCB)
	}
	for _, name := range []string{CheckRevocation, CheckQEIDMatch, CheckTCBLevel, CheckTDXModule} {
		if ck, ran := r.Check(name); !ran || !ck.OK {
			t.Errorf("%s: want passed, got %+v (ran %v)", name, ck, ran)
		}
	}
}

// A TCB Info or QE Identity whose signature does not verify is not used,
// stale or not.
func TestBadSignatureStopsUse(t *testing.T) {
	c := newPlatformCase(t, false)
	c.pl.TCBInfoOptions.IssueDate, c.pl.TCBInfoOptions.NextUpdate = c.staleWindow()
	c.pki.TCBSignerKey = otherKey(t)
	r, err := c.verify(t)
	if !hasFailure(r, CheckTCBInfoSignature, ErrSignature) || !hasFailure(r, CheckQEIDSignature, ErrSignature) {
		t.Fatalf("want both signatures refused, got %v", err)
	}
	if r.TCB != nil {
		t.Errorf("TCB evaluated against collateral whose signature failed: %+v", r.TCB)
	}
	if _, ran := r.Check(CheckQEIDMatch); ran {
		t.Errorf("QE matched against a QE Identity whose signature failed")
	}
}
