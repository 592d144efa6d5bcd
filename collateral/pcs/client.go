package pcs

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ratls/ratls/internal/neterr"
	"github.com/ratls/ratls/internal/retry"
)

// Defaults of ClientConfig.
const (
	// DefaultBaseURL is Intel's Provisioning Certification Service.
	DefaultBaseURL = "https://api.trustedservices.intel.com"
	// intelRootCACRLURL is the CRL distribution point of the Intel SGX Root
	// CA certificate.
	intelRootCACRLURL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
	// DefaultMaxRetries is how often a request is retried after a 429, a 5xx
	// or a transport error.
	DefaultMaxRetries = 3
	// DefaultUserAgent is sent when ClientConfig.UserAgent is empty.
	DefaultUserAgent = "ratls-pcs"
)

// Limits and timings of Client. Response bodies are limited to MaxJSONSize (TCB Info,
// QE Identity) and maxCRLSize (CRLs), 1 MiB each.
const (
	// maxRetryWait bounds a single wait between attempts. A Retry-After
	// asking for longer makes the client give up rather than retry early.
	maxRetryWait = time.Minute
	// defaultRequestTimeout bounds one attempt when ClientConfig.HTTPClient
	// is nil.
	defaultRequestTimeout = 30 * time.Second
	// initialBackoff is the wait before the first retry without
	// Retry-After; it doubles with each retry.
	initialBackoff = 500 * time.Millisecond
	// bodyExcerptSize bounds the part of an error response quoted in errors.
	bodyExcerptSize = 256
)

// Response headers carrying issuer chains (URL-encoded concatenated PEM,
// signing certificate first).
const (
	headerTCBInfoIssuerChain    = "TCB-Info-Issuer-Chain"
	headerSGXTCBInfoIssuerChain = "SGX-TCB-Info-Issuer-Chain" // API v3 name, accepted as a fallback
	headerEnclaveIDIssuerChain  = "SGX-Enclave-Identity-Issuer-Chain"
	headerPCKCRLIssuerChain     = "SGX-PCK-CRL-Issuer-Chain"
	// headerAPIKey carries ClientConfig.APIKey.
	headerAPIKey = "Ocp-Apim-Subscription-Key"
)

// Headers with which PCS details an error response.
const (
	headerErrorCode = "Error-Code"
	headerErrMsg    = "Error-Message"
)

// ClientConfig configures a Client. The zero value fetches from Intel's PCS.
type ClientConfig struct {
	// BaseURL is the PCS or PCCS base URL, without the /sgx/... path.
	// Default DefaultBaseURL. A PCCS serves the same paths as PCS.
	BaseURL string
	// RootCACRLURL is where the Intel SGX Root CA CRL is fetched. Default:
	// Intel's distribution point,
	// https://certificates.trustedservices.intel.com/IntelSGXRootCA.der,
	// when BaseURL is Intel's (a host under
	// trustedservices.intel.com), otherwise the PCCS endpoint
	// BaseURL+"/sgx/certification/v4/rootcacrl".
	RootCACRLURL string
	// HTTPClient sends the requests. Default: an http.Client with a 30 s
	// timeout per attempt.
	HTTPClient *http.Client
	// APIKey, when set, is sent as Ocp-Apim-Subscription-Key to BaseURL's
	// host only (never to the root CA CRL host, nor across a redirect to
	// another host). The v4 endpoints used here do not need one.
	APIKey string
	// MaxRetries is how often a request is retried after a 429, a 5xx or a
	// transport error. 0 means DefaultMaxRetries; negative means never.
	MaxRetries int
	// UserAgent is the User-Agent header. Default DefaultUserAgent.
	UserAgent string
}

// Client fetches collateral from Intel's PCS or a PCCS. It implements
// Provider and is safe for concurrent use. It returns a new *Collateral on
// every call: put a Cache in front of it.
type Client struct {
	base      string // without trailing slash
	rootCRL   string
	http      *http.Client
	apiKey    string
	apiHost   string // host the API key may be sent to
	retries   int
	userAgent string
	cfgErr    error

	// sleep waits between attempts; replaced in tests.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewClient returns a client for cfg. A malformed URL in cfg is reported by
// every Collateral call.
func NewClient(cfg ClientConfig) *Client {
	c := &Client{
		base:      strings.TrimRight(cfg.BaseURL, "/"),
		rootCRL:   cfg.RootCACRLURL,
		apiKey:    cfg.APIKey,
		retries:   cfg.MaxRetries,
		userAgent: cfg.UserAgent,
		sleep:     retry.Sleep,
	}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if c.retries == 0 {
		c.retries = DefaultMaxRetries
	} else if c.retries < 0 {
		c.retries = 0
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	baseURL, err := checkURL("BaseURL", c.base)
	if err != nil {
		c.cfgErr = err
		return c
	}
	c.apiHost = baseURL.Host
	if c.rootCRL == "" {
		if isIntelHost(baseURL.Hostname()) {
			c.rootCRL = intelRootCACRLURL
		} else {
			c.rootCRL = c.base + "/sgx/certification/v4/rootcacrl"
		}
	}
	if _, err := checkURL("RootCACRLURL", c.rootCRL); err != nil {
		c.cfgErr = err
		return c
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultRequestTimeout}
	}
	if c.apiKey != "" {
		// A copy, so the caller's client is not changed, that drops the key
		// when a redirect leaves BaseURL's host.
		cp := *hc
		next := hc.CheckRedirect
		cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != c.apiHost {
				req.Header.Del(headerAPIKey)
			}
			if next != nil {
				return next(req, via)
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		}
		hc = &cp
	}
	c.http = hc
	return c
}

func checkURL(name, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("pcs: client %s: %w", name, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("pcs: client %s %q: want an http or https URL", name, s)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("pcs: client %s %q: want scheme://host[:port][/path] without query or fragment", name, s)
	}
	return u, nil
}

// isIntelHost reports whether host is one of Intel's PCS hosts, which do not
// serve the PCCS-only root CA CRL endpoint.
func isIntelHost(host string) bool {
	host = strings.ToLower(host)
	return host == "trustedservices.intel.com" || strings.HasSuffix(host, ".trustedservices.intel.com")
}

// BaseURL returns the PCS or PCCS base URL the client uses.
func (c *Client) BaseURL() string { return c.base }

// rootCACRLURL returns where the client fetches the root CA CRL.
func (c *Client) rootCACRLURL() string { return c.rootCRL }

// Request URLs. FMSPC is sent in upper case, as in Intel's documentation.

func (c *Client) tcbInfoURL(req Request) string {
	return fmt.Sprintf("%s/%s/certification/v4/tcb?fmspc=%s&update=%s",
		c.base, req.TEE, strings.ToUpper(hex.EncodeToString(req.FMSPC[:])), req.Update)
}

func (c *Client) qeIdentityURL(req Request) string {
	return fmt.Sprintf("%s/%s/certification/v4/qe/identity?update=%s", c.base, req.TEE, req.Update)
}

// PCK CRLs exist only under /sgx/: TDX platforms have SGX PCK certificates.
func (c *Client) pckCRLURL(req Request) string {
	return fmt.Sprintf("%s/sgx/certification/v4/pckcrl?ca=%s&encoding=der", c.base, req.CA)
}

// normalize checks a request and fills in the default update channel.
func normalize(req Request) (Request, error) {
	if req.Update == "" {
		req.Update = UpdateStandard
	}
	if req.TEE != TEESGX && req.TEE != TEETDX {
		return req, fmt.Errorf("pcs: request TEE: want %q or %q, got %q", TEESGX, TEETDX, req.TEE)
	}
	if req.CA != CAProcessor && req.CA != CAPlatform {
		return req, fmt.Errorf("pcs: request CA: want %q or %q, got %q", CAProcessor, CAPlatform, req.CA)
	}
	if req.Update != UpdateStandard && req.Update != UpdateEarly {
		return req, fmt.Errorf("pcs: request update: want %q or %q, got %q", UpdateStandard, UpdateEarly, req.Update)
	}
	return req, nil
}

// HTTPError reports a response other than 200 OK, after any retries,
// with PCS's Error-Code and Error-Message headers when sent and the start
// of the body (at most 256 bytes). A 429 or 5xx answer matches
// ErrUnavailable.
type HTTPError = neterr.HTTPError[httpSource]

// httpSource makes an HTTPError read and match as this package's.
type httpSource struct{}

func (httpSource) Name() string                { return "pcs" }
func (httpSource) MaxRetryWait() time.Duration { return maxRetryWait }
func (httpSource) Is(status int, target error) bool {
	return target == ErrUnavailable && neterr.Retryable(status)
}

// Collateral fetches the TCB Info, QE Identity, PCK CRL and root CA CRL for
// req, concurrently, with their issuer chains, and parses them strictly. It
// checks that the items answer the request (TCB Info id and FMSPC, QE
// Identity id, CRL issuers) but verifies no signature: that is the
// verifier's job.
//
// An item the service does not have (404, e.g. an unknown FMSPC) yields an
// error that matches *MissingError listing it (by its LoadDir file name) and
// *HTTPError. Other failures name the URL, the status and the start of the
// body; those of the service rather than of its answers (transport errors,
// timeouts, 429 and 5xx after the retries) match ErrUnavailable.
func (c *Client) Collateral(ctx context.Context, req Request) (*Collateral, error) {
	if c.cfgErr != nil {
		return nil, c.cfgErr
	}
	req, err := normalize(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	col := &Collateral{Source: c.source(req.Update)}
	type job struct {
		item string // file name, for MissingError
		run  func(ctx context.Context) error
	}
	jobs := []job{
		{FileTCBInfo, func(ctx context.Context) error { return c.fetchTCBInfo(ctx, req, col) }},
		{FileQEIdentity, func(ctx context.Context) error { return c.fetchQEIdentity(ctx, req, col) }},
		{FilePCKCRL, func(ctx context.Context) error { return c.fetchPCKCRL(ctx, req, col) }},
		{FileRootCACRL, func(ctx context.Context) error { return c.fetchRootCACRL(ctx, col) }},
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			// Each job writes only its own fields of col.
			if errs[i] = j.run(ctx); errs[i] != nil && !isNotFound(errs[i]) {
				cancel() // no point finishing the others
			}
		})
	}
	wg.Wait()

	var missing []string
	var notFound, failed, cancelled []error
	for i, err := range errs {
		switch {
		case err == nil:
		case isNotFound(err):
			missing = append(missing, jobs[i].item)
			notFound = append(notFound, err)
		case errors.Is(err, context.Canceled):
			// Either the caller gave up or another item failed.
			cancelled = append(cancelled, err)
		default:
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return nil, errors.Join(failed...)
	}
	if len(cancelled) > 0 {
		return nil, cancelled[0]
	}
	if len(missing) > 0 {
		me := &MissingError{Source: "pcs " + c.base + " " + req.String(), Items: missing}
		return nil, fmt.Errorf("%w: %w", me, errors.Join(notFound...))
	}
	return col, nil
}

// source is the Collateral.Source of this client's collateral.
func (c *Client) source(u Update) string {
	if u == "" {
		u = UpdateStandard
	}
	return fmt.Sprintf("pcs %s update=%s", c.base, u)
}

func isNotFound(err error) bool {
	var he *HTTPError
	return errors.As(err, &he) && he.StatusCode == http.StatusNotFound
}

func (c *Client) fetchTCBInfo(ctx context.Context, req Request, col *Collateral) error {
	u := c.tcbInfoURL(req)
	body, h, err := c.get(ctx, u, MaxJSONSize)
	if err != nil {
		return err
	}
	col.TCBInfo, col.TCBInfoIssuerChain, err = parseTCBInfoResponse(req, u, body, h)
	return err
}

func (c *Client) fetchQEIdentity(ctx context.Context, req Request, col *Collateral) error {
	u := c.qeIdentityURL(req)
	body, h, err := c.get(ctx, u, MaxJSONSize)
	if err != nil {
		return err
	}
	col.QEIdentity, col.QEIdentityIssuerChain, err = parseQEIdentityResponse(req, u, body, h)
	return err
}

func (c *Client) fetchPCKCRL(ctx context.Context, req Request, col *Collateral) error {
	u := c.pckCRLURL(req)
	body, h, err := c.get(ctx, u, maxCRLSize)
	if err != nil {
		return err
	}
	col.PCKCRL, col.PCKCRLIssuerChain, err = parsePCKCRLResponse(req, u, body, h)
	return err
}

func (c *Client) fetchRootCACRL(ctx context.Context, col *Collateral) error {
	body, _, err := c.get(ctx, c.rootCRL, maxCRLSize)
	if err != nil {
		return err
	}
	col.RootCACRL, err = parseRootCACRLResponse(c.rootCRL, body)
	return err
}

// The parse*Response functions turn a 200 response from URL u into
// collateral items, checking that they answer req. Errors name u.

func parseTCBInfoResponse(req Request, u string, body []byte, h http.Header) (*TCBInfo, []*x509.Certificate, error) {
	ti, err := ParseTCBInfo(body)
	if err != nil {
		return nil, nil, withPrefix("GET "+u, err)
	}
	wantID := TCBInfoIDSGX
	if req.TEE == TEETDX {
		wantID = TCBInfoIDTDX
	}
	// Version 2 TCB Info has no id and is SGX.
	if ti.ID != wantID && !(req.TEE == TEESGX && ti.ID == "" && ti.Version == 2) {
		return nil, nil, fieldErrorf("GET "+u+": tcbInfo.id", "want %q, got %q", wantID, ti.ID)
	}
	if ti.FMSPC != req.FMSPC {
		return nil, nil, fieldErrorf("GET "+u+": tcbInfo.fmspc", "want %X, got %X", req.FMSPC[:], ti.FMSPC[:])
	}
	chain, err := headerChain(u, h, headerTCBInfoIssuerChain, headerSGXTCBInfoIssuerChain)
	if err != nil {
		return nil, nil, err
	}
	return ti, chain, nil
}

func parseQEIdentityResponse(req Request, u string, body []byte, h http.Header) (*EnclaveIdentity, []*x509.Certificate, error) {
	id, err := ParseEnclaveIdentity(body)
	if err != nil {
		return nil, nil, withPrefix("GET "+u, err)
	}
	wantID := EnclaveIDQE
	if req.TEE == TEETDX {
		wantID = EnclaveIDTDQE
	}
	if id.ID != wantID {
		return nil, nil, fieldErrorf("GET "+u+": enclaveIdentity.id", "want %q, got %q", wantID, id.ID)
	}
	chain, err := headerChain(u, h, headerEnclaveIDIssuerChain)
	if err != nil {
		return nil, nil, err
	}
	return id, chain, nil
}

func parsePCKCRLResponse(req Request, u string, body []byte, h http.Header) (*x509.RevocationList, []*x509.Certificate, error) {
	crl, err := ParseCRL(body)
	if err != nil {
		return nil, nil, withPrefix("GET "+u, err)
	}
	wantCN := cnPlatformCA
	if req.CA == CAProcessor {
		wantCN = cnProcessorCA
	}
	if cn := crl.Issuer.CommonName; cn != wantCN {
		return nil, nil, fieldErrorf("GET "+u+": crl.issuer", "want CN %q, got %q", wantCN, cn)
	}
	chain, err := headerChain(u, h, headerPCKCRLIssuerChain)
	if err != nil {
		return nil, nil, err
	}
	return crl, chain, nil
}

func parseRootCACRLResponse(u string, body []byte) (*x509.RevocationList, error) {
	crl, err := ParseCRL(body)
	if err != nil {
		return nil, withPrefix("GET "+u, err)
	}
	if cn := crl.Issuer.CommonName; cn != cnRootCA {
		return nil, fieldErrorf("GET "+u+": crl.issuer", "want CN %q, got %q", cnRootCA, cn)
	}
	return crl, nil
}

// headerChain parses the issuer chain in the first of names present in h.
// A header sent more than once is rejected rather than guessed at.
func headerChain(u string, h http.Header, names ...string) ([]*x509.Certificate, error) {
	for _, name := range names {
		vs := h.Values(name)
		if len(vs) == 0 {
			continue
		}
		where := "GET " + u + ": header " + name
		if len(vs) > 1 {
			return nil, fieldErrorf(where, "want one value, got %d", len(vs))
		}
		chain, err := ParsePEMChain([]byte(vs[0]))
		if err != nil {
			return nil, withPrefix(where, err)
		}
		return chain, nil
	}
	return nil, fieldErrorf("GET "+u, "missing issuer chain header %s", strings.Join(names, " or "))
}

// get fetches u, retrying 429, 5xx and transport errors with exponential
// backoff or the server's Retry-After, and returns a 200 response's body
// (at most limit bytes) and headers.
func (c *Client) get(ctx context.Context, u string, limit int64) ([]byte, http.Header, error) {
	for attempt := 1; ; attempt++ {
		body, h, err := c.getOnce(ctx, u, limit)
		if err == nil {
			return body, h, nil
		}
		if ctx.Err() != nil {
			return nil, nil, timedOut(fmt.Errorf("pcs: GET %s: %w", u, context.Cause(ctx)))
		}
		var he *HTTPError
		isHTTP := errors.As(err, &he)
		if isHTTP {
			he.Attempts = attempt
			if !neterr.Retryable(he.StatusCode) || he.RetryAfter > maxRetryWait {
				return nil, nil, err
			}
		} else if errors.Is(err, ErrFormat) {
			return nil, nil, err // an oversize body is not transient
		}
		if attempt > c.retries {
			return nil, nil, err
		}
		wait := backoff(attempt)
		if isHTTP && he.RetryAfter > 0 {
			wait = he.RetryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, nil, err // would outlive the caller: report the real failure
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, nil, timedOut(fmt.Errorf("pcs: GET %s: %w (while waiting to retry after: %v)", u, serr, err))
		}
	}
}

// timedOut marks err as ErrUnavailable when it is a deadline, not a
// cancellation: the source did not answer in time.
func timedOut(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return retry.Mark(err, ErrUnavailable)
	}
	return err
}

// backoff is the wait before retry n (1-based): initialBackoff doubled per
// retry, capped at maxRetryWait, with jitter in [d/2, d] so that clients
// started together spread out.
func backoff(n int) time.Duration { return retry.Backoff(n, initialBackoff, maxRetryWait) }

func (c *Client) getOnce(ctx context.Context, u string, limit int64) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("pcs: GET %s: %w", u, err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	if c.apiKey != "" && req.URL.Host == c.apiHost {
		req.Header.Set(headerAPIKey, c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, retry.Mark(fmt.Errorf("pcs: GET %s: %w", u, neterr.Cause(err)), ErrUnavailable)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, bodyExcerptSize))
		return nil, nil, &HTTPError{
			URL:          u,
			StatusCode:   resp.StatusCode,
			Status:       resp.Status,
			ErrorCode:    truncate(resp.Header.Get(headerErrorCode), bodyExcerptSize),
			ErrorMessage: truncate(resp.Header.Get(headerErrMsg), bodyExcerptSize),
			Body:         excerpt,
			Attempts:     1,
			RetryAfter:   retry.After(resp.Header.Get("Retry-After"), time.Now()),
		}
	}
	if resp.ContentLength > limit {
		return nil, nil, fieldErrorf("GET "+u, "response of %d bytes exceeds the limit of %d", resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, retry.Mark(fmt.Errorf("pcs: GET %s: reading the body: %w", u, err), ErrUnavailable)
	}
	if int64(len(body)) > limit {
		return nil, nil, fieldErrorf("GET "+u, "response exceeds the limit of %d bytes", limit)
	}
	return body, resp.Header, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
