package main

// With Intel's PCS or AMD's KDS down, verification cannot complete: that is
// no verdict about the TEE. verify says "could not verify", exits 1 and
// names no contraindicated result.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
)

// downSource is a collateral source answering every request with 503 and
// a Retry-After beyond the clients' retry limit, so that they do not retry.
func downSource(t *testing.T) (url string, hits *atomic.Int64) {
	t.Helper()
	hits = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, hits
}

type unverifiedJSONOut struct {
	Verification struct {
		Status     string            `json:"status"`
		Reasons    []json.RawMessage `json:"reasons"`
		Unverified *struct {
			Class   string `json:"class"`
			Message string `json:"message"`
		} `json:"unverified"`
	} `json:"verification"`
}

// checkCouldNotVerify checks the outcome of a verification without
// collateral: exit 1, "could not verify" and no verdict.
func checkCouldNotVerify(t *testing.T, code int, out, stderr string) {
	t.Helper()
	if code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitRejected, out, stderr)
	}
	if !strings.Contains(stderr, "could not verify: collateral unavailable") {
		t.Errorf("stderr: %s", stderr)
	}
	for _, verdict := range []string{"contraindicated", "CONTRAINDICATED", "rejected", "REJECTED"} {
		if strings.Contains(out, verdict) || strings.Contains(stderr, verdict) {
			t.Errorf("output names a verdict (%q):\n%s\n%s", verdict, out, stderr)
		}
	}
}

func checkUnverifiedJSON(t *testing.T, out string) {
	t.Helper()
	var r unverifiedJSONOut
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	v := r.Verification
	if v.Status != "unverified" || v.Unverified == nil || v.Unverified.Class != "collateral-unavailable" || len(v.Reasons) != 0 {
		t.Errorf("verification: %+v\n%s", v, out)
	}
}

func TestVerifyIntelCollateralUnavailable(t *testing.T) {
	args := []string{"--cache-dir", "", "--at", "2025-07-19T10:00:34Z", vec + "dcap-qvl/tdx_quote"}
	t.Run("PCS answers 503", func(t *testing.T) {
		pccs, hits := downSource(t)
		code, out, stderr := runCLI(t, append([]string{"verify", "--json", "--pccs", pccs}, args...)...)
		checkCouldNotVerify(t, code, out, stderr)
		checkUnverifiedJSON(t, out)
		if hits.Load() == 0 {
			t.Error("the PCCS was not asked")
		}
	})
	t.Run("PCS unreachable", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		code, out, stderr := runCLI(t, append([]string{"verify", "--pccs", dead.URL}, args...)...)
		checkCouldNotVerify(t, code, out, stderr)
		if !strings.Contains(out, "Result: COULD NOT VERIFY (collateral unavailable)") || strings.Contains(out, "FAIL") {
			t.Errorf("text output:\n%s", out)
		}
	})
}

func TestVerifyAMDCollateralUnavailable(t *testing.T) {
	kdsURL, hits := downSource(t)
	report := testvectors.Path("snp-go-sev-guest/attestation.bin")
	code, out, stderr := runCLI(t, "verify", "--json", "--kds", kdsURL, "--amd-product", "Milan", "--cache-dir", "",
		"--at", "2022-09-25T00:55:28Z", report)
	checkCouldNotVerify(t, code, out, stderr)
	checkUnverifiedJSON(t, out)
	if hits.Load() == 0 {
		t.Error("KDS was not asked")
	}
}

// Through a verification service whose PCS is down: the service answers
// 503 without naming its PCS; the CLI says it could not verify.
func TestVerifyRemoteCollateralUnavailable(t *testing.T) {
	pcsURL, _ := downSource(t)
	r := startRemoteService(t, func(c *service.Config) {
		tee.Edit[dcap.Options](&c.Verify.TEE).Collateral = pcs.NewCache(pcs.NewClient(pcs.ClientConfig{BaseURL: pcsURL}), pcs.CacheConfig{})
	}, nil)
	path, _ := r.quoteFile(t, r.tdx, "quote.bin")
	code, out, stderr := runBounded(t, "verify", "--json", "--verifier", r.url, path)
	checkCouldNotVerify(t, code, out, stderr)
	rep := decodeRemote(t, out)
	if rep.Unverified == nil || rep.Unverified.Class != "collateral-unavailable" || rep.Unverified.RetryAfter != 3600 ||
		rep.Result != nil || rep.EAR != nil || rep.Token != "" {
		t.Errorf("report: %s", out)
	}
	if host := strings.TrimPrefix(pcsURL, "http://"); strings.Contains(out, host) || strings.Contains(stderr, host) {
		t.Errorf("the service's PCS address reached the client:\n%s\n%s", out, stderr)
	}
	code, out, stderr = runBounded(t, "verify", "--verifier", r.url, path)
	checkCouldNotVerify(t, code, out, stderr)
	if !strings.Contains(out, "Result: COULD NOT VERIFY (collateral unavailable at the service; retry after 3600 s)") {
		t.Errorf("text output:\n%s", out)
	}
}
