package pcs

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/ratls/ratls/internal/retry"
)

// Response kinds of FuzzClientResponse.
const (
	fuzzTCBTDX = iota
	fuzzTCBSGX
	fuzzQETDX
	fuzzQESGX
	fuzzCRLPlatform
	fuzzCRLProcessor
	fuzzRootCRL
	fuzzTCBFallbackHeader
	fuzzKinds
)

func addClientResponseSeeds(f *testing.F) {
	tdx := loadPCSFixture(f, "tdx_quote_collateral.json")
	sgx := loadPCSFixture(f, "sgx_quote_collateral.json")
	for _, s := range []struct {
		kind  uint8
		body  []byte
		chain string
	}{
		{fuzzTCBTDX, tdx.tcbBody, encodeURIComponent(tdx.tcbChain)},
		{fuzzTCBSGX, sgx.tcbBody, encodeURIComponent(sgx.tcbChain)},
		{fuzzQETDX, tdx.qeBody, encodeURIComponent(tdx.qeChain)},
		{fuzzQESGX, sgx.qeBody, sgx.qeChain}, // plain PEM in a header: accepted too
		{fuzzCRLPlatform, tdx.pckCRL, encodeURIComponent(tdx.crlChain)},
		{fuzzCRLProcessor, sgx.pckCRL, encodeURIComponent(sgx.crlChain)},
		{fuzzRootCRL, tdx.rootCRL, ""},
		{fuzzTCBFallbackHeader, tdx.tcbBody, encodeURIComponent(tdx.tcbChain)},
		{fuzzTCBTDX, tdx.tcbBody[:len(tdx.tcbBody)/2], encodeURIComponent(tdx.tcbChain)},
		{fuzzCRLPlatform, tdx.pckCRL[:len(tdx.pckCRL)-1], encodeURIComponent(tdx.crlChain)[:100]},
	} {
		f.Add(s.kind, s.body, s.chain)
	}
}

// FuzzClientResponse feeds PCS responses (body and issuer-chain header) to
// the client's response parsers.
func FuzzClientResponse(f *testing.F) {
	addClientResponseSeeds(f)
	tdxReq := Request{TEE: TEETDX, FMSPC: [6]byte{0xb0, 0xc0, 0x6f}, CA: CAPlatform, Update: UpdateStandard}
	sgxReq := Request{TEE: TEESGX, FMSPC: [6]byte{0x00, 0xa0, 0x67, 0x11}, CA: CAProcessor, Update: UpdateStandard}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte, chain string) {
		const u = "https://pcs.example/x"
		h := http.Header{}
		name := map[uint8]string{
			fuzzTCBTDX: headerTCBInfoIssuerChain, fuzzTCBSGX: headerTCBInfoIssuerChain,
			fuzzQETDX: headerEnclaveIDIssuerChain, fuzzQESGX: headerEnclaveIDIssuerChain,
			fuzzCRLPlatform: headerPCKCRLIssuerChain, fuzzCRLProcessor: headerPCKCRLIssuerChain,
			fuzzTCBFallbackHeader: headerSGXTCBInfoIssuerChain,
		}[kind%fuzzKinds]
		if name != "" {
			h.Set(name, chain)
		}
		switch kind % fuzzKinds {
		case fuzzTCBTDX, fuzzTCBSGX, fuzzTCBFallbackHeader:
			req := tdxReq
			if kind%fuzzKinds == fuzzTCBSGX {
				req = sgxReq
			}
			ti, ch, err := parseTCBInfoResponse(req, u, body, h)
			if err != nil {
				return
			}
			if ti.FMSPC != req.FMSPC || len(ch) == 0 {
				t.Fatalf("accepted TCB Info for %X with %d chain certificates", ti.FMSPC, len(ch))
			}
			again, err := ParseTCBInfo(ti.Body())
			if err != nil || !bytes.Equal(again.Raw, ti.Raw) {
				t.Fatalf("Body does not round-trip: %v", err)
			}
		case fuzzQETDX, fuzzQESGX:
			req, want := tdxReq, EnclaveIDTDQE
			if kind%fuzzKinds == fuzzQESGX {
				req, want = sgxReq, EnclaveIDQE
			}
			id, ch, err := parseQEIdentityResponse(req, u, body, h)
			if err != nil {
				return
			}
			if id.ID != want || len(ch) == 0 {
				t.Fatalf("accepted identity %q with %d chain certificates", id.ID, len(ch))
			}
			again, err := ParseEnclaveIdentity(id.Body())
			if err != nil || !bytes.Equal(again.Raw, id.Raw) {
				t.Fatalf("Body does not round-trip: %v", err)
			}
		case fuzzCRLPlatform, fuzzCRLProcessor:
			req, want := tdxReq, cnPlatformCA
			if kind%fuzzKinds == fuzzCRLProcessor {
				req, want = sgxReq, cnProcessorCA
			}
			crl, ch, err := parsePCKCRLResponse(req, u, body, h)
			if err != nil {
				return
			}
			if crl.Issuer.CommonName != want || len(ch) == 0 {
				t.Fatalf("accepted a CRL of %q with %d chain certificates", crl.Issuer.CommonName, len(ch))
			}
		case fuzzRootCRL:
			crl, err := parseRootCACRLResponse(u, body)
			if err == nil && crl.Issuer.CommonName != cnRootCA {
				t.Fatalf("accepted a root CRL of %q", crl.Issuer.CommonName)
			}
		}
	})
}

// FuzzParseRetryAfter checks that any Retry-After value gives a
// non-negative wait, bounded for the delay-seconds form.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "Wed, 21 Oct 2015 07:28:00 GMT", "-5", "1e9", "4294967295"} {
		f.Add(s)
	}
	now := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d := retry.After(s, now)
		if d < 0 {
			t.Fatalf("retry.After(%q) = %v", s, d)
		}
	})
}

func BenchmarkParseTCBInfoResponse(b *testing.B) {
	f := loadPCSFixture(b, "tdx_quote_collateral.json")
	h := http.Header{}
	h.Set(headerTCBInfoIssuerChain, encodeURIComponent(f.tcbChain))
	req := Request{TEE: TEETDX, FMSPC: [6]byte{0xb0, 0xc0, 0x6f}, CA: CAPlatform, Update: UpdateStandard}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := parseTCBInfoResponse(req, "https://pcs.example/x", f.tcbBody, h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheHit is the verifier's hot path: a cached entry.
func BenchmarkCacheHit(b *testing.B) {
	col := tdxCollateral(b, false)
	c := NewCache(Static{C: col}, CacheConfig{Now: func() time.Time { return time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC) }})
	req := Request{TEE: TEETDX, FMSPC: [6]byte{0xb0, 0xc0, 0x6f}, CA: CAPlatform}
	ctx := b.Context()
	if _, err := c.Collateral(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if got, err := c.Collateral(ctx, req); err != nil || got != col {
			b.Fatal(err)
		}
	}
}
