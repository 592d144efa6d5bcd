package kds

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence/snp"
)

// clock is a settable Now for caches.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func TestCacheHitsAndPointers(t *testing.T) {
	v1, r1 := loadVector(t, goSevGuest)
	v2, r2 := loadVector(t, virtee)
	k := newFakeKDS(t, v1, v2)
	client, _ := newTestClient(k, 0)
	now := &clock{t: testNow}
	cache := NewCache(client, CacheConfig{Now: now.Now})
	ctx := context.Background()

	a, err := cache.Certificates(ctx, requestFor(r1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := cache.Certificates(ctx, requestFor(r1))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("second call returned a new *Certificates")
	}
	if k.totalHits() != 3 {
		t.Errorf("%d requests, want 3 (VCEK, cert_chain, CRL)", k.totalHits())
	}
	if a.Source != client.Source() {
		t.Errorf("Source %q", a.Source)
	}

	// Another chip shares the product's chain and CRL.
	c, err := cache.Certificates(ctx, requestFor(r2))
	if err != nil {
		t.Fatal(err)
	}
	if k.totalHits() != 4 || c.Intermediate != a.Intermediate || onlyCRL(t, c).List != onlyCRL(t, a).List || c.Leaf == a.Leaf {
		t.Errorf("%d requests (want 4); chain shared %v, CRL shared %v", k.totalHits(), c.Intermediate == a.Intermediate,
			onlyCRL(t, c).List == onlyCRL(t, a).List)
	}

	// Another TCB of the same chip is another VCEK: it is requested (the
	// fake KDS ignores the query and serves the VCEK of the old TCB, which
	// is refused).
	req := requestFor(r1)
	req.TCB++
	if _, err := cache.Certificates(ctx, req); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "blSPL=3") {
		t.Errorf("other TCB: error %v, want ErrMismatch for blSPL=3", err)
	}
	if k.totalHits() != 5 {
		t.Errorf("%d requests, want 5", k.totalHits())
	}

	// At the CRL's NextUpdate only the CRL is fetched again; the source
	// has a new one, so the certificates change.
	k.setCRL(testCRL(t, "Milan", 2, crlNextUpdate.Add(-time.Hour), crlNextUpdate2))
	before := k.hitsFor("/vcek/v1/Milan/crl")
	now.Set(crlNextUpdate)
	d, err := cache.Certificates(ctx, requestFor(r1))
	if err != nil {
		t.Fatal(err)
	}
	if n := onlyCRL(t, d).List.Number; k.hitsFor("/vcek/v1/Milan/crl") != before+1 || n.Int64() != 2 || d == a || d.Leaf != a.Leaf {
		t.Errorf("after NextUpdate: CRL number %d, same certs %v, same leaf %v", n, d == a, d.Leaf == a.Leaf)
	}
	if e, _ := cache.Certificates(ctx, requestFor(r1)); e != d {
		t.Error("certificates not stable after the CRL refresh")
	}

	// A refetch returning identical bytes keeps the old pointers.
	now.Set(crlNextUpdate2.Add(-time.Minute))
	cache.fc.Mu.Lock()
	mustPeek(t, cache, "crl/Milan/vcek").expires = now.Now() // force a refetch
	cache.fc.Mu.Unlock()
	if e, err := cache.Certificates(ctx, requestFor(r1)); err != nil || e != d {
		t.Errorf("identical CRL refetched: same certificates %v, error %v", e == d, err)
	}
}

func TestCacheFailsClosed(t *testing.T) {
	v, r := loadVector(t, goSevGuest)
	k := newFakeKDS(t, v)
	client, _ := newTestClient(k, -1)
	now := &clock{t: testNow}
	cache := NewCache(client, CacheConfig{Now: now.Now})
	ctx := context.Background()
	if _, err := cache.Certificates(ctx, requestFor(r)); err != nil {
		t.Fatal(err)
	}
	k.setOverride(func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	})
	// Still valid: served from memory despite KDS being down.
	if _, err := cache.Certificates(ctx, requestFor(r)); err != nil {
		t.Fatalf("valid entry: %v", err)
	}
	// At NextUpdate the expired CRL is not served when the refetch fails.
	now.Set(crlNextUpdate)
	_, err := cache.Certificates(ctx, requestFor(r))
	var he *HTTPError
	if !errors.As(err, &he) || !strings.HasSuffix(he.URL, "/vcek/v1/Milan/crl") {
		t.Fatalf("error %v, want the CRL fetch failure", err)
	}

	// A source serving an already expired CRL is refused (once the backoff
	// after the failure has passed).
	k.setOverride(nil)
	k.setCRL(testCRL(t, "Milan", 3, crlThisUpdate, crlNextUpdate.Add(-time.Minute)))
	now.Set(crlNextUpdate.Add(5 * time.Second))
	if _, err := cache.Certificates(ctx, requestFor(r)); !errors.Is(err, ErrExpired) {
		t.Fatalf("error %v, want ErrExpired", err)
	}
	// After the VCEK's NotAfter (2029-09-24, PROVENANCE.md) it is refused too.
	now.Set(time.Date(2029, 9, 24, 0, 55, 28, 0, time.UTC))
	if _, err := cache.Certificates(ctx, requestFor(r)); !errors.Is(err, ErrExpired) || !strings.Contains(err.Error(), "VCEK") {
		t.Fatalf("error %v, want ErrExpired for the VCEK", err)
	}
}

func TestCacheSingleflight(t *testing.T) {
	v, r := loadVector(t, goSevGuest)
	k := newFakeKDS(t, v)
	release := make(chan struct{})
	client, _ := newTestClient(k, 0)
	// Slow the VCEK down so that all callers pile up behind one fetch.
	slow := &slowFetcher{Client: client, release: release}
	cache := NewCache(slow, CacheConfig{Now: func() time.Time { return testNow }})
	var wg sync.WaitGroup
	results := make([]*Certificates, 16)
	for i := range results {
		wg.Go(func() {
			c, err := cache.Certificates(context.Background(), requestFor(r))
			if err != nil {
				t.Error(err)
			}
			results[i] = c
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if k.totalHits() != 3 {
		t.Errorf("%d requests for 16 concurrent callers, want 3", k.totalHits())
	}
	for _, c := range results[1:] {
		if c != nil && c.Leaf != results[0].Leaf {
			t.Error("callers got different VCEKs")
		}
	}
}

type slowFetcher struct {
	*Client
	release chan struct{}
}

func (s *slowFetcher) VCEK(ctx context.Context, req Request) (*x509.Certificate, error) {
	<-s.release
	return s.Client.VCEK(ctx, req)
}

func TestCacheCallerContext(t *testing.T) {
	v, r := loadVector(t, goSevGuest)
	k := newFakeKDS(t, v)
	client, _ := newTestClient(k, 0)
	release := make(chan struct{})
	cache := NewCache(&slowFetcher{Client: client, release: release}, CacheConfig{Now: func() time.Time { return testNow }})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cache.Certificates(ctx, requestFor(r)); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	close(release)
	// The detached fetch completes for later callers.
	if _, err := cache.Certificates(context.Background(), requestFor(r)); err != nil {
		t.Fatal(err)
	}
}

func TestCacheDiskReload(t *testing.T) {
	v, r := loadVector(t, goSevGuest)
	dir := t.TempDir()
	k := newFakeKDS(t, v)
	client, _ := newTestClient(k, 0)
	cfg := CacheConfig{Dir: dir, Now: func() time.Time { return testNow }}
	first, err := NewCache(client, cfg).Certificates(context.Background(), requestFor(r))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cert_chain.pem", "crl.der", "vcek-" + v.chipID + "-4405000000000002.der"} {
		if _, err := os.Stat(filepath.Join(dir, "Milan", name)); err != nil {
			t.Errorf("disk entry: %v", err)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "Milan", ".*")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	// A new cache reads the disk and asks KDS nothing.
	k2 := newFakeKDS(t)
	client2, _ := newTestClient(k2, 0)
	cache2 := NewCache(client2, cfg)
	second, err := cache2.Certificates(context.Background(), requestFor(r))
	if err != nil {
		t.Fatal(err)
	}
	if k2.totalHits() != 0 {
		t.Errorf("%d requests with a warm disk cache", k2.totalHits())
	}
	if !bytes.Equal(first.Leaf.Raw, second.Leaf.Raw) || !bytes.Equal(first.Root.Raw, second.Root.Raw) ||
		!bytes.Equal(onlyCRL(t, first).List.Raw, onlyCRL(t, second).List.Raw) || onlyCRL(t, second).Kind != CRLVCEK {
		t.Error("disk entry differs from the fetched certificates")
	}
	if again, _ := cache2.Certificates(context.Background(), requestFor(r)); again != second {
		t.Error("disk-loaded certificates not stable")
	}

	// An expired CRL on disk is fetched again; a corrupt VCEK file too.
	os.WriteFile(filepath.Join(dir, "Milan", "vcek-"+v.chipID+"-4405000000000002.der"), []byte("junk"), 0o644)
	k3 := newFakeKDS(t, v)
	client3, _ := newTestClient(k3, 0)
	cfg.Now = func() time.Time { return crlNextUpdate }
	k3.setCRL(testCRL(t, "Milan", 2, crlThisUpdate, crlNextUpdate2))
	if _, err := NewCache(client3, cfg).Certificates(context.Background(), requestFor(r)); err != nil {
		t.Fatal(err)
	}
	if k3.hitsFor("/vcek/v1/Milan/crl") != 1 || k3.hitsFor("/vcek/v1/Milan/"+v.chipID) != 1 || k3.hitsFor("/vcek/v1/Milan/cert_chain") != 0 {
		t.Errorf("requests %v, want the CRL and the VCEK only", k3.requestURIs())
	}
}

// The VLEK chain and CRL are cached apart from the VCEK ones, in memory and
// on disk, and a VLEK request asks KDS for no leaf.
func TestCacheVLEK(t *testing.T) {
	v, r := loadVector(t, goSevGuest)
	dir := t.TempDir()
	k := newFakeKDS(t, v)
	client, _ := newTestClient(k, 0)
	cfg := CacheConfig{Dir: dir, Now: func() time.Time { return testNow }}
	cache := NewCache(client, cfg)
	ctx := context.Background()
	vcekReq, vlekReq := requestFor(r), requestFor(r)
	vlekReq.SigningKey = snp.SigningKeyVLEK
	vcek, err := cache.Certificates(ctx, vcekReq)
	if err != nil {
		t.Fatal(err)
	}
	vlek, err := cache.Certificates(ctx, vlekReq)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := cache.Certificates(ctx, vlekReq); again != vlek {
		t.Error("VLEK certificates not stable")
	}
	want := []string{"/vcek/v1/Milan/" + v.chipID, "/vcek/v1/Milan/cert_chain", "/vcek/v1/Milan/crl",
		"/vlek/v1/Milan/cert_chain", "/vlek/v1/Milan/crl"}
	var got []string
	for _, u := range k.requestURIs() {
		got = append(got, strings.SplitN(u, "?", 2)[0])
	}
	if !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	if vlek.Leaf != nil || vlek.Intermediate.Subject.CommonName != "SEV-VLEK-Milan" || vcek.Intermediate.Subject.CommonName != "SEV-Milan" {
		t.Errorf("VLEK leaf %v, intermediates %q and %q", vlek.Leaf != nil, vlek.Intermediate.Subject.CommonName, vcek.Intermediate.Subject.CommonName)
	}
	if c := onlyCRL(t, vlek); c.Kind != CRLVLEK || c.List.Number.Int64() != vlekCRLNumber {
		t.Errorf("VLEK CRL: %v number %v", c.Kind, c.List.Number)
	}
	if c := onlyCRL(t, vcek); c.Kind != CRLVCEK || c.List.Number.Int64() != 1 {
		t.Errorf("VCEK CRL: %v number %v", c.Kind, c.List.Number)
	}
	for _, name := range []string{"vlek-cert_chain.pem", "vlek-crl.der", "cert_chain.pem", "crl.der"} {
		if _, err := os.Stat(filepath.Join(dir, "Milan", name)); err != nil {
			t.Errorf("disk entry: %v", err)
		}
	}
	// Reloaded from disk with its kind, without asking KDS.
	k2 := newFakeKDS(t)
	client2, _ := newTestClient(k2, 0)
	loaded, err := NewCache(client2, cfg).Certificates(ctx, vlekReq)
	if err != nil || k2.totalHits() != 0 {
		t.Fatalf("warm disk cache: %v, %d requests", err, k2.totalHits())
	}
	if c := onlyCRL(t, loaded); c.Kind != CRLVLEK || !bytes.Equal(c.List.Raw, onlyCRL(t, vlek).List.Raw) ||
		!bytes.Equal(loaded.Intermediate.Raw, vlek.Intermediate.Raw) {
		t.Error("disk entries differ from the fetched VLEK chain and CRL")
	}
}

func TestCacheOtherProviders(t *testing.T) {
	v, r := loadVector(t, goSevGuest)
	dir := writeDir(t, map[string][]byte{
		"vcek.der": readTestdata(t, v.folder, v.vcekFile),
		"ask.pem":  pemCert(splitPEM(t, readTestdata(t, "amd-roots", "ask_ark_milan.pem"))[0]),
		"ark.pem":  pemCert(splitPEM(t, readTestdata(t, "amd-roots", "ask_ark_milan.pem"))[1]),
	})
	certs, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	p := providerFunc(func(ctx context.Context, req Request) (*Certificates, error) {
		calls++
		return certs, nil
	})
	cache := NewCache(p, CacheConfig{Now: func() time.Time { return testNow }})
	for range 3 {
		got, err := cache.Certificates(context.Background(), requestFor(r))
		if err != nil || got != certs {
			t.Fatalf("got %p (%v), want %p", got, err, certs)
		}
	}
	if calls != 1 {
		t.Errorf("%d provider calls, want 1", calls)
	}
	if _, err := NewCache(nil, CacheConfig{}).Certificates(context.Background(), requestFor(r)); err == nil {
		t.Error("cache without provider: no error")
	}
	if _, err := cache.Certificates(context.Background(), Request{Product: "x"}); err == nil {
		t.Error("invalid request: no error")
	}
}

type providerFunc func(ctx context.Context, req Request) (*Certificates, error)

func (f providerFunc) Certificates(ctx context.Context, req Request) (*Certificates, error) {
	return f(ctx, req)
}

func TestCacheEviction(t *testing.T) {
	v1, r1 := loadVector(t, goSevGuest)
	v2, r2 := loadVector(t, virtee)
	k := newFakeKDS(t, v1, v2)
	client, _ := newTestClient(k, 0)
	cache := NewCache(client, CacheConfig{Now: func() time.Time { return testNow }, MaxEntries: 3})
	ctx := context.Background()
	for _, r := range []Request{requestFor(r1), requestFor(r2), requestFor(r1)} {
		if _, err := cache.Certificates(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if n := cache.fc.Entries.Len(); n > 3 {
		t.Errorf("%d entries, want at most 3", n)
	}
	if got := k.hitsFor("/vcek/v1/Milan/" + v1.chipID); got != 2 {
		t.Errorf("first VCEK fetched %d times, want 2 (evicted once)", got)
	}
}

// During an outage the first request asks KDS, with the client's retries;
// the next ones fail at once, without asking, until the backoff has
// passed, or as long as KDS's Retry-After asked.
func TestCacheBacksOffDuringOutage(t *testing.T) {
	v, r := loadVector(t, goSevGuest)
	k := newFakeKDS(t, v)
	retryAfter := ""
	down := func(w http.ResponseWriter, _ *http.Request) bool {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	}
	k.setOverride(down)
	client, waits := newTestClient(k, 2)
	now := &clock{t: testNow}
	cache := NewCache(client, CacheConfig{Now: now.Now})
	ctx := context.Background()

	unavailable := func(wantRetry time.Duration) {
		t.Helper()
		c, err := cache.Certificates(ctx, requestFor(r))
		var ue *UnavailableError
		if c != nil || !errors.Is(err, ErrUnavailable) || !errors.As(err, &ue) || ue.RetryAfter != wantRetry || !strings.HasPrefix(ue.What, "VCEK for Milan") {
			t.Fatalf("got %v, %v; want an UnavailableError for the VCEK retrying in %v", c, err, wantRetry)
		}
	}
	unavailable(5 * time.Second)
	asked := k.totalHits()
	if asked != 3 || len(*waits) != 2 {
		t.Fatalf("%d requests, waits %v: want the client's 2 retries", asked, *waits)
	}
	now.Set(testNow.Add(4 * time.Second))
	unavailable(time.Second)
	if k.totalHits() != asked {
		t.Fatalf("KDS asked %d more times during the backoff", k.totalHits()-asked)
	}
	// After the backoff KDS is asked again, and asks for 10 minutes.
	k.mu.Lock()
	retryAfter = "600"
	k.mu.Unlock()
	now.Set(testNow.Add(5 * time.Second))
	unavailable(10 * time.Minute)
	if k.totalHits() != asked+1 {
		t.Fatalf("%d requests after the backoff, want 1 (Retry-After beyond the client's limit)", k.totalHits()-asked)
	}
	now.Set(testNow.Add(5*time.Second + 10*time.Minute - time.Second))
	unavailable(time.Second)
	if k.totalHits() != asked+1 {
		t.Fatal("KDS asked before its Retry-After")
	}
	// KDS is back: served. A new outage later starts the backoff over.
	k.setOverride(nil)
	now.Set(testNow.Add(5*time.Second + 10*time.Minute))
	if _, err := cache.Certificates(ctx, requestFor(r)); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	retryAfter = ""
	k.override = down
	k.mu.Unlock()
	cache.fc.Mu.Lock()
	mustPeek(t, cache, cache.vcekItem(requestFor(r)).key).expires = now.Now()
	cache.fc.Mu.Unlock()
	unavailable(5 * time.Second)
}

// Only outages are remembered: another failure (KDS has no such VCEK) is
// not, nor an outage a provider backs off from itself (such as a store
// shared by replicas, which another replica may fill meanwhile).
func TestCacheRemembersOnlyOutages(t *testing.T) {
	_, r := loadVector(t, goSevGuest)
	lower := &UnavailableError{What: "store", RetryAfter: time.Minute, Err: fmt.Errorf("store: %w", ErrUnavailable)}
	for _, fail := range []error{ErrNotFound, lower} {
		calls := 0
		cache := NewCache(providerFunc(func(context.Context, Request) (*Certificates, error) {
			calls++
			return nil, fail
		}), CacheConfig{Now: func() time.Time { return testNow }})
		for range 3 {
			if _, err := cache.Certificates(context.Background(), requestFor(r)); !errors.Is(err, fail) {
				t.Fatalf("error %v, want %v", err, fail)
			}
		}
		if calls != 3 {
			t.Errorf("%v: %d provider calls, want 3", fail, calls)
		}
	}
}

// mustPeek returns the cache's entry of key; cache.fc.Mu must be held.
func mustPeek(t *testing.T, cache *Cache, key string) *cacheEntry {
	t.Helper()
	e, ok := cache.fc.Entries.Peek(key)
	if !ok {
		t.Fatalf("no cache entry %s", key)
	}
	return e
}

// TestCacheMemoryBound checks that the memory bound drops the least
// recently used VCEKs and keeps the chains and CRLs, which every chip of a
// product needs, and that Stats counts it.
func TestCacheMemoryBound(t *testing.T) {
	v1, r1 := loadVector(t, goSevGuest)
	v2, r2 := loadVector(t, virtee)
	k := newFakeKDS(t, v1, v2)
	client, _ := newTestClient(k, 0)
	cache := NewCache(client, CacheConfig{Now: func() time.Time { return testNow }, MaxBytes: 1}) // room for nothing
	ctx := context.Background()
	for _, r := range []Request{requestFor(r1), requestFor(r2), requestFor(r1)} {
		if _, err := cache.Certificates(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	cache.fc.Mu.Lock()
	var kept []string
	for _, e := range cache.fc.Entries.Values() {
		if _, isVCEK := e.val.(*x509.Certificate); isVCEK {
			kept = append(kept, "vcek")
		} else {
			kept = append(kept, strings.SplitN(e.key, "/", 2)[0])
		}
	}
	cache.fc.Mu.Unlock()
	slices.Sort(kept)
	if !slices.Equal(kept, []string{"chain", "crl"}) {
		t.Errorf("kept %v, want the chain and the CRL only", kept)
	}
	if got := k.hitsFor("/vcek/v1/Milan/" + v1.chipID); got != 2 {
		t.Errorf("first VCEK fetched %d times, want 2", got)
	}
	if s := cache.Stats(); s.Evictions != 3 || s.Misses != 5 || s.Hits != 4 {
		t.Errorf("stats %+v, want 3 evictions (each VCEK), 5 misses (3 VCEKs, the chain, the CRL), 4 hits", s)
	}
}
