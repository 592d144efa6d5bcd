package pcs

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/internal/retry"
)

// pcsFixture is one dcap-qvl collateral vector as PCS serves it.
type pcsFixture struct {
	raw                         map[string]string // the dcap-qvl JSON members
	tcbBody, qeBody             []byte
	tcbChain, qeChain, crlChain string // PEM
	pckCRL, rootCRL             []byte // DER
}

func loadPCSFixture(t testing.TB, name string) *pcsFixture {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(readFile(t, "dcap-qvl/"+name), &m); err != nil {
		t.Fatal(err)
	}
	return newPCSFixture(t, m)
}

func newPCSFixture(t testing.TB, m map[string]string) *pcsFixture {
	t.Helper()
	unhex := func(k string) []byte {
		b, err := hex.DecodeString(m[k])
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return &pcsFixture{
		raw: m,
		// PCS bodies: the signed object verbatim, then its signature.
		tcbBody:  []byte(`{"tcbInfo":` + m["tcb_info"] + `,"signature":"` + m["tcb_info_signature"] + `"}`),
		qeBody:   []byte(`{"enclaveIdentity":` + m["qe_identity"] + `,"signature":"` + m["qe_identity_signature"] + `"}`),
		tcbChain: m["tcb_info_issuer_chain"],
		qeChain:  m["qe_identity_issuer_chain"],
		crlChain: m["pck_crl_issuer_chain"],
		pckCRL:   unhex("pck_crl"),
		rootCRL:  unhex("root_ca_crl"),
	}
}

// encodeURIComponent percent-encodes like JavaScript's encodeURIComponent,
// which PCS and PCCS apply to the issuer-chain headers.
func encodeURIComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// pcsEmulator is an HTTP server answering the PCS v4 requests for the TDX
// vector (FMSPC B0C06F000000, Platform CA CRL) and the SGX vector (FMSPC
// 00A067110000, Processor CA CRL), plus the PCCS root CA CRL endpoint. It
// answers only exact paths and query strings; anything else is a 404.
type pcsEmulator struct {
	srv      *httptest.Server
	tdx, sgx *pcsFixture
	encode   func(string) string // header encoding of chains

	mu       sync.Mutex
	hits     map[string]int // by path?query
	requests []*http.Request
	// override, when set, may answer a request itself (returning true).
	override func(w http.ResponseWriter, r *http.Request, hit int) bool
	delay    time.Duration
}

// PCS request targets of the vectors.
const (
	tdxTCBPath     = "/tdx/certification/v4/tcb?fmspc=B0C06F000000&update=standard"
	tdxQEPath      = "/tdx/certification/v4/qe/identity?update=standard"
	platformCRL    = "/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
	rootCRLPath    = "/sgx/certification/v4/rootcacrl"
	sgxTCBEarly    = "/sgx/certification/v4/tcb?fmspc=00A067110000&update=early"
	sgxQEEarly     = "/sgx/certification/v4/qe/identity?update=early"
	processorCRL   = "/sgx/certification/v4/pckcrl?ca=processor&encoding=der"
	tdxFMSPCHex    = "b0c06f000000"
	sgxFMSPCHex    = "00a067110000"
	unknownFMSPCHx = "00906ea10000"
)

func newPCSEmulator(t testing.TB) *pcsEmulator {
	t.Helper()
	e := &pcsEmulator{
		tdx:    loadPCSFixture(t, "tdx_quote_collateral.json"),
		sgx:    loadPCSFixture(t, "sgx_quote_collateral.json"),
		encode: encodeURIComponent,
		hits:   map[string]int{},
	}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *pcsEmulator) serve(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Path
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	e.mu.Lock()
	e.hits[target]++
	hit := e.hits[target]
	e.requests = append(e.requests, r)
	override, delay := e.override, e.delay
	e.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	if override != nil && override(w, r, hit) {
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method", http.StatusMethodNotAllowed)
		return
	}
	send := func(body []byte, header, chain string) {
		if header != "" {
			w.Header().Set(header, e.encode(chain))
		}
		w.Write(body)
	}
	for _, u := range []string{"standard", "early"} {
		switch target {
		case "/tdx/certification/v4/tcb?fmspc=B0C06F000000&update=" + u:
			send(e.tdx.tcbBody, "TCB-Info-Issuer-Chain", e.tdx.tcbChain)
			return
		case "/sgx/certification/v4/tcb?fmspc=00A067110000&update=" + u:
			send(e.sgx.tcbBody, "TCB-Info-Issuer-Chain", e.sgx.tcbChain)
			return
		case "/tdx/certification/v4/qe/identity?update=" + u:
			send(e.tdx.qeBody, "SGX-Enclave-Identity-Issuer-Chain", e.tdx.qeChain)
			return
		case "/sgx/certification/v4/qe/identity?update=" + u:
			send(e.sgx.qeBody, "SGX-Enclave-Identity-Issuer-Chain", e.sgx.qeChain)
			return
		}
	}
	switch target {
	case platformCRL:
		send(e.tdx.pckCRL, "SGX-PCK-CRL-Issuer-Chain", e.tdx.crlChain)
	case processorCRL:
		send(e.sgx.pckCRL, "SGX-PCK-CRL-Issuer-Chain", e.sgx.crlChain)
	case rootCRLPath:
		send(e.tdx.rootCRL, "", "")
	default:
		w.WriteHeader(http.StatusNotFound) // as PCS does for an unknown FMSPC
	}
}

func (e *pcsEmulator) hitCount(target string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits[target]
}

func (e *pcsEmulator) targets() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for k := range e.hits {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (e *pcsEmulator) setOverride(f func(w http.ResponseWriter, r *http.Request, hit int) bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.override = f
}

func (e *pcsEmulator) reqs() []*http.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.requests)
}

func (e *pcsEmulator) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.requests)
}

// sleeps records the waits of a client instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func (s *sleeps) list() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.d)
}

func testClient(e *pcsEmulator, cfg ClientConfig) (*Client, *sleeps) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = e.srv.URL
	}
	c := NewClient(cfg)
	s := &sleeps{}
	c.sleep = s.sleep
	return c, s
}

func fmspcOf(t testing.TB, s string) [6]byte {
	t.Helper()
	var f [6]byte
	if n, err := hex.Decode(f[:], []byte(s)); err != nil || n != 6 {
		t.Fatalf("fmspc %q: %v", s, err)
	}
	return f
}

func tdxRequest(t testing.TB) Request {
	return Request{TEE: TEETDX, FMSPC: fmspcOf(t, tdxFMSPCHex), CA: CAPlatform, Update: UpdateStandard}
}

// checkFixture compares fetched collateral with the vector's bytes.
func checkFixture(t *testing.T, c *Collateral, f *pcsFixture) {
	t.Helper()
	if got := c.Missing(); len(got) != 0 {
		t.Fatalf("missing %v", got)
	}
	if string(c.TCBInfo.Raw) != f.raw["tcb_info"] || hex.EncodeToString(c.TCBInfo.Signature) != strings.ToLower(f.raw["tcb_info_signature"]) {
		t.Error("TCB Info bytes differ from the vector")
	}
	if string(c.QEIdentity.Raw) != f.raw["qe_identity"] || hex.EncodeToString(c.QEIdentity.Signature) != strings.ToLower(f.raw["qe_identity_signature"]) {
		t.Error("QE Identity bytes differ from the vector")
	}
	if hex.EncodeToString(c.PCKCRL.Raw) != f.raw["pck_crl"] || hex.EncodeToString(c.RootCACRL.Raw) != f.raw["root_ca_crl"] {
		t.Error("CRL bytes differ from the vector")
	}
	for _, ch := range []struct {
		name string
		got  []byte
		want string
	}{
		{"tcb", EncodePEMChain(c.TCBInfoIssuerChain), f.tcbChain},
		{"qe", EncodePEMChain(c.QEIdentityIssuerChain), f.qeChain},
		{"crl", EncodePEMChain(c.PCKCRLIssuerChain), f.crlChain},
	} {
		if strings.TrimSpace(string(ch.got)) != strings.TrimSpace(ch.want) {
			t.Errorf("%s issuer chain differs from the vector", ch.name)
		}
	}
	// The signed bytes survived the trip: the signatures verify.
	if err := c.TCBInfo.CheckSignature(c.TCBInfoIssuerChain[0]); err != nil {
		t.Error(err)
	}
	if err := c.QEIdentity.CheckSignature(c.QEIdentityIssuerChain[0]); err != nil {
		t.Error(err)
	}
}

func TestClientTDX(t *testing.T) {
	e := newPCSEmulator(t)
	c, _ := testClient(e, ClientConfig{UserAgent: "test-agent/1"})
	col, err := c.Collateral(context.Background(), tdxRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	checkFixture(t, col, e.tdx)
	if want := "pcs " + e.srv.URL + " update=standard"; col.Source != want {
		t.Errorf("Source %q, want %q", col.Source, want)
	}
	if col.TCBInfo.ID != "TDX" || col.QEIdentity.ID != "TD_QE" || col.PCKCRL.Issuer.CommonName != "Intel SGX PCK Platform CA" {
		t.Errorf("ids %q %q, CRL issuer %q", col.TCBInfo.ID, col.QEIdentity.ID, col.PCKCRL.Issuer.CommonName)
	}
	want := []string{platformCRL, rootCRLPath, tdxQEPath, tdxTCBPath}
	slices.Sort(want)
	if got := e.targets(); !slices.Equal(got, want) {
		t.Errorf("requests\n got %q\nwant %q", got, want)
	}
	for _, r := range e.reqs() {
		if ua := r.Header.Get("User-Agent"); ua != "test-agent/1" {
			t.Errorf("%s: User-Agent %q", r.URL, ua)
		}
		if k := r.Header.Get("Ocp-Apim-Subscription-Key"); k != "" {
			t.Errorf("%s: API key %q sent though none is configured", r.URL, k)
		}
	}
}

func TestClientSGXEarlyProcessor(t *testing.T) {
	e := newPCSEmulator(t)
	c, _ := testClient(e, ClientConfig{BaseURL: e.srv.URL + "/"}) // trailing slash is dropped
	req := Request{TEE: TEESGX, FMSPC: fmspcOf(t, sgxFMSPCHex), CA: CAProcessor, Update: UpdateEarly}
	col, err := c.Collateral(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	checkFixture(t, col, e.sgx)
	if col.Source != "pcs "+e.srv.URL+" update=early" {
		t.Errorf("Source %q", col.Source)
	}
	want := []string{processorCRL, rootCRLPath, sgxQEEarly, sgxTCBEarly}
	slices.Sort(want)
	if got := e.targets(); !slices.Equal(got, want) {
		t.Errorf("requests\n got %q\nwant %q", got, want)
	}
}

func TestClientDefaults(t *testing.T) {
	c := NewClient(ClientConfig{})
	if c.BaseURL() != "https://api.trustedservices.intel.com" ||
		c.rootCACRLURL() != "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der" {
		t.Errorf("defaults %q %q", c.BaseURL(), c.rootCACRLURL())
	}
	if c.retries != 3 || c.userAgent == "" || c.http == nil {
		t.Errorf("retries %d agent %q", c.retries, c.userAgent)
	}
	c = NewClient(ClientConfig{BaseURL: "https://pccs.example:8081/"})
	if c.rootCACRLURL() != "https://pccs.example:8081/sgx/certification/v4/rootcacrl" {
		t.Errorf("PCCS root CRL URL %q", c.rootCACRLURL())
	}
	if got := c.tcbInfoURL(tdxRequest(t)); got != "https://pccs.example:8081"+tdxTCBPath {
		t.Errorf("TCB Info URL %q", got)
	}
	if NewClient(ClientConfig{MaxRetries: -1}).retries != 0 {
		t.Error("negative MaxRetries must disable retries")
	}

	for _, cfg := range []ClientConfig{
		{BaseURL: "ftp://pcs.example"},
		{BaseURL: "https://"},
		{BaseURL: "https://pcs.example/?x=1"},
		{BaseURL: "https://pcs.example", RootCACRLURL: "file:///etc/crl"},
		{BaseURL: "%zz"},
	} {
		_, err := NewClient(cfg).Collateral(context.Background(), tdxRequest(t))
		if err == nil || !strings.Contains(err.Error(), "pcs: client") {
			t.Errorf("%+v: %v, want a configuration error", cfg, err)
		}
	}

	c = NewClient(ClientConfig{BaseURL: "http://127.0.0.1:1"})
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{TEE: "sev", CA: CAPlatform}, `request TEE: want "sgx" or "tdx", got "sev"`},
		{Request{TEE: TEETDX}, `request CA: want "processor" or "platform", got ""`},
		{Request{TEE: TEETDX, CA: CAPlatform, Update: "late"}, `request update: want "standard" or "early", got "late"`},
	} {
		if _, err := c.Collateral(context.Background(), tc.req); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.req, err, tc.want)
		}
	}
}

func TestClientAPIKey(t *testing.T) {
	e := newPCSEmulator(t)
	var (
		keysMu              sync.Mutex
		rootKey, redirected []string
	)
	snapshot := func(s *[]string) []string {
		keysMu.Lock()
		defer keysMu.Unlock()
		return slices.Clone(*s)
	}
	root := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keysMu.Lock()
		defer keysMu.Unlock()
		rootKey = append(rootKey, r.Header.Get("Ocp-Apim-Subscription-Key"))
		w.Write(e.tdx.rootCRL)
	}))
	defer root.Close()
	c, _ := testClient(e, ClientConfig{APIKey: "k123", RootCACRLURL: root.URL + "/IntelSGXRootCA.der"})
	if _, err := c.Collateral(context.Background(), tdxRequest(t)); err != nil {
		t.Fatal(err)
	}
	if len(e.reqs()) != 3 {
		t.Fatalf("%d requests to the PCS, want 3 (the root CRL is elsewhere)", len(e.reqs()))
	}
	for _, r := range e.reqs() {
		if k := r.Header.Get("Ocp-Apim-Subscription-Key"); k != "k123" {
			t.Errorf("%s: API key %q, want k123", r.URL, k)
		}
	}
	if got := snapshot(&rootKey); !slices.Equal(got, []string{""}) {
		t.Errorf("root CRL host got API key %q, want none", got)
	}

	// A redirect to another host loses the key.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keysMu.Lock()
		redirected = append(redirected, r.Header.Get("Ocp-Apim-Subscription-Key"))
		keysMu.Unlock()
		e.serve(w, r)
	}))
	defer other.Close()
	e.setOverride(func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if strings.HasPrefix(r.URL.Path, "/tdx/") && "http://"+r.Host == e.srv.URL {
			http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
			return true
		}
		return false
	})
	if _, err := c.Collateral(context.Background(), tdxRequest(t)); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(&redirected); !slices.Equal(got, []string{"", ""}) {
		t.Errorf("redirect target got API keys %q, want none", got)
	}
}

func TestClientHeaderVariants(t *testing.T) {
	for _, tc := range []struct {
		name   string
		encode func(string) string
	}{
		{"encodeURIComponent", encodeURIComponent},
		{"QueryEscape", url.QueryEscape}, // spaces as '+'
		{"PathEscape", url.PathEscape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPCSEmulator(t)
			e.encode = tc.encode
			c, _ := testClient(e, ClientConfig{})
			col, err := c.Collateral(context.Background(), tdxRequest(t))
			if err != nil {
				t.Fatal(err)
			}
			checkFixture(t, col, e.tdx)
		})
	}

	// The API v3 header name is a fallback for TCB Info.
	e := newPCSEmulator(t)
	e.setOverride(func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.URL.Path == "/tdx/certification/v4/tcb" {
			w.Header().Set("SGX-TCB-Info-Issuer-Chain", encodeURIComponent(e.tdx.tcbChain))
			w.Write(e.tdx.tcbBody)
			return true
		}
		return false
	})
	c, _ := testClient(e, ClientConfig{})
	col, err := c.Collateral(context.Background(), tdxRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	checkFixture(t, col, e.tdx)
}

// respond answers one target with a fixed response, others normally.
func respond(target string, status int, header map[string]string, body []byte) func(w http.ResponseWriter, r *http.Request, _ int) bool {
	return func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.URL.RequestURI() != target {
			return false
		}
		for k, v := range header {
			w.Header().Add(k, v)
		}
		w.WriteHeader(status)
		w.Write(body)
		return true
	}
}

func TestClientBadResponses(t *testing.T) {
	f := loadPCSFixture(t, "tdx_quote_collateral.json")
	sgx := loadPCSFixture(t, "sgx_quote_collateral.json")
	chain := encodeURIComponent(f.tcbChain)
	tcbHdr := map[string]string{"TCB-Info-Issuer-Chain": chain}
	for _, tc := range []struct {
		name     string
		override func(w http.ResponseWriter, r *http.Request, _ int) bool
		want     string
	}{
		{"TCB Info truncated", respond(tdxTCBPath, 200, tcbHdr, f.tcbBody[:len(f.tcbBody)/2]), "GET " + "%s" + tdxTCBPath},
		{"TCB Info truncated by one byte", respond(tdxTCBPath, 200, tcbHdr, f.tcbBody[:len(f.tcbBody)-1]), tdxTCBPath},
		{"TCB Info empty", respond(tdxTCBPath, 200, tcbHdr, nil), tdxTCBPath},
		{"TCB Info not JSON", respond(tdxTCBPath, 200, tcbHdr, []byte("<html>maintenance</html>")), tdxTCBPath},
		{"SGX TCB Info for TDX", respond(tdxTCBPath, 200, tcbHdr, sgx.tcbBody), `tcbInfo.id: want "TDX", got "SGX"`},
		{"QE Identity for SGX", respond(tdxQEPath, 200, map[string]string{"SGX-Enclave-Identity-Issuer-Chain": chain}, sgx.qeBody), `enclaveIdentity.id: want "TD_QE", got "QE"`},
		{"TCB Info without chain", respond(tdxTCBPath, 200, nil, f.tcbBody), "missing issuer chain header TCB-Info-Issuer-Chain or SGX-TCB-Info-Issuer-Chain"},
		{"chain twice", func(w http.ResponseWriter, r *http.Request, _ int) bool {
			if r.URL.RequestURI() != tdxTCBPath {
				return false
			}
			w.Header().Add("TCB-Info-Issuer-Chain", chain)
			w.Header().Add("TCB-Info-Issuer-Chain", chain)
			w.Write(f.tcbBody)
			return true
		}, "header TCB-Info-Issuer-Chain: want one value, got 2"},
		{"chain garbage", respond(tdxTCBPath, 200, map[string]string{"TCB-Info-Issuer-Chain": "not%20a%20chain"}, f.tcbBody), "header TCB-Info-Issuer-Chain: chain[0]"},
		{"chain bad escape", respond(tdxTCBPath, 200, map[string]string{"TCB-Info-Issuer-Chain": chain[:len(chain)-1] + "%Z"}, f.tcbBody), "invalid percent-encoding"},
		{"PCK CRL truncated", respond(platformCRL, 200, map[string]string{"SGX-PCK-CRL-Issuer-Chain": chain}, f.pckCRL[:len(f.pckCRL)-10]), platformCRL + ": crl"},
		{"PCK CRL trailing data", respond(platformCRL, 200, map[string]string{"SGX-PCK-CRL-Issuer-Chain": chain}, append(slices.Clone(f.pckCRL), 0)), "trailing data"},
		{"PCK CRL of the other CA", respond(platformCRL, 200, map[string]string{"SGX-PCK-CRL-Issuer-Chain": chain}, sgx.pckCRL), `crl.issuer: want CN "Intel SGX PCK Platform CA", got "Intel SGX PCK Processor CA"`},
		{"PCK CRL without chain", respond(platformCRL, 200, nil, f.pckCRL), "missing issuer chain header SGX-PCK-CRL-Issuer-Chain"},
		{"root CRL is a PCK CRL", respond(rootCRLPath, 200, nil, f.pckCRL), `crl.issuer: want CN "Intel SGX Root CA", got "Intel SGX PCK Platform CA"`},
		{"root CRL empty", respond(rootCRLPath, 200, nil, nil), rootCRLPath + ": crl: empty"},
		{"oversize body", respond(tdxTCBPath, 200, tcbHdr, make([]byte, MaxJSONSize+1)), "exceeds the limit of 1048576"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPCSEmulator(t)
			e.setOverride(tc.override)
			c, s := testClient(e, ClientConfig{})
			_, err := c.Collateral(context.Background(), tdxRequest(t))
			want := tc.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, e.srv.URL)
			}
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want ErrFormat containing %q", err, want)
			}
			if len(s.list()) != 0 {
				t.Errorf("retried a malformed response (waits %v)", s.list())
			}
		})
	}
}

func TestClientTruncatedTransfer(t *testing.T) {
	e := newPCSEmulator(t)
	e.setOverride(func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.URL.RequestURI() != tdxTCBPath {
			return false
		}
		// Announce the whole body, send half, then drop the connection.
		w.Header().Set("Content-Length", fmt.Sprint(len(e.tdx.tcbBody)))
		w.Header().Set("TCB-Info-Issuer-Chain", encodeURIComponent(e.tdx.tcbChain))
		w.Write(e.tdx.tcbBody[:100])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	c, s := testClient(e, ClientConfig{MaxRetries: 2})
	_, err := c.Collateral(context.Background(), tdxRequest(t))
	if err == nil || !strings.Contains(err.Error(), "reading the body") || !strings.Contains(err.Error(), tdxTCBPath) {
		t.Fatalf("error %v, want a read error naming the URL", err)
	}
	if n := e.hitCount(tdxTCBPath); n != 3 {
		t.Errorf("%d attempts, want 3 (transport errors are retried)", n)
	}
	if len(s.list()) != 2 {
		t.Errorf("waits %v, want 2", s.list())
	}
}

func TestClientRetries(t *testing.T) {
	t.Run("429 with Retry-After seconds", func(t *testing.T) {
		e := newPCSEmulator(t)
		e.setOverride(func(w http.ResponseWriter, r *http.Request, hit int) bool {
			if r.URL.RequestURI() == tdxTCBPath && hit == 1 {
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			}
			return false
		})
		c, s := testClient(e, ClientConfig{})
		col, err := c.Collateral(context.Background(), tdxRequest(t))
		if err != nil {
			t.Fatal(err)
		}
		checkFixture(t, col, e.tdx)
		if got := s.list(); !slices.Equal(got, []time.Duration{7 * time.Second}) {
			t.Errorf("waits %v, want [7s]", got)
		}
		if n := e.hitCount(tdxTCBPath); n != 2 {
			t.Errorf("%d TCB Info requests, want 2", n)
		}
	})
	t.Run("429 with Retry-After date", func(t *testing.T) {
		e := newPCSEmulator(t)
		e.setOverride(func(w http.ResponseWriter, r *http.Request, hit int) bool {
			if r.URL.RequestURI() == tdxQEPath && hit == 1 {
				w.Header().Set("Retry-After", time.Now().Add(20*time.Second).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			}
			return false
		})
		c, s := testClient(e, ClientConfig{})
		if _, err := c.Collateral(context.Background(), tdxRequest(t)); err != nil {
			t.Fatal(err)
		}
		got := s.list()
		if len(got) != 1 || got[0] < 15*time.Second || got[0] > 20*time.Second {
			t.Errorf("waits %v, want one of about 20s", got)
		}
	})
	t.Run("503 backoff", func(t *testing.T) {
		e := newPCSEmulator(t)
		e.setOverride(func(w http.ResponseWriter, r *http.Request, hit int) bool {
			if r.URL.RequestURI() == platformCRL && hit <= 3 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		c, s := testClient(e, ClientConfig{})
		if _, err := c.Collateral(context.Background(), tdxRequest(t)); err != nil {
			t.Fatal(err)
		}
		got := s.list()
		if len(got) != 3 {
			t.Fatalf("waits %v, want 3", got)
		}
		// 500 ms doubling per retry, jittered down to at most half.
		for i, d := range got {
			hi := 500 * time.Millisecond << i
			if d < hi/2 || d > hi {
				t.Errorf("wait %d = %v, want within [%v, %v]", i, d, hi/2, hi)
			}
		}
	})
	t.Run("give up after MaxRetries", func(t *testing.T) {
		e := newPCSEmulator(t)
		e.setOverride(respond(tdxTCBPath, http.StatusBadGateway, map[string]string{"Error-Code": "Upstream"}, []byte("upstream\x00 down")))
		c, s := testClient(e, ClientConfig{MaxRetries: 2})
		_, err := c.Collateral(context.Background(), tdxRequest(t))
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != 502 || he.Attempts != 3 || he.URL != e.srv.URL+tdxTCBPath {
			t.Fatalf("error %v (%+v), want a 502 HTTPError after 3 attempts", err, he)
		}
		for _, want := range []string{e.srv.URL + tdxTCBPath, "502 Bad Gateway", `"upstream\x00 down"`, `Error-Code "Upstream"`, "after 3 attempts"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if n := e.hitCount(tdxTCBPath); n != 3 || len(s.list()) != 2 {
			t.Errorf("%d attempts, %d waits; want 3 and 2", n, len(s.list()))
		}
		if errors.As(err, new(*MissingError)) {
			t.Error("a 502 must not look like missing collateral")
		}
	})
	t.Run("no retries", func(t *testing.T) {
		e := newPCSEmulator(t)
		e.setOverride(respond(tdxTCBPath, http.StatusServiceUnavailable, nil, nil))
		c, s := testClient(e, ClientConfig{MaxRetries: -1})
		if _, err := c.Collateral(context.Background(), tdxRequest(t)); err == nil {
			t.Fatal("no error")
		}
		if n := e.hitCount(tdxTCBPath); n != 1 || len(s.list()) != 0 {
			t.Errorf("%d attempts, waits %v; want 1 and none", n, s.list())
		}
	})
	t.Run("Retry-After too long", func(t *testing.T) {
		e := newPCSEmulator(t)
		e.setOverride(respond(tdxTCBPath, http.StatusTooManyRequests, map[string]string{"Retry-After": "3600"}, nil))
		c, s := testClient(e, ClientConfig{})
		_, err := c.Collateral(context.Background(), tdxRequest(t))
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != 429 || he.RetryAfter != time.Hour || !strings.Contains(err.Error(), "exceeds the 1m0s limit") {
			t.Fatalf("error %v, want a 429 HTTPError naming the Retry-After limit", err)
		}
		if n := e.hitCount(tdxTCBPath); n != 1 || len(s.list()) != 0 {
			t.Errorf("%d attempts, waits %v; want 1 and none", n, s.list())
		}
	})
	t.Run("Retry-After beyond the deadline", func(t *testing.T) {
		e := newPCSEmulator(t)
		e.setOverride(respond(tdxTCBPath, http.StatusTooManyRequests, map[string]string{"Retry-After": "30"}, nil))
		c, s := testClient(e, ClientConfig{})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.Collateral(ctx, tdxRequest(t))
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != 429 {
			t.Fatalf("error %v, want the 429", err)
		}
		if len(s.list()) != 0 {
			t.Errorf("waited %v past the deadline", s.list())
		}
	})
	t.Run("400 not retried", func(t *testing.T) {
		e := newPCSEmulator(t)
		e.setOverride(respond(tdxTCBPath, http.StatusBadRequest, map[string]string{"Error-Code": "InvalidParameter", "Error-Message": "fmspc"}, []byte(strings.Repeat("x", 1000))))
		c, s := testClient(e, ClientConfig{})
		_, err := c.Collateral(context.Background(), tdxRequest(t))
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != 400 || len(he.Body) != 256 || he.ErrorCode != "InvalidParameter" || he.ErrorMessage != "fmspc" {
			t.Fatalf("error %v, want a 400 HTTPError with a 256-byte excerpt", err)
		}
		if len(s.list()) != 0 {
			t.Errorf("retried a 400")
		}
	})
}

func TestClientNotFound(t *testing.T) {
	e := newPCSEmulator(t)
	c, s := testClient(e, ClientConfig{})
	req := tdxRequest(t)
	req.FMSPC = fmspcOf(t, unknownFMSPCHx)
	_, err := c.Collateral(context.Background(), req)
	var me *MissingError
	if !errors.As(err, &me) || !slices.Equal(me.Items, []string{"tcb_info.json"}) {
		t.Fatalf("error %v, want a MissingError for tcb_info.json", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("does not match fs.ErrNotExist")
	}
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 404 || he.URL != e.srv.URL+"/tdx/certification/v4/tcb?fmspc=00906EA10000&update=standard" {
		t.Errorf("HTTPError %+v, want the 404 of the TCB Info URL", he)
	}
	if !strings.Contains(me.Source, "fmspc=00906ea10000") || !strings.Contains(err.Error(), "missing tcb_info.json") {
		t.Errorf("error %q does not name the FMSPC and the item", err)
	}
	if len(s.list()) != 0 {
		t.Error("retried a 404")
	}

	// Several missing items are listed together.
	e.setOverride(func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if strings.Contains(r.URL.Path, "crl") {
			w.WriteHeader(http.StatusNotFound)
			return true
		}
		return false
	})
	_, err = c.Collateral(context.Background(), tdxRequest(t))
	if !errors.As(err, &me) || !slices.Equal(me.Items, []string{"pck_crl.der", "root_ca_crl.der"}) {
		t.Fatalf("error %v, want both CRLs missing", err)
	}

	// A hard failure wins over a missing item.
	e.setOverride(func(w http.ResponseWriter, r *http.Request, _ int) bool {
		switch r.URL.RequestURI() {
		case platformCRL:
			w.WriteHeader(http.StatusNotFound)
			return true
		case rootCRLPath:
			w.WriteHeader(http.StatusForbidden)
			return true
		}
		return false
	})
	_, err = c.Collateral(context.Background(), tdxRequest(t))
	if !errors.As(err, &he) || he.StatusCode != 403 || errors.As(err, &me) {
		t.Fatalf("error %v, want the 403 only", err)
	}
}

func TestClientContext(t *testing.T) {
	e := newPCSEmulator(t)
	release := make(chan struct{})
	e.setOverride(func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.URL.RequestURI() == tdxTCBPath {
			<-release
		}
		return false
	})
	defer close(release)
	c := NewClient(ClientConfig{BaseURL: e.srv.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Collateral(ctx, tdxRequest(t))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), tdxTCBPath) {
		t.Fatalf("error %v, want a deadline error naming the URL", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}

	// A cancelled wait between retries ends the call.
	e2 := newPCSEmulator(t)
	e2.setOverride(respond(tdxTCBPath, http.StatusServiceUnavailable, nil, nil))
	c2 := NewClient(ClientConfig{BaseURL: e2.srv.URL})
	ctx2, cancel2 := context.WithCancel(context.Background())
	c2.sleep = func(ctx context.Context, d time.Duration) error {
		cancel2()
		return retry.Sleep(ctx, d)
	}
	if _, err := c2.Collateral(ctx2, tdxRequest(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {" 5 ", 5 * time.Second}, {"-1", 0}, {"1.5", 0}, {"soon", 0},
		{"99999999999", 0}, // out of range
		{"Tue, 01 Jul 2025 12:00:30 GMT", 30 * time.Second},
		{"Tue, 01 Jul 2025 11:00:00 GMT", 0}, // in the past
	} {
		if got := retry.After(tc.in, now); got != tc.want {
			t.Errorf("retry.After(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// Failures of the source itself match ErrUnavailable; answers that say
// something about the request (404, 400, a malformed body) do not.
func TestClientUnavailable(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	for name, tc := range map[string]struct {
		override func(w http.ResponseWriter, r *http.Request, _ int) bool
		base     string
		want     bool
	}{
		"503":                {override: respond(tdxTCBPath, http.StatusServiceUnavailable, nil, nil), want: true},
		"429":                {override: respond(tdxTCBPath, http.StatusTooManyRequests, nil, nil), want: true},
		"500":                {override: respond(tdxTCBPath, http.StatusInternalServerError, nil, nil), want: true},
		"connection refused": {base: dead.URL, want: true},
		"404":                {override: respond(tdxTCBPath, http.StatusNotFound, nil, nil)},
		"400":                {override: respond(tdxTCBPath, http.StatusBadRequest, nil, nil)},
		"403":                {override: respond(tdxTCBPath, http.StatusForbidden, nil, nil)},
		"malformed":          {override: respond(tdxTCBPath, http.StatusOK, nil, []byte("{"))},
	} {
		t.Run(name, func(t *testing.T) {
			e := newPCSEmulator(t)
			e.setOverride(tc.override)
			c, _ := testClient(e, ClientConfig{BaseURL: tc.base})
			_, err := c.Collateral(context.Background(), tdxRequest(t))
			if err == nil || errors.Is(err, ErrUnavailable) != tc.want {
				t.Errorf("error %v: matches ErrUnavailable %v, want %v", err, errors.Is(err, ErrUnavailable), tc.want)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		e := newPCSEmulator(t)
		release := make(chan struct{})
		defer close(release)
		e.setOverride(func(w http.ResponseWriter, r *http.Request, _ int) bool { <-release; return false })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := NewClient(ClientConfig{BaseURL: e.srv.URL}).Collateral(ctx, tdxRequest(t)); !errors.Is(err, ErrUnavailable) {
			t.Errorf("error %v, want ErrUnavailable", err)
		}
	})
}
