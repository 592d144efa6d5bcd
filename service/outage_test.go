package service_test

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/tee/sevsnp"
)

// outage is a collateral source (Intel PCS or AMD KDS) that is down: it
// answers every request with 503 and Retry-After, and counts them.
type outage struct {
	url  string
	hits atomic.Int64
}

func newOutage(t *testing.T, retryAfter string) *outage {
	t.Helper()
	o := &outage{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		w.Header().Set("Retry-After", retryAfter)
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	o.url = srv.URL
	return o
}

// settled returns the number of requests once no more arrive: a client
// that gave up on the other items when one failed may have sent them
// already, and the server counts them when it reads them.
func (o *outage) settled() int64 {
	n := o.hits.Load()
	for {
		time.Sleep(50 * time.Millisecond)
		m := o.hits.Load()
		if m == n {
			return n
		}
		n = m
	}
}

// hangUp is a collateral source whose address accepts connections and
// closes them at once (a transport error, retried by the clients).
func hangUp(t *testing.T) (base string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String(), accepted
}

// intelOutageFixture is a service whose Intel collateral comes from base
// through the usual in-memory cache, on the service's clock.
func intelOutageFixture(t *testing.T, base string) *fixture {
	return newFixture(t, fixtureOptions{mutate: func(c *service.Config) {
		tee.Edit[dcap.Options](&c.Verify.TEE).Collateral = pcs.NewCache(pcs.NewClient(pcs.ClientConfig{BaseURL: base}), pcs.CacheConfig{Now: c.Now})
	}})
}

// checkUnavailable checks a collateral-unavailable answer: 503 problem+json
// with Retry-After, no EAR and no reasons (no verdict about the TEE), and
// nothing that names the collateral source.
func checkUnavailable(t *testing.T, r *response, source string, retryAfter int) {
	t.Helper()
	p := r.problem(t, http.StatusServiceUnavailable, "collateral-unavailable")
	if got := r.hdr.Get("Retry-After"); got != strconv.Itoa(retryAfter) {
		t.Errorf("Retry-After: want %d, got %q", retryAfter, got)
	}
	if p.EAR != "" || len(p.Reasons) != 0 || p.Check != "" {
		t.Errorf("want no EAR and no verdict, got %+v", p)
	}
	if strings.Contains(string(r.body), "contraindicated") {
		t.Errorf("answer names a verdict: %s", r.body)
	}
	u, err := url.Parse(source)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{source, u.Host, u.Hostname(), u.Port(), "http://", "certification", "/vcek/"} {
		if strings.Contains(string(r.body), leak) {
			t.Errorf("answer leaks %q: %s", leak, r.body)
		}
	}
}

// With Intel's PCS down, a genuine quote is not judged: 503 with
// Retry-After, no EAR. During the backoff the service does not ask PCS
// again and answers at once; after it, it asks again.
func TestAttestIntelCollateralOutage(t *testing.T) {
	pcsDown := newOutage(t, "120")
	f := intelOutageFixture(t, pcsDown.url)
	q := quote(t, f.tdx, nil)

	checkUnavailable(t, f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q), pcsDown.url, 120)
	asked := pcsDown.settled()
	if asked == 0 {
		t.Fatal("PCS was not asked")
	}

	f.advance(60 * time.Second)
	start := time.Now()
	r := f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q)
	if d := time.Since(start); d > time.Second {
		t.Errorf("answer during the backoff took %v", d)
	}
	checkUnavailable(t, r, pcsDown.url, 60)
	if n := pcsDown.hits.Load(); n != asked {
		t.Errorf("PCS asked %d more times during the backoff", n-asked)
	}

	f.advance(61 * time.Second)
	checkUnavailable(t, f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q), pcsDown.url, 120)
	if pcsDown.hits.Load() == asked {
		t.Error("PCS not asked again after the backoff")
	}

	// Nothing was appraised, so nothing was logged as an appraisal.
	var list struct {
		Appraisals []api.Appraisal `json:"appraisals"`
	}
	f.do("GET", api.PathAppraisals, f.admin, "", nil).json(t, &list)
	if len(list.Appraisals) != 0 {
		t.Errorf("appraisal log: %+v", list.Appraisals)
	}
}

// A PCS that hangs up: the first request retries as before, later ones
// fail at once without connecting.
func TestAttestIntelCollateralUnreachable(t *testing.T) {
	base, accepted := hangUp(t)
	f := intelOutageFixture(t, base)
	q := quote(t, f.sgx, nil)
	checkUnavailable(t, f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q), base, 5)
	n := accepted.Load()
	if n < 2 {
		t.Fatalf("%d connections, want the client's retries", n)
	}
	start := time.Now()
	checkUnavailable(t, f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, q), base, 5)
	if d := time.Since(start); d > time.Second || accepted.Load() != n {
		t.Errorf("during the backoff: %v, %d new connections", d, accepted.Load()-n)
	}
}

// A session whose evidence cannot be verified for want of collateral
// fails with the same 503; its nonce is not redeemed with a verdict.
func TestSessionCollateralOutage(t *testing.T) {
	pcsDown := newOutage(t, "120")
	f := intelOutageFixture(t, pcsDown.url)
	loc, s := f.newSession("")
	q := quote(t, f.tdx, s.Nonce)
	checkUnavailable(t, f.do("POST", loc, "", api.MediaDCAPQuote, q), pcsDown.url, 120)

	var got api.Session
	r := f.do("GET", loc, "", "", nil)
	r.json(t, &got)
	if got.Status != store.SessionFailed || got.Result != nil || got.Problem == nil ||
		got.Problem.Type != api.ProblemTypeBase+"collateral-unavailable" || got.Problem.EAR != "" {
		t.Fatalf("session after the outage: %s", r.body)
	}
	// The failed session shows the evidence it failed on, as Veraison's do.
	if got.Evidence == nil || got.Evidence.Type != api.MediaDCAPQuote || !bytes.Equal(got.Evidence.Value, q) {
		t.Errorf("session after the outage: evidence %+v, want the quote posted", got.Evidence)
	}
	if strings.Contains(string(r.body), pcsDown.url[len("http://"):]) {
		t.Errorf("session leaks the PCS address: %s", r.body)
	}
	// A new session works as usual once the collateral is back; here it
	// is refused at once (still within the backoff), without asking PCS.
	asked := pcsDown.settled()
	loc2, s2 := f.newSession("")
	checkUnavailable(t, f.do("POST", loc2, "", api.MediaDCAPQuote, quote(t, f.tdx, s2.Nonce)), pcsDown.url, 120)
	if pcsDown.hits.Load() != asked {
		t.Error("PCS asked again during the backoff")
	}
}

// The same for a genuine SEV-SNP report with AMD's KDS down.
func TestAttestAMDCollateralOutage(t *testing.T) {
	kdsDown := newOutage(t, "300")
	f := newFixture(t, fixtureOptions{mutate: func(c *service.Config) {
		tee.Edit[sevsnp.Options](&c.Verify.TEE).Certificates = kds.NewCache(kds.NewClient(kds.ClientConfig{BaseURL: kdsDown.url}), kds.CacheConfig{Now: c.Now})
		tee.Edit[sevsnp.Options](&c.Verify.TEE).Product = "Milan"
	}})
	report, err := os.ReadFile(testvectors.Path("snp-go-sev-guest/attestation.bin"))
	if err != nil {
		t.Fatal(err)
	}
	checkUnavailable(t, f.do("POST", api.PathAttest, "", api.MediaSNPReport, report), kdsDown.url, 300)
	asked := kdsDown.settled()
	if asked == 0 {
		t.Fatal("KDS was not asked")
	}
	f.advance(299 * time.Second)
	checkUnavailable(t, f.do("POST", api.PathAttest, "", api.MediaSNPReport, report), kdsDown.url, 1)
	if kdsDown.hits.Load() != asked {
		t.Error("KDS asked again during the backoff")
	}
	f.advance(time.Second)
	checkUnavailable(t, f.do("POST", api.PathAttest, "", api.MediaSNPReport, report), kdsDown.url, 300)
	if kdsDown.hits.Load() == asked {
		t.Error("KDS not asked again after the backoff")
	}
}

// Collateral a source does not have is a rejection, with an EAR; neither
// the answer nor the EAR names the source.
func TestAttestCollateralMissingHidesSource(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	f := intelOutageFixture(t, srv.URL)
	r := f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, quote(t, f.tdx, nil))
	p := r.problem(t, http.StatusUnprocessableEntity, "policy-rejection")
	if p.Check != "collateral.present" || p.EAR == "" {
		t.Fatalf("problem: %+v", p)
	}
	claims, err := json.Marshal(f.verifyEAR(p.EAR))
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	for what, b := range map[string][]byte{"answer": r.body, "EAR": claims} {
		if strings.Contains(string(b), host) || strings.Contains(string(b), "certification") {
			t.Errorf("%s names the PCS: %s", what, b)
		}
	}
}
