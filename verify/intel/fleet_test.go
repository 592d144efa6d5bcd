package intel

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/internal/costtest"
	"github.com/ratls/ratls/testing/dcaptest"
)

// fleetNow is the reference time of test fleets.
var fleetNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// testFleet mints machines of one TEE under the dcaptest PKI, spread over
// FMSPCs, and the collateral of each FMSPC. As with Intel's PCS, the QE
// Identity, the CRLs and the issuer chains are the same bytes for every
// FMSPC; only the TCB Info differs.
type testFleet struct {
	pki  *dcaptest.PKI
	base *dcaptest.Platform
	raw  *dcaptest.Collateral // of the base FMSPC

	mu      sync.Mutex
	tcbInfo map[[6]byte][]byte // signed TCB Info by FMSPC
}

func newTestFleet(tb testing.TB, tdx bool) *testFleet {
	tb.Helper()
	p, err := dcaptest.New(dcaptest.Options{Now: fleetNow})
	if err != nil {
		tb.Fatal(err)
	}
	base, err := p.DefaultPlatform(tdx)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := base.Collateral()
	if err != nil {
		tb.Fatal(err)
	}
	return &testFleet{pki: p, base: base, raw: raw, tcbInfo: map[[6]byte][]byte{base.TCBInfoOptions.FMSPC: raw.TCBInfo}}
}

// verifier returns a verifier trusting the fleet's root.
func (f *testFleet) verifier(cfg Config) *Verifier {
	cfg.ExtraRoots, cfg.WithoutIntelRoot = []*x509.Certificate{f.pki.Root}, true
	return NewVerifier(&cfg)
}

// fmspc returns the i-th FMSPC of the fleet: the base FMSPC with i in its
// last two bytes.
func (f *testFleet) fmspc(i int) [6]byte {
	x := f.base.TCBInfoOptions.FMSPC
	binary.BigEndian.PutUint16(x[4:], uint16(i))
	return x
}

// collateral returns the signed collateral of an FMSPC.
func (f *testFleet) collateral(fmspc [6]byte) (*dcaptest.Collateral, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ti := f.tcbInfo[fmspc]
	if ti == nil {
		o := f.base.TCBInfoOptions
		o.FMSPC = fmspc
		var err error
		if ti, err = f.pki.TCBInfo(o); err != nil {
			return nil, err
		}
		f.tcbInfo[fmspc] = ti
	}
	c := *f.raw
	c.TCBInfo = ti
	return &c, nil
}

// parsedCollateral parses the collateral of an FMSPC afresh, as a
// collateral source does for each fetch.
func (f *testFleet) parsedCollateral(tb testing.TB, fmspc [6]byte) *pcs.Collateral {
	tb.Helper()
	d, err := f.collateral(fmspc)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := parseCollateral(d, "fleet")
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// machine mints machine i (FMSPC i % fmspcs) and returns one of its quotes.
func (f *testFleet) machine(i, fmspcs int) (*quote.Quote, error) {
	var m *dcaptest.Platform
	var err error
	if fmspcs <= 1 {
		m, err = f.base.NewMachine()
	} else {
		m, err = f.base.WithFMSPC(f.fmspc(i % fmspcs))
	}
	if err != nil {
		return nil, err
	}
	raw, err := m.NewQuote([64]byte{byte(i), byte(i >> 8), byte(i >> 16)})
	if err != nil {
		return nil, err
	}
	return quote.Parse(raw)
}

// machines mints n machines over fmspcs FMSPCs, one quote each.
func (f *testFleet) machines(tb testing.TB, n, fmspcs int) []*quote.Quote {
	tb.Helper()
	qs := make([]*quote.Quote, n)
	if err := costtest.Each(n, func(i int) (err error) {
		qs[i], err = f.machine(i, fmspcs)
		return err
	}); err != nil {
		tb.Fatal(err)
	}
	return qs
}

// fleetProvider serves the fleet's collateral as a PCS client does:
// parsed afresh on every fetch, which it counts.
type fleetProvider struct {
	tb      testing.TB
	f       *testFleet
	fetches atomic.Int64
}

func (p *fleetProvider) Collateral(_ context.Context, req pcs.Request) (*pcs.Collateral, error) {
	p.fetches.Add(1)
	return p.f.parsedCollateral(p.tb, req.FMSPC), nil
}

// p256Floor is one ECDSA P-256 verification over a precomputed digest: the
// floor the fleet benchmarks are reported against.
var p256Floor = sync.OnceValue(func() func() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), nil)
	digest := sha256.Sum256([]byte("quote"))
	r, s, _ := ecdsa.Sign(nil, key, digest[:])
	return func() {
		if !ecdsa.Verify(&key.PublicKey, digest[:], r, s) {
			panic("signature does not verify")
		}
	}
})

// mustVerify verifies q and fails unless every check passed.
func mustVerify(tb testing.TB, v *Verifier, q *quote.Quote, opt Options) {
	if r, err := v.Verify(context.Background(), q, opt); err != nil {
		tb.Fatalf("verification failed: %v (%v)", err, r.Failed())
	}
}

// BenchmarkFleet measures verification across a fleet of distinct machines
// (dcaptest SGX, each with its own PCK certificate), each case reported as
// a multiple of one P-256 verification (xP256) measured in the same run:
//
//   - new-platform: a machine the verifier has not seen, collateral warm;
//   - seen-platform: 1,000 machines the verifier has seen, random order;
//   - fleet-10000: 10,000 machines in random order with the default cache,
//     and with a cache bound that holds about a quarter of them (hit-% is
//     the share of quotes whose platform was cached); B/platform is the
//     heap the verifier holds per cached machine;
//   - fmspcs-1000: 1,000 FMSPCs, one machine each, through a pcs.Cache
//     with its defaults in front of a source that counts its fetches.
func BenchmarkFleet(b *testing.B) {
	f := newTestFleet(b, false)
	coll := f.parsedCollateral(b, f.fmspc(0))
	opt := Options{Now: fleetNow, Collateral: coll}
	warm := func() *Verifier {
		v := f.verifier(Config{})
		q, err := f.machine(0, 1)
		if err != nil {
			b.Fatal(err)
		}
		mustVerify(b, v, q, opt)
		return v
	}
	pool := f.machines(b, 1000, 1)

	b.Run("new-platform", func(b *testing.B) {
		b.StopTimer()
		v := warm()
		costtest.Measure(b, "P256", p256Floor(), func(i int, t *costtest.Timer) {
			if i > 0 && i%len(pool) == 0 {
				t.Stop()
				v = warm()
				t.Start()
			}
			mustVerify(b, v, pool[i%len(pool)], opt)
		})
	})
	b.Run("seen-platform", func(b *testing.B) {
		b.StopTimer()
		v := warm()
		for _, q := range pool {
			mustVerify(b, v, q, opt)
		}
		order := rand.Perm(len(pool))
		costtest.Measure(b, "P256", p256Floor(), func(i int, _ *costtest.Timer) { mustVerify(b, v, pool[order[i%len(order)]], opt) })
	})

	fleet := f.machines(b, 10000, 1)
	for _, bound := range []struct {
		name string
		cfg  Config
	}{
		{"default", Config{}},
		{"quarter", Config{CacheBytes: int64(len(fleet)/4) * PlatformCacheEntryBytes}},
	} {
		b.Run("fleet-10000/"+bound.name, func(b *testing.B) {
			b.StopTimer()
			before := costtest.HeapInUse()
			v := f.verifier(bound.cfg)
			for _, q := range fleet {
				mustVerify(b, v, q, opt)
			}
			cached := v.platforms.Len()
			perPlatform := float64(costtest.HeapInUse()-before) / float64(cached)
			rng := rand.New(rand.NewPCG(1, 2))
			hits := v.platforms.Stats().Hits
			costtest.Measure(b, "P256", p256Floor(), func(int, *costtest.Timer) { mustVerify(b, v, fleet[rng.IntN(len(fleet))], opt) })
			b.ReportMetric(perPlatform, "B/platform")
			b.ReportMetric(float64(cached), "cached")
			b.ReportMetric(100*float64(v.platforms.Stats().Hits-hits)/float64(b.N), "hit-%")
		})
	}

	b.Run("fmspcs-1000", func(b *testing.B) {
		b.StopTimer()
		const n = 1000
		qs := f.machines(b, n, n)
		src := &fleetProvider{tb: b, f: f}
		cache := pcs.NewCache(src, pcs.CacheConfig{Now: func() time.Time { return fleetNow }})
		v := f.verifier(Config{})
		popt := Options{Now: fleetNow, Provider: cache}
		before := costtest.HeapInUse()
		for _, q := range qs {
			mustVerify(b, v, q, popt)
		}
		perFMSPC := float64(costtest.HeapInUse()-before) / n
		src.fetches.Store(0)
		rng := rand.New(rand.NewPCG(3, 4))
		costtest.Measure(b, "P256", p256Floor(), func(int, *costtest.Timer) { mustVerify(b, v, qs[rng.IntN(n)], popt) })
		b.ReportMetric(float64(src.fetches.Load())/float64(b.N), "fetches/quote")
		b.ReportMetric(perFMSPC, "B/FMSPC")
	})
}
