package shared

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/service/store"
)

// Times of the TDX vector (testdata/README.md): its pinned time, the
// earliest nextUpdate (PCK CRL) and that of the shifted copy.
var (
	tdxNow        = time.Date(2025, 9, 2, 8, 41, 59, 0, time.UTC)
	tdxExpiry     = time.Date(2025, 10, 2, 7, 3, 51, 0, time.UTC)
	shiftedExpiry = time.Date(2025, 11, 2, 7, 3, 51, 0, time.UTC)
)

var (
	tdxReq = pcs.Request{TEE: pcs.TEETDX, FMSPC: [6]byte{0x20, 0xA0, 0x6F}, CA: pcs.CAPlatform}
	tdxKey = "intel/tdx/20A06F000000/platform/standard"
	sgxReq = pcs.Request{TEE: pcs.TEESGX, FMSPC: [6]byte{0x00, 0xA0, 0x67, 0x11}, CA: pcs.CAProcessor}
)

// tdxJSON returns the dcap-qvl JSON of the TDX vector; with shift, every
// 2025-10-02 nextUpdate (TCB Info, QE Identity, PCK CRL) moves to
// 2025-11-02, so that it stands for the next collateral PCS publishes.
func tdxJSON(t testing.TB, shift bool) []byte {
	t.Helper()
	b := readTestdata(t, "dcap-qvl/near_tdx_quote_collateral.json")
	if !shift {
		return b
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tcb_info", "qe_identity"} {
		if !strings.Contains(m[k], `"nextUpdate":"2025-10-02T`) {
			t.Fatalf("%s nextUpdate not found", k)
		}
		m[k] = strings.Replace(m[k], `"nextUpdate":"2025-10-02T`, `"nextUpdate":"2025-11-02T`, 1)
	}
	from := hex.EncodeToString([]byte("251002070351Z")) // UTCTime of the PCK CRL nextUpdate
	if strings.Count(m["pck_crl"], from) != 1 {
		t.Fatal("PCK CRL nextUpdate not found")
	}
	m["pck_crl"] = strings.Replace(m["pck_crl"], from, hex.EncodeToString([]byte("251102070351Z")), 1)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func parseDCAP(t testing.TB, b []byte) *pcs.Collateral {
	t.Helper()
	c, err := pcs.ParseDCAPQVLJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// intelUpstream is a pcs.Provider over a scripted upstream.
type intelUpstream struct {
	upstream[*pcs.Collateral]
	mu   sync.Mutex
	reqs []pcs.Request
}

func (u *intelUpstream) Collateral(ctx context.Context, req pcs.Request) (*pcs.Collateral, error) {
	u.mu.Lock()
	u.reqs = append(u.reqs, req)
	u.mu.Unlock()
	return u.call(ctx)
}

// serving returns an upstream that parses b afresh on every call, as a
// client does: a new pointer each time.
func serving(t testing.TB, b []byte) *intelUpstream {
	u := &intelUpstream{}
	u.set(func() (*pcs.Collateral, error) { return pcs.ParseDCAPQVLJSON(b) })
	return u
}

func failing() *intelUpstream {
	u := &intelUpstream{}
	u.set(func() (*pcs.Collateral, error) { return nil, errUpstream })
	return u
}

func encodeIntel(t testing.TB, c *pcs.Collateral) []byte {
	t.Helper()
	b, err := pcs.MarshalCollateral(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameIntel checks that a and b hold the same bytes.
func sameIntel(t testing.TB, a, b *pcs.Collateral) {
	t.Helper()
	if !bytes.Equal(encodeIntel(t, a), encodeIntel(t, b)) {
		t.Error("collateral differs")
	}
}

func TestIntelMissThenHit(t *testing.T) {
	st, clk := newFakeStore(), newClock(tdxNow)
	up := serving(t, tdxJSON(t, false))
	p := NewIntel(st, up, Config{Now: clk.Now})

	c1, err := p.Collateral(t.Context(), tdxReq)
	if err != nil {
		t.Fatal(err)
	}
	sameIntel(t, c1, parseDCAP(t, tdxJSON(t, false)))
	if up.count() != 1 || up.reqs[0].Update != pcs.UpdateStandard {
		t.Errorf("upstream calls %d (%+v), want 1 with the normalized request", up.count(), up.reqs)
	}
	e, ok := st.entry(tdxKey)
	if !ok {
		t.Fatalf("nothing stored under %s", tdxKey)
	}
	if !e.FetchedAt.Equal(tdxNow) || !e.NextUpdate.Equal(tdxExpiry) {
		t.Errorf("stored fetched %s, next update %s; want %s, %s", e.FetchedAt, e.NextUpdate, tdxNow, tdxExpiry)
	}
	if !bytes.Equal(e.Body, encodeIntel(t, c1)) {
		t.Error("stored body is not the encoding of the returned collateral")
	}

	clk.Add(time.Hour)
	// An explicit "standard" is the same request.
	req := tdxReq
	req.Update = pcs.UpdateStandard
	c2, err := p.Collateral(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if c2 != c1 {
		t.Error("second lookup returned another pointer")
	}
	if up.count() != 1 {
		t.Errorf("upstream calls %d, want 1", up.count())
	}
	wantStats(t, p.Stats(), Stats{StoreHits: 1, UpstreamFetches: 1})

	ents, err := p.Entries(t.Context())
	if err != nil || len(ents) != 1 || ents[0].Key != tdxKey || ents[0].Body != nil {
		t.Errorf("entries %v, %v; want %s without body", ents, err, tdxKey)
	}
}

// TestIntelSecondReplica: a replica whose upstream always fails (or that
// has none) serves what another replica fetched, without asking upstream.
func TestIntelSecondReplica(t *testing.T) {
	st, clk := newFakeStore(), newClock(tdxNow)
	a := NewIntel(st, serving(t, tdxJSON(t, false)), Config{Now: clk.Now})
	ca, err := a.Collateral(t.Context(), tdxReq)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(24 * time.Hour)
	down := failing()
	b := NewIntel(st, down, Config{Now: clk.Now})
	cb, err := b.Collateral(t.Context(), tdxReq)
	if err != nil {
		t.Fatal(err)
	}
	sameIntel(t, ca, cb)
	if err := cb.TCBInfo.CheckSignature(cb.TCBInfoIssuerChain[0]); err != nil {
		t.Errorf("TCB Info from the store: %v", err)
	}
	if again, err := b.Collateral(t.Context(), tdxReq); err != nil || again != cb {
		t.Errorf("second lookup on replica b: %p, %v; want %p", again, err, cb)
	}
	if down.count() != 0 {
		t.Errorf("replica b asked upstream %d times", down.count())
	}
	wantStats(t, b.Stats(), Stats{StoreHits: 2})

	offline := NewIntel(st, nil, Config{Now: clk.Now})
	if co, err := offline.Collateral(t.Context(), tdxReq); err != nil {
		t.Errorf("offline replica: %v", err)
	} else {
		sameIntel(t, ca, co)
	}
}

func TestIntelExpiredEntryRefetched(t *testing.T) {
	st, clk := newFakeStore(), newClock(tdxNow)
	up := serving(t, tdxJSON(t, false))
	p := NewIntel(st, up, Config{Now: clk.Now})
	c1, err := p.Collateral(t.Context(), tdxReq)
	if err != nil {
		t.Fatal(err)
	}

	// At the PCK CRL's nextUpdate the entry is no longer served.
	clk.Set(tdxExpiry)
	offline := NewIntel(st, nil, Config{Now: clk.Now})
	if _, err := offline.Collateral(t.Context(), tdxReq); !errors.Is(err, pcs.ErrExpired) {
		t.Errorf("offline at expiry: %v, want ErrExpired", err)
	}
	up.set(func() (*pcs.Collateral, error) { return nil, errUpstream })
	if c, err := p.Collateral(t.Context(), tdxReq); c != nil || !errors.Is(err, errUpstream) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired and upstream down: %v, %v; want the upstream error, naming the expiry", c, err)
	}

	shifted := tdxJSON(t, true)
	up.set(func() (*pcs.Collateral, error) { return pcs.ParseDCAPQVLJSON(shifted) })
	c2, err := p.Collateral(t.Context(), tdxReq)
	if err != nil {
		t.Fatal(err)
	}
	if c2 == c1 {
		t.Error("refetched collateral has the old pointer")
	}
	sameIntel(t, c2, parseDCAP(t, shifted))
	if e, _ := st.entry(tdxKey); !e.NextUpdate.Equal(shiftedExpiry) || !e.FetchedAt.Equal(tdxExpiry) {
		t.Errorf("stored next update %s fetched %s, want %s, %s", e.NextUpdate, e.FetchedAt, shiftedExpiry, tdxExpiry)
	}
	if up.count() != 3 {
		t.Errorf("upstream calls %d, want 3", up.count())
	}
	wantStats(t, p.Stats(), Stats{UpstreamFetches: 3, UpstreamErrors: 1})

	// The other replicas now get the new collateral from the store.
	b := NewIntel(st, failing(), Config{Now: clk.Now})
	if cb, err := b.Collateral(t.Context(), tdxReq); err != nil {
		t.Error(err)
	} else {
		sameIntel(t, cb, c2)
	}
}

// TestIntelRefusesUpstream: collateral from upstream that is expired,
// incomplete or for another request is refused and not stored.
func TestIntelRefusesUpstream(t *testing.T) {
	tdx := tdxJSON(t, false)
	for _, tc := range []struct {
		name string
		req  pcs.Request
		col  func() (*pcs.Collateral, error)
		want func(error) bool
	}{
		{"expired", sgxReq, func() (*pcs.Collateral, error) {
			return pcs.ParseDCAPQVLJSON(readTestdata(t, "dcap-qvl/sgx_quote_collateral.json"))
		}, func(err error) bool { return errors.Is(err, pcs.ErrExpired) }},
		{"incomplete", tdxReq, func() (*pcs.Collateral, error) {
			c, err := pcs.ParseDCAPQVLJSON(tdx)
			c.RootCACRL = nil
			return c, err
		}, func(err error) bool {
			var me *pcs.MissingError
			return errors.As(err, &me) && len(me.Items) == 1 && me.Items[0] == pcs.FileRootCACRL
		}},
		{"nil", tdxReq, func() (*pcs.Collateral, error) { return nil, nil },
			func(err error) bool { return err != nil }},
		{"another FMSPC", pcs.Request{TEE: pcs.TEETDX, FMSPC: [6]byte{0x90, 0xC0, 0x6F}, CA: pcs.CAPlatform},
			func() (*pcs.Collateral, error) { return pcs.ParseDCAPQVLJSON(tdx) },
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "TCB Info fmspc") }},
		{"another CA", pcs.Request{TEE: pcs.TEETDX, FMSPC: tdxReq.FMSPC, CA: pcs.CAProcessor},
			func() (*pcs.Collateral, error) { return pcs.ParseDCAPQVLJSON(tdx) },
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "PCK CRL issuer") }},
		{"SGX request", pcs.Request{TEE: pcs.TEESGX, FMSPC: tdxReq.FMSPC, CA: pcs.CAPlatform},
			func() (*pcs.Collateral, error) { return pcs.ParseDCAPQVLJSON(tdx) },
			func(err error) bool {
				return err != nil && strings.Contains(err.Error(), "TCB Info id") && strings.Contains(err.Error(), "QE Identity id")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeStore()
			up := &intelUpstream{}
			up.set(tc.col)
			p := NewIntel(st, up, Config{Now: newClock(tdxNow).Now})
			c, err := p.Collateral(t.Context(), tc.req)
			if c != nil || !tc.want(err) {
				t.Errorf("got %v, %v", c, err)
			}
			if _, w := st.counts(); w != 0 {
				t.Errorf("%d store writes, want none", w)
			}
			wantStats(t, p.Stats(), Stats{UpstreamFetches: 1, UpstreamErrors: 1})
		})
	}
}

// TestIntelStoreOutage: with the store failing, collateral still comes from
// upstream (the errors are counted); with upstream failing too, or absent,
// the error names both.
func TestIntelStoreOutage(t *testing.T) {
	st, clk := newFakeStore(), newClock(tdxNow)
	errDB := errors.New("database unreachable")
	st.setErrs(errDB, errDB)
	up := serving(t, tdxJSON(t, false))
	p := NewIntel(st, up, Config{Now: clk.Now})
	c1, err := p.Collateral(t.Context(), tdxReq)
	if err != nil {
		t.Fatal(err)
	}
	sameIntel(t, c1, parseDCAP(t, tdxJSON(t, false)))
	c2, err := p.Collateral(t.Context(), tdxReq)
	if err != nil || c2 != c1 {
		t.Errorf("second lookup during the outage: %p, %v; want %p", c2, err, c1)
	}
	wantStats(t, p.Stats(), Stats{UpstreamFetches: 2, StoreErrors: 4})

	up.set(func() (*pcs.Collateral, error) { return nil, errUpstream })
	if _, err := p.Collateral(t.Context(), tdxReq); !errors.Is(err, errUpstream) || !errors.Is(err, errDB) {
		t.Errorf("both down: %v, want both errors", err)
	}
	if _, err := NewIntel(st, nil, Config{Now: clk.Now}).Collateral(t.Context(), tdxReq); !errors.Is(err, errDB) {
		t.Errorf("offline, store down: %v, want the store error", err)
	}
	if _, err := p.Entries(t.Context()); !errors.Is(err, errDB) {
		t.Errorf("entries: %v, want the store error", err)
	}

	// Once the store is back, the next fetch is stored and then served.
	st.setErrs(nil, nil)
	up.set(func() (*pcs.Collateral, error) { return pcs.ParseDCAPQVLJSON(tdxJSON(t, false)) })
	if c, err := p.Collateral(t.Context(), tdxReq); err != nil || c != c1 {
		t.Errorf("after the outage: %p, %v; want %p", c, err, c1)
	}
	if _, ok := st.entry(tdxKey); !ok {
		t.Error("not stored after the outage")
	}
}

// TestIntelPointerStability: the pointer survives another replica
// rewriting identical collateral and a refetch returning identical bytes.
func TestIntelPointerStability(t *testing.T) {
	st, clk := newFakeStore(), newClock(tdxNow)
	up := serving(t, tdxJSON(t, false))
	p := NewIntel(st, up, Config{Now: clk.Now})
	c1, err := p.Collateral(t.Context(), tdxReq)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := st.entry(tdxKey)

	// Another replica refetched the same collateral later.
	e.FetchedAt = tdxNow.Add(time.Hour)
	st.set(e)
	if c, err := p.Collateral(t.Context(), tdxReq); err != nil || c != c1 {
		t.Errorf("after a rewrite with the same bytes: %p, %v; want %p", c, err, c1)
	}
	// An entry whose NextUpdate has passed is fetched again; upstream
	// returns the same bytes, so the pointer stays.
	clk.Add(2 * time.Hour)
	e.NextUpdate = tdxNow.Add(time.Hour)
	st.set(e)
	if c, err := p.Collateral(t.Context(), tdxReq); err != nil || c != c1 {
		t.Errorf("after an identical refetch: %p, %v; want %p", c, err, c1)
	}
	if up.count() != 2 {
		t.Errorf("upstream calls %d, want 2", up.count())
	}
	// A replica that started later decodes its own copy, once.
	b := NewIntel(st, nil, Config{Now: clk.Now})
	b1, err := b.Collateral(t.Context(), tdxReq)
	if err != nil {
		t.Fatal(err)
	}
	if b2, err := b.Collateral(t.Context(), tdxReq); err != nil || b2 != b1 {
		t.Errorf("replica b: %p, %v; want %p", b2, err, b1)
	}
	// Other bytes give another pointer.
	shifted := parseDCAP(t, tdxJSON(t, true))
	st.set(store.Collateral{Key: tdxKey, Body: encodeIntel(t, shifted), FetchedAt: clk.Now(), NextUpdate: shiftedExpiry})
	if c, err := p.Collateral(t.Context(), tdxReq); err != nil || c == c1 {
		t.Errorf("after new collateral: %v, same pointer %v", err, c == c1)
	} else {
		sameIntel(t, c, shifted)
	}
}

// TestIntelConcurrent: concurrent lookups of one key share one store read
// and one fetch; a caller giving up does not fail the others.
func TestIntelConcurrent(t *testing.T) {
	st := newFakeStore()
	up := serving(t, tdxJSON(t, false))
	p := NewIntel(st, up, Config{Now: newClock(tdxNow).Now})
	testSharedLookup(t, p.core, &up.upstream, st, func(ctx context.Context) (*pcs.Collateral, error) {
		return p.Collateral(ctx, tdxReq)
	})
}

// TestIntelCorruptEntry: an entry that does not decode, does not answer its
// key's request or is incomplete is refetched and replaced, never served.
func TestIntelCorruptEntry(t *testing.T) {
	good := parseDCAP(t, tdxJSON(t, false))
	body := encodeIntel(t, good)
	incomplete := *good
	incomplete.PCKCRL = nil
	other := parseDCAP(t, readTestdata(t, "dcap-qvl/sgx_quote_collateral.json"))
	for name, b := range map[string][]byte{
		"garbage":            []byte("\x00\xff not json"),
		"empty":              nil,
		"truncated":          body[:len(body)/2],
		"dcap-qvl JSON":      tdxJSON(t, false),
		"tampered TCB Info":  bytes.Replace(body, []byte(`"version":1`), []byte(`"version":7`), 1),
		"incomplete":         encodeIntel(t, &incomplete),
		"another request's":  encodeIntel(t, other),
		"unknown member":     append([]byte(`{"x":1,`), body[1:]...),
		"deeply nested JSON": []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000)),
	} {
		t.Run(name, func(t *testing.T) {
			st, clk := newFakeStore(), newClock(tdxNow)
			// Its NextUpdate is before the fresh one's, so the store
			// replaces it.
			st.set(store.Collateral{Key: tdxKey, Body: b, FetchedAt: tdxNow, NextUpdate: tdxNow.Add(24 * time.Hour)})
			if _, err := NewIntel(st, nil, Config{Now: clk.Now}).Collateral(t.Context(), tdxReq); err == nil {
				t.Error("offline replica served a rejected entry")
			} else if me := (*pcs.MissingError)(nil); !errors.As(err, &me) || !strings.Contains(err.Error(), "rejected") {
				t.Errorf("offline: %v, want MissingError naming the rejection", err)
			}
			up := serving(t, tdxJSON(t, false))
			p := NewIntel(st, up, Config{Now: clk.Now})
			c, err := p.Collateral(t.Context(), tdxReq)
			if err != nil {
				t.Fatal(err)
			}
			sameIntel(t, c, good)
			if e, _ := st.entry(tdxKey); !bytes.Equal(e.Body, body) {
				t.Error("the entry was not replaced")
			}
			wantStats(t, p.Stats(), Stats{UpstreamFetches: 1, StoreErrors: 1})
		})
	}
}

func TestIntelOffline(t *testing.T) {
	p := NewIntel(newFakeStore(), nil, Config{Now: newClock(tdxNow).Now})
	_, err := p.Collateral(t.Context(), tdxReq)
	var me *pcs.MissingError
	if !errors.As(err, &me) || len(me.Items) != 1 || me.Items[0] != tdxKey {
		t.Errorf("got %v, want a MissingError for %s", err, tdxKey)
	}

	// What upstream lacks (PCS 404) is reported as upstream reports it.
	up := &intelUpstream{}
	up.set(func() (*pcs.Collateral, error) {
		return nil, &pcs.MissingError{Source: "pcs test", Items: []string{pcs.FileTCBInfo}}
	})
	_, err = NewIntel(newFakeStore(), up, Config{Now: newClock(tdxNow).Now}).Collateral(t.Context(), tdxReq)
	if !errors.As(err, &me) || me.Source != "pcs test" {
		t.Errorf("upstream without the collateral: %v, want its MissingError", err)
	}
}

func TestIntelKey(t *testing.T) {
	for _, tc := range []struct {
		req  pcs.Request
		want string
	}{
		{tdxReq, tdxKey},
		{pcs.Request{TEE: pcs.TEESGX, FMSPC: [6]byte{0x00, 0x90, 0x6E, 0xD5}, CA: pcs.CAProcessor, Update: pcs.UpdateEarly},
			"intel/sgx/00906ED50000/processor/early"},
	} {
		if got, err := intelStoreKey(tc.req); err != nil || got != tc.want {
			t.Errorf("%v: %q, %v; want %q", tc.req, got, err, tc.want)
		}
	}
	p := NewIntel(newFakeStore(), failing(), Config{})
	for _, req := range []pcs.Request{
		{TEE: "sev", CA: pcs.CAPlatform},
		{TEE: pcs.TEESGX, CA: "root"},
		{TEE: pcs.TEESGX, CA: pcs.CAPlatform, Update: "late"},
	} {
		if _, err := intelStoreKey(req); err == nil {
			t.Errorf("%v: accepted", req)
		}
		if _, err := p.Collateral(t.Context(), req); err == nil {
			t.Errorf("%v: Collateral accepted it", req)
		}
	}
}

// TestIntelRefreshBefore: within RefreshBefore of its expiry an entry is
// refetched; while that fails it is still served, with at most one attempt
// per retry interval.
func TestIntelRefreshBefore(t *testing.T) {
	st, clk := newFakeStore(), newClock(tdxNow)
	up := serving(t, tdxJSON(t, false))
	p := NewIntel(st, up, Config{Now: clk.Now, RefreshBefore: 48 * time.Hour})
	c1, err := p.Collateral(t.Context(), tdxReq)
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(tdxExpiry.Add(-24 * time.Hour))
	up.set(func() (*pcs.Collateral, error) { return nil, errUpstream })
	for range 3 {
		if c, err := p.Collateral(t.Context(), tdxReq); err != nil || c != c1 {
			t.Fatalf("due, upstream down: %p, %v; want the stored %p", c, err, c1)
		}
	}
	if up.count() != 2 {
		t.Errorf("upstream calls %d, want 2 (one refresh attempt)", up.count())
	}
	clk.Add(retryInterval)
	shifted := tdxJSON(t, true)
	up.set(func() (*pcs.Collateral, error) { return pcs.ParseDCAPQVLJSON(shifted) })
	c2, err := p.Collateral(t.Context(), tdxReq)
	if err != nil || c2 == c1 {
		t.Fatalf("after the retry interval: %v, same pointer %v", err, c2 == c1)
	}
	sameIntel(t, c2, parseDCAP(t, shifted))
	if up.count() != 3 {
		t.Errorf("upstream calls %d, want 3", up.count())
	}
	if c, err := p.Collateral(t.Context(), tdxReq); err != nil || c != c2 {
		t.Errorf("after the refresh: %p, %v; want %p", c, err, c2)
	}
	wantStats(t, p.Stats(), Stats{StoreHits: 4, UpstreamFetches: 3, UpstreamErrors: 1})
}

func TestStatsMap(t *testing.T) {
	m := Stats{StoreHits: 1, UpstreamFetches: 2, StoreErrors: 3, UpstreamErrors: 4}.Map()
	if len(m) != 4 || m["store_hits"] != 1 || m["upstream_fetches"] != 2 || m["store_errors"] != 3 || m["upstream_errors"] != 4 {
		t.Errorf("got %v", m)
	}
}

// During an upstream outage a replica does not ask upstream again until
// the backoff has passed (honouring upstream's Retry-After), but it still
// reads the store, where another replica may have put the collateral.
func TestIntelUpstreamOutage(t *testing.T) {
	st, clk := newFakeStore(), newClock(tdxNow)
	down := &intelUpstream{}
	down.set(func() (*pcs.Collateral, error) {
		return nil, &pcs.HTTPError{StatusCode: 503, Status: "503 Service Unavailable", RetryAfter: 30 * time.Second}
	})
	b := NewIntel(st, down, Config{Now: clk.Now})
	unavailable := func(wantRetry time.Duration) {
		t.Helper()
		var ue *pcs.UnavailableError
		if _, err := b.Collateral(t.Context(), tdxReq); !errors.As(err, &ue) || ue.RetryAfter != wantRetry || !errors.Is(err, pcs.ErrUnavailable) {
			t.Fatalf("error %v, want an UnavailableError retrying in %v", err, wantRetry)
		}
	}
	unavailable(30 * time.Second)
	clk.Add(10 * time.Second)
	unavailable(20 * time.Second)
	if down.count() != 1 {
		t.Fatalf("upstream asked %d times during the backoff, want 1", down.count())
	}
	// Another replica fetches: served from the store during the backoff.
	a := NewIntel(st, serving(t, tdxJSON(t, false)), Config{Now: clk.Now})
	ca, err := a.Collateral(t.Context(), tdxReq)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Collateral(t.Context(), tdxReq)
	if err != nil {
		t.Fatalf("during the backoff, with the store filled: %v", err)
	}
	sameIntel(t, ca, cb)
	if down.count() != 1 {
		t.Errorf("upstream asked %d times, want 1", down.count())
	}
	// Other failures are not remembered.
	c := NewIntel(newFakeStore(), failing(), Config{Now: clk.Now})
	for range 2 {
		if _, err := c.Collateral(t.Context(), tdxReq); !errors.Is(err, errUpstream) || errors.Is(err, pcs.ErrUnavailable) {
			t.Fatalf("error %v, want the upstream's error", err)
		}
	}
}
