package intel

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/testing/dcaptest"
)

// platformCase builds a test-PKI platform, lets mutate change one thing,
// and verifies a fresh quote with its collateral.
type platformCase struct {
	pki  *dcaptest.PKI
	pl   *dcaptest.Platform
	v    *Verifier
	now  time.Time
	tdx  bool
	coll *pcs.Collateral
	// changeCollateral, when set, changes the signed collateral before
	// it is written and loaded.
	changeCollateral func(t *testing.T, col *dcaptest.Collateral)
}

func newPlatformCase(t *testing.T, tdx bool) *platformCase {
	t.Helper()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	p, err := dcaptest.New(dcaptest.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := p.DefaultPlatform(tdx)
	if err != nil {
		t.Fatal(err)
	}
	return &platformCase{pki: p, pl: pl, now: now, tdx: tdx, v: NewVerifier(&Config{ExtraRoots: []*x509.Certificate{p.Root}, WithoutIntelRoot: true})}
}

// verify builds quote and collateral from the (possibly changed) platform.
func (c *platformCase) verify(t *testing.T) (*Result, error) {
	t.Helper()
	q, err := c.pl.NewQuote([64]byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	col, err := c.pl.Collateral()
	if err != nil {
		t.Fatal(err)
	}
	if c.changeCollateral != nil {
		c.changeCollateral(t, col)
	}
	dir := t.TempDir()
	if err := col.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	if c.coll, err = pcs.LoadDir(dir); err != nil {
		t.Fatal(err)
	}
	return c.v.VerifyBytes(context.Background(), q, Options{Now: c.now, Collateral: c.coll})
}

func failedCheck(r *Result) string {
	if f := r.Failed(); len(f) > 0 {
		return f[0].Name
	}
	return ""
}

func TestTestPKIBaseline(t *testing.T) {
	for _, tdx := range []bool{false, true} {
		c := newPlatformCase(t, tdx)
		r, err := c.verify(t)
		if err != nil {
			t.Fatalf("tdx=%v: %v", tdx, err)
		}
		if r.TCB.Status != pcs.StatusUpToDate || r.TrustAnchor.Intel {
			t.Errorf("tdx=%v: status %s, anchor %+v", tdx, r.TCB.Status, r.TrustAnchor)
		}
		// The genuine-root verifier refuses the test root.
		q, _ := c.pl.NewQuote([64]byte{})
		if _, err := NewVerifier(nil).VerifyBytes(context.Background(), q, Options{Now: c.now, Collateral: c.coll}); !errors.Is(err, ErrChain) {
			t.Errorf("tdx=%v: genuine root accepted a test-root quote: %v", tdx, err)
		}
	}
}

// hasFailure reports whether a check of that name failed with that class.
func hasFailure(r *Result, name string, class error) bool {
	for _, f := range r.Failed() {
		if f.Name == name && errors.Is(f.Err(), class) {
			return true
		}
	}
	return false
}

func otherKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestTestPKINegative changes one thing at a time on a valid platform.
func TestTestPKINegative(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tdx    bool
		mutate func(t *testing.T, c *platformCase)
		check  string
		class  error
	}{
		{"quote signed by another key", false, func(t *testing.T, c *platformCase) {
			c.pl.QuoteOptions.Faults.QuoteSigner = otherKey(t)
		}, CheckQuoteSignature, ErrSignature},
		{"QE report signed by another key", true, func(t *testing.T, c *platformCase) {
			c.pl.QuoteOptions.Faults.QEReportSigner = otherKey(t)
		}, CheckQEReportSig, ErrSignature},
		{"QE report data not binding the key", false, func(t *testing.T, c *platformCase) {
			c.pl.QuoteOptions.Faults.QEReportData = &[64]byte{9}
		}, CheckQEReportBinding, ErrSignature},
		{"verification before the collateral was issued", false, func(t *testing.T, c *platformCase) {
			c.now = c.now.Add(-48 * time.Hour)
		}, CheckRootCRL, ErrValidity},
		{"verification after the collateral expired", true, func(t *testing.T, c *platformCase) {
			c.now = c.now.Add(60 * 24 * time.Hour)
		}, CheckRootCRL, ErrValidity},
		{"PCK certificate expired", false, func(t *testing.T, c *platformCase) {
			pck := reissuePCK(t, c, func(o *dcaptest.PCKOptions) {
				o.NotBefore, o.NotAfter = c.now.Add(-48*time.Hour), c.now.Add(-time.Hour)
			})
			c.pl.QuoteOptions.PCK = pck
		}, CheckPCKChain, ErrValidity},
		{"PCK certificate not yet valid", true, func(t *testing.T, c *platformCase) {
			pck := reissuePCK(t, c, func(o *dcaptest.PCKOptions) { o.NotBefore, o.NotAfter = c.now.Add(time.Hour), c.now.Add(48*time.Hour) })
			c.pl.QuoteOptions.PCK = pck
		}, CheckPCKChain, ErrValidity},
		{"PCK certificate revoked", false, func(t *testing.T, c *platformCase) {
			c.pl.PCKCRLRevoked = []*big.Int{c.pl.QuoteOptions.PCK.Cert.SerialNumber}
		}, CheckRevocation, ErrRevoked},
		{"PCK CA revoked", true, func(t *testing.T, c *platformCase) {
			ca, _, _ := c.pki.PCKCA(dcaptest.CAPlatform)
			c.pl.RootCRLRevoked = []*big.Int{ca.SerialNumber}
		}, CheckRootCRL, ErrRevoked},
		{"TCB Info signed by another key", false, func(t *testing.T, c *platformCase) {
			c.pki.TCBSignerKey = otherKey(t)
		}, CheckTCBInfoSignature, ErrSignature},
		{"TCB Info for another FMSPC", true, func(t *testing.T, c *platformCase) {
			c.pl.TCBInfoOptions.FMSPC[0] ^= 0xff
		}, CheckTCBInfoMatch, ErrMismatch},
		{"TCB Info for another PCE ID", false, func(t *testing.T, c *platformCase) {
			c.pl.TCBInfoOptions.PCEID[1] ^= 0x01
		}, CheckTCBInfoMatch, ErrMismatch},
		{"SGX TCB Info for a TDX quote", true, func(t *testing.T, c *platformCase) {
			c.pl.TCBInfoOptions.TDX = false
		}, CheckTCBInfoMatch, ErrMismatch},
		{"QE Identity for another signer", false, func(t *testing.T, c *platformCase) {
			c.pl.QEIdentityOptions.MRSigner[0] ^= 1
		}, CheckQEIDMatch, ErrMismatch},
		{"QE Identity for another product", true, func(t *testing.T, c *platformCase) {
			c.pl.QEIdentityOptions.ISVProdID++
		}, CheckQEIDMatch, ErrMismatch},
		{"QE below every QE level", false, func(t *testing.T, c *platformCase) {
			c.pl.QuoteOptions.QE.ISVSVN = 0
			for i := range c.pl.QEIdentityOptions.Levels {
				c.pl.QEIdentityOptions.Levels[i].ISVSVN += 100
			}
		}, CheckQEIDMatch, ErrTCBUnsupported},
		{"platform below every TCB level", true, func(t *testing.T, c *platformCase) {
			for i := range c.pl.TCBInfoOptions.Levels {
				c.pl.TCBInfoOptions.Levels[i].PCESVN = 0xffff
			}
		}, CheckTCBLevel, ErrTCBUnsupported},
		{"TDX module signer mismatch", true, func(t *testing.T, c *platformCase) {
			c.pl.QuoteOptions.TD.MRSignerSEAM[0] ^= 1
		}, CheckTDXModule, ErrMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newPlatformCase(t, tc.tdx)
			tc.mutate(t, c)
			r, err := c.verify(t)
			if err == nil {
				t.Fatal("verified")
			}
			if !errors.Is(err, tc.class) {
				t.Errorf("want %v, got %v", tc.class, err)
			}
			if got := failedCheck(r); got != tc.check {
				t.Errorf("first failed check: want %s, got %s (%v)", tc.check, got, err)
			}
		})
	}
}

// TestTamperedCollateralSignatures flips one byte of the TCB Info and QE
// Identity signatures as stored on disk.
func TestTamperedCollateralSignatures(t *testing.T) {
	for _, tc := range []struct {
		file, check string
	}{
		{"tcb_info.json", CheckTCBInfoSignature},
		{"qe_identity.json", CheckQEIDSignature},
	} {
		c := newPlatformCase(t, true)
		dir := t.TempDir()
		if err := c.pl.WriteCollateralDir(dir); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, tc.file)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.LastIndex(b, []byte(`"signature":"`)) + len(`"signature":"`) + 10
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		os.WriteFile(path, b, 0o644)
		coll, err := pcs.LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		q, _ := c.pl.NewQuote([64]byte{})
		r, err := c.v.VerifyBytes(context.Background(), q, Options{Now: c.now, Collateral: coll})
		if !errors.Is(err, ErrSignature) || failedCheck(r) != tc.check {
			t.Errorf("%s: want %s to fail with ErrSignature, got %v", tc.file, tc.check, err)
		}
	}
}

// TestTestPKIStatuses checks status convergence end to end: an out-of-date
// QE turns an UpToDate platform OutOfDate; a revoked level is Revoked.
func TestTestPKIStatuses(t *testing.T) {
	c := newPlatformCase(t, false)
	c.pl.QEIdentityOptions.Levels[0].Status = dcaptest.StatusOutOfDate
	r, err := c.verify(t)
	if err != nil || r.TCB.Status != pcs.StatusOutOfDate || r.TCB.PlatformStatus != pcs.StatusUpToDate {
		t.Fatalf("QE out of date: %v %+v", err, r.TCB)
	}
	c = newPlatformCase(t, true)
	c.pl.TCBInfoOptions.Levels[0].Status = dcaptest.StatusRevoked
	r, err = c.verify(t)
	if err != nil || r.TCB.Status != pcs.StatusRevoked {
		t.Fatalf("revoked level: %v %+v", err, r.TCB)
	}
}

func reissuePCK(t *testing.T, c *platformCase, change func(*dcaptest.PCKOptions)) *dcaptest.PCK {
	t.Helper()
	o := c.pl.QuoteOptions.PCK.Options
	change(&o)
	pck, err := c.pki.NewPCK(o)
	if err != nil {
		t.Fatal(err)
	}
	return pck
}
