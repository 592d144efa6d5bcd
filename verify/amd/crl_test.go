package amd

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence/snp"
)

// TestCRLKinds checks each chain against the ARK's list of its kind: AMD's
// KDS publishes the VCEK CRL and the VLEK CRL separately, both signed by
// the ARK, and a revoked ASVK or VLEK is only on the second.
func TestCRLKinds(t *testing.T) {
	p := newTestPKI(t)
	ctx := context.Background()
	v := NewVerifier(&Config{ExtraRoots: []*x509.Certificate{p.ark}})
	vcekRep := p.report(t, snp.SigningKeyVCEK, p.vcekKey, nil)
	vlekRep := p.report(t, snp.SigningKeyVLEK, p.vlekKey, nil)
	vcekChain := []*x509.Certificate{p.vcek, p.ask}
	vlekChain := []*x509.Certificate{p.vlek, p.asvk}
	next := pkiNow.Add(time.Hour)
	clean := p.arkCRL(t, 1, pkiFrom, next)
	unstated := func(l *x509.RevocationList) kds.CRL {
		return kds.CRL{List: l, Source: "the report's certificate table"}
	}

	for _, tc := range []struct {
		name   string
		rep    *snp.Report
		chain  []*x509.Certificate
		crls   []kds.CRL
		want   error    // class of the crl check; nil: passes
		detail []string // in the check's detail
	}{
		{"VLEK, ASVK revoked on the VLEK CRL", vlekRep, vlekChain, crls(kds.CRLVLEK, p.arkCRL(t, 1, pkiFrom, next, p.asvk)),
			ErrRevoked, []string{`ASVK "SEV-VLEK-Milan" (serial 3) revoked`, "by the VLEK CRL from test VLEK CRL 1"}},
		{"VLEK, only the VCEK CRL", vlekRep, vlekChain, crls(kds.CRLVCEK, clean),
			ErrCRL, []string{`wrong CRL: want the VLEK CRL of "ARK-Milan" (https://kdsintf.amd.com/vlek/v1/Milan/crl), ` +
				`got the VCEK CRL of "ARK-Milan" from test VCEK CRL 1`}},
		{"VLEK, VLEK CRL", vlekRep, vlekChain, crls(kds.CRLVLEK, clean), nil, []string{`VLEK CRL of "ARK-Milan" current`, "from test VLEK CRL 1"}},
		{"VLEK, the VLEK itself revoked on the VLEK CRL", vlekRep, vlekChain, crls(kds.CRLVLEK, p.arkCRL(t, 1, pkiFrom, next, p.vlek)),
			ErrRevoked, []string{`VLEK "SEV-VLEK" (serial 5) revoked`}},
		// Both lists are the ARK's, whose serial numbers are unique: an
		// ASVK on the VCEK CRL is revoked too.
		{"VLEK, ASVK revoked on the VCEK CRL", vlekRep, vlekChain,
			append(crls(kds.CRLVLEK, clean), crls(kds.CRLVCEK, p.arkCRL(t, 1, pkiFrom, next, p.asvk))...),
			ErrRevoked, []string{"by the VCEK CRL from test VCEK CRL 1"}},
		// A VLEK's serial is the ASVK's to give: the VCEK CRL does not
		// speak for it.
		{"VLEK serial on the VCEK CRL", vlekRep, vlekChain,
			append(crls(kds.CRLVLEK, clean), crls(kds.CRLVCEK, p.arkCRL(t, 1, pkiFrom, next, p.vlek))...), nil, []string{"(2 CRLs checked)"}},
		{"VLEK, CRL of unstated kind only", vlekRep, vlekChain, []kds.CRL{unstated(clean)},
			ErrNoCRL, []string{"no VLEK CRL: the CRL from the report's certificate table does not say which of the ARK's lists it is",
				"https://kdsintf.amd.com/vlek/v1/Milan/crl"}},
		{"VLEK, no CRL", vlekRep, vlekChain, nil,
			ErrNoCRL, []string{`revocation of "SEV-VLEK-Milan" not checked (VLEK CRL: https://kdsintf.amd.com/vlek/v1/Milan/crl)`}},
		{"VLEK, ASVK revoked on a CRL of unstated kind", vlekRep, vlekChain,
			append(crls(kds.CRLVLEK, clean), unstated(p.arkCRL(t, 1, pkiFrom, next, p.asvk))), ErrRevoked, nil},

		{"VCEK, VCEK CRL", vcekRep, vcekChain, crls(kds.CRLVCEK, clean), nil, []string{`VCEK CRL of "ARK-Milan" current`}},
		// A list of unstated kind cannot show a VCEK chain current either:
		// a peer whose ASK is revoked on the VCEK list could offer the
		// ARK's VLEK list, which does not list it.
		{"VCEK, CRL of unstated kind", vcekRep, vcekChain, []kds.CRL{unstated(clean)},
			ErrNoCRL, []string{"no VCEK CRL: the CRL from the report's certificate table does not say which of the ARK's lists it is",
				"https://kdsintf.amd.com/vcek/v1/Milan/crl"}},
		{"VCEK, ASK revoked on the VCEK CRL, the VLEK CRL offered unstated", vcekRep, vcekChain,
			[]kds.CRL{unstated(p.arkCRL(t, 3, pkiFrom, next, p.asvk))}, ErrNoCRL, []string{"no VCEK CRL"}},
		{"VCEK, only the VLEK CRL", vcekRep, vcekChain, crls(kds.CRLVLEK, clean), ErrCRL, []string{"wrong CRL: want the VCEK CRL",
			"https://kdsintf.amd.com/vcek/v1/Milan/crl", "got the VLEK CRL"}},
		{"VCEK, no CRL", vcekRep, vcekChain, nil,
			ErrNoCRL, []string{`revocation of "SEV-Milan" not checked (VCEK CRL: https://kdsintf.amd.com/vcek/v1/Milan/crl)`}},
		// The newest list of the chain's kind shows it current, and the
		// others' revocations apply too.
		{"VCEK, ASK revoked on the newer of two", vcekRep, vcekChain,
			append([]kds.CRL{unstated(clean)}, crls(kds.CRLVCEK, p.arkCRL(t, 2, pkiFrom.Add(time.Hour), next, p.ask))...), ErrRevoked, nil},
		{"VCEK, the newer of two is stale", vcekRep, vcekChain,
			crls(kds.CRLVCEK, clean, p.arkCRL(t, 2, pkiFrom.Add(time.Hour), pkiNow.Add(-time.Minute))), ErrValidity, nil},
		{"VCEK, one CRL not the ARK's", vcekRep, vcekChain,
			append(crls(kds.CRLVCEK, clean), unstated(p.crl(t, p.ask, p.askKey, next))), ErrCRL, []string{"from the report's certificate table: issuer"}},
		{"VCEK, a CRL without a list", vcekRep, vcekChain, append(crls(kds.CRLVCEK, clean), kds.CRL{Source: "nowhere"}), ErrCRL, []string{"no CRL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := v.Verify(ctx, tc.rep, Options{Now: pkiNow, Certs: tc.chain, CRLs: tc.crls})
			want := map[string]error{}
			if tc.want != nil {
				want[CheckCRL] = tc.want
			}
			wantFailures(t, r, err, want)
			c, _ := r.Check(CheckCRL)
			for _, d := range tc.detail {
				if !strings.Contains(c.Detail, d) {
					t.Errorf("crl detail %q lacks %q", c.Detail, d)
				}
			}
		})
	}
}

// A verifier refuses as a chain's CRL one older than the newest of its
// kind it has seen for the ARK: a CRL issued before a revocation is still
// valid until its nextUpdate.
func TestCRLFloor(t *testing.T) {
	p := newTestPKI(t)
	ctx := context.Background()
	rep := p.report(t, snp.SigningKeyVCEK, p.vcekKey, nil)
	next := pkiNow.Add(time.Hour)
	older := p.arkCRL(t, 1, pkiFrom, next)
	newer := p.arkCRL(t, 2, pkiFrom.Add(time.Hour), next, p.ask)
	verify := func(v *Verifier, crls []kds.CRL) *Result {
		r, _ := v.Verify(ctx, rep, Options{Now: pkiNow, Certs: []*x509.Certificate{p.vcek, p.ask}, CRLs: crls})
		return r
	}

	v := NewVerifier(&Config{ExtraRoots: []*x509.Certificate{p.ark}})
	if r := verify(v, crls(kds.CRLVCEK, newer)); failedChecks(r)[CheckCRL] != ErrRevoked {
		t.Fatalf("newer CRL: %v", failedChecks(r))
	}
	r := verify(v, []kds.CRL{{List: older, Kind: kds.CRLVCEK, Source: "peer"}})
	c, _ := r.Check(CheckCRL)
	if c.Err() != ErrCRL || !strings.Contains(c.Detail, "VCEK CRL from peer (CRL number 1, thisUpdate 2024-01-01T00:00:00Z) is older than "+
		"one this verifier has seen (CRL number 2, thisUpdate 2024-01-01T01:00:00Z, from test VCEK CRL 1)") {
		t.Errorf("older VCEK CRL after a newer one: %v %q", c.Err(), c.Detail)
	}
	// Of unstated kind, it cannot be the chain's list at all.
	if r := verify(v, []kds.CRL{{List: older, Source: "peer"}}); failedChecks(r)[CheckCRL] != ErrNoCRL {
		t.Errorf("older CRL of unstated kind after a newer one: %v", failedChecks(r))
	}
	// The floor is per kind: the VLEK CRL of the same ARK is unaffected.
	vlekRep := p.report(t, snp.SigningKeyVLEK, p.vlekKey, nil)
	if r, err := v.Verify(ctx, vlekRep, Options{Now: pkiNow, Certs: []*x509.Certificate{p.vlek, p.asvk}, CRLs: crls(kds.CRLVLEK, older)}); err != nil {
		t.Errorf("VLEK CRL number 1 after VCEK CRL number 2: %v", failedChecks(r))
	}

	// A CRL of unstated kind raises no floor: it may be the other list.
	v = NewVerifier(&Config{ExtraRoots: []*x509.Certificate{p.ark}})
	verify(v, []kds.CRL{{List: p.arkCRL(t, 9, pkiFrom.Add(time.Hour), next), Source: "peer"}})
	if r := verify(v, crls(kds.CRLVCEK, older)); len(r.Failed()) != 0 {
		t.Errorf("VCEK CRL after a newer one of unstated kind: %v", failedChecks(r))
	}
}
