package shared

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/service/store"
)

// Times used with the synthetic CRLs; the real certificates are valid until
// 2030-04-03 (VCEK) and 2045 (ASK, ARK), testdata/README.md.
var (
	amdNow      = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	crlExpiry   = amdNow.Add(24 * time.Hour)
	crlExpiry2  = amdNow.Add(48 * time.Hour)
	vcekExpires = time.Date(2030, 4, 3, 19, 23, 43, 0, time.UTC)
)

// amdRequest builds the request of the Milan report, as a verifier does.
func amdRequest(t testing.TB) kds.Request {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimSpace(string(readTestdata(t, "snp-virtee/report_milan.hex"))))
	if err != nil {
		t.Fatal(err)
	}
	r, err := snp.ParseReport(b)
	if err != nil {
		t.Fatal(err)
	}
	// PROVENANCE.md gives the bytes, 03 00 … 08 73, of the little-endian
	// TCB_VERSION.
	if uint64(r.ReportedTCB) != 0x7308000000000003 {
		t.Fatalf("reported TCB 0x%016x, want 0x7308000000000003", uint64(r.ReportedTCB))
	}
	return kds.Request{Product: snp.ProductMilan, ChipID: r.ChipID, TCB: r.ReportedTCB, SigningKey: r.SignerInfo.SigningKey()}
}

func amdKey(req kds.Request) string {
	return fmt.Sprintf("amd/Milan/VCEK/%x/7308000000000003", req.ChipID[:])
}

// testCRL is a synthetic CRL issued by a throwaway key named like the Milan
// ARK; nothing here verifies its signature.
func testCRL(t testing.TB, number int64, thisUpdate, nextUpdate time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ARK-Milan"},
		NotBefore: thisUpdate.Add(-time.Hour), NotAfter: nextUpdate.Add(time.Hour),
		KeyUsage: x509.KeyUsageCRLSign | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(number), ThisUpdate: thisUpdate, NextUpdate: nextUpdate,
	}, issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

// amdUpstream is a kds.Provider that parses the real VCEK and chain and the
// given CRL (none when nil) afresh on every call, as a client does.
type amdUpstream struct {
	upstream[*kds.Certificates]
	mu   sync.Mutex
	reqs []kds.Request
}

func (u *amdUpstream) Certificates(ctx context.Context, req kds.Request) (*kds.Certificates, error) {
	u.mu.Lock()
	u.reqs = append(u.reqs, req)
	u.mu.Unlock()
	return u.call(ctx)
}

func certsWith(t testing.TB, crl []byte) func() (*kds.Certificates, error) {
	vcek := readTestdata(t, "snp-virtee/vcek_milan.der")
	chain := readTestdata(t, "snp-virtee/cert_chain_milan.pem")
	return func() (*kds.Certificates, error) {
		leaf, err := kds.ParseCertificate("vcek", vcek)
		if err != nil {
			return nil, err
		}
		ask, ark, err := kds.ParseCertChain("chain", chain)
		if err != nil {
			return nil, err
		}
		c := &kds.Certificates{Leaf: leaf, Intermediate: ask, Root: ark, Source: "kds test"}
		if crl != nil {
			list, err := kds.ParseCRL("crl", crl)
			if err != nil {
				return nil, err
			}
			c.CRLs = []kds.CRL{{List: list, Kind: kds.CRLVCEK, Source: "kds test"}}
		}
		return c, nil
	}
}

func amdServing(t testing.TB, crl []byte) *amdUpstream {
	u := &amdUpstream{}
	u.set(certsWith(t, crl))
	return u
}

func amdFailing() *amdUpstream {
	u := &amdUpstream{}
	u.set(func() (*kds.Certificates, error) { return nil, errUpstream })
	return u
}

func encodeAMD(t testing.TB, c *kds.Certificates) []byte {
	t.Helper()
	b, err := kds.MarshalCertificates(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameAMD(t testing.TB, a, b *kds.Certificates) {
	t.Helper()
	if !bytes.Equal(encodeAMD(t, a), encodeAMD(t, b)) {
		t.Error("certificates differ")
	}
}

func TestAMDMissHitAndSecondReplica(t *testing.T) {
	req := amdRequest(t)
	key := amdKey(req)
	crl := testCRL(t, 1, amdNow.Add(-time.Hour), crlExpiry)
	st, clk := newFakeStore(), newClock(amdNow)
	up := amdServing(t, crl)
	a := NewAMD(st, up, Config{Now: clk.Now})
	c1, err := a.Certificates(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := certsWith(t, crl)()
	sameAMD(t, c1, want)
	e, ok := st.entry(key)
	if !ok || !e.FetchedAt.Equal(amdNow) || !e.NextUpdate.Equal(crlExpiry) {
		t.Fatalf("stored %v (%s, %s), want fetched %s, next update %s", ok, e.FetchedAt, e.NextUpdate, amdNow, crlExpiry)
	}
	if c2, err := a.Certificates(t.Context(), req); err != nil || c2 != c1 {
		t.Errorf("second lookup: %p, %v; want %p", c2, err, c1)
	}
	if up.count() != 1 || up.reqs[0] != req {
		t.Errorf("upstream calls %d, want 1 with the request", up.count())
	}
	wantStats(t, a.Stats(), Stats{StoreHits: 1, UpstreamFetches: 1})

	clk.Add(time.Hour)
	down := amdFailing()
	b := NewAMD(st, down, Config{Now: clk.Now})
	cb, err := b.Certificates(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	sameAMD(t, cb, c1)
	if err := cb.Leaf.CheckSignatureFrom(cb.Intermediate); err != nil {
		t.Errorf("VCEK from the store: %v", err)
	}
	if again, err := b.Certificates(t.Context(), req); err != nil || again != cb {
		t.Errorf("replica b again: %p, %v; want %p", again, err, cb)
	}
	if down.count() != 0 {
		t.Errorf("replica b asked upstream %d times", down.count())
	}
	wantStats(t, b.Stats(), Stats{StoreHits: 2})
	if ents, err := b.Entries(t.Context()); err != nil || len(ents) != 1 || ents[0].Key != key {
		t.Errorf("entries %v, %v", ents, err)
	}
}

func TestAMDExpiredEntryRefetched(t *testing.T) {
	req := amdRequest(t)
	st, clk := newFakeStore(), newClock(amdNow)
	up := amdServing(t, testCRL(t, 1, amdNow.Add(-time.Hour), crlExpiry))
	p := NewAMD(st, up, Config{Now: clk.Now})
	c1, err := p.Certificates(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(crlExpiry)
	if _, err := NewAMD(st, nil, Config{Now: clk.Now}).Certificates(t.Context(), req); !errors.Is(err, kds.ErrExpired) {
		t.Errorf("offline at the CRL's nextUpdate: %v, want ErrExpired", err)
	}
	// Upstream still serves the old CRL: refused, and nothing is served.
	if c, err := p.Certificates(t.Context(), req); c != nil || !errors.Is(err, kds.ErrExpired) {
		t.Errorf("expired upstream CRL: %v, %v; want ErrExpired", c, err)
	}
	crl2 := testCRL(t, 2, amdNow, crlExpiry2)
	up.set(certsWith(t, crl2))
	c2, err := p.Certificates(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if c2 == c1 || len(c2.CRLs) != 1 || !bytes.Equal(c2.CRLs[0].List.Raw, crl2) {
		t.Error("refetch did not return the new CRL")
	}
	if e, _ := st.entry(amdKey(req)); !e.NextUpdate.Equal(crlExpiry2) {
		t.Errorf("stored next update %s, want %s", e.NextUpdate, crlExpiry2)
	}
	wantStats(t, p.Stats(), Stats{UpstreamFetches: 3, UpstreamErrors: 1})

	// Without a CRL, the VCEK's NotAfter bounds the entry.
	st2 := newFakeStore()
	clk.Set(vcekExpires)
	p2 := NewAMD(st2, amdServing(t, nil), Config{Now: clk.Now})
	if c, err := p2.Certificates(t.Context(), req); c != nil || !errors.Is(err, kds.ErrExpired) {
		t.Errorf("expired VCEK from upstream: %v, %v; want ErrExpired", c, err)
	}
	clk.Set(vcekExpires.Add(-time.Second))
	if _, err := p2.Certificates(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if e, _ := st2.entry(amdKey(req)); !e.NextUpdate.Equal(vcekExpires) {
		t.Errorf("stored next update %s, want the VCEK's NotAfter %s", e.NextUpdate, vcekExpires)
	}
	if _, w := st.counts(); w != 2 {
		t.Errorf("%d store writes, want 2 (the refused certificates are not stored)", w)
	}
}

func TestAMDStoreOutage(t *testing.T) {
	req := amdRequest(t)
	st, clk := newFakeStore(), newClock(amdNow)
	errDB := errors.New("database unreachable")
	st.setErrs(errDB, errDB)
	up := amdServing(t, testCRL(t, 1, amdNow.Add(-time.Hour), crlExpiry))
	p := NewAMD(st, up, Config{Now: clk.Now})
	c1, err := p.Certificates(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if c2, err := p.Certificates(t.Context(), req); err != nil || c2 != c1 {
		t.Errorf("second lookup during the outage: %p, %v; want %p", c2, err, c1)
	}
	wantStats(t, p.Stats(), Stats{UpstreamFetches: 2, StoreErrors: 4})
	up.set(func() (*kds.Certificates, error) { return nil, errUpstream })
	if _, err := p.Certificates(t.Context(), req); !errors.Is(err, errUpstream) || !errors.Is(err, errDB) {
		t.Errorf("both down: %v, want both errors", err)
	}
	if _, err := NewAMD(st, nil, Config{Now: clk.Now}).Certificates(t.Context(), req); !errors.Is(err, errDB) {
		t.Errorf("offline, store down: %v, want the store error", err)
	}
}

func TestAMDPointerStability(t *testing.T) {
	req := amdRequest(t)
	key := amdKey(req)
	st, clk := newFakeStore(), newClock(amdNow)
	up := amdServing(t, testCRL(t, 1, amdNow.Add(-time.Hour), crlExpiry))
	p := NewAMD(st, up, Config{Now: clk.Now})
	c1, err := p.Certificates(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := st.entry(key)
	e.FetchedAt = amdNow.Add(time.Minute)
	st.set(e)
	if c, err := p.Certificates(t.Context(), req); err != nil || c != c1 {
		t.Errorf("after a rewrite with the same bytes: %p, %v; want %p", c, err, c1)
	}
	clk.Add(time.Hour)
	e.NextUpdate = amdNow.Add(time.Minute)
	st.set(e)
	if c, err := p.Certificates(t.Context(), req); err != nil || c != c1 {
		t.Errorf("after an identical refetch: %p, %v; want %p", c, err, c1)
	}
	if up.count() != 2 {
		t.Errorf("upstream calls %d, want 2", up.count())
	}
}

// TestAMDConcurrent: as TestIntelConcurrent.
func TestAMDConcurrent(t *testing.T) {
	req := amdRequest(t)
	st := newFakeStore()
	up := amdServing(t, testCRL(t, 1, amdNow.Add(-time.Hour), crlExpiry))
	p := NewAMD(st, up, Config{Now: newClock(amdNow).Now})
	testSharedLookup(t, p.core, &up.upstream, st, func(ctx context.Context) (*kds.Certificates, error) {
		return p.Certificates(ctx, req)
	})
}

func TestAMDCorruptEntry(t *testing.T) {
	req := amdRequest(t)
	key := amdKey(req)
	crl := testCRL(t, 1, amdNow.Add(-time.Hour), crlExpiry)
	good, _ := certsWith(t, crl)()
	body := encodeAMD(t, good)
	leaf := fmt.Sprintf(`"leaf":"%s"`, base64Std(good.Leaf.Raw))
	if !bytes.Contains(body, []byte(leaf)) {
		t.Fatal("leaf not found in the encoding")
	}
	for name, b := range map[string][]byte{
		"garbage":        []byte("\x00\xff"),
		"empty":          nil,
		"truncated":      body[:len(body)/2],
		"bad leaf DER":   bytes.Replace(body, []byte(leaf), []byte(`"leaf":"`+base64Std(good.Leaf.Raw[:64])+`"`), 1),
		"white space":    bytes.Replace(body, []byte(`"version":2`), []byte(`"version": 2`), 1),
		"trailing space": []byte(`{"version":2,"source":"x"} `),
	} {
		t.Run(name, func(t *testing.T) {
			st, clk := newFakeStore(), newClock(amdNow)
			st.set(store.Collateral{Key: key, Body: b, FetchedAt: amdNow, NextUpdate: amdNow.Add(time.Hour)})
			if _, err := NewAMD(st, nil, Config{Now: clk.Now}).Certificates(t.Context(), req); !errors.Is(err, kds.ErrNotFound) {
				t.Errorf("offline: %v, want ErrNotFound", err)
			}
			up := amdServing(t, crl)
			p := NewAMD(st, up, Config{Now: clk.Now})
			c, err := p.Certificates(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			sameAMD(t, c, good)
			if e, _ := st.entry(key); !bytes.Equal(e.Body, body) {
				t.Error("the entry was not replaced")
			}
			wantStats(t, p.Stats(), Stats{UpstreamFetches: 1, StoreErrors: 1})
		})
	}
}

func TestAMDKey(t *testing.T) {
	req := amdRequest(t)
	got, err := amdStoreKey(req)
	if err != nil || got != amdKey(req) {
		t.Errorf("key %q, %v; want %q", got, err, amdKey(req))
	}
	// Request.String abbreviates the chip ID; the key does not.
	other := req
	other.ChipID[20] ^= 1
	if k, _ := amdStoreKey(other); k == got || other.String() != req.String() {
		t.Errorf("chips differing in the middle: keys %q and %q", k, got)
	}
	p := NewAMD(newFakeStore(), amdFailing(), Config{})
	for _, bad := range []kds.Request{
		{Product: "Naples", SigningKey: snp.SigningKeyVCEK},
		{Product: snp.ProductGenoa, SigningKey: snp.SigningKeyNone},
	} {
		if _, err := amdStoreKey(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
		if _, err := p.Certificates(t.Context(), bad); err == nil {
			t.Errorf("%+v: Certificates accepted it", bad)
		}
	}
	// Nil certificates from upstream are refused.
	up := &amdUpstream{}
	up.set(func() (*kds.Certificates, error) { return nil, nil })
	if c, err := NewAMD(newFakeStore(), up, Config{}).Certificates(t.Context(), req); c != nil || err == nil {
		t.Errorf("nil from upstream: %v, %v", c, err)
	}
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestAMDUpstreamOutage(t *testing.T) {
	st, clk := newFakeStore(), newClock(amdNow)
	req := amdRequest(t)
	up := &amdUpstream{}
	up.set(func() (*kds.Certificates, error) {
		return nil, fmt.Errorf("kds: GET x: dial: connection refused: %w", kds.ErrUnavailable)
	})
	p := NewAMD(st, up, Config{Now: clk.Now})
	for _, want := range []time.Duration{5 * time.Second, 4 * time.Second} {
		var ue *kds.UnavailableError
		if _, err := p.Certificates(t.Context(), req); !errors.As(err, &ue) || ue.RetryAfter != want {
			t.Fatalf("error %v, want an UnavailableError retrying in %v", err, want)
		}
		clk.Add(time.Second)
	}
	if up.count() != 1 {
		t.Errorf("upstream asked %d times during the backoff, want 1", up.count())
	}
}
