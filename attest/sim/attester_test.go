package sim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/verify/intel"
)

// The simulated attester satisfies the library's Attester interface.
var _ ratls.Attester = (*sim.Attester)(nil)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newSim(t testing.TB) *sim.Sim {
	t.Helper()
	seed := bytes.Repeat([]byte{0x5a}, 32)
	s, err := sim.New(sim.InitOptions{Seed: seed, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func simVerifier(s *sim.Sim) *intel.Verifier {
	return intel.NewVerifier(&intel.Config{ExtraRoots: []*x509.Certificate{s.Root()}, WithoutIntelRoot: true})
}

func reportData(label string) [64]byte {
	var rd [64]byte
	h := sha512.Sum512([]byte(label))
	copy(rd[:], h[:])
	return rd
}

func fill32(b byte) (a [32]byte) {
	for i := range a {
		a[i] = b
	}
	return a
}

func fill48(b byte) (a [48]byte) {
	for i := range a {
		a[i] = b
	}
	return a
}

// attest returns a parsed quote from att and checks the evidence tag.
func attest(t *testing.T, att *sim.Attester, rd [64]byte) *quote.Quote {
	t.Helper()
	ev, err := att.Attest(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Tag != evidence.TagIntelQuote {
		t.Fatalf("evidence tag: want %d, got %d", evidence.TagIntelQuote, ev.Tag)
	}
	q, err := quote.Parse(ev.Data)
	if err != nil {
		t.Fatalf("quote.Parse: %v", err)
	}
	if !bytes.Equal(q.Marshal(), ev.Data) {
		t.Error("parsed quote does not re-encode to the same bytes")
	}
	return q
}

func verify(t *testing.T, s *sim.Sim, tee string, q *quote.Quote) *intel.Result {
	t.Helper()
	coll, err := s.Collateral(tee)
	if err != nil {
		t.Fatal(err)
	}
	r, err := simVerifier(s).Verify(context.Background(), q, intel.Options{Now: s.Now(), Collateral: coll})
	if err != nil {
		t.Fatalf("%s: Verify: %v", tee, err)
	}
	if r.TCB == nil || r.TCB.Status != pcs.StatusUpToDate {
		t.Fatalf("%s: TCB: want UpToDate, got %+v", tee, r.TCB)
	}
	if r.TEE != tee {
		t.Errorf("result TEE: want %q, got %q", tee, r.TEE)
	}
	if r.TrustAnchor == nil || r.TrustAnchor.Subject != "ratls Simulated SGX Root CA" || r.TrustAnchor.Intel {
		t.Errorf("trust anchor: want the simulated root, got %+v", r.TrustAnchor)
	}
	return r
}

func TestSGXQuoteVerifies(t *testing.T) {
	s := newSim(t)
	m := sim.Measurements{SGX: sim.SGXMeasurements{MREnclave: fill32(0x11), MRSigner: fill32(0x22), ISVProdID: 7, ISVSVN: 3}}
	att, err := s.Attester("sgx", m)
	if err != nil {
		t.Fatal(err)
	}
	rd := reportData("sgx")
	q := attest(t, att, rd)
	if q.Header.Version != 3 || q.IsTDX() || q.SGX == nil {
		t.Fatalf("want an SGX version 3 quote, got version %d, TDX %v", q.Header.Version, q.IsTDX())
	}
	b := q.SGX
	if b.MREnclave != fill32(0x11) || b.MRSigner != fill32(0x22) || b.ISVProdID != 7 || b.ISVSVN != 3 {
		t.Errorf("measurements: got MRENCLAVE %x MRSIGNER %x prod %d svn %d", b.MREnclave, b.MRSigner, b.ISVProdID, b.ISVSVN)
	}
	if b.ReportData != rd || q.ReportData() != rd {
		t.Errorf("report data: want %x, got %x", rd, b.ReportData)
	}
	if q.Debug() {
		t.Error("quote is debug without Debug")
	}
	r := verify(t, s, "sgx", q)
	if r.Quote.SGX.MREnclave != fill32(0x11) {
		t.Error("verified result carries other measurements")
	}
	got := att.Measurements()
	if got.SGX != m.SGX || got.TDX != (sim.TDXMeasurements{}) {
		t.Errorf("Measurements: want %+v, got %+v", m, got)
	}
}

func TestTDXQuoteVerifies(t *testing.T) {
	s := newSim(t)
	m := sim.Measurements{TDX: sim.TDXMeasurements{
		MRTD:       fill48(0x31),
		RTMR:       [4][48]byte{fill48(0x40), fill48(0x41), fill48(0x42), fill48(0x43)},
		MRConfigID: fill48(0x51),
		MROwner:    fill48(0x52),
	}}
	att, err := s.Attester("tdx", m)
	if err != nil {
		t.Fatal(err)
	}
	rd := reportData("tdx")
	q := attest(t, att, rd)
	if q.Header.Version != 4 || !q.IsTDX() || q.Header.TEEType != quote.TEETypeTDX {
		t.Fatalf("want a TDX version 4 quote, got version %d, TEE type %#x", q.Header.Version, q.Header.TEEType)
	}
	td := q.TD
	if td.MRTD != fill48(0x31) || td.RTMR != m.TDX.RTMR || td.MRConfigID != fill48(0x51) || td.MROwner != fill48(0x52) {
		t.Errorf("measurements: got MRTD %x RTMR %x MRCONFIGID %x MROWNER %x", td.MRTD, td.RTMR, td.MRConfigID, td.MROwner)
	}
	if td.ReportData != rd {
		t.Errorf("report data: want %x, got %x", rd, td.ReportData)
	}
	if q.Debug() {
		t.Error("quote is debug without Debug")
	}
	verify(t, s, "tdx", q)
	if got := att.Measurements(); got.TDX != m.TDX || got.SGX != (sim.SGXMeasurements{}) {
		t.Errorf("Measurements: want %+v, got %+v", m, got)
	}
}

func TestDefaultMeasurements(t *testing.T) {
	s := newSim(t)
	sgx, err := s.Attester("sgx", sim.Measurements{})
	if err != nil {
		t.Fatal(err)
	}
	wantEnclave := sha256.Sum256([]byte("ratls simulated enclave"))
	wantSigner := sha256.Sum256([]byte("ratls simulated enclave signer"))
	q := attest(t, sgx, [64]byte{})
	if q.SGX.MREnclave != wantEnclave || q.SGX.MRSigner != wantSigner {
		t.Errorf("default SGX measurements: got %x, %x", q.SGX.MREnclave, q.SGX.MRSigner)
	}
	if m := sgx.Measurements().SGX; m.MREnclave != wantEnclave || m.MRSigner != wantSigner {
		t.Errorf("Measurements does not report the defaults: %+v", m)
	}
	verify(t, s, "sgx", q)

	tdx, err := s.Attester("tdx", sim.Measurements{})
	if err != nil {
		t.Fatal(err)
	}
	wantMRTD := sha512.Sum384([]byte("ratls simulated TD"))
	q = attest(t, tdx, [64]byte{})
	if q.TD.MRTD != wantMRTD || q.TD.RTMR != ([4][48]byte{}) || q.TD.MRConfigID != ([48]byte{}) || q.TD.MROwner != ([48]byte{}) {
		t.Errorf("default TDX measurements: got MRTD %x, RTMR %x", q.TD.MRTD, q.TD.RTMR)
	}
	if tdx.Measurements().TDX.MRTD != wantMRTD {
		t.Error("Measurements does not report the default MRTD")
	}
	verify(t, s, "tdx", q)
}

func TestDebug(t *testing.T) {
	s := newSim(t)
	sgx, err := s.Attester("sgx", sim.Measurements{SGX: sim.SGXMeasurements{Debug: true}})
	if err != nil {
		t.Fatal(err)
	}
	q := attest(t, sgx, [64]byte{})
	if !q.Debug() || q.SGX.Flags()&quote.SGXAttrDebug == 0 {
		t.Errorf("SGX Debug: want the DEBUG attribute, got attributes %x", q.SGX.Attributes)
	}
	if q.SGX.Flags()&(quote.SGXAttrInitted|quote.SGXAttrMode64Bit) != quote.SGXAttrInitted|quote.SGXAttrMode64Bit {
		t.Errorf("SGX Debug cleared other attributes: %x", q.SGX.Attributes)
	}
	verify(t, s, "sgx", q) // the verifier proves facts; rejecting debug is for a policy

	tdx, err := s.Attester("tdx", sim.Measurements{TDX: sim.TDXMeasurements{Debug: true}})
	if err != nil {
		t.Fatal(err)
	}
	q = attest(t, tdx, [64]byte{})
	if !q.Debug() || q.TD.Attributes()&quote.TDAttrDebug == 0 {
		t.Errorf("TDX Debug: want TD attribute bit 0, got %x", q.TD.TDAttributes)
	}
	verify(t, s, "tdx", q)

	// The SGX flag does not leak into TDX quotes and vice versa.
	tdx, _ = s.Attester("tdx", sim.Measurements{SGX: sim.SGXMeasurements{Debug: true}})
	if attest(t, tdx, [64]byte{}).Debug() {
		t.Error("SGX Debug made a TDX quote debug")
	}
	sgx, _ = s.Attester("sgx", sim.Measurements{TDX: sim.TDXMeasurements{Debug: true}})
	if attest(t, sgx, [64]byte{}).Debug() {
		t.Error("TDX Debug made an SGX quote debug")
	}
}

func TestIntelRootRejectsSimulatedQuotes(t *testing.T) {
	s := newSim(t)
	for _, tee := range []string{"sgx", "tdx"} {
		att, err := s.Attester(tee, sim.Measurements{})
		if err != nil {
			t.Fatal(err)
		}
		q := attest(t, att, [64]byte{})
		coll, _ := s.Collateral(tee)
		for name, v := range map[string]*intel.Verifier{
			"default":    intel.NewVerifier(nil),
			"intel only": intel.NewVerifier(&intel.Config{}),
		} {
			_, err := v.Verify(context.Background(), q, intel.Options{Now: s.Now(), Collateral: coll})
			if !errors.Is(err, intel.ErrChain) {
				t.Errorf("%s, %s verifier: want ErrChain, got %v", tee, name, err)
			}
		}
		// Another simulation's root does not vouch for this one.
		other, err := sim.New(sim.InitOptions{Seed: bytes.Repeat([]byte{1}, 32), Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		_, err = simVerifier(other).Verify(context.Background(), q, intel.Options{Now: s.Now(), Collateral: coll})
		if !errors.Is(err, intel.ErrChain) {
			t.Errorf("%s, other simulation's root: want ErrChain, got %v", tee, err)
		}
	}
}

func TestSimulatedNames(t *testing.T) {
	s := newSim(t)
	root := s.Root()
	if root.Subject.CommonName != "ratls Simulated SGX Root CA" {
		t.Errorf("root CN: got %q", root.Subject.CommonName)
	}
	const org = "ratls simulated TEE (no hardware protection)"
	if intel.SimulatedOrganization != org {
		t.Errorf("intel.SimulatedOrganization: want %q, got %q", org, intel.SimulatedOrganization)
	}
	if len(root.Subject.Organization) != 1 || root.Subject.Organization[0] != org {
		t.Errorf("root O: want [%q], got %q", org, root.Subject.Organization)
	}
	att, _ := s.Attester("tdx", sim.Measurements{})
	q := attest(t, att, [64]byte{})
	pem, err := q.Signature.Certification.PCKChainPEM()
	if err != nil {
		t.Fatal(err)
	}
	chain, err := pcs.ParsePEMChain(pem)
	if err != nil {
		t.Fatal(err)
	}
	coll, _ := s.Collateral("tdx")
	chain = append(chain, coll.TCBInfoIssuerChain...)
	for _, c := range chain {
		if !strings.HasPrefix(c.Subject.CommonName, "ratls Simulated SGX ") {
			t.Errorf("certificate CN %q does not say Simulated", c.Subject.CommonName)
		}
		if len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != org {
			t.Errorf("certificate %q: O %q", c.Subject.CommonName, c.Subject.Organization)
		}
		for _, u := range c.CRLDistributionPoints {
			if !strings.Contains(u, ".invalid/") {
				t.Errorf("certificate %q: CRL distribution point %q is not in .invalid", c.Subject.CommonName, u)
			}
		}
	}
}

// TestLoadedSimVerifiesWithDirCollateral follows the command-line path:
// init a directory, load it, verify a quote against the collateral files.
func TestLoadedSimVerifiesWithDirCollateral(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sim")
	if err := sim.Init(dir, sim.InitOptions{Now: testNow, Validity: 10 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	s, err := sim.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tee := range []string{"sgx", "tdx"} {
		coll, err := pcs.LoadDir(s.CollateralDir(tee))
		if err != nil {
			t.Fatal(err)
		}
		att, err := s.Attester(tee, sim.Measurements{})
		if err != nil {
			t.Fatal(err)
		}
		rd := reportData("loaded " + tee)
		q := attest(t, att, rd)
		v := simVerifier(s)
		for _, at := range []time.Time{s.Now(), s.Now().Add(-23 * time.Hour), s.Now().Add(10 * 24 * time.Hour)} {
			r, err := v.Verify(context.Background(), q, intel.Options{Now: at, Collateral: coll})
			if err != nil {
				t.Errorf("%s at %v: %v", tee, at, err)
				continue
			}
			if r.TCB.Status != pcs.StatusUpToDate || q.ReportData() != rd {
				t.Errorf("%s at %v: status %s", tee, at, r.TCB.Status)
			}
		}
		// After the collateral's nextUpdate, verification fails.
		_, err = v.Verify(context.Background(), q, intel.Options{Now: s.Now().Add(10*24*time.Hour + time.Second), Collateral: coll})
		if !errors.Is(err, intel.ErrValidity) {
			t.Errorf("%s after nextUpdate: want ErrValidity, got %v", tee, err)
		}
	}
}

func TestQuotesDeterministic(t *testing.T) {
	a, b := newSim(t), newSim(t)
	for _, tee := range []string{"sgx", "tdx"} {
		x, _ := a.Attester(tee, sim.Measurements{})
		y, _ := b.Attester(tee, sim.Measurements{})
		rd := reportData(tee)
		qx, err := x.Attest(context.Background(), rd)
		if err != nil {
			t.Fatal(err)
		}
		qy, err := y.Attest(context.Background(), rd)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(qx.Data, qy.Data) {
			t.Errorf("%s: same seed, same report data, different quotes", tee)
		}
		qz, _ := x.Attest(context.Background(), reportData("other"))
		if bytes.Equal(qx.Data, qz.Data) {
			t.Errorf("%s: different report data, same quote", tee)
		}
	}
}

func TestConcurrentAttest(t *testing.T) {
	s := newSim(t)
	const workers, each = 8, 5
	for _, tee := range []string{"sgx", "tdx"} {
		att, err := s.Attester(tee, sim.Measurements{})
		if err != nil {
			t.Fatal(err)
		}
		coll, _ := s.Collateral(tee)
		v := simVerifier(s)
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					rd := reportData(string(rune('a'+w)) + string(rune('a'+i)))
					ev, err := att.Attest(context.Background(), rd)
					if err != nil {
						errs <- err
						continue
					}
					r, err := v.VerifyBytes(context.Background(), ev.Data, intel.Options{Now: s.Now(), Collateral: coll})
					if err != nil {
						errs <- err
						continue
					}
					if r.Quote.ReportData() != rd {
						errs <- errors.New("report data mixed up between goroutines")
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("%s: %v", tee, err)
		}
		if got := att.Calls(); got != workers*each {
			t.Errorf("%s: Calls: want %d, got %d", tee, workers*each, got)
		}
	}
}

func TestCallsAndCancel(t *testing.T) {
	s := newSim(t)
	att, _ := s.Attester("sgx", sim.Measurements{})
	if att.Calls() != 0 || att.TEE() != "sgx" {
		t.Fatalf("new attester: Calls %d, TEE %q", att.Calls(), att.TEE())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := att.Attest(ctx, [64]byte{}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: want context.Canceled, got %v", err)
	}
	if att.Calls() != 0 {
		t.Errorf("Calls after a canceled Attest: want 0, got %d", att.Calls())
	}
	for range 3 {
		if _, err := att.Attest(context.Background(), [64]byte{}); err != nil {
			t.Fatal(err)
		}
	}
	if att.Calls() != 3 {
		t.Errorf("Calls: want 3, got %d", att.Calls())
	}
}

// TestRATLSCertificate runs the whole RA-TLS path: a certificate made with a
// simulated attester verifies and is accepted by the default policy when the
// simulation root is trusted.
func TestRATLSCertificate(t *testing.T) {
	s := newSim(t)
	for _, kind := range []string{"sgx", "tdx"} {
		att, _ := s.Attester(kind, sim.Measurements{})
		key, err := ratls.GenerateKey(ratls.KeyECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		der, err := ratls.CreateCertificate(context.Background(), key, att, &ratls.CertificateOptions{Now: s.Now})
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		coll, _ := s.Collateral(kind)
		v, err := ratls.VerifyCertificate(context.Background(), cert, &ratls.VerifyOptions{
			Now: s.Now(),
			TEE: []tee.Options{&dcap.Options{Verifier: simVerifier(s), Collateral: pcs.Static{C: coll}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if v.Err != nil || !v.Accepted() {
			t.Errorf("%s: want accepted, got err %v, appraisal %+v", kind, v.Err, v.Appraisal)
		}
		if att.Calls() < 1 {
			t.Errorf("%s: attester not called", kind)
		}
		// Trusting only Intel's root, the same certificate is rejected.
		v, err = ratls.VerifyCertificate(context.Background(), cert, &ratls.VerifyOptions{Now: s.Now(), TEE: []tee.Options{&dcap.Options{Collateral: pcs.Static{C: coll}}}})
		if err != nil {
			t.Fatal(err)
		}
		if v.Accepted() || !errors.Is(v.Err, intel.ErrChain) {
			t.Errorf("%s, Intel root only: want rejected with ErrChain, got accepted %v, err %v", kind, v.Accepted(), v.Err)
		}
	}
}

// TestNewMachine checks that machines of a simulated platform have PCK
// certificates and attestation keys of their own, report the same
// measurements, and verify with the simulation's collateral.
func TestNewMachine(t *testing.T) {
	s := newSim(t)
	for _, tee := range []string{"sgx", "tdx"} {
		att, err := s.Attester(tee, sim.Measurements{})
		if err != nil {
			t.Fatal(err)
		}
		m, err := att.NewMachine()
		if err != nil {
			t.Fatal(err)
		}
		a, b := attest(t, att, reportData(tee)), attest(t, m, reportData(tee))
		ca, _ := a.Signature.Certification.PCKChainPEM()
		cb, _ := b.Signature.Certification.PCKChainPEM()
		if bytes.Equal(ca, cb) || a.Signature.AttestationKey == b.Signature.AttestationKey || a.Header.UserData == b.Header.UserData {
			t.Errorf("%s: the machines share a PCK chain, an attestation key or a QE ID", tee)
		}
		if m.Measurements() != att.Measurements() || m.TEE() != tee {
			t.Errorf("%s: the new machine reports %+v", tee, m.Measurements())
		}
		verify(t, s, tee, a)
		verify(t, s, tee, b)
	}
}
