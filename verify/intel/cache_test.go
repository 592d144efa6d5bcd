package intel

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"runtime"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/internal/costtest"
	"github.com/ratls/ratls/internal/lru"
	"github.com/ratls/ratls/testing/dcaptest"
)

// chainPEM encodes certificates (DER) as a PEM chain.
func chainPEM(ders ...[]byte) []byte {
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
	}
	return out
}

// TestCachedCAGivesNoPass verifies forged chains on a verifier whose
// caches already hold a genuine platform of the same PCK CA: the cached CA
// vouches only for chains whose CA and root are byte for byte the ones it
// was verified with, and every new PCK certificate is checked.
func TestCachedCAGivesNoPass(t *testing.T) {
	for _, tdx := range []bool{false, true} {
		f := newTestFleet(t, tdx)
		v := f.verifier(Config{})
		coll := f.parsedCollateral(t, f.fmspc(0))
		opt := Options{Now: fleetNow, Collateral: coll}
		mustVerify(t, v, mustMachine(t, f, 0), opt)

		// Another PKI with the same names: its CA is not the trusted root's.
		forger, err := dcaptest.New(dcaptest.Options{Now: fleetNow})
		if err != nil {
			t.Fatal(err)
		}
		forged, err := forger.NewPCK(f.base.QuoteOptions.PCK.Options)
		if err != nil {
			t.Fatal(err)
		}
		genuine, err := f.base.NewMachine()
		if err != nil {
			t.Fatal(err)
		}
		// Cached, so that the attacks below with its PCK certificate meet
		// its cache entry.
		mustVerify(t, v, mustQuote(t, genuine), opt)
		g := genuine.QuoteOptions.PCK
		ca := g.Cert.Issuer.CommonName
		caCert := f.pki.PlatformCA
		if g.Options.CA == dcaptest.CAProcessor {
			caCert = f.pki.ProcessorCA
		}
		for _, tc := range []struct {
			name  string
			chain []byte
			key   bool // the forged PCK key signs the QE report
		}{
			// The forged CA (same subject, other key) with the genuine root.
			{"forged CA", chainPEM(forged.Cert.Raw, forgedCA(t, forger, g.Options.CA).Raw, f.pki.Root.Raw), true},
			// A PCK certificate of the forged CA under the cached genuine
			// CA and root: its signature does not verify.
			{"forged PCK certificate under the cached CA", chainPEM(forged.Cert.Raw, caCert.Raw, f.pki.Root.Raw), true},
			// The genuine PCK certificate with its signature corrupted.
			{"corrupted PCK signature", chainPEM(corruptSignature(t, g.Cert.Raw), caCert.Raw, f.pki.Root.Raw), false},
			// The genuine (cached) PCK certificate with a corrupted root.
			{"corrupted root", chainPEM(g.Cert.Raw, caCert.Raw, corruptSignature(t, f.pki.Root.Raw)), false},
		} {
			m := *genuine
			m.QuoteOptions.CertChainPEM = append(tc.chain, 0)
			if tc.key {
				m.QuoteOptions.PCK = forged
			}
			raw, err := m.NewQuote([64]byte{9})
			if err != nil {
				t.Fatal(err)
			}
			r, err := v.VerifyBytes(context.Background(), raw, opt)
			if !hasFailure(r, CheckPCKChain, ErrChain) {
				t.Errorf("tdx=%v, %s (CA %q): want %s to fail with ErrChain, got %v", tdx, tc.name, ca, CheckPCKChain, err)
			}
		}
		// The genuine machine still verifies; the CA was verified once.
		if r, err := v.Verify(context.Background(), mustQuote(t, genuine), opt); err != nil {
			t.Errorf("tdx=%v: the genuine machine after the attacks: %v (%v)", tdx, err, r.Failed())
		}
		if s := v.pckCAs.Stats(); s.Entries != 1 || s.Misses != 3 {
			t.Errorf("tdx=%v: PCK CA cache %+v, want 1 entry after 3 misses (the CA seen first, the forged one, the corrupted root)", tdx, s)
		}
	}
}

// forgedCA returns the forger's PCK CA of the given name.
func forgedCA(t *testing.T, p *dcaptest.PKI, name string) *x509.Certificate {
	t.Helper()
	ca, _, err := p.PCKCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mustMachine(t testing.TB, f *testFleet, i int) *quote.Quote {
	t.Helper()
	q, err := f.machine(i, 1)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func mustQuote(t testing.TB, pl *dcaptest.Platform) *quote.Quote {
	t.Helper()
	raw, err := pl.NewQuote([64]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	q, err := quote.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestPlatformCache checks what a verifier's caches hold: one entry per
// platform, the PCK CA and the collateral's signature checks once, the QE
// report kept with its platform; least recently used platforms go first.
func TestPlatformCache(t *testing.T) {
	f := newTestFleet(t, false)
	// Room for three platforms (and a little for the estimate).
	v := f.verifier(Config{CacheBytes: 3*(platformBaseSize+lru.EntryOverhead[[32]byte, *verifiedChain]()) + 400})
	opt := Options{Now: fleetNow, Collateral: f.parsedCollateral(t, f.fmspc(0))}
	qs := f.machines(t, 4, 1)
	for _, q := range qs[:3] {
		mustVerify(t, v, q, opt)
	}
	mustVerify(t, v, qs[0], opt) // 0 is now the most recently used
	mustVerify(t, v, qs[3], opt) // evicts 1
	s := v.CacheStats()
	if p := s["platforms"]; p.Entries != 3 || p.Hits != 1 || p.Misses != 4 || p.Evictions != 1 {
		t.Errorf("platforms: %+v, want 3 entries, 1 hit, 4 misses, 1 eviction", p)
	}
	if q := s["qe_reports"]; q.Hits != 1 || q.Misses != 4 {
		t.Errorf("QE reports: %+v, want 1 hit, 4 misses", q)
	}
	if c := s["pck_cas"]; c.Entries != 1 || c.Hits != 3 {
		t.Errorf("PCK CAs: %+v, want 1 entry, 3 hits", c)
	}
	if c := s["collateral"]; c.Entries != 1 || c.Misses != 1 {
		t.Errorf("collateral: %+v, want 1 entry verified once", c)
	}
	for i, want := range []bool{true, false, true, true} {
		leafPEM, _ := splitPCKChain(mustChain(t, qs[i]))
		key := sha256.Sum256(leafPEM)
		if _, ok := v.platforms.Peek(key); ok != want {
			t.Errorf("platform %d cached: %v, want %v", i, ok, want)
		}
	}
}

func mustChain(t *testing.T, q *quote.Quote) []byte {
	t.Helper()
	b, err := q.Signature.Certification.PCKChainPEM()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCollateralSharesSignatureChecks checks that collateral of many
// FMSPCs, which shares its QE Identity, CRLs and issuer chains, has those
// checked once, and that the cache of verified collateral does not keep
// collateral its source has dropped.
func TestCollateralSharesSignatureChecks(t *testing.T) {
	f := newTestFleet(t, true)
	v := f.verifier(Config{})
	const n = 20
	qs := f.machines(t, n, n)
	colls := make([]*pcs.Collateral, n)
	for i, q := range qs {
		colls[i] = f.parsedCollateral(t, f.fmspc(i))
		mustVerify(t, v, q, Options{Now: fleetNow, Collateral: colls[i]})
	}
	// Per collateral value: the TCB Info signature. Once: the TCB signer,
	// the QE Identity, the PCK CRL issuer and both CRLs.
	if s := v.facts.Stats(); s.Entries != n+5 {
		t.Errorf("signature checks: %+v, want %d entries", s, n+5)
	}
	if s := v.colls.Stats(); s.Entries != n {
		t.Errorf("verified collateral: %+v, want %d entries", s, n)
	}
	runtime.KeepAlive(colls) // from here on the collateral is garbage
	for range 50 {
		costtest.HeapInUse()
		if v.colls.Len() == 0 {
			break
		}
	}
	if got := v.colls.Len(); got != 0 {
		t.Errorf("verified collateral after its values were dropped: %d entries, want 0", got)
	}
}

// TestPlatformMemory measures the heap a verifier holds per cached
// platform (runtime.ReadMemStats after a collection) for fleets of 1,000,
// 10,000 and 50,000 machines, and checks it against the target of 2 KB
// and against the cache's own estimate, which its memory bound relies on.
// The larger fleets run only without -short and without the race detector
// (which slows minting and verification tenfold), and 50,000 only when
// 10,000 took under 2.5 s, so that the test stays within about 20 s.
func TestPlatformMemory(t *testing.T) {
	f := newTestFleet(t, true)
	opt := Options{Now: fleetNow, Collateral: f.parsedCollateral(t, f.fmspc(0))}
	for _, n := range []int{1000, 10000, 50000} {
		if n > 1000 && (testing.Short() || costtest.Race) {
			t.Logf("%d platforms: skipped (-short or -race)", n)
			continue
		}
		start := time.Now()
		v := f.verifier(Config{})
		mustVerify(t, v, mustMachine(t, f, 0), opt)
		before := costtest.HeapInUse()
		if err := costtest.Each(n, func(i int) error {
			q, err := f.machine(i, 1)
			if err != nil {
				return err
			}
			_, err = v.Verify(context.Background(), q, opt)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		heap := float64(costtest.HeapInUse()-before) / float64(n)
		s := v.platforms.Stats()
		estimate := float64(s.Bytes) / float64(s.Entries)
		t.Logf("%d platforms: %.0f bytes of heap each (cache estimate %.0f), %s", n, heap, estimate, time.Since(start).Round(time.Millisecond))
		if s.Entries != n+1 {
			t.Errorf("%d platforms: %d cached", n, s.Entries)
		}
		if heap > 2048 {
			t.Errorf("%d platforms: %.0f bytes of heap per platform, want at most 2048", n, heap)
		}
		if estimate < heap*0.75 || estimate > heap*1.5 {
			t.Errorf("%d platforms: the cache estimates %.0f bytes per platform, but each takes %.0f", n, estimate, heap)
		}
		if n == 10000 && time.Since(start) > 2500*time.Millisecond {
			t.Logf("50000 platforms: skipped (10,000 took %s)", time.Since(start).Round(time.Millisecond))
			return
		}
		runtime.KeepAlive(v)
	}
}
