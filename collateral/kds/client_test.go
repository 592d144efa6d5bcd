package kds

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/internal/retry"

	"github.com/ratls/ratls/evidence/snp"
)

func TestClientFetchesRealCertificates(t *testing.T) {
	for _, base := range []vector{goSevGuest, virtee} {
		t.Run(base.folder, func(t *testing.T) {
			v, r := loadVector(t, base)
			k := newFakeKDS(t, v)
			c, waits := newTestClient(k, 0)
			req := requestFor(r)
			if req.SigningKey != snp.SigningKeyVCEK {
				t.Fatalf("signing key %s, want VCEK (EXPECTED.json)", req.SigningKey)
			}
			certs, err := c.Certificates(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			// Exact request URIs, with the SPLs of REPORTED_TCB from EXPECTED.json.
			wantVCEK := fmt.Sprintf("/vcek/v1/Milan/%s?blSPL=%d&teeSPL=%d&snpSPL=%d&ucodeSPL=%d",
				v.chipID, v.spl.bl, v.spl.tee, v.spl.snp, v.spl.ucode)
			want := []string{wantVCEK, "/vcek/v1/Milan/cert_chain", "/vcek/v1/Milan/crl"}
			if got := k.requestURIs(); !slices.Equal(got, want) {
				t.Errorf("requests:\n got %q\nwant %q", got, want)
			}
			// EXPECTED.json gives REPORTED_TCB as the report's bytes.
			if b := req.TCB.Bytes(); hex.EncodeToString(b[:]) != v.reportedTCB {
				t.Errorf("REPORTED_TCB bytes %x, want %s", b, v.reportedTCB)
			}
			if !bytes.Equal(certs.Leaf.Raw, readTestdata(t, v.folder, v.vcekFile)) {
				t.Error("Leaf is not the served VCEK")
			}
			chain := splitPEM(t, readTestdata(t, "amd-roots", "ask_ark_milan.pem"))
			if !bytes.Equal(certs.Intermediate.Raw, chain[0]) || !bytes.Equal(certs.Root.Raw, chain[1]) {
				t.Error("Intermediate/Root are not the served ASK/ARK")
			}
			if crl := onlyCRL(t, certs); crl.List.Number.Int64() != 1 || crl.Kind != CRLVCEK || crl.Source != "GET "+k.srv.URL+"/vcek/v1/Milan/crl" {
				t.Errorf("CRL number %v, %v from %q; want the served VCEK CRL number 1", crl.List.Number, crl.Kind, crl.Source)
			}
			if got := certs.Chain(); len(got) != 3 || got[0] != certs.Leaf || got[2] != certs.Root {
				t.Errorf("Chain() = %d certificates, want leaf, intermediate, root", len(got))
			}
			if certs.Source != "kds "+k.srv.URL {
				t.Errorf("Source %q", certs.Source)
			}
			if len(*waits) != 0 {
				t.Errorf("waited %v without a failure", *waits)
			}
		})
	}
}

func TestClientRetryAfter429(t *testing.T) {
	v, r := loadVector(t, goSevGuest)
	k := newFakeKDS(t, v)
	failures := 2
	k.setOverride(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/cert_chain") && failures > 0 {
			failures--
			w.Header().Set("Retry-After", "7")
			http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
			return true
		}
		return false
	})
	c, waits := newTestClient(k, 3)
	if _, err := c.Certificates(context.Background(), requestFor(r)); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{7 * time.Second, 7 * time.Second}; !slices.Equal(*waits, want) {
		t.Errorf("waits %v, want %v (Retry-After)", *waits, want)
	}
	if got := k.hitsFor("/vcek/v1/Milan/cert_chain"); got != 3 {
		t.Errorf("cert_chain requested %d times, want 3", got)
	}
}

func TestClientGivesUp(t *testing.T) {
	v, r := loadVector(t, goSevGuest)
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		wantHits   int
		wantWaits  int
	}{
		{"429 retried then given up", http.StatusTooManyRequests, "1", 3, 2},
		{"503 with backoff", http.StatusServiceUnavailable, "", 3, 2},
		{"Retry-After beyond the limit", http.StatusTooManyRequests, "3600", 1, 0},
		{"400 not retried", http.StatusBadRequest, "", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKDS(t, v)
			k.setOverride(func(w http.ResponseWriter, r *http.Request) bool {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				http.Error(w, "slow down please", tc.status)
				return true
			})
			c, waits := newTestClient(k, 2)
			_, err := c.Certificates(context.Background(), requestFor(r))
			var he *HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("error %v, want *HTTPError", err)
			}
			if he.StatusCode != tc.status || he.Attempts != tc.wantHits {
				t.Errorf("status %d attempts %d, want %d and %d", he.StatusCode, he.Attempts, tc.status, tc.wantHits)
			}
			if k.totalHits() != tc.wantHits || len(*waits) != tc.wantWaits {
				t.Errorf("%d requests, %d waits; want %d, %d", k.totalHits(), len(*waits), tc.wantHits, tc.wantWaits)
			}
			for _, d := range *waits {
				if d <= 0 || d > maxRetryWait {
					t.Errorf("wait %v outside (0, %v]", d, maxRetryWait)
				}
			}
			msg := err.Error()
			if !strings.Contains(msg, k.srv.URL+"/vcek/v1/Milan/"+v.chipID) || !strings.Contains(msg, "slow down please") {
				t.Errorf("error %q does not name the URL and the body", msg)
			}
		})
	}
}

func TestClientMissingVCEK(t *testing.T) {
	v, r := loadVector(t, goSevGuest)
	k := newFakeKDS(t) // serves no VCEK
	c, _ := newTestClient(k, 0)
	_, err := c.Certificates(context.Background(), requestFor(r))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("error %v, want ErrNotFound", err)
	}
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound {
		t.Fatalf("error %v, want *HTTPError 404", err)
	}
	for _, want := range []string{"no VCEK for Milan VCEK", v.chipID[:8], "404 Not Found", "Not Found\\n"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if k.totalHits() != 1 {
		t.Errorf("%d requests, want 1 (404 is not retried)", k.totalHits())
	}
}

func TestClientBadResponses(t *testing.T) {
	v, r := loadVector(t, goSevGuest)
	other, _ := loadVector(t, virtee)
	vcek := readTestdata(t, v.folder, v.vcekFile)
	chain := readTestdata(t, "amd-roots", "ask_ark_milan.pem")
	for _, tc := range []struct {
		name  string
		path  string
		body  []byte
		isErr error
		msg   string
	}{
		{"malformed VCEK DER", "/vcek/v1/Milan/" + v.chipID, vcek[:len(vcek)-1], ErrFormat, "x509"},
		{"garbage VCEK", "/vcek/v1/Milan/" + v.chipID, []byte("<html>rate limited</html>"), ErrFormat, ""},
		{"oversize VCEK", "/vcek/v1/Milan/" + v.chipID, make([]byte, maxCertSize+1), ErrFormat, "exceeds the limit"},
		{"another chip's VCEK", "/vcek/v1/Milan/" + v.chipID, readTestdata(t, other.folder, other.vcekFile), ErrMismatch, "hwID"},
		{"Turin VCEK for a Milan request", "/vcek/v1/Milan/" + v.chipID, readTestdata(t, "snp-virtee", "vcek_turin.der"), ErrMismatch, "SEV-Milan"},
		{"chain with one certificate", "/vcek/v1/Milan/cert_chain", chain[:len(chain)/2+10], ErrFormat, ""},
		{"Genoa chain for Milan", "/vcek/v1/Milan/cert_chain", readTestdata(t, "amd-roots", "ask_ark_genoa.pem"), ErrMismatch, "SEV-Milan"},
		{"VLEK chain for a VCEK", "/vcek/v1/Milan/cert_chain", readTestdata(t, "amd-roots", "ask_ark_milan_vlek.pem"), ErrMismatch, "SEV-VLEK-Milan"},
		{"CRL of another product", "/vcek/v1/Milan/crl", testCRL(t, "Genoa", 1, crlThisUpdate, crlNextUpdate), ErrMismatch, "ARK-Genoa"},
		{"malformed CRL", "/vcek/v1/Milan/crl", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, ErrFormat, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKDS(t, v)
			k.setOverride(func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == tc.path {
					w.Write(tc.body)
					return true
				}
				return false
			})
			c, waits := newTestClient(k, 3)
			_, err := c.Certificates(context.Background(), requestFor(r))
			if !errors.Is(err, tc.isErr) {
				t.Fatalf("error %v, want %v", err, tc.isErr)
			}
			if !strings.Contains(err.Error(), k.srv.URL+tc.path) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not name the URL and %q", err, tc.msg)
			}
			if len(*waits) != 0 {
				t.Errorf("retried a malformed response: waits %v", *waits)
			}
		})
	}
}

func TestClientRefusedRequests(t *testing.T) {
	_, r := loadVector(t, goSevGuest)
	k := newFakeKDS(t)
	c, _ := newTestClient(k, 0)
	base := requestFor(r)
	for _, tc := range []struct {
		name  string
		edit  func(*Request)
		isErr error
		msg   string
	}{
		{"unknown product", func(r *Request) { r.Product = "Naples" }, nil, `got "Naples"`},
		{"no signing key", func(r *Request) { r.SigningKey = snp.SigningKeyNone }, nil, "want VCEK or VLEK, got none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := base
			tc.edit(&req)
			_, err := c.Certificates(context.Background(), req)
			if err == nil || tc.isErr != nil && !errors.Is(err, tc.isErr) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %v containing %q", err, tc.isErr, tc.msg)
			}
		})
	}
	// KDS serves no VLEK, Turin VCEK or VCEK of a masked chip ID.
	for _, tc := range []struct {
		name  string
		edit  func(*Request)
		isErr error
		msg   string
	}{
		{"VLEK", func(r *Request) { r.SigningKey = snp.SigningKeyVLEK }, ErrVLEKNotFetchable, "supply them from files or with the evidence"},
		{"Turin", func(r *Request) { r.Product = snp.ProductTurin }, ErrUnsupported, "Turin"},
		{"masked chip ID", func(r *Request) { r.ChipID = [64]byte{} }, ErrUnsupported, "chip ID: all zero"},
	} {
		t.Run("VCEK/"+tc.name, func(t *testing.T) {
			req := base
			tc.edit(&req)
			_, err := c.VCEK(context.Background(), req)
			if !errors.Is(err, tc.isErr) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %v containing %q", err, tc.isErr, tc.msg)
			}
		})
	}
	if k.totalHits() != 0 {
		t.Errorf("%d requests for refused requests", k.totalHits())
	}
}

// For a VLEK, Certificates fetches the VLEK chain and the VLEK CRL from
// /vlek/v1 and leaves the leaf to the evidence; for a VCEK it cannot
// fetch, the VCEK chain and CRL.
func TestClientLeafKDSDoesNotServe(t *testing.T) {
	_, r := loadVector(t, goSevGuest)
	vlekChain := splitPEM(t, readTestdata(t, "amd-roots", "ask_ark_milan_vlek.pem"))
	vcekChain := splitPEM(t, readTestdata(t, "amd-roots", "ask_ark_milan.pem"))
	for _, tc := range []struct {
		name      string
		edit      func(*Request)
		wantURIs  []string
		wantChain [][]byte
		wantCRL   CRLKind
		wantNum   int64
	}{
		{"VLEK", func(r *Request) { r.SigningKey = snp.SigningKeyVLEK },
			[]string{"/vlek/v1/Milan/cert_chain", "/vlek/v1/Milan/crl"}, vlekChain, CRLVLEK, vlekCRLNumber},
		{"masked chip ID", func(r *Request) { r.ChipID = [64]byte{} },
			[]string{"/vcek/v1/Milan/cert_chain", "/vcek/v1/Milan/crl"}, vcekChain, CRLVCEK, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKDS(t)
			c, _ := newTestClient(k, 0)
			req := requestFor(r)
			tc.edit(&req)
			certs, err := c.Certificates(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if got := k.requestURIs(); !slices.Equal(got, tc.wantURIs) {
				t.Errorf("requests %q, want %q", got, tc.wantURIs)
			}
			if certs.Leaf != nil || !bytes.Equal(certs.Intermediate.Raw, tc.wantChain[0]) || !bytes.Equal(certs.Root.Raw, tc.wantChain[1]) {
				t.Errorf("leaf %v; want none and the served intermediate and ARK", certs.Leaf != nil)
			}
			if crl := onlyCRL(t, certs); crl.Kind != tc.wantCRL || crl.List.Number.Int64() != tc.wantNum {
				t.Errorf("CRL: %v number %v, want %v number %d", crl.Kind, crl.List.Number, tc.wantCRL, tc.wantNum)
			}
		})
	}

	// A VCEK chain or a CRL of another product at the VLEK URLs is refused.
	for _, tc := range []struct {
		name, path string
		body       []byte
		msg        string
	}{
		{"VCEK chain for a VLEK", "/vlek/v1/Milan/cert_chain", readTestdata(t, "amd-roots", "ask_ark_milan.pem"), `ASVK subject: want CN "SEV-VLEK-Milan", got "SEV-Milan"`},
		{"Genoa VLEK CRL for Milan", "/vlek/v1/Milan/crl", testCRL(t, "Genoa", 1, crlThisUpdate, crlNextUpdate), "ARK-Genoa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKDS(t)
			k.setOverride(func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == tc.path {
					w.Write(tc.body)
					return true
				}
				return false
			})
			c, _ := newTestClient(k, 0)
			req := requestFor(r)
			req.SigningKey = snp.SigningKeyVLEK
			if _, err := c.Certificates(context.Background(), req); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want ErrMismatch containing %q", err, tc.msg)
			}
		})
	}
}

func TestClientBadBaseURL(t *testing.T) {
	for _, u := range []string{"ftp://kds", "https://", "https://h/?q=1", "://"} {
		c := NewClient(ClientConfig{BaseURL: u})
		if _, err := c.Certificates(context.Background(), Request{}); err == nil || !strings.Contains(err.Error(), "BaseURL") {
			t.Errorf("BaseURL %q: error %v", u, err)
		}
	}
	if c := NewClient(ClientConfig{}); c.BaseURL() != DefaultBaseURL {
		t.Errorf("default BaseURL %q", c.BaseURL())
	}
}

func TestClientContextCancelledWhileWaiting(t *testing.T) {
	v, r := loadVector(t, goSevGuest)
	k := newFakeKDS(t, v)
	k.setOverride(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	})
	c := NewClient(ClientConfig{BaseURL: k.srv.URL, HTTPClient: k.srv.Client()})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Certificates(ctx, requestFor(r))
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("error %v, want the 429 (the wait would outlive the deadline)", err)
	}
	if time.Since(start) > 900*time.Millisecond {
		t.Errorf("took %v: waited despite the deadline", time.Since(start))
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"12", 12 * time.Second}, {" 3 ", 3 * time.Second}, {"-1", 0}, {"soon", 0},
		{"Wed, 01 Jan 2025 00:00:30 GMT", 30 * time.Second},
		{"Tue, 31 Dec 2024 23:59:00 GMT", 0},
	} {
		if got := retry.After(tc.in, now); got != tc.want {
			t.Errorf("retry.After(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestBackoffBounded(t *testing.T) {
	for n := 1; n < 40; n++ {
		d := backoff(n)
		hi := min(initialBackoff<<min(n-1, 16), maxRetryWait)
		if d < hi/2 || d > hi {
			t.Errorf("backoff(%d) = %v, want in [%v, %v]", n, d, hi/2, hi)
		}
	}
}

// Failures of KDS itself match ErrUnavailable; a 404 or a malformed answer
// does not.
func TestClientUnavailable(t *testing.T) {
	v, r := loadVector(t, goSevGuest)
	for name, tc := range map[string]struct {
		status int
		body   string
		want   bool
	}{
		"503":       {status: http.StatusServiceUnavailable, want: true},
		"429":       {status: http.StatusTooManyRequests, want: true},
		"502":       {status: http.StatusBadGateway, want: true},
		"404":       {status: http.StatusNotFound},
		"403":       {status: http.StatusForbidden},
		"malformed": {status: http.StatusOK, body: "not a certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			k := newFakeKDS(t, v)
			k.setOverride(func(w http.ResponseWriter, _ *http.Request) bool {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
				return true
			})
			c, _ := newTestClient(k, 1)
			_, err := c.Certificates(context.Background(), requestFor(r))
			if err == nil || errors.Is(err, ErrUnavailable) != tc.want {
				t.Errorf("error %v: matches ErrUnavailable %v, want %v", err, errors.Is(err, ErrUnavailable), tc.want)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		k := newFakeKDS(t, v)
		c, _ := newTestClient(k, 1)
		k.srv.Close()
		if _, err := c.Certificates(context.Background(), requestFor(r)); !errors.Is(err, ErrUnavailable) {
			t.Errorf("error %v, want ErrUnavailable", err)
		}
	})
}
