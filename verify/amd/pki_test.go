package amd

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence/snp"
)

// crls labels lists as CRLs of kind, each from "test <kind> <i>".
func crls(kind kds.CRLKind, lists ...*x509.RevocationList) []kds.CRL {
	out := make([]kds.CRL, len(lists))
	for i, l := range lists {
		out[i] = kds.CRL{List: l, Kind: kind, Source: fmt.Sprintf("test %s %d", kind, i+1)}
	}
	return out
}

// testPKI is a throw-away AMD-shaped PKI (RSA-PSS ARK, ASK, ASVK; P-384
// VCEK and VLEK) for what the real vectors cannot show: VLEKs, CRLs,
// version 3 reports and configured roots.
type testPKI struct {
	arkKey, askKey, asvkKey *rsa.PrivateKey
	ark, ask, asvk          *x509.Certificate
	vcekKey, vlekKey        *ecdsa.PrivateKey
	vcek, vlek              *x509.Certificate
	chipID                  [64]byte
	tcb                     snp.TCBVersion
}

var (
	pkiOnce sync.Once
	pki     *testPKI
	pkiErr  error
)

var (
	pkiFrom  = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	pkiUntil = time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC)
	pkiNow   = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
)

func ext(t testing.TB, id asn1.ObjectIdentifier, v any, params string) pkix.Extension {
	t.Helper()
	b, err := asn1.MarshalWithParams(v, params)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: id, Value: b}
}

// leafExtensions are the extensions AMD puts in a VCEK (hwID) or VLEK
// (cspID) for bl 3, tee 0, snp 8, ucode 115.
func leafExtensions(t testing.TB, vlek bool, chipID []byte) []pkix.Extension {
	exts := []pkix.Extension{
		ext(t, oidProductName, "Milan-B0", "ia5"),
		ext(t, oidBootloaderSPL, 3, ""),
		ext(t, oidTEESPL, 0, ""),
		ext(t, oidSNPSPL, 8, ""),
		ext(t, oidMicrocodeSPL, 115, ""),
	}
	for i := 4; i <= 7; i++ {
		exts = append(exts, ext(t, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, i}, 0, ""))
	}
	if vlek {
		return append(exts, ext(t, oidCSPID, "ratls-test-csp", "ia5"))
	}
	return append(exts, pkix.Extension{Id: oidHWID, Value: chipID})
}

func createCert(t testing.TB, tmpl, parent *x509.Certificate, pub, priv any) *x509.Certificate {
	t.Helper()
	if tmpl.SignatureAlgorithm == x509.UnknownSignatureAlgorithm {
		tmpl.SignatureAlgorithm = x509.SHA384WithRSAPSS
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = pkiFrom, pkiUntil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caTemplate(serial int64, cn string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"ratls test PKI"}},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

func newTestPKI(t testing.TB) *testPKI {
	pkiOnce.Do(func() {
		p := &testPKI{tcb: snp.TCBVersion(0x7308000000000003)}
		for i := range p.chipID {
			p.chipID[i] = byte(i + 1)
		}
		var err error
		for _, k := range []**rsa.PrivateKey{&p.arkKey, &p.askKey, &p.asvkKey} {
			if *k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				pkiErr = err
				return
			}
		}
		for _, k := range []**ecdsa.PrivateKey{&p.vcekKey, &p.vlekKey} {
			if *k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
				pkiErr = err
				return
			}
		}
		p.ark = createCert(t, caTemplate(1, "ARK-Milan"), caTemplate(1, "ARK-Milan"), &p.arkKey.PublicKey, p.arkKey)
		p.ask = createCert(t, caTemplate(2, "SEV-Milan"), p.ark, &p.askKey.PublicKey, p.arkKey)
		p.asvk = createCert(t, caTemplate(3, "SEV-VLEK-Milan"), p.ark, &p.asvkKey.PublicKey, p.arkKey)
		p.vcek = createCert(t, &x509.Certificate{SerialNumber: big.NewInt(4), Subject: pkix.Name{CommonName: "SEV-VCEK"},
			ExtraExtensions: leafExtensions(t, false, p.chipID[:])}, p.ask, &p.vcekKey.PublicKey, p.askKey)
		p.vlek = createCert(t, &x509.Certificate{SerialNumber: big.NewInt(5), Subject: pkix.Name{CommonName: "SEV-VLEK"},
			ExtraExtensions: leafExtensions(t, true, nil)}, p.asvk, &p.vlekKey.PublicKey, p.asvkKey)
		pki = p
	})
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

// report returns a version 3 Milan report (based on a real one) signed by
// key, with the PKI's chip ID and TCB; edit may change it before signing.
func (p *testPKI) report(t testing.TB, kind snp.SigningKey, key *ecdsa.PrivateKey, edit func(*snp.Report)) *snp.Report {
	t.Helper()
	rep := parse(t, vectors(t)[1].raw)
	rep.Version = 3
	rep.CPUIDFamilyID, rep.CPUIDModelID, rep.CPUIDStepping = 0x19, 0x01, 1
	rep.SignerInfo = snp.SignerInfo(uint32(kind) << 2)
	rep.ChipID = p.chipID
	rep.ReportedTCB = p.tcb
	if edit != nil {
		edit(rep)
	}
	digest := sha512.Sum384(rep.SignedData())
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	rep.SignatureR, rep.SignatureS = [72]byte{}, [72]byte{}
	for i, b := range r.FillBytes(make([]byte, 48)) {
		rep.SignatureR[47-i] = b
	}
	for i, b := range s.FillBytes(make([]byte, 48)) {
		rep.SignatureS[47-i] = b
	}
	// The result must be a report the parser accepts.
	return parse(t, rep.Marshal())
}

func (p *testPKI) crl(t testing.TB, signer *x509.Certificate, key crypto.Signer, next time.Time, revoked ...*x509.Certificate) *x509.RevocationList {
	t.Helper()
	return p.crlFrom(t, signer, key, 1, pkiFrom, next, revoked...)
}

// arkCRL returns a CRL of the test ARK with the given number and validity.
func (p *testPKI) arkCRL(t testing.TB, number int64, this, next time.Time, revoked ...*x509.Certificate) *x509.RevocationList {
	t.Helper()
	return p.crlFrom(t, p.ark, p.arkKey, number, this, next, revoked...)
}

func (p *testPKI) crlFrom(t testing.TB, signer *x509.Certificate, key crypto.Signer, number int64, this, next time.Time, revoked ...*x509.Certificate) *x509.RevocationList {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: this, NextUpdate: next, SignatureAlgorithm: x509.SHA384WithRSAPSS}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: pkiFrom.Add(time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, signer, key)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	return rl
}

func TestTestPKI(t *testing.T) {
	p := newTestPKI(t)
	ctx := context.Background()
	v := NewVerifier(&Config{ExtraRoots: []*x509.Certificate{p.ark}})
	vcekRep := p.report(t, snp.SigningKeyVCEK, p.vcekKey, nil)
	vlekRep := p.report(t, snp.SigningKeyVLEK, p.vlekKey, nil)
	goodCRL := p.crl(t, p.ark, p.arkKey, pkiNow.Add(24*time.Hour))

	t.Run("VCEK with CRL", func(t *testing.T) {
		r, err := v.Verify(ctx, vcekRep, Options{Now: pkiNow, Certs: []*x509.Certificate{p.vcek, p.ask, p.ark}, CRLs: crls(kds.CRLVCEK, goodCRL)})
		if err != nil {
			t.Fatal(err)
		}
		if r.TrustAnchor.AMD || r.TrustAnchor.Subject != "ARK-Milan" || r.SigningKey != "vcek" || r.Product != "Milan" {
			t.Errorf("facts: %+v %+v", r, r.TrustAnchor)
		}
		if !r.Valid.Until.Equal(goodCRL.NextUpdate) || !r.Valid.From.Equal(pkiFrom) {
			t.Errorf("valid window not narrowed to the CRL: %+v", r.Valid)
		}
		if c, _ := r.Check(CheckProduct); !strings.Contains(c.Detail, "CPUID") || !strings.Contains(c.Detail, "Milan-B0") {
			t.Errorf("product detail names its sources: %s", c.Detail)
		}
	})
	t.Run("error text", func(t *testing.T) {
		r, err := v.Verify(ctx, vcekRep, Options{Now: pkiUntil.Add(time.Hour), Certs: []*x509.Certificate{p.vcek, p.ask}})
		msg := err.Error()
		for _, want := range []string{"amd: ", "chain: VCEK", "crl: no CRL", "2034-01-01T00:00:00Z"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
		if c, ok := r.Check("no.such.check"); ok || c.Name != "" {
			t.Error("Check found a check that did not run")
		}
	})
	t.Run("VLEK", func(t *testing.T) {
		r, err := v.Verify(ctx, vlekRep, Options{Now: pkiNow, Certs: []*x509.Certificate{p.vlek, p.asvk}, CRLs: crls(kds.CRLVLEK, goodCRL)})
		if err != nil {
			t.Fatal(err)
		}
		if r.SigningKey != "vlek" || r.CSPID != "ratls-test-csp" {
			t.Errorf("VLEK facts: %q %q", r.SigningKey, r.CSPID)
		}
		if c, _ := r.Check(CheckHWID); !c.OK || !strings.Contains(c.Detail, "VLEK") {
			t.Errorf("hwid check for a VLEK: %+v", c)
		}
	})

	for _, tc := range []struct {
		name string
		v    *Verifier
		rep  *snp.Report
		opt  Options
		want map[string]error
	}{
		{"VLEK via the ASK", v, vlekRep, Options{Certs: []*x509.Certificate{p.vlek, p.ask}}, map[string]error{CheckChain: ErrChain}},
		{"VCEK via the ASVK", v, vcekRep, Options{Certs: []*x509.Certificate{p.vcek, p.asvk}}, map[string]error{CheckChain: ErrChain}},
		{"VLEK report, VCEK certificate", v, vlekRep, Options{Certs: []*x509.Certificate{p.vcek, p.asvk}}, map[string]error{CheckChain: ErrChain}},
		{"test root not configured", NewVerifier(nil), vcekRep, Options{Certs: []*x509.Certificate{p.vcek, p.ask, p.ark}}, map[string]error{CheckChain: ErrChain}},
		{"test ASK not configured", NewVerifier(nil), vcekRep, Options{Certs: []*x509.Certificate{p.vcek, p.ask}}, map[string]error{CheckChain: ErrChain}},
		{"embedded ASK for a test VCEK", v, vcekRep, Options{Certs: []*x509.Certificate{p.vcek}}, map[string]error{CheckChain: ErrChain}},
		{"without AMD roots, no ASK", NewVerifier(&Config{WithoutAMDRoots: true, ExtraRoots: []*x509.Certificate{p.ark}}), vcekRep,
			Options{Certs: []*x509.Certificate{p.vcek}}, map[string]error{CheckChain: ErrChain}},
		{"revoked ASK", v, vcekRep, Options{Certs: []*x509.Certificate{p.vcek, p.ask}, CRLs: crls(kds.CRLVCEK, p.crl(t, p.ark, p.arkKey, pkiNow.Add(time.Hour), p.ask))},
			map[string]error{CheckCRL: ErrRevoked}},
		{"revoked ASVK", v, vlekRep, Options{Certs: []*x509.Certificate{p.vlek, p.asvk}, CRLs: crls(kds.CRLVLEK, p.crl(t, p.ark, p.arkKey, pkiNow.Add(time.Hour), p.ask, p.asvk))},
			map[string]error{CheckCRL: ErrRevoked}},
		{"stale CRL", v, vcekRep, Options{Certs: []*x509.Certificate{p.vcek, p.ask}, CRLs: crls(kds.CRLVCEK, p.crl(t, p.ark, p.arkKey, pkiNow.Add(-time.Second)))},
			map[string]error{CheckCRL: ErrValidity}},
		{"CRL of another issuer", v, vcekRep, Options{Certs: []*x509.Certificate{p.vcek, p.ask}, CRLs: crls(kds.CRLVCEK, p.crl(t, p.ask, p.askKey, pkiNow.Add(time.Hour)))},
			map[string]error{CheckCRL: ErrCRL}},
		{"CRL in the ARK's name, signed by another key", v, vcekRep, Options{Certs: []*x509.Certificate{p.vcek, p.ask},
			CRLs: crls(kds.CRLVCEK, p.crl(t, createCert(t, caTemplate(1, "ARK-Milan"), caTemplate(1, "ARK-Milan"), &p.askKey.PublicKey, p.askKey), p.askKey, pkiNow.Add(time.Hour)))},
			map[string]error{CheckCRL: ErrCRL}},
		{"report CPUID says Genoa", v, p.report(t, snp.SigningKeyVCEK, p.vcekKey, func(r *snp.Report) { r.CPUIDModelID = 0x11 }),
			Options{Certs: []*x509.Certificate{p.vcek, p.ask}}, map[string]error{CheckProduct: ErrMismatch}},
		{"report CPUID unknown", v, p.report(t, snp.SigningKeyVCEK, p.vcekKey, func(r *snp.Report) { r.CPUIDFamilyID = 0x17 }),
			Options{Certs: []*x509.Certificate{p.vcek, p.ask}}, map[string]error{CheckProduct: ErrUnsupported}},
		{"report CPUID vs product option", v, vcekRep, Options{Certs: []*x509.Certificate{p.vcek, p.ask}, Product: "Turin"},
			map[string]error{CheckProduct: ErrMismatch}},
		{"other chip", v, p.report(t, snp.SigningKeyVCEK, p.vcekKey, func(r *snp.Report) { r.ChipID[0] ^= 1 }),
			Options{Certs: []*x509.Certificate{p.vcek, p.ask}}, map[string]error{CheckHWID: ErrMismatch}},
		{"reported TCB above the certificate", v, p.report(t, snp.SigningKeyVCEK, p.vcekKey, func(r *snp.Report) { r.ReportedTCB += 1 << 48 }),
			Options{Certs: []*x509.Certificate{p.vcek, p.ask}}, map[string]error{CheckTCB: ErrMismatch}},
		{"report signed by another key", v, p.report(t, snp.SigningKeyVCEK, p.vlekKey, nil),
			Options{Certs: []*x509.Certificate{p.vcek, p.ask}}, map[string]error{CheckSignature: ErrSignature}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Now = pkiNow
			r, err := tc.v.Verify(ctx, tc.rep, tc.opt)
			wantFailures(t, r, err, tc.want)
		})
	}
}

// TestTestPKILeafShape covers leaf certificates AMD does not issue.
func TestTestPKILeafShape(t *testing.T) {
	p := newTestPKI(t)
	ctx := context.Background()
	v := NewVerifier(&Config{ExtraRoots: []*x509.Certificate{p.ark}})
	rep := p.report(t, snp.SigningKeyVCEK, p.vcekKey, func(r *snp.Report) { r.Version = 2; r.CPUIDFamilyID, r.CPUIDModelID, r.CPUIDStepping = 0, 0, 0 })
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(pub any, sigAlg x509.SignatureAlgorithm, exts []pkix.Extension) *x509.Certificate {
		return createCert(t, &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "SEV-VCEK"},
			SignatureAlgorithm: sigAlg, ExtraExtensions: exts}, p.ask, pub, p.askKey)
	}
	exts := leafExtensions(t, false, p.chipID[:])
	for _, tc := range []struct {
		name    string
		cert    *x509.Certificate
		product string
		want    map[string]error
	}{
		{"P-256 key", leaf(&p256.PublicKey, 0, exts), "", map[string]error{CheckChain: ErrMalformed}},
		{"PKCS #1 v1.5 signature", leaf(&p.vcekKey.PublicKey, x509.SHA384WithRSA, exts), "", map[string]error{CheckChain: ErrChain}},
		{"no productName, no option", leaf(&p.vcekKey.PublicKey, 0, exts[1:]), "", map[string]error{CheckProduct: ErrUnsupported}},
		{"no productName, option", leaf(&p.vcekKey.PublicKey, 0, exts[1:]), "Milan", nil},
		{"productName Genoa", leaf(&p.vcekKey.PublicKey, 0, replace(exts, 0, ext(t, oidProductName, "Genoa-B1", "ia5"))), "Milan",
			map[string]error{CheckProduct: ErrMismatch}},
		{"productName unknown", leaf(&p.vcekKey.PublicKey, 0, replace(exts, 0, ext(t, oidProductName, "Rome", "ia5"))), "",
			map[string]error{CheckProduct: ErrUnsupported}},
		{"productName UTF8String", leaf(&p.vcekKey.PublicKey, 0, replace(exts, 0, ext(t, oidProductName, "Milan-B0", "utf8"))), "",
			map[string]error{CheckProduct: ErrMalformed}},
		{"no snpSPL", leaf(&p.vcekKey.PublicKey, 0, slices.Delete(slices.Clone(exts), 3, 4)), "", map[string]error{CheckTCB: ErrMalformed}},
		{"spl out of range", leaf(&p.vcekKey.PublicKey, 0, replace(exts, 3, ext(t, oidSNPSPL, 300, ""))), "",
			map[string]error{CheckChain: ErrMalformed}},
		{"8-byte hwID on Milan", leaf(&p.vcekKey.PublicKey, 0, replace(exts, len(exts)-1, pkix.Extension{Id: oidHWID, Value: p.chipID[:8]})), "",
			map[string]error{CheckHWID: ErrMalformed}},
		{"32-byte hwID", leaf(&p.vcekKey.PublicKey, 0, replace(exts, len(exts)-1, pkix.Extension{Id: oidHWID, Value: p.chipID[:32]})), "",
			map[string]error{CheckChain: ErrMalformed}},
		{"no hwID", leaf(&p.vcekKey.PublicKey, 0, exts[:len(exts)-1]), "", map[string]error{CheckHWID: ErrMalformed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := v.Verify(ctx, rep, Options{Now: pkiNow, Certs: []*x509.Certificate{tc.cert, p.ask}, Product: tc.product})
			wantFailures(t, r, err, tc.want)
		})
	}
}

// TestCache checks that chains are cached by their bytes, that the cache
// stays within its bound, and (under -race) that concurrent use is safe.
func TestCache(t *testing.T) {
	p := newTestPKI(t)
	vecs := vectors(t)
	ctx := context.Background()
	v := NewVerifier(&Config{ExtraRoots: []*x509.Certificate{p.ark}, CacheSize: 2})
	rep := p.report(t, snp.SigningKeyVCEK, p.vcekKey, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 20 {
				var err error
				if i%2 == 0 {
					_, err = v.Verify(ctx, rep, Options{Now: pkiNow, Certs: []*x509.Certificate{p.vcek, p.ask}, CRLs: crls(kds.CRLVCEK, p.crlOnce(t))})
				} else {
					vec := vecs[i%4/2]
					_, err = v.VerifyBytes(ctx, vec.raw, Options{Now: vec.now, Certs: []*x509.Certificate{vec.vcek}})
					if isOnly(err, ErrNoCRL) {
						err = nil
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	n, m := v.chains.Len(), v.crls.Len()
	if n == 0 || n > 2 || m != 1 {
		t.Errorf("cache sizes: %d chains (want 1..2), %d CRLs (want 1)", n, m)
	}
}

// replace returns a copy of exts with entry i replaced by e.
func replace(exts []pkix.Extension, i int, e pkix.Extension) []pkix.Extension {
	out := slices.Clone(exts)
	out[i] = e
	return out
}

var (
	crlOnce sync.Once
	crlVal  *x509.RevocationList
)

func (p *testPKI) crlOnce(t testing.TB) *x509.RevocationList {
	crlOnce.Do(func() { crlVal = p.crl(t, p.ark, p.arkKey, pkiNow.Add(time.Hour)) })
	return crlVal
}

// isOnly reports whether err is a *VerificationError whose only failed
// checks have class class.
func isOnly(err error, class error) bool {
	ve, ok := err.(*VerificationError)
	if !ok {
		return false
	}
	for _, c := range ve.Failed {
		if c.Err() != class {
			return false
		}
	}
	return true
}
