package intel

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/quote"
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

// each runs fn(i) for i in [0, n) on GOMAXPROCS goroutines and returns the
// first error.
func each(n int, fn func(i int) error) error {
	var next atomic.Int64
	var first atomic.Pointer[error]
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || first.Load() != nil {
					return
				}
				if err := fn(i); err != nil {
					first.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if err := first.Load(); err != nil {
		return *err
	}
	return nil
}

// machines mints n machines over fmspcs FMSPCs, one quote each.
func (f *testFleet) machines(tb testing.TB, n, fmspcs int) []*quote.Quote {
	tb.Helper()
	qs := make([]*quote.Quote, n)
	if err := each(n, func(i int) (err error) {
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

// measure runs the timed loop of a benchmark, fn(i) for each i < b.N, and
// reports its CPU time per operation as a multiple of one P-256
// verification (xP256). CPU time, not wall time, so that other processes
// on the machine do not count (the garbage collector's work does); and
// the floor is measured in batches between chunks of the loop, so that
// both see the machine alike. fn may leave work out of the measurement
// with t.stop and t.start. The timer must be stopped when measure is
// called.
func measure(b *testing.B, fn func(i int, t *cpuTimer)) {
	const chunk, batch = 64, 16
	verify := p256Floor()
	var floor cpuTimer
	floorN := 0
	b.ReportAllocs()
	b.ResetTimer()
	measured := cpuTimer{b: b}
	for i := 0; i < b.N; {
		measured.start()
		for end := min(i+chunk, b.N); i < end; i++ {
			fn(i, &measured)
		}
		measured.stop()
		floor.t0 = cpuTime()
		for range batch {
			verify()
		}
		floor.total += cpuTime() - floor.t0
		floorN += batch
	}
	perFloor := float64(floor.total.Nanoseconds()) / float64(floorN)
	b.ReportMetric(perFloor, "P256-cpu-ns")
	b.ReportMetric(float64(measured.total.Nanoseconds())/float64(b.N)/perFloor, "xP256")
}

// cpuTimer accumulates CPU time; with b set, it runs b's timer alike.
type cpuTimer struct {
	b     *testing.B
	t0    time.Duration
	total time.Duration
}

func (c *cpuTimer) start() { c.b.StartTimer(); c.t0 = cpuTime() }
func (c *cpuTimer) stop()  { c.total += cpuTime() - c.t0; c.b.StopTimer() }

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

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
//     heap the verifier holds per machine;
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
		measure(b, func(i int, t *cpuTimer) {
			if i > 0 && i%len(pool) == 0 {
				t.stop()
				v = warm()
				t.start()
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
		measure(b, func(i int, _ *cpuTimer) { mustVerify(b, v, pool[order[i%len(order)]], opt) })
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
			before := heapInUse()
			v := f.verifier(bound.cfg)
			for _, q := range fleet {
				mustVerify(b, v, q, opt)
			}
			cached := v.platforms.Len()
			perPlatform := float64(heapInUse()-before) / float64(cached)
			rng := rand.New(rand.NewPCG(1, 2))
			hits := v.platforms.Stats().Hits
			measure(b, func(int, *cpuTimer) { mustVerify(b, v, fleet[rng.IntN(len(fleet))], opt) })
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
		before := heapInUse()
		for _, q := range qs {
			mustVerify(b, v, q, popt)
		}
		perFMSPC := float64(heapInUse()-before) / n
		src.fetches.Store(0)
		rng := rand.New(rand.NewPCG(3, 4))
		measure(b, func(int, *cpuTimer) { mustVerify(b, v, qs[rng.IntN(n)], popt) })
		b.ReportMetric(float64(src.fetches.Load())/float64(b.N), "fetches/quote")
		b.ReportMetric(perFMSPC, "B/FMSPC")
	})
}
