package ratls

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/testing/dcaptest"
	"github.com/ratls/ratls/verify/intel"
)

// signedCollateral signs the platform's collateral after change (may be nil)
// has altered the platform's collateral options.
func (tp *testPlatform) signedCollateral(t *testing.T, change func(pl *dcaptest.Platform)) *dcaptest.Collateral {
	t.Helper()
	saved := *tp.pl
	saved.TCBInfoOptions.Levels = append([]dcaptest.TCBLevel(nil), tp.pl.TCBInfoOptions.Levels...)
	saved.QEIdentityOptions.Levels = append([]dcaptest.IdentityLevel(nil), tp.pl.QEIdentityOptions.Levels...)
	defer func() { *tp.pl = saved }()
	if change != nil {
		change(tp.pl)
	}
	c, err := tp.pl.Collateral()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// loaded is c as the verifier's own collateral source would give it.
func loaded(t *testing.T, c *dcaptest.Collateral) *pcs.Collateral {
	t.Helper()
	dir := t.TempDir()
	if err := c.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	l, err := pcs.LoadDir(dir)
	var missing *pcs.MissingError
	if err != nil && !errors.As(err, &missing) {
		t.Fatal(err)
	}
	return l
}

func endorsementsOf(c *dcaptest.Collateral) *evidence.Endorsements {
	return &evidence.Endorsements{
		Version: 1, TCBInfo: c.TCBInfo, TCBInfoIssuerChain: c.TCBInfoIssuerChain, PCKCRL: c.PCKCRL,
		RootCACRL: c.RootCRL, PCKCRLIssuerChain: c.PCKCRLIssuerChain, QEIdentity: c.QEIdentity,
		QEIdentityIssuerChain: c.QEIdentityIssuerChain,
	}
}

// contraindicatedBy reports whether the appraisal refuses for that check.
func contraindicatedBy(v *Verification, check string) bool {
	for _, r := range v.Appraisal.Reasons {
		if r.Check == check && r.Status == appraise.Contraindicated {
			return true
		}
	}
	return false
}

// providerFunc adapts a function to pcs.Provider.
type providerFunc func(context.Context, pcs.Request) (*pcs.Collateral, error)

func (f providerFunc) Collateral(ctx context.Context, req pcs.Request) (*pcs.Collateral, error) {
	return f(ctx, req)
}

// A peer whose PCK certificate was revoked ships an older, still valid PCK
// CRL that does not list it. The verifier's own source has the newer CRL:
// its CRL wins, and the PCK is revoked.
func TestPeerOlderCRLDoesNotHideRevocation(t *testing.T) {
	tp := newTestPlatform(t, false)
	now := tp.pki.Now
	pck := tp.pl.QuoteOptions.PCK
	peer := tp.signedCollateral(t, func(pl *dcaptest.Platform) {
		pl.CRLThisUpdate, pl.CRLNextUpdate = now.Add(-20*24*time.Hour), now.Add(10*24*time.Hour)
	})
	own := tp.signedCollateral(t, func(pl *dcaptest.Platform) { pl.PCKCRLRevoked = []*big.Int{pck.Cert.SerialNumber} })

	opt := tp.options()
	dcapOf(opt).Collateral = pcs.Static{C: loaded(t, own)}
	v, err := VerifyCertificate(context.Background(), tp.certificate(t, &CertificateOptions{Endorsements: endorsementsOf(peer)}), opt)
	if err != nil {
		t.Fatal(err)
	}
	if v.Accepted() || !contraindicatedBy(v, intel.CheckRevocation) {
		t.Fatalf("revoked PCK accepted with the peer's older CRL: %+v", v.Appraisal)
	}

	// Revocations apply from either source: the peer's CRL listing the PCK
	// revokes it even when the verifier's own CRL does not list it.
	peerRevoking := tp.signedCollateral(t, func(pl *dcaptest.Platform) { pl.PCKCRLRevoked = []*big.Int{pck.Cert.SerialNumber} })
	opt = tp.options()
	dcapOf(opt).Collateral = pcs.Static{C: loaded(t, tp.signedCollateral(t, nil))}
	v, _ = VerifyCertificate(context.Background(), tp.certificate(t, &CertificateOptions{Endorsements: endorsementsOf(peerRevoking)}), opt)
	if v.Accepted() || !contraindicatedBy(v, intel.CheckRevocation) {
		t.Fatalf("PCK revoked by the peer's own CRL accepted: %+v", v.Appraisal)
	}

	// And so does a root CA CRL revoking the PCK CA.
	ca, _, _ := tp.pki.PCKCA(pck.Options.CA)
	peerRevokingCA := tp.signedCollateral(t, func(pl *dcaptest.Platform) { pl.RootCRLRevoked = []*big.Int{ca.SerialNumber} })
	opt = tp.options()
	dcapOf(opt).Collateral = pcs.Static{C: loaded(t, tp.signedCollateral(t, nil))}
	v, _ = VerifyCertificate(context.Background(), tp.certificate(t, &CertificateOptions{Endorsements: endorsementsOf(peerRevokingCA)}), opt)
	if v.Accepted() || !contraindicatedBy(v, intel.CheckRootCRL) {
		t.Fatalf("PCK CA revoked by the peer's root CA CRL accepted: %+v", v.Appraisal)
	}
}

// A peer ships an older TCB Info (lower tcbEvaluationDataNumber) in which
// its platform was still UpToDate; the newer one rates it OutOfDate.
func TestPeerOlderTCBInfoIsNoDowngrade(t *testing.T) {
	for _, tdx := range []bool{false, true} {
		t.Run(fmt.Sprintf("tdx=%v", tdx), func(t *testing.T) {
			tp := newTestPlatform(t, tdx)
			old := tp.signedCollateral(t, nil)
			newer := tp.signedCollateral(t, func(pl *dcaptest.Platform) {
				pl.TCBInfoOptions.EvaluationDataNumber = dcaptest.DefaultEvaluationDataNumber + 1
				pl.TCBInfoOptions.Levels[0].Status = dcaptest.StatusOutOfDate
			})
			ctx := context.Background()
			oldCert := tp.certificate(t, &CertificateOptions{Endorsements: endorsementsOf(old)})

			// The verifier's own source has the newer TCB Info: it wins.
			opt := tp.options()
			dcapOf(opt).Collateral = pcs.Static{C: loaded(t, newer)}
			v, err := VerifyCertificate(ctx, oldCert, opt)
			if err != nil {
				t.Fatal(err)
			}
			if v.Accepted() || intelOf(v).TCB == nil || intelOf(v).TCB.Status != pcs.StatusOutOfDate {
				t.Fatalf("own newer TCB Info: want OutOfDate and refused, got %+v %+v", intelOf(v).TCB, v.Appraisal)
			}

			// No source of its own, but the verifier has seen the newer
			// TCB Info (from another peer): the older one is refused.
			opt = tp.options()
			newCert := tp.certificate(t, &CertificateOptions{Endorsements: endorsementsOf(newer)})
			if v, _ = VerifyCertificate(ctx, newCert, opt); intelOf(v).TCB == nil || intelOf(v).TCB.Status != pcs.StatusOutOfDate {
				t.Fatalf("newer TCB Info: %+v", intelOf(v).TCB)
			}
			v, _ = VerifyCertificate(ctx, oldCert, opt)
			if v.Accepted() || !contraindicatedBy(v, intel.CheckTCBInfoFloor) {
				t.Fatalf("older TCB Info after a newer one: %+v", v.Appraisal)
			}
			ck, _ := intelOf(v).Check(intel.CheckTCBInfoFloor)
			want := fmt.Sprintf("want >= %d, got %d", dcaptest.DefaultEvaluationDataNumber+1, dcaptest.DefaultEvaluationDataNumber)
			if !strings.Contains(ck.Detail, want) || !errors.Is(v.Err, intel.ErrRollback) {
				t.Errorf("floor check: want %q and ErrRollback, got %q (%v)", want, ck.Detail, v.Err)
			}

			// A verifier that never saw the newer one still takes the old one.
			if v, _ = VerifyCertificate(ctx, oldCert, tp.options()); v.Err != nil {
				t.Errorf("older TCB Info on a fresh verifier: %v", v.Err)
			}
		})
	}
}

// The same floor holds for QE Identity.
func TestPeerOlderQEIdentityIsNoDowngrade(t *testing.T) {
	tp := newTestPlatform(t, true)
	old := tp.signedCollateral(t, nil)
	newer := tp.signedCollateral(t, func(pl *dcaptest.Platform) {
		pl.QEIdentityOptions.EvaluationDataNumber = dcaptest.DefaultEvaluationDataNumber + 2
		pl.QEIdentityOptions.Levels[0].Status = dcaptest.StatusOutOfDate
	})
	ctx := context.Background()
	opt := tp.options()
	VerifyCertificate(ctx, tp.certificate(t, &CertificateOptions{Endorsements: endorsementsOf(newer)}), opt)
	v, _ := VerifyCertificate(ctx, tp.certificate(t, &CertificateOptions{Endorsements: endorsementsOf(old)}), opt)
	if v.Accepted() || !contraindicatedBy(v, intel.CheckQEIDFloor) {
		t.Fatalf("older QE Identity after a newer one: %+v", v.Appraisal)
	}
}

// Peer collateral fills gaps: when the verifier has no source, when its
// source has nothing for the platform or cannot be reached, and for items
// its source lacks. Any other failure of the source is not a gap.
func TestPeerCollateralFillsGaps(t *testing.T) {
	tp := newTestPlatform(t, true)
	ctx := context.Background()
	cert := tp.certificate(t, &CertificateOptions{Endorsements: endorsementsOf(tp.signedCollateral(t, nil))})
	const peerSource = "certificate endorsements extension"

	otherPlatform := tp.signedCollateral(t, func(pl *dcaptest.Platform) { pl.TCBInfoOptions.FMSPC[5] ^= 0x01 })
	day := 24 * time.Hour
	expired := tp.signedCollateral(t, func(pl *dcaptest.Platform) {
		from, until := tp.pki.Now.Add(-40*day), tp.pki.Now.Add(-10*day)
		pl.TCBInfoOptions.IssueDate, pl.TCBInfoOptions.NextUpdate = from, until
		pl.QEIdentityOptions.IssueDate, pl.QEIdentityOptions.NextUpdate = from, until
		pl.CRLThisUpdate, pl.CRLNextUpdate = from, until
	})
	badlySigned := func() *dcaptest.Collateral {
		key := tp.pki.TCBSignerKey
		defer func() { tp.pki.TCBSignerKey = key }()
		var err error
		if tp.pki.TCBSignerKey, err = tp.pki.NewKey(); err != nil {
			t.Fatal(err)
		}
		return tp.signedCollateral(t, nil)
	}()
	partial := tp.signedCollateral(t, nil)
	partial.QEIdentity, partial.QEIdentityIssuerChain = nil, nil

	for _, tc := range []struct {
		name   string
		source pcs.Provider
		ok     bool
		from   string // substring of the collateral source
	}{
		{"no source", nil, true, peerSource},
		{"source has nothing for the platform", providerFunc(func(context.Context, pcs.Request) (*pcs.Collateral, error) {
			return nil, &pcs.MissingError{Source: "pcs", Items: []string{pcs.FileTCBInfo}}
		}), true, peerSource},
		{"source unreachable", providerFunc(func(context.Context, pcs.Request) (*pcs.Collateral, error) {
			return nil, fmt.Errorf("pcs: %w", &pcs.HTTPError{StatusCode: 503, Status: "503 Service Unavailable"})
		}), true, peerSource},
		{"source has another platform's TCB Info", pcs.Static{C: loaded(t, otherPlatform)}, true, peerSource},
		{"source lacks the QE Identity", pcs.Static{C: loaded(t, partial)}, true, "QE Identity from " + peerSource},
		{"source's TCB Info and QE Identity signatures fail", pcs.Static{C: loaded(t, badlySigned)}, true, "TCB Info, QE Identity from " + peerSource},
		{"source has only expired collateral", pcs.Static{C: loaded(t, expired)}, true, "TCB Info, QE Identity, PCK CRL, root CA CRL from " + peerSource},
		{"source fails otherwise", providerFunc(func(context.Context, pcs.Request) (*pcs.Collateral, error) {
			return nil, errors.New("collateral refused: bad signature")
		}), false, ""},
	} {
		opt := tp.options()
		dcapOf(opt).Collateral = tc.source
		v, err := VerifyCertificate(ctx, cert, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !tc.ok {
			if v.Accepted() || !contraindicatedBy(v, intel.CheckCollateral) {
				t.Errorf("%s: want refused for %s, got %+v", tc.name, intel.CheckCollateral, v.Appraisal)
			}
			continue
		}
		if v.Err != nil || intelOf(v).TCB == nil || intelOf(v).TCB.Status != pcs.StatusUpToDate {
			t.Errorf("%s: %v", tc.name, v.Err)
			continue
		}
		if !strings.Contains(intelOf(v).Collateral.Source, tc.from) {
			t.Errorf("%s: collateral source %q, want it to name %q", tc.name, intelOf(v).Collateral.Source, tc.from)
		}
	}
}

// With allow_expired_collateral, expired collateral is excused, but what it
// says still applies: a Revoked platform in a stale TCB Info is refused.
func TestExpiredCollateralExcuseOnlyExcusesExpiry(t *testing.T) {
	tp := newTestPlatform(t, false)
	now := tp.pki.Now
	stale := func(pl *dcaptest.Platform) {
		pl.TCBInfoOptions.IssueDate, pl.TCBInfoOptions.NextUpdate = now.Add(-40*24*time.Hour), now.Add(-10*24*time.Hour)
	}
	opt := tp.options()
	opt.Policy = &appraise.Policy{AllowExpiredCollateral: true}
	dcapOf(opt).Collateral = pcs.Static{C: loaded(t, tp.signedCollateral(t, stale))}
	v, _ := VerifyCertificate(context.Background(), tp.certificate(t, nil), opt)
	if !v.Accepted() || contraindicatedBy(v, intel.CheckTCBInfoValidity) {
		t.Fatalf("stale but otherwise good TCB Info: %+v", v.Appraisal)
	}

	revoked := tp.signedCollateral(t, func(pl *dcaptest.Platform) {
		stale(pl)
		pl.TCBInfoOptions.Levels[0].Status = dcaptest.StatusRevoked
	})
	dcapOf(opt).Collateral = pcs.Static{C: loaded(t, revoked)}
	v, _ = VerifyCertificate(context.Background(), tp.certificate(t, nil), opt)
	if v.Accepted() || !contraindicatedBy(v, "tcb_status") {
		t.Fatalf("Revoked platform in a stale TCB Info accepted: %+v", v.Appraisal)
	}
}

// Post-handshake mode verifies the channel evidence with the collateral the
// authenticator's certificate carries. That collateral is the peer's, held
// to the same floors: after a newer TCB Info, an older one from the
// certificate must not downgrade the evaluation.
func TestChannelEvidencePeerCollateralIsNoDowngrade(t *testing.T) {
	tp := newTestPlatform(t, true)
	old := tp.signedCollateral(t, nil)
	newer := tp.signedCollateral(t, func(pl *dcaptest.Platform) {
		pl.TCBInfoOptions.EvaluationDataNumber = dcaptest.DefaultEvaluationDataNumber + 1
		pl.TCBInfoOptions.Levels[0].Status = dcaptest.StatusOutOfDate
	})
	ctx := context.Background()
	opt := tp.options()
	if v, _ := VerifyCertificate(ctx, tp.certificate(t, &CertificateOptions{Endorsements: endorsementsOf(newer)}), opt); intelOf(v).TCB == nil {
		t.Fatalf("newer TCB Info not evaluated: %+v", v.Appraisal)
	}
	oldCert := tp.certificate(t, &CertificateOptions{Endorsements: endorsementsOf(old)})
	ce, err := evidence.FromCertificate(oldCert)
	if err != nil {
		t.Fatal(err)
	}
	item := tee.Preferred(ce)
	o := withLeafEndorsements(*opt, oldCert)
	v := VerifyEvidence(ctx, item, &o)
	if v.Accepted() || !contraindicatedBy(v, intel.CheckTCBInfoFloor) {
		t.Fatalf("older TCB Info from the authenticator's certificate: want the floor to refuse it, got %+v", v.Appraisal)
	}
}
