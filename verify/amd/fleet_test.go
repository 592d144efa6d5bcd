package amd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	mrand "math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/internal/costtest"
)

// testChip is a chip of the test PKI: its VCEK and a report it signed.
type testChip struct {
	vcek *x509.Certificate
	rep  *snp.Report
}

// chip mints chip i of the test PKI: a chip ID of its own, a new P-384
// VCEK issued by the test ASK, and a report signed with it.
func (p *testPKI) chip(t testing.TB, i int) testChip {
	t.Helper()
	var id [64]byte
	binary.BigEndian.PutUint64(id[:], uint64(i)+1)
	id[63] = 0x5a
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	vcek := createCert(t, &x509.Certificate{SerialNumber: big.NewInt(int64(1000 + i)), Subject: pkix.Name{CommonName: "SEV-VCEK"},
		ExtraExtensions: leafExtensions(t, false, id[:])}, p.ask, &key.PublicKey, p.askKey)
	rep := p.report(t, snp.SigningKeyVCEK, key, func(r *snp.Report) { r.ChipID = id })
	return testChip{vcek: vcek, rep: rep}
}

// chips mints n chips on GOMAXPROCS goroutines.
func (p *testPKI) chips(t testing.TB, n int) []testChip {
	out := make([]testChip, n)
	costtest.Each(n, func(i int) error {
		out[i] = p.chip(t, i)
		return nil
	})
	return out
}

// verifyChip verifies a chip's report with its VCEK and the test ASK and
// fails unless only the crl check failed (no CRL is given).
func verifyChip(t testing.TB, v *Verifier, p *testPKI, c testChip) {
	r, err := v.Verify(context.Background(), c.rep, Options{Now: pkiNow, Certs: []*x509.Certificate{c.vcek, p.ask}})
	if !isOnly(err, ErrNoCRL) {
		t.Fatalf("chip: %v (%v)", err, r.Failed())
	}
}

// p384Floor is one ECDSA P-384 verification over a precomputed digest: the
// floor the fleet benchmarks are reported against.
var p384Floor = sync.OnceValue(func() func() {
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	digest := sha512.Sum384([]byte("report"))
	r, s, _ := ecdsa.Sign(rand.Reader, key, digest[:])
	return func() {
		if !ecdsa.Verify(&key.PublicKey, digest[:], r, s) {
			panic("signature does not verify")
		}
	}
})

// BenchmarkFleet measures SEV-SNP verification across chips, each case
// reported as a multiple of one P-384 verification (xP384) measured in the
// same run:
//
//   - new-chip: the real Milan report with its VCEK, ASK and ARK (RSA-4096),
//     the verifier having seen the ASK and ARK but not the VCEK: the report
//     signature and the VCEK's signature by the ASK;
//   - seen-chip: the same report again;
//   - fleet-2000: 2,000 chips of the test PKI (its ASK is RSA-2048) in
//     random order, with the default cache and with a bound that holds
//     about a quarter of them; B/chip is the heap the verifier holds per
//     cached chip.
func BenchmarkFleet(b *testing.B) {
	vec := vectors(b)[0]
	rep := parse(b, vec.raw)
	certs := append([]*x509.Certificate{vec.vcek}, vec.chain...)
	opt := Options{Now: vec.now, Certs: certs}
	check := func(b *testing.B, r *Result, err error) {
		if !isOnly(err, ErrNoCRL) {
			b.Fatalf("%v (%v)", err, r.Failed())
		}
	}
	b.Run("new-chip", func(b *testing.B) {
		b.StopTimer()
		v := NewVerifier(nil)
		r, err := v.Verify(b.Context(), rep, opt)
		check(b, r, err)
		key := chainKey(r.Product, snp.SigningKeyVCEK, certs)
		costtest.Measure(b, "P384", p384Floor(), func(_ int, t *costtest.Timer) {
			t.Stop()
			v.chains.Remove(key) // a chip not seen before
			t.Start()
			r, err := v.Verify(b.Context(), rep, opt)
			check(b, r, err)
		})
	})
	b.Run("seen-chip", func(b *testing.B) {
		b.StopTimer()
		v := NewVerifier(nil)
		r, err := v.Verify(b.Context(), rep, opt)
		check(b, r, err)
		costtest.Measure(b, "P384", p384Floor(), func(int, *costtest.Timer) {
			r, err := v.Verify(b.Context(), rep, opt)
			check(b, r, err)
		})
	})

	p := newTestPKI(b)
	fleet := p.chips(b, 2000)
	for _, bound := range []struct {
		name string
		cfg  Config
	}{
		{"default", Config{}},
		{"quarter", Config{CacheBytes: int64(len(fleet)/4) * ChipCacheEntryBytes}},
	} {
		b.Run("fleet-2000/"+bound.name, func(b *testing.B) {
			b.StopTimer()
			before := costtest.HeapInUse()
			cfg := bound.cfg
			cfg.ExtraRoots = []*x509.Certificate{p.ark}
			v := NewVerifier(&cfg)
			for _, c := range fleet {
				verifyChip(b, v, p, c)
			}
			cached := v.chains.Len()
			perChip := float64(costtest.HeapInUse()-before) / float64(cached)
			rng := mrand.New(mrand.NewPCG(1, 2))
			hits := v.chains.Stats().Hits
			costtest.Measure(b, "P384", p384Floor(), func(int, *costtest.Timer) {
				verifyChip(b, v, p, fleet[rng.IntN(len(fleet))])
			})
			b.ReportMetric(perChip, "B/chip")
			b.ReportMetric(float64(cached), "cached")
			b.ReportMetric(100*float64(v.chains.Stats().Hits-hits)/float64(b.N), "hit-%")
		})
	}
}

// TestChipMemory measures the heap a verifier holds per cached chip
// (runtime.ReadMemStats after a collection) for 1,000 chips, and 10,000
// when 1,000 took under a second (minting chips takes an RSA signature
// each; 200 only with -short or the race detector), and checks it against
// the target of 2 KB and against the cache's own estimate.
func TestChipMemory(t *testing.T) {
	p := newTestPKI(t)
	sizes := []int{1000, 10000}
	if testing.Short() || costtest.Race {
		sizes = []int{200} // minting is slow under the race detector
	}
	for _, n := range sizes {
		start := time.Now()
		v := NewVerifier(&Config{ExtraRoots: []*x509.Certificate{p.ark}})
		verifyChip(t, v, p, p.chip(t, -1))
		before := costtest.HeapInUse()
		costtest.Each(n, func(i int) error {
			verifyChip(t, v, p, p.chip(t, i))
			return nil
		})
		heap := float64(costtest.HeapInUse()-before) / float64(n)
		s := v.chains.Stats()
		estimate := float64(s.Bytes) / float64(s.Entries)
		t.Logf("%d chips: %.0f bytes of heap each (cache estimate %.0f), %s", n, heap, estimate, time.Since(start).Round(time.Millisecond))
		if s.Entries != n+1 || v.issuers.Len() != 1 {
			t.Errorf("%d chips: %d cached, %d issuers", n, s.Entries, v.issuers.Len())
		}
		if heap > 2048 {
			t.Errorf("%d chips: %.0f bytes of heap per chip, want at most 2048", n, heap)
		}
		if estimate < heap*0.75 || estimate > heap*1.5 {
			t.Errorf("%d chips: the cache estimates %.0f bytes per chip, but each takes %.0f", n, estimate, heap)
		}
		runtime.KeepAlive(v)
		if time.Since(start) > time.Second {
			return
		}
	}
}

// TestCachedIssuerGivesNoPass verifies forged chains on a verifier whose
// caches already hold a chip of the test ASK: the cached ASK and ARK vouch
// only for chains that name them byte for byte, and every new VCEK's
// signature is checked.
func TestCachedIssuerGivesNoPass(t *testing.T) {
	p := newTestPKI(t)
	v := NewVerifier(&Config{ExtraRoots: []*x509.Certificate{p.ark}})
	genuine := p.chip(t, 1)
	verifyChip(t, v, p, genuine)

	// A forger's ARK and ASK, named like the test PKI's.
	arkKey, askKey := rsaKey(t), rsaKey(t)
	ark := createCert(t, caTemplate(1, "ARK-Milan"), caTemplate(1, "ARK-Milan"), &arkKey.PublicKey, arkKey)
	ask := createCert(t, caTemplate(2, "SEV-Milan"), ark, &askKey.PublicKey, arkKey)
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := genuine.rep.ChipID
	forged := createCert(t, &x509.Certificate{SerialNumber: big.NewInt(77), Subject: pkix.Name{CommonName: "SEV-VCEK"},
		ExtraExtensions: leafExtensions(t, false, id[:])}, ask, &key.PublicKey, askKey)
	rep := p.report(t, snp.SigningKeyVCEK, key, func(r *snp.Report) { r.ChipID = id })

	for _, tc := range []struct {
		name  string
		certs []*x509.Certificate
	}{
		{"VCEK of a forged ASK, with the cached ASK", []*x509.Certificate{forged, p.ask}},
		{"VCEK of a forged ASK, with the cached ASK and ARK", []*x509.Certificate{forged, p.ask, p.ark}},
		{"VCEK with the forged ASK", []*x509.Certificate{forged, ask}},
		{"VCEK with the forged ASK and ARK", []*x509.Certificate{forged, ask, ark}},
		{"genuine VCEK, corrupted signature", []*x509.Certificate{corruptedCopy(t, genuine.vcek), p.ask}},
	} {
		r, err := v.Verify(context.Background(), rep, Options{Now: pkiNow, Certs: tc.certs})
		if failedChecks(r)[CheckChain] != ErrChain {
			t.Errorf("%s: want %s to fail with ErrChain, got %v", tc.name, CheckChain, err)
		}
	}
	verifyChip(t, v, p, genuine)
	if s := v.CacheStats()["issuers"]; s.Entries != 2 {
		t.Errorf("issuers: %+v, want 2 (the test ASK alone and with its ARK; the forged ones failed)", s)
	}
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// corruptedCopy returns c with a bit of its signature flipped.
func corruptedCopy(t *testing.T, c *x509.Certificate) *x509.Certificate {
	der := slices.Clone(c.Raw)
	der[len(der)-3] ^= 1
	out, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
