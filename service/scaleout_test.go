package service_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/shared"
	"github.com/ratls/ratls/service/store"
	"github.com/ratls/ratls/service/store/storetest"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/armcca"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/tee/sevsnp"
)

// backends runs a test on SQLite (replicas as processes on one host) and on
// PostgreSQL (replicas anywhere).
func backends(t *testing.T, test func(t *testing.T, dsn func(*testing.T) string)) {
	t.Run("sqlite", func(t *testing.T) {
		var once sync.Once
		var dsn string
		test(t, func(t *testing.T) string { once.Do(func() { dsn = storetest.SQLite(t) }); return dsn })
	})
	t.Run("postgres", func(t *testing.T) {
		var once sync.Once
		var dsn string
		test(t, func(t *testing.T) string { once.Do(func() { dsn = storetest.PostgresDSN(t) }); return dsn })
	})
}

// replicas starts two services on one database.
func replicas(t *testing.T, dsn string) (*fixture, *fixture) {
	a := newFixture(t, fixtureOptions{dsn: dsn})
	b := newFixture(t, fixtureOptions{dsn: dsn, mutate: func(*service.Config) {}})
	return a, b
}

func TestScaleOutSessionAcrossReplicas(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(*testing.T) string) {
		a, b := replicas(t, dsn(t))
		loc, s := a.newSession("")
		r := b.do("POST", loc, "", api.MediaDCAPQuote, quote(t, a.sgx, s.Nonce))
		if r.code != http.StatusOK {
			t.Fatalf("completing on replica B a session made on A: %d %s", r.code, r.body)
		}
		var done api.Session
		a.do("GET", loc, "", "", nil).json(t, &done)
		if done.Status != store.SessionComplete || done.Result == nil {
			t.Fatalf("replica A does not see the result: %+v", done)
		}
		// The EAR was signed by B; A's key set includes B's key, so a relying
		// party asking either replica can verify it.
		if e := a.verifyEAR(*done.Result); e.Submods["sgx"] == nil {
			t.Fatalf("EAR: %+v", e)
		}
		if a.srv.KeyID() == b.srv.KeyID() {
			t.Fatal("replicas share a key ID")
		}
	})
}

func TestScaleOutNonceRedeemedOnce(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(*testing.T) string) {
		a, b := replicas(t, dsn(t))
		for round := range 5 {
			loc, s := a.newSession("")
			// Each attempt with its own evidence (report data after the
			// nonce differs): the same evidence again is answered with the
			// stored result (TestVeraisonSecondPOST).
			quotes := make([][]byte, 16)
			for i := range quotes {
				quotes[i] = quote(t, a.sgx, append(slices.Clone(s.Nonce), byte(i)))
			}
			var ok, redeemed, other atomic.Int32
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					f := a
					if i%2 == 1 {
						f = b
					}
					r := do(t, f.http.URL, "POST", loc, "", api.MediaDCAPQuote, quotes[i])
					switch r.code {
					case http.StatusOK:
						ok.Add(1)
					case http.StatusConflict:
						redeemed.Add(1)
					default:
						other.Add(1)
						t.Errorf("unexpected answer %d: %s", r.code, r.body)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 1 || redeemed.Load() != 15 || other.Load() != 0 {
				t.Fatalf("round %d: want 1 success and 15 nonce-redeemed, got %d and %d (%d other)", round, ok.Load(), redeemed.Load(), other.Load())
			}
		}
		// Each session was appraised exactly once.
		apps, err := a.st.Appraisals(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, x := range apps {
			seen[x.SessionID]++
		}
		if len(seen) != 5 {
			t.Fatalf("want 5 appraised sessions, got %v", seen)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("session %s appraised %d times", id, n)
			}
		}
	})
}

func TestRestartDurability(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(*testing.T) string) {
		d := dsn(t)
		a := newFixture(t, fixtureOptions{dsn: d})
		loc, s := a.newSession("")
		r := a.do("POST", loc, "", api.MediaDCAPQuote, quote(t, a.sgx, s.Nonce))
		var done api.Session
		r.json(t, &done)
		if r.code != 200 || done.Result == nil {
			t.Fatalf("session: %d %s", r.code, r.body)
		}
		if r := a.do("POST", api.PathPolicies+"/kept", a.admin, "application/json", []byte(`{"allow_debug":false}`)); r.code != 201 {
			t.Fatalf("policy: %d %s", r.code, r.body)
		}
		waiting, _ := a.newSession("")
		// Stop replica A completely: HTTP server, log writer and store.
		a.http.Close()
		a.srv.Close()
		if err := a.st.Close(); err != nil {
			t.Fatal(err)
		}

		b := newFixture(t, fixtureOptions{dsn: d})
		var got api.Session
		b.do("GET", loc, "", "", nil).json(t, &got)
		if got.Status != store.SessionComplete || got.Result == nil || *got.Result != *done.Result {
			t.Fatalf("after restart the completed session is %+v", got)
		}
		b.verifyEAR(*got.Result) // A's key is still published
		var pol api.Document
		b.do("GET", api.PathPolicies+"/kept", a.admin, "", nil).json(t, &pol)
		if pol.Version != 1 || pol.Author != "admin" {
			t.Fatalf("after restart the policy is %+v (A's admin token must still work)", pol)
		}
		var apps struct{ Appraisals []api.Appraisal }
		b.do("GET", api.PathAppraisals, b.admin, "", nil).json(t, &apps)
		if len(apps.Appraisals) != 1 || apps.Appraisals[0].Session == "" {
			t.Fatalf("after restart the appraisal log is %+v", apps)
		}
		// A session still waiting can be completed after the restart.
		var w api.Session
		b.do("GET", waiting, "", "", nil).json(t, &w)
		if r := b.do("POST", waiting, "", api.MediaDCAPQuote, quote(t, b.sgx, w.Nonce)); r.code != 200 {
			t.Fatalf("waiting session after restart: %d %s", r.code, r.body)
		}
	})
}

// countingProvider counts fetches; with fail set it fails every one.
type countingProvider struct {
	next  pcs.Provider
	fail  bool
	calls atomic.Int32
}

func (p *countingProvider) Collateral(ctx context.Context, req pcs.Request) (*pcs.Collateral, error) {
	p.calls.Add(1)
	if p.fail {
		return nil, errors.New("upstream unreachable")
	}
	return p.next.Collateral(ctx, req)
}

func TestScaleOutSharedCollateral(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(*testing.T) string) {
		d := dsn(t)
		upA := &countingProvider{next: testSim(t).Provider()}
		upB := &countingProvider{fail: true}
		withUpstream := func(up pcs.Provider) func(*service.Config) {
			return func(c *service.Config) {
				sh := shared.NewIntel(c.Store, up, shared.Config{Now: c.Now})
				tee.Edit[dcap.Options](&c.Verify.TEE).Collateral = pcs.NewCache(sh, pcs.CacheConfig{Now: c.Now})
				c.CollateralStats = func() map[string]uint64 { return sh.Stats().Map() }
			}
		}
		a := newFixture(t, fixtureOptions{dsn: d, mutate: withUpstream(upA)})
		b := newFixture(t, fixtureOptions{dsn: d, mutate: withUpstream(upB)})
		q := quote(t, a.sgx, nil)

		// B cannot reach upstream and nobody fetched yet: rejected, and
		// the reason names the collateral.
		p := b.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q).problem(t, 422, "policy-rejection")
		if !strings.Contains(strings.ToLower(p.Detail), "collateral") {
			t.Fatalf("without collateral: want a reason naming it, got %q", p.Detail)
		}
		// A fetches once; then B serves the same quote from the store.
		if r := a.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q); r.code != 200 {
			t.Fatalf("replica A: %d %s", r.code, r.body)
		}
		callsB := upB.calls.Load()
		for range 3 {
			if r := b.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q); r.code != 200 {
				t.Fatalf("replica B after A fetched: %d %s", r.code, r.body)
			}
		}
		if upA.calls.Load() != 1 || upB.calls.Load() != callsB {
			t.Errorf("upstream fetches: want A 1 and B none after A's, got A %d, B %d more", upA.calls.Load(), upB.calls.Load()-callsB)
		}
		var status api.CollateralStatus
		b.do("GET", api.PathCollateral, b.admin, "", nil).json(t, &status)
		if len(status.Entries) != 1 || !status.Entries[0].Fresh || !strings.HasPrefix(status.Entries[0].Key, "intel/sgx/") || status.Stats["store_hits"] == 0 {
			t.Errorf("replica B collateral status: %+v", status)
		}
	})
}

// TestConfigureReplica runs two replicas assembled by ConfigureReplica:
// collateral one fetched is served to the other from the store, and the
// caches and counters are reported.
func TestConfigureReplica(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(*testing.T) string) {
		d := dsn(t)
		upA := &countingProvider{next: testSim(t).Provider()}
		upB := &countingProvider{fail: true}
		var cfgB service.Config
		replica := func(up pcs.Provider, keep *service.Config) func(*service.Config) {
			return func(c *service.Config) {
				tee.Edit[dcap.Options](&c.Verify.TEE).Collateral = nil // from the store, then upstream
				if err := service.ConfigureReplica(c, service.ReplicaConfig{IntelUpstream: up, CacheBytes: 8 << 20}); err != nil {
					t.Fatal(err)
				}
				d, snp, cca := tee.Find[*dcap.Options](c.Verify.TEE), tee.Find[*sevsnp.Options](c.Verify.TEE), tee.Find[*armcca.Options](c.Verify.TEE)
				if d == nil || d.Collateral == nil || d.Verifier == nil || snp == nil || snp.Certificates == nil || snp.Verifier == nil || cca == nil || cca.Verifier == nil {
					t.Fatalf("ConfigureReplica left verification incomplete: %+v", c.Verify)
				}
				if keep != nil {
					*keep = *c
				}
			}
		}
		a := newFixture(t, fixtureOptions{dsn: d, mutate: replica(upA, nil)})
		b := newFixture(t, fixtureOptions{dsn: d, mutate: replica(upB, &cfgB)})
		q := quote(t, a.sgx, nil)
		if r := a.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q); r.code != 200 {
			t.Fatalf("replica A: %d %s", r.code, r.body)
		}
		for range 3 {
			if r := b.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q); r.code != 200 {
				t.Fatalf("replica B after A fetched: %d %s", r.code, r.body)
			}
		}
		if upA.calls.Load() != 1 || upB.calls.Load() != 0 {
			t.Errorf("upstream fetches: want A 1 and B none, got A %d, B %d", upA.calls.Load(), upB.calls.Load())
		}
		if st := cfgB.CollateralStats(); st["intel_store_hits"] == 0 || st["intel_upstream_fetches"] != 0 {
			t.Errorf("replica B collateral counters: %v", st)
		}
		caches := cfgB.CacheStats()
		for _, name := range []string{"pcs_collateral", "kds_certificates", "cca_platform_tokens"} {
			if _, ok := caches[name]; !ok {
				t.Errorf("cache %s not reported: %v", name, caches)
			}
		}
		if c := caches["pcs_collateral"]; c.MaxBytes != 8<<20 || c.Entries != 1 {
			t.Errorf("replica B collateral cache: %+v", c)
		}
	})
	if err := service.ConfigureReplica(&service.Config{}, service.ReplicaConfig{}); err == nil {
		t.Error("ConfigureReplica without a store: no error")
	}
}
