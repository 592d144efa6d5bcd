package ratls

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/tee/sevsnp"
)

type pcsFunc func(context.Context, pcs.Request) (*pcs.Collateral, error)

func (f pcsFunc) Collateral(ctx context.Context, req pcs.Request) (*pcs.Collateral, error) {
	return f(ctx, req)
}

type kdsFunc func(context.Context, kds.Request) (*kds.Certificates, error)

func (f kdsFunc) Certificates(ctx context.Context, req kds.Request) (*kds.Certificates, error) {
	return f(ctx, req)
}

// A genuine quote whose collateral cannot be fetched is not accepted, and
// the verification says why: collateral unavailable, not a verdict. Other
// collateral failures remain rejections.
func TestCollateralUnavailableIntel(t *testing.T) {
	items, err := evidence.ParseRaw(readTestFile(t, "testdata/dcap-qvl/tdx_quote"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 7, 19, 10, 0, 34, 0, time.UTC)
	down := fmt.Errorf("pcs: GET https://pccs.internal:8081/tdx/certification/v4/tcb: 503: %w", pcs.ErrUnavailable)
	for name, tc := range map[string]struct {
		err        error
		want       bool
		retryAfter time.Duration
	}{
		"source down":           {err: down, want: true},
		"source down, cached":   {err: &pcs.UnavailableError{RetryAfter: 42 * time.Second, Err: down}, want: true, retryAfter: 42 * time.Second},
		"collateral missing":    {err: &pcs.MissingError{Source: "pccs", Items: []string{pcs.FileTCBInfo}}},
		"malformed answer":      {err: fmt.Errorf("pcs: GET x: %w", pcs.ErrFormat)},
		"collateral not wanted": {err: errors.New("no")},
	} {
		t.Run(name, func(t *testing.T) {
			v := VerifyEvidence(context.Background(), items[0], &VerifyOptions{Now: now,
				TEE: []tee.Options{&dcap.Options{Collateral: pcsFunc(func(context.Context, pcs.Request) (*pcs.Collateral, error) { return nil, tc.err })}}})
			if v.Accepted() {
				t.Fatal("accepted without collateral")
			}
			err := v.CollateralUnavailable()
			if (err != nil) != tc.want {
				t.Fatalf("CollateralUnavailable() = %v, want unavailable %v", err, tc.want)
			}
			if err == nil {
				return
			}
			var ce *CollateralUnavailableError
			if !errors.Is(err, ErrCollateralUnavailable) || !errors.Is(err, pcs.ErrUnavailable) || !errors.As(err, &ce) || ce.RetryAfter != tc.retryAfter {
				t.Errorf("error %v (%+v), want a CollateralUnavailableError retrying in %v", err, ce, tc.retryAfter)
			}
		})
	}
	// Collateral at hand: nothing unavailable.
	c, err := pcs.ParseDCAPQVLJSON(readTestFile(t, "testdata/dcap-qvl/tdx_quote_collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	if v := VerifyEvidence(context.Background(), items[0], &VerifyOptions{Now: now, TEE: []tee.Options{&dcap.Options{Collateral: pcs.Static{C: c}}}}); v.CollateralUnavailable() != nil || !v.Accepted() {
		t.Errorf("with collateral: unavailable %v, accepted %v", v.CollateralUnavailable(), v.Accepted())
	}
}

func TestCollateralUnavailableAMD(t *testing.T) {
	items, err := evidence.ParseRaw(readTestFile(t, "testdata/snp-go-sev-guest/attestation.bin"))
	if err != nil {
		t.Fatal(err)
	}
	down := &kds.UnavailableError{What: "VCEK", RetryAfter: time.Minute, Err: fmt.Errorf("kds: GET https://kds.internal/vcek: %w", kds.ErrUnavailable)}
	opt := &VerifyOptions{Now: time.Date(2022, 9, 25, 0, 55, 28, 0, time.UTC), TEE: []tee.Options{&sevsnp.Options{Product: "Milan",
		Certificates: kdsFunc(func(context.Context, kds.Request) (*kds.Certificates, error) { return nil, down })}}}
	v := VerifyEvidence(context.Background(), items[0], opt)
	var ce *CollateralUnavailableError
	if v.Accepted() || !errors.As(v.CollateralUnavailable(), &ce) || ce.RetryAfter != time.Minute || !errors.Is(ce, kds.ErrUnavailable) {
		t.Fatalf("accepted %v, unavailable %v", v.Accepted(), v.CollateralUnavailable())
	}
	// A VCEK KDS does not have is a rejection.
	sevsnpOf(opt).Certificates = kdsFunc(func(context.Context, kds.Request) (*kds.Certificates, error) { return nil, kds.ErrNotFound })
	if v := VerifyEvidence(context.Background(), items[0], opt); v.Accepted() || v.CollateralUnavailable() != nil {
		t.Fatalf("not found: accepted %v, unavailable %v", v.Accepted(), v.CollateralUnavailable())
	}
}
