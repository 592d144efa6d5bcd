package pcs

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Earliest nextUpdate of the TDX vector's collateral: its PCK CRL
// (testdata/dcap-qvl/PROVENANCE.md), and of the shifted copy.
var (
	tdxNextUpdate     = time.Date(2025, 7, 19, 10, 0, 35, 0, time.UTC)
	shiftedNextUpdate = time.Date(2025, 8, 19, 10, 0, 35, 0, time.UTC)
)

// tdxCollateralJSON returns the dcap-qvl members of the TDX vector; with
// shift, every 2025-07-19 nextUpdate (TCB Info, QE Identity, PCK CRL) is
// moved to 2025-08-19. Signatures no longer verify; the cache does not care.
func tdxCollateralJSON(t testing.TB, shift bool) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(readFile(t, "dcap-qvl/tdx_quote_collateral.json"), &m); err != nil {
		t.Fatal(err)
	}
	if shift {
		for _, k := range []string{"tcb_info", "qe_identity"} {
			m[k] = strings.Replace(m[k], `"nextUpdate":"2025-07-19T`, `"nextUpdate":"2025-08-19T`, 1)
		}
		from := hex.EncodeToString([]byte("250719100035Z")) // UTCTime of the PCK CRL nextUpdate
		to := hex.EncodeToString([]byte("250819100035Z"))
		if !strings.Contains(m["pck_crl"], from) {
			t.Fatal("PCK CRL nextUpdate not found")
		}
		m["pck_crl"] = strings.Replace(m["pck_crl"], from, to, 1)
	}
	return m
}

func tdxCollateral(t testing.TB, shift bool) *Collateral {
	t.Helper()
	b, err := json.Marshal(tdxCollateralJSON(t, shift))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseDCAPQVLJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type providerResult struct {
	col *Collateral
	err error
}

// scriptedProvider returns its results in order, repeating the last one.
type scriptedProvider struct {
	mu      sync.Mutex
	calls   int
	results []providerResult
	gate    chan struct{} // when set, each call waits for it
}

func (p *scriptedProvider) Collateral(ctx context.Context, _ Request) (*Collateral, error) {
	if p.gate != nil {
		<-p.gate
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	r := p.results[min(p.calls, len(p.results))-1]
	return r.col, r.err
}

func (p *scriptedProvider) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(s string) *testClock {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &testClock{t: t}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(s string) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// waitIdle waits until no fetch is in flight.
func waitIdle(t *testing.T, c *Cache) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if c.fc.Fetching() == 0 {
			return
		}
	}
	t.Fatal("fetch still in flight")
}

func mustCollateral(t *testing.T, p Provider, req Request) *Collateral {
	t.Helper()
	col, err := p.Collateral(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return col
}

func TestCacheServesFromMemory(t *testing.T) {
	e := newPCSEmulator(t)
	clock := newClock("2025-07-01T00:00:00Z")
	c := NewCache(NewClient(ClientConfig{BaseURL: e.srv.URL}), CacheConfig{Now: clock.Now})
	req := tdxRequest(t)
	first := mustCollateral(t, c, req)
	checkFixture(t, first, e.tdx)
	if n := e.total(); n != 4 {
		t.Fatalf("%d requests, want 4", n)
	}
	clock.set("2025-07-19T10:00:34Z") // one second before the PCK CRL's nextUpdate
	if got := mustCollateral(t, c, req); got != first {
		t.Error("second call returned a different pointer")
	}
	req.Update = "" // means standard
	if got := mustCollateral(t, c, req); got != first {
		t.Error("Update \"\" is not the standard entry")
	}
	if n := e.total(); n != 4 {
		t.Errorf("%d requests after cache hits, want 4", n)
	}
	ents := c.Entries()
	want := CacheEntry{
		Request:    tdxRequest(t),
		Source:     "pcs " + e.srv.URL + " update=standard",
		FetchedAt:  time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC),
		NextUpdate: tdxNextUpdate,
	}
	if len(ents) != 1 || ents[0] != want {
		t.Errorf("Entries %+v, want [%+v]", ents, want)
	}
}

func TestCacheRefetchAfterNextUpdate(t *testing.T) {
	a, b := tdxCollateral(t, false), tdxCollateral(t, true)
	p := &scriptedProvider{results: []providerResult{{col: a}, {col: b}}}
	clock := newClock("2025-07-01T00:00:00Z")
	c := NewCache(p, CacheConfig{Now: clock.Now})
	req := tdxRequest(t)
	if mustCollateral(t, c, req) != a {
		t.Fatal("first call")
	}
	clock.set("2025-07-19T10:00:34Z")
	if mustCollateral(t, c, req) != a || p.count() != 1 {
		t.Fatalf("before nextUpdate: %d fetches, want 1", p.count())
	}
	clock.set("2025-07-19T10:00:35Z")
	if mustCollateral(t, c, req) != b || p.count() != 2 {
		t.Fatalf("at nextUpdate: %d fetches, want 2 and the new collateral", p.count())
	}
	if mustCollateral(t, c, req) != b || p.count() != 2 {
		t.Fatal("new entry not served from memory")
	}
	if ents := c.Entries(); len(ents) != 1 || !ents[0].NextUpdate.Equal(shiftedNextUpdate) || !ents[0].FetchedAt.Equal(clock.Now()) {
		t.Errorf("Entries %+v", ents)
	}
}

func TestCacheRefreshBefore(t *testing.T) {
	a, same, b := tdxCollateral(t, false), tdxCollateral(t, false), tdxCollateral(t, true)
	p := &scriptedProvider{results: []providerResult{{col: a}, {col: same}, {col: b}}}
	clock := newClock("2025-07-10T00:00:00Z")
	c := NewCache(p, CacheConfig{Now: clock.Now, RefreshBefore: 48 * time.Hour})
	req := tdxRequest(t)
	mustCollateral(t, c, req)

	// Inside the refresh window the entry is served while it is refreshed.
	clock.set("2025-07-18T00:00:00Z")
	if mustCollateral(t, c, req) != a {
		t.Fatal("entry not served during its refresh")
	}
	waitIdle(t, c)
	if p.count() != 2 {
		t.Fatalf("%d fetches, want 2", p.count())
	}
	// The refresh returned identical collateral: the pointer is kept, and
	// the next attempt waits a while.
	if mustCollateral(t, c, req) != a || p.count() != 2 {
		t.Fatalf("identical refresh: pointer changed or refetched (%d fetches)", p.count())
	}
	clock.set("2025-07-18T00:01:00Z")
	mustCollateral(t, c, req)
	waitIdle(t, c)
	if got := mustCollateral(t, c, req); got != b || p.count() != 3 {
		t.Fatalf("changed refresh not served (%d fetches)", p.count())
	}
}

func TestCacheFailsClosed(t *testing.T) {
	errDown := errors.New("pcs down")
	t.Run("expired", func(t *testing.T) {
		p := &scriptedProvider{results: []providerResult{{col: tdxCollateral(t, false)}, {err: errDown}}}
		clock := newClock("2025-07-01T00:00:00Z")
		c := NewCache(p, CacheConfig{Now: clock.Now})
		mustCollateral(t, c, tdxRequest(t))
		clock.set("2025-07-20T00:00:00Z")
		col, err := c.Collateral(context.Background(), tdxRequest(t))
		if col != nil || !errors.Is(err, errDown) || !strings.Contains(err.Error(), "expired at 2025-07-19T10:00:35Z") {
			t.Fatalf("got %v, %v; want no collateral and the refresh error", col, err)
		}
		if ents := c.Entries(); len(ents) != 1 || !errors.Is(ents[0].Err, errDown) {
			t.Errorf("Entries %+v, want the refresh error recorded", ents)
		}
	})
	t.Run("refresh window", func(t *testing.T) {
		a := tdxCollateral(t, false)
		p := &scriptedProvider{results: []providerResult{{col: a}, {err: errDown}}}
		clock := newClock("2025-07-01T00:00:00Z")
		c := NewCache(p, CacheConfig{Now: clock.Now, RefreshBefore: 48 * time.Hour})
		mustCollateral(t, c, tdxRequest(t))
		clock.set("2025-07-18T00:00:00Z")
		if mustCollateral(t, c, tdxRequest(t)) != a {
			t.Fatal("valid entry not served")
		}
		waitIdle(t, c)
		if ents := c.Entries(); len(ents) != 1 || !errors.Is(ents[0].Err, errDown) {
			t.Errorf("Entries %+v, want the refresh error recorded", ents)
		}
		if mustCollateral(t, c, tdxRequest(t)) != a || p.count() != 2 {
			t.Fatalf("%d fetches, want 2 (no retry within a minute)", p.count())
		}
		clock.set("2025-07-19T10:00:35Z")
		if col, err := c.Collateral(context.Background(), tdxRequest(t)); col != nil || !errors.Is(err, errDown) {
			t.Fatalf("got %v, %v after nextUpdate; want the error", col, err)
		}
	})
	t.Run("source serves expired collateral", func(t *testing.T) {
		p := &scriptedProvider{results: []providerResult{{col: tdxCollateral(t, false)}}}
		c := NewCache(p, CacheConfig{Now: newClock("2025-07-19T10:00:35Z").Now})
		col, err := c.Collateral(context.Background(), tdxRequest(t))
		var ve *ValidityError
		if col != nil || !errors.Is(err, ErrExpired) || !errors.As(err, &ve) || ve.What != "PCK CRL" || !ve.NotAfter.Equal(tdxNextUpdate) {
			t.Fatalf("got %v, %v; want an expired PCK CRL error", col, err)
		}
		if len(c.Entries()) != 0 {
			t.Error("expired collateral was cached")
		}
	})
	t.Run("incomplete collateral", func(t *testing.T) {
		partial := *tdxCollateral(t, false)
		partial.RootCACRL = nil
		p := &scriptedProvider{results: []providerResult{{col: &partial}}}
		c := NewCache(p, CacheConfig{Now: newClock("2025-07-01T00:00:00Z").Now})
		_, err := c.Collateral(context.Background(), tdxRequest(t))
		var me *MissingError
		if !errors.As(err, &me) || !slices.Equal(me.Items, []string{FileRootCACRL}) {
			t.Fatalf("error %v, want root_ca_crl.der missing", err)
		}
	})
	t.Run("missing passes through", func(t *testing.T) {
		e := newPCSEmulator(t)
		c := NewCache(NewClient(ClientConfig{BaseURL: e.srv.URL}), CacheConfig{Now: newClock("2025-07-01T00:00:00Z").Now})
		req := tdxRequest(t)
		req.FMSPC = fmspcOf(t, unknownFMSPCHx)
		_, err := c.Collateral(context.Background(), req)
		var me *MissingError
		if !errors.As(err, &me) || !slices.Equal(me.Items, []string{FileTCBInfo}) {
			t.Fatalf("error %v, want tcb_info.json missing", err)
		}
	})
}

func TestCacheConcurrent(t *testing.T) {
	e := newPCSEmulator(t)
	e.delay = 50 * time.Millisecond // keep the fetch in flight while callers pile up
	c := NewCache(NewClient(ClientConfig{BaseURL: e.srv.URL}), CacheConfig{Now: newClock("2025-07-01T00:00:00Z").Now})
	const n = 20
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		got   [n]*Collateral
		errs  [n]error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = c.Collateral(context.Background(), tdxRequest(t))
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("caller %d: %v (pointer shared: %v)", i, errs[i], got[i] == got[0])
		}
	}
	for _, target := range []string{tdxTCBPath, tdxQEPath, platformCRL, rootCRLPath} {
		if h := e.hitCount(target); h != 1 {
			t.Errorf("%s fetched %d times, want 1", target, h)
		}
	}
}

func TestCacheDirectory(t *testing.T) {
	dir := t.TempDir()
	e := newPCSEmulator(t)
	clock := newClock("2025-07-01T00:00:00Z")
	client := NewClient(ClientConfig{BaseURL: e.srv.URL})
	first := mustCollateral(t, NewCache(client, CacheConfig{Dir: dir, Now: clock.Now}), tdxRequest(t))

	const entry = "tdx-b0c06f000000-platform-standard"
	if names := dirNames(t, dir); !slices.Equal(names, []string{entry}) {
		t.Fatalf("cache directory holds %q, want [%s]", names, entry)
	}
	onDisk, err := LoadDir(filepath.Join(dir, entry))
	if err != nil {
		t.Fatal(err)
	}
	checkFixture(t, onDisk, e.tdx)

	// A new cache on the same directory does not fetch.
	clock.set("2025-07-10T00:00:00Z")
	c2 := NewCache(client, CacheConfig{Dir: dir, Now: clock.Now})
	col := mustCollateral(t, c2, tdxRequest(t))
	if e.total() != 4 {
		t.Fatalf("%d requests, want the 4 of the first cache", e.total())
	}
	checkFixture(t, col, e.tdx)
	if col.Source != first.Source {
		t.Errorf("Source %q, want %q", col.Source, first.Source)
	}
	if mustCollateral(t, c2, tdxRequest(t)) != col {
		t.Error("disk entry not kept in memory")
	}
	if ents := c2.Entries(); len(ents) != 1 || !ents[0].FetchedAt.Equal(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Entries %+v, want the original fetch time", ents)
	}

	// An expired disk entry is fetched again and replaced.
	clock.set("2025-07-20T00:00:00Z")
	b := tdxCollateral(t, true)
	p := &scriptedProvider{results: []providerResult{{col: b}}}
	if mustCollateral(t, NewCache(p, CacheConfig{Dir: dir, Now: clock.Now}), tdxRequest(t)) != b || p.count() != 1 {
		t.Fatal("expired disk entry not refetched")
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{entry}) {
		t.Fatalf("cache directory holds %q after the replacement, want [%s]", names, entry)
	}
	onDisk, err = LoadDir(filepath.Join(dir, entry))
	if err != nil {
		t.Fatal(err)
	}
	if !collateralEqual(onDisk, b) {
		t.Error("disk entry not replaced")
	}

	// The replacement survives a restart even when the source is down.
	down := &scriptedProvider{results: []providerResult{{err: errors.New("down")}}}
	col = mustCollateral(t, NewCache(down, CacheConfig{Dir: dir, Now: clock.Now}), tdxRequest(t))
	if !collateralEqual(col, b) || down.count() != 0 {
		t.Errorf("disk entry not served (%d fetches)", down.count())
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestCacheDirectoryBadEntries(t *testing.T) {
	const entry = "tdx-b0c06f000000-platform-standard"
	clock := newClock("2025-07-01T00:00:00Z")
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, dir string)
	}{
		{"garbage metadata", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string][]byte{cacheMetaFile: []byte("{")})
		}},
		{"other request", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string][]byte{cacheMetaFile: []byte(`{"request":"sgx fmspc=b0c06f000000 ca=platform update=standard","source":"x","fetched_at":"2025-07-01T00:00:00Z"}`)})
		}},
		{"unknown metadata field", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string][]byte{cacheMetaFile: []byte(`{"request":"tdx fmspc=b0c06f000000 ca=platform update=standard","x":1}`)})
		}},
		{"missing item", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, FileQEIdentity)); err != nil {
				t.Fatal(err)
			}
		}},
		{"corrupt item", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string][]byte{FileTCBInfo: []byte("{}")})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			a := tdxCollateral(t, false)
			p := &scriptedProvider{results: []providerResult{{col: a}}}
			mustCollateral(t, NewCache(p, CacheConfig{Dir: dir, Now: clock.Now}), tdxRequest(t))
			tc.spoil(t, filepath.Join(dir, entry))
			p2 := &scriptedProvider{results: []providerResult{{col: a}}}
			mustCollateral(t, NewCache(p2, CacheConfig{Dir: dir, Now: clock.Now}), tdxRequest(t))
			if p2.count() != 1 {
				t.Fatalf("%d fetches, want the spoilt entry ignored and fetched", p2.count())
			}
			if _, err := LoadDir(filepath.Join(dir, entry)); err != nil {
				t.Errorf("spoilt entry not rewritten: %v", err)
			}
		})
	}
}

func TestCacheBounded(t *testing.T) {
	p := &scriptedProvider{results: []providerResult{{col: tdxCollateral(t, false)}}}
	c := NewCache(p, CacheConfig{Now: newClock("2025-07-01T00:00:00Z").Now, MaxEntries: 2})
	reqs := make([]Request, 3)
	for i := range reqs {
		reqs[i] = tdxRequest(t)
		reqs[i].FMSPC[5] = byte(i)
	}
	mustCollateral(t, c, reqs[0])
	mustCollateral(t, c, reqs[1])
	mustCollateral(t, c, reqs[0]) // most recently used now
	mustCollateral(t, c, reqs[2]) // evicts reqs[1]
	if p.count() != 3 {
		t.Fatalf("%d fetches, want 3", p.count())
	}
	var got []Request
	for _, e := range c.Entries() {
		got = append(got, e.Request)
	}
	if !slices.Equal(got, []Request{reqs[0], reqs[2]}) {
		t.Fatalf("entries %v, want %v and %v", got, reqs[0], reqs[2])
	}
	mustCollateral(t, c, reqs[1])
	if p.count() != 4 {
		t.Errorf("evicted entry not fetched again (%d fetches)", p.count())
	}
	if len(c.Entries()) != 2 {
		t.Errorf("%d entries, want 2", len(c.Entries()))
	}
}

func TestCacheBadRequests(t *testing.T) {
	p := &scriptedProvider{results: []providerResult{{col: tdxCollateral(t, false)}}}
	c := NewCache(p, CacheConfig{})
	for _, req := range []Request{
		{TEE: "../x", CA: CAPlatform},
		{TEE: TEETDX, CA: "root"},
		{TEE: TEETDX, CA: CAPlatform, Update: "Standard"},
	} {
		if _, err := c.Collateral(context.Background(), req); err == nil {
			t.Errorf("%+v accepted", req)
		}
	}
	if p.count() != 0 {
		t.Errorf("%d fetches for invalid requests", p.count())
	}
	if _, err := NewCache(nil, CacheConfig{}).Collateral(context.Background(), tdxRequest(t)); err == nil {
		t.Error("nil provider accepted")
	}
	nilResult := &scriptedProvider{results: []providerResult{{}}}
	if _, err := NewCache(nilResult, CacheConfig{}).Collateral(context.Background(), tdxRequest(t)); err == nil || !strings.Contains(err.Error(), "no collateral") {
		t.Errorf("nil collateral: %v", err)
	}
}

func TestCacheCallerGivesUp(t *testing.T) {
	a := tdxCollateral(t, false)
	p := &scriptedProvider{results: []providerResult{{col: a}}, gate: make(chan struct{})}
	c := NewCache(p, CacheConfig{Now: newClock("2025-07-01T00:00:00Z").Now})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Collateral(ctx, tdxRequest(t)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want DeadlineExceeded", err)
	}
	// The fetch goes on for the next caller.
	close(p.gate)
	waitIdle(t, c)
	if mustCollateral(t, c, tdxRequest(t)) != a || p.count() != 1 {
		t.Errorf("%d fetches, want the abandoned fetch to fill the cache", p.count())
	}
}

// During an outage the first request asks PCS, with the client's retries;
// the next ones fail at once, without asking, until the backoff has
// passed. The backoff doubles while the outage lasts and ends with it.
func TestCacheBacksOffDuringOutage(t *testing.T) {
	e := newPCSEmulator(t)
	var down atomic.Bool
	down.Store(true)
	e.setOverride(func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		return down.Load()
	})
	client, sleeps := testClient(e, ClientConfig{})
	clock := newClock("2025-07-01T00:00:00Z")
	c := NewCache(client, CacheConfig{Now: clock.Now})
	req := tdxRequest(t)

	unavailable := func(wantRetry time.Duration) {
		t.Helper()
		col, err := c.Collateral(context.Background(), req)
		var ue *UnavailableError
		if col != nil || !errors.Is(err, ErrUnavailable) || !errors.As(err, &ue) || ue.RetryAfter != wantRetry || ue.Request != req {
			t.Fatalf("got %v, %v; want an UnavailableError retrying in %v", col, err, wantRetry)
		}
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("error %v does not carry the source's 503", err)
		}
	}
	// A failed fetch cancels its sibling requests; one already sent may
	// reach the emulator after the fetch returned, so count once the
	// emulator has settled.
	settled := func() int {
		t.Helper()
		for {
			n := e.total()
			time.Sleep(50 * time.Millisecond)
			if e.total() == n {
				return n
			}
		}
	}
	unavailable(5 * time.Second)
	asked := settled()
	if asked == 0 || len(sleeps.list()) == 0 {
		t.Fatalf("%d requests, waits %v: want the client's retries on the first failure", asked, sleeps.list())
	}
	clock.set("2025-07-01T00:00:04Z")
	unavailable(time.Second)
	if e.total() != asked {
		t.Fatalf("PCS asked %d more times during the backoff", e.total()-asked)
	}
	clock.set("2025-07-01T00:00:05Z")
	unavailable(10 * time.Second)
	if settled() == asked {
		t.Fatal("PCS not asked again after the backoff")
	}
	asked = e.total()
	clock.set("2025-07-01T00:00:14Z")
	unavailable(time.Second)
	if e.total() != asked {
		t.Fatal("PCS asked during the second backoff")
	}
	// PCS is back: served after the backoff, and the failures forgotten.
	down.Store(false)
	clock.set("2025-07-01T00:00:15Z")
	mustCollateral(t, c, req)
	c.fc.Mu.Lock()
	active := c.fc.Outage(req, clock.Now())
	c.fc.Mu.Unlock()
	if active != nil {
		t.Error("failure still remembered after a successful fetch")
	}
}

// A source asking to be left alone longer than the backoff (Retry-After)
// is not asked again before that.
func TestCacheBackoffHonoursRetryAfter(t *testing.T) {
	e := newPCSEmulator(t)
	e.setOverride(respond(tdxTCBPath, http.StatusTooManyRequests, map[string]string{"Retry-After": "600"}, nil))
	client, sleeps := testClient(e, ClientConfig{})
	clock := newClock("2025-07-01T00:00:00Z")
	c := NewCache(client, CacheConfig{Now: clock.Now})
	var ue *UnavailableError
	if _, err := c.Collateral(context.Background(), tdxRequest(t)); !errors.As(err, &ue) || ue.RetryAfter != 10*time.Minute {
		t.Fatalf("error %v, want an UnavailableError retrying in 10m", err)
	}
	if len(sleeps.list()) != 0 {
		t.Errorf("the client waited %v", sleeps.list())
	}
	asked := e.hitCount(tdxTCBPath)
	clock.set("2025-07-01T00:09:59Z")
	if _, err := c.Collateral(context.Background(), tdxRequest(t)); !errors.As(err, &ue) || ue.RetryAfter != time.Second || e.hitCount(tdxTCBPath) != asked {
		t.Fatalf("error %v with %d new requests, want a failure at once", err, e.hitCount(tdxTCBPath)-asked)
	}
	clock.set("2025-07-01T00:10:00Z")
	c.Collateral(context.Background(), tdxRequest(t))
	if e.hitCount(tdxTCBPath) == asked {
		t.Error("not asked again after Retry-After")
	}
}

// Only outages are remembered: a provider's other failures (a missing
// item, a bad answer) are not, and the provider is asked again.
func TestCacheRemembersOnlyOutages(t *testing.T) {
	errBad := errors.New("malformed answer")
	p := &scriptedProvider{results: []providerResult{{err: errBad}, {col: tdxCollateral(t, false)}}}
	c := NewCache(p, CacheConfig{Now: newClock("2025-07-01T00:00:00Z").Now})
	if _, err := c.Collateral(context.Background(), tdxRequest(t)); !errors.Is(err, errBad) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("error %v, want the provider's error, not ErrUnavailable", err)
	}
	mustCollateral(t, c, tdxRequest(t))

	// A provider that backs off itself (such as a store shared by
	// replicas, which another replica may fill meanwhile) is asked every
	// time.
	lower := &UnavailableError{Request: tdxRequest(t), RetryAfter: time.Minute, Err: fmt.Errorf("store: %w", ErrUnavailable)}
	p = &scriptedProvider{results: []providerResult{{err: lower}, {err: lower}, {col: tdxCollateral(t, false)}}}
	c = NewCache(p, CacheConfig{Now: newClock("2025-07-01T00:00:00Z").Now})
	for range 2 {
		var ue *UnavailableError
		if _, err := c.Collateral(context.Background(), tdxRequest(t)); !errors.As(err, &ue) || ue.RetryAfter != time.Minute {
			t.Fatalf("error %v, want the provider's UnavailableError", err)
		}
	}
	mustCollateral(t, c, tdxRequest(t))
	if p.count() != 3 {
		t.Errorf("%d fetches, want 3", p.count())
	}
}

// A caller whose deadline passes while waiting for the source could not
// verify for want of collateral.
func TestCacheCallerDeadlineIsUnavailable(t *testing.T) {
	p := &scriptedProvider{results: []providerResult{{col: tdxCollateral(t, false)}}, gate: make(chan struct{})}
	defer close(p.gate)
	c := NewCache(p, CacheConfig{Now: newClock("2025-07-01T00:00:00Z").Now})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Collateral(ctx, tdxRequest(t)); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want ErrUnavailable and DeadlineExceeded", err)
	}
}

// freshProvider parses its collateral afresh for every request, as a PCS
// client does, and counts its fetches.
type freshProvider struct {
	b       []byte
	fetches atomic.Int64
}

func newFreshProvider(t testing.TB) *freshProvider {
	b, err := json.Marshal(tdxCollateralJSON(t, false))
	if err != nil {
		t.Fatal(err)
	}
	return &freshProvider{b: b}
}

func (p *freshProvider) Collateral(context.Context, Request) (*Collateral, error) {
	p.fetches.Add(1)
	return ParseDCAPQVLJSON(p.b)
}

// fmspcRequest is the TDX request for the i-th FMSPC.
func fmspcRequest(t testing.TB, i int) Request {
	req := tdxRequest(t)
	req.FMSPC[4], req.FMSPC[5] = byte(i>>8), byte(i)
	return req
}

// TestCacheSharesParts checks that the entries of many FMSPCs share the
// QE Identity, CRLs and issuer chains that their fetches parsed again, and
// that parts no entry refers to any more are let go.
func TestCacheSharesParts(t *testing.T) {
	p := newFreshProvider(t)
	clock := newClock("2025-07-01T00:00:00Z")
	c := NewCache(p, CacheConfig{Now: clock.Now})
	first := mustCollateral(t, c, fmspcRequest(t, 0))
	shared := c.Stats().Bytes
	for i := 1; i < 10; i++ {
		col := mustCollateral(t, c, fmspcRequest(t, i))
		if col.QEIdentity != first.QEIdentity || col.PCKCRL != first.PCKCRL || col.RootCACRL != first.RootCACRL ||
			col.TCBInfoIssuerChain[0] != first.TCBInfoIssuerChain[0] || col.PCKCRLIssuerChain[0] != first.PCKCRLIssuerChain[0] ||
			// the root, which the first entry holds once per chain
			col.PCKCRLIssuerChain[1] != first.TCBInfoIssuerChain[1] {
			t.Fatalf("FMSPC %d: parts not shared with the first entry", i)
		}
		if col.TCBInfo == first.TCBInfo {
			t.Fatalf("FMSPC %d: TCB Info shared", i)
		}
		if again := mustCollateral(t, c, fmspcRequest(t, i)); again != col {
			t.Fatalf("FMSPC %d: another pointer on the second request", i)
		}
	}
	s := c.Stats()
	perEntry := (s.Bytes - shared) / 9
	if s.Entries != 10 || perEntry <= 0 || perEntry > 2*tcbInfoSize(first.TCBInfo) || s.Hits != 9 || s.Misses != 10 {
		t.Errorf("stats %+v: %d bytes per further entry (its TCB Info: %d)", s, perEntry, tcbInfoSize(first.TCBInfo))
	}
	// A bound that holds one entry and nothing else in use: the parts go
	// with the last entry that refers to them.
	small := NewCache(p, CacheConfig{Now: clock.Now, MaxEntries: 1, InUse: -1})
	mustCollateral(t, small, fmspcRequest(t, 0))
	mustCollateral(t, small, fmspcRequest(t, 1))
	small.fc.Mu.Lock()
	n := len(small.parts.m)
	small.fc.Mu.Unlock()
	if s := small.Stats(); s.Entries != 1 || s.Evictions != 1 || n != 6 {
		t.Errorf("one-entry cache: %+v, %d parts kept (want the 6 distinct ones of one entry: QE Identity, two CRLs, TCB signer, PCK CA, root)", s, n)
	}
}

// TestCacheKeepsCollateralInUse checks that valid collateral asked for
// within CacheConfig.InUse is not evicted to stay within the memory bound,
// and that collateral no longer in use is.
func TestCacheKeepsCollateralInUse(t *testing.T) {
	p := newFreshProvider(t)
	clock := newClock("2025-07-01T00:00:00Z")
	c := NewCache(p, CacheConfig{Now: clock.Now, MaxBytes: 1}) // nothing fits
	for i := range 3 {
		mustCollateral(t, c, fmspcRequest(t, i))
	}
	if s := c.Stats(); s.Entries != 3 || s.Evictions != 0 {
		t.Fatalf("collateral in use: %+v, want 3 entries kept", s)
	}
	clock.set("2025-07-01T00:59:00Z")
	mustCollateral(t, c, fmspcRequest(t, 0)) // still in use
	clock.set("2025-07-01T01:30:00Z")        // 1 and 2 unused for 90 minutes
	mustCollateral(t, c, fmspcRequest(t, 3))
	if s := c.Stats(); s.Entries != 2 || s.Evictions != 2 || p.fetches.Load() != 4 {
		t.Errorf("after an hour: %+v, %d fetches; want entries 0 and 3 kept", s, p.fetches.Load())
	}
	for i, want := range []bool{true, false, false, true} {
		if _, ok := c.fc.Entries.Peek(fmspcRequest(t, i)); ok != want {
			t.Errorf("FMSPC %d cached: %v, want %v", i, ok, want)
		}
	}
}

// TestCacheMemoryPerFMSPC measures the heap the cache holds per FMSPC with
// Intel's TDX collateral (a 3 KB TCB Info): at most 12 KB, and within the
// cache's own estimate, which its bound relies on. 1,000 FMSPCs of both
// TEEs fit the default bound without relying on InUse (200 with -short or
// the race detector, which slows parsing).
func TestCacheMemoryPerFMSPC(t *testing.T) {
	p := newFreshProvider(t)
	c := NewCache(p, CacheConfig{Now: newClock("2025-07-01T00:00:00Z").Now, InUse: -1})
	mustCollateral(t, c, fmspcRequest(t, 0))
	n := 1000
	if testing.Short() || raceEnabled {
		n = 200
	}
	before := heapInUse()
	for i := 1; i <= n; i++ {
		for _, tee := range []TEE{TEESGX, TEETDX} {
			req := fmspcRequest(t, i)
			req.TEE = tee
			mustCollateral(t, c, req)
		}
	}
	perEntry := float64(heapInUse()-before) / float64(2*n)
	s := c.Stats()
	estimate := float64(s.Bytes) / float64(s.Entries)
	t.Logf("%.0f bytes of heap per FMSPC and TEE (cache estimate %.0f)", perEntry, estimate)
	if perEntry > 12<<10 {
		t.Errorf("%.0f bytes of heap per FMSPC, want at most 12 KB", perEntry)
	}
	if estimate < perEntry*0.75 || estimate > perEntry*1.5 {
		t.Errorf("the cache estimates %.0f bytes per FMSPC, but each takes %.0f", estimate, perEntry)
	}
	if s.Evictions != 0 || s.Entries != 2*n+1 {
		t.Errorf("%d FMSPCs of both TEEs with the default bound: %+v", n, s)
	}
	runtime.KeepAlive(c)
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
