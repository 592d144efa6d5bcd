package kds

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
	"time"

	"github.com/ratls/ratls/internal/neterr"
	"github.com/ratls/ratls/internal/retry"

	"github.com/ratls/ratls/evidence/snp"
)

// Defaults of ClientConfig.
const (
	// DefaultBaseURL is AMD's Key Distribution Service.
	DefaultBaseURL = "https://kdsintf.amd.com"
	// DefaultMaxRetries is how often a request is retried after a 429, a 5xx
	// or a transport error.
	DefaultMaxRetries = 4
	// DefaultUserAgent is sent when ClientConfig.UserAgent is empty.
	DefaultUserAgent = "ratls-kds"
)

// Retry timing of Client.
const (
	// maxRetryWait bounds a single wait between attempts. A Retry-After
	// asking for longer makes the client give up rather than retry early.
	maxRetryWait = 2 * time.Minute
	// initialBackoff is the wait before the first retry without
	// Retry-After; it doubles with each retry. KDS rate-limits per client
	// address, so the start is generous.
	initialBackoff = 2 * time.Second
	// defaultRequestTimeout bounds one attempt when ClientConfig.HTTPClient
	// is nil.
	defaultRequestTimeout = 30 * time.Second
	// bodyExcerptSize bounds the part of an error response quoted in errors.
	bodyExcerptSize = 256
)

// ClientConfig configures a Client. The zero value fetches from AMD's KDS.
type ClientConfig struct {
	// BaseURL is the KDS base URL, without the /vcek/v1 path. Default
	// DefaultBaseURL.
	BaseURL string
	// HTTPClient sends the requests. Default: an http.Client with a 30 s
	// timeout per attempt.
	HTTPClient *http.Client
	// MaxRetries is how often a request is retried after a 429, a 5xx or a
	// transport error. 0 means DefaultMaxRetries; negative means never.
	MaxRetries int
	// UserAgent is the User-Agent header. Default DefaultUserAgent.
	UserAgent string
}

// Fetcher fetches the parts of Certificates separately, so that a Cache can
// keep certificate chains and CRLs per product and signing key and VCEKs
// per chip and TCB. Client implements it.
type Fetcher interface {
	Provider
	// VCEK fetches the VCEK of req's chip at req's TCB.
	VCEK(ctx context.Context, req Request) (*x509.Certificate, error)
	// CertChain fetches the intermediate (ASK for snp.SigningKeyVCEK, ASVK
	// for snp.SigningKeyVLEK) and the ARK of product.
	CertChain(ctx context.Context, product string, key snp.SigningKey) (intermediate, ark *x509.Certificate, err error)
	// CRL fetches the ARK's CRL of product for key's chain: the VCEK CRL
	// or the VLEK CRL (CRLKindFor).
	CRL(ctx context.Context, product string, key snp.SigningKey) (*x509.RevocationList, error)
	// Source names where the parts come from (Certificates.Source).
	Source() string
}

// Client fetches VCEK certificates, and the certificate chains and CRLs of
// VCEKs and VLEKs, from AMD's KDS. It implements Fetcher and Provider and
// is safe for concurrent use. It fetches on every call: put a Cache in
// front of it, as KDS rate-limits aggressively.
type Client struct {
	base      string // without trailing slash
	http      *http.Client
	retries   int
	userAgent string
	cfgErr    error

	// sleep waits between attempts; replaced in tests.
	sleep func(ctx context.Context, d time.Duration) error
}

var _ Fetcher = (*Client)(nil)

// NewClient returns a client for cfg. A malformed BaseURL is reported by
// every call.
func NewClient(cfg ClientConfig) *Client {
	c := &Client{
		base:      strings.TrimRight(cfg.BaseURL, "/"),
		http:      cfg.HTTPClient,
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
	if c.http == nil {
		c.http = &http.Client{Timeout: defaultRequestTimeout}
	}
	u, err := url.Parse(c.base)
	switch {
	case err != nil:
		c.cfgErr = fmt.Errorf("kds: client BaseURL: %w", err)
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "", u.RawQuery != "", u.Fragment != "":
		c.cfgErr = fmt.Errorf("kds: client BaseURL %q: want scheme://host[:port][/path] (http or https) without query or fragment", c.base)
	}
	return c
}

// BaseURL returns the KDS base URL the client uses.
func (c *Client) BaseURL() string { return c.base }

// Source is the Certificates.Source of this client's certificates.
func (c *Client) Source() string { return "kds " + c.base }

// Request URLs. The hardware ID is lower-case hex, as AMD documents it.

func (c *Client) vcekURL(req Request) string {
	return fmt.Sprintf("%s/vcek/v1/%s/%s?blSPL=%d&teeSPL=%d&snpSPL=%d&ucodeSPL=%d",
		c.base, req.Product, hex.EncodeToString(req.ChipID[:]),
		req.TCB.BootloaderSPL(), req.TCB.TEESPL(), req.TCB.SNPSPL(), req.TCB.MicrocodeSPL())
}

// The chain and the CRL of a VLEK are under /vlek/v1, those of a VCEK
// under /vcek/v1 (AMD's KDS interface specification).

func (c *Client) certChainURL(product string, key snp.SigningKey) string {
	return fmt.Sprintf("%s/%s/v1/%s/cert_chain", c.base, CRLKindFor(key).path(), product)
}

func (c *Client) crlURL(product string, key snp.SigningKey) string {
	return fmt.Sprintf("%s/%s/v1/%s/crl", c.base, CRLKindFor(key).path(), product)
}

// checkVCEKRequest rejects requests KDS cannot or this client will not
// answer.
func checkVCEKRequest(req Request) error {
	if err := req.check(); err != nil {
		return err
	}
	if req.SigningKey == snp.SigningKeyVLEK {
		return fmt.Errorf("%w (request %s)", ErrVLEKNotFetchable, req)
	}
	if req.Product == snp.ProductTurin {
		return fmt.Errorf("%w: Turin VCEK requests (KDS identifies Turin chips by 8 bytes of CHIP_ID and needs fmcSPL, "+
			"and the Turin TCB_VERSION layout is not settled); supply Turin certificates from files", ErrUnsupported)
	}
	if req.ChipID == [64]byte{} {
		return fmt.Errorf("%w: request chip ID: all zero (the report masks CHIP_ID), so KDS cannot identify the VCEK; "+
			"supply the VCEK from files or with the evidence", ErrUnsupported)
	}
	return nil
}

func checkChainRequest(product string, key snp.SigningKey) error {
	return Request{Product: product, SigningKey: key}.check()
}

// Certificates fetches the VCEK, the certificate chain and the CRL for req,
// one after the other (KDS limits the request rate), and checks that they
// answer it. For a VLEK, a Turin VCEK or a VCEK of a masked chip ID, which
// this client does not fetch (see VCEK), Leaf is nil and the chain and
// CRL are still fetched: the ASVK and the VLEK CRL for a VLEK.
func (c *Client) Certificates(ctx context.Context, req Request) (*Certificates, error) {
	if c.cfgErr != nil {
		return nil, c.cfgErr
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	certs := &Certificates{Source: c.Source()}
	if checkVCEKRequest(req) == nil {
		var err error
		if certs.Leaf, err = c.VCEK(ctx, req); err != nil {
			return nil, err
		}
	}
	inter, ark, err := c.CertChain(ctx, req.Product, req.SigningKey)
	if err != nil {
		return nil, err
	}
	crl, err := c.CRL(ctx, req.Product, req.SigningKey)
	if err != nil {
		return nil, err
	}
	certs.Intermediate, certs.Root = inter, ark
	certs.CRLs = []CRL{{List: crl, Kind: CRLKindFor(req.SigningKey), Source: "GET " + c.crlURL(req.Product, req.SigningKey)}}
	return certs, nil
}

// VCEK fetches and checks the VCEK for req. When KDS has none (404) the
// error matches ErrNotFound and *HTTPError.
func (c *Client) VCEK(ctx context.Context, req Request) (*x509.Certificate, error) {
	if c.cfgErr != nil {
		return nil, c.cfgErr
	}
	if err := checkVCEKRequest(req); err != nil {
		return nil, err
	}
	u := c.vcekURL(req)
	body, err := c.get(ctx, u, maxCertSize)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("kds: no VCEK for %s: %w", req, err)
		}
		return nil, err
	}
	where := "GET " + u
	cert, err := ParseCertificate(where, body)
	if err != nil {
		return nil, err
	}
	if err := checkVCEK(where, cert, req); err != nil {
		return nil, err
	}
	return cert, nil
}

// CertChain fetches and checks the ASK (or, for a VLEK, the ASVK) and the
// ARK of product.
func (c *Client) CertChain(ctx context.Context, product string, key snp.SigningKey) (intermediate, ark *x509.Certificate, err error) {
	if c.cfgErr != nil {
		return nil, nil, c.cfgErr
	}
	if err := checkChainRequest(product, key); err != nil {
		return nil, nil, err
	}
	u := c.certChainURL(product, key)
	body, err := c.get(ctx, u, maxChainSize)
	if err != nil {
		return nil, nil, err
	}
	intermediate, ark, err = ParseCertChain("GET "+u, body)
	if err != nil {
		return nil, nil, err
	}
	if err := checkChain("GET "+u, intermediate, ark, product, key); err != nil {
		return nil, nil, err
	}
	return intermediate, ark, nil
}

// CRL fetches and checks the ARK's CRL of product for key's chain: the VCEK
// CRL or the VLEK CRL.
func (c *Client) CRL(ctx context.Context, product string, key snp.SigningKey) (*x509.RevocationList, error) {
	if c.cfgErr != nil {
		return nil, c.cfgErr
	}
	if err := checkChainRequest(product, key); err != nil {
		return nil, err
	}
	u := c.crlURL(product, key)
	body, err := c.get(ctx, u, maxCRLSize)
	if err != nil {
		return nil, err
	}
	crl, err := ParseCRL("GET "+u, body)
	if err != nil {
		return nil, err
	}
	if err := checkCRL("GET "+u, crl, product); err != nil {
		return nil, err
	}
	return crl, nil
}

// HTTPError reports a response other than 200 OK, after any retries, with
// the start of the body (at most 256 bytes). A 404 matches ErrNotFound, a
// 429 or 5xx ErrUnavailable.
type HTTPError = neterr.HTTPError[httpSource]

// httpSource makes an HTTPError read and match as this package's.
type httpSource struct{}

func (httpSource) Name() string                { return "kds" }
func (httpSource) MaxRetryWait() time.Duration { return maxRetryWait }
func (httpSource) Is(status int, target error) bool {
	return target == ErrNotFound && status == http.StatusNotFound ||
		target == ErrUnavailable && neterr.Retryable(status)
}

// get fetches u, retrying 429, 5xx and transport errors with exponential
// backoff or the server's Retry-After, and returns a 200 response's body of
// at most limit bytes.
func (c *Client) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		body, err := c.getOnce(ctx, u, limit)
		if err == nil {
			return body, nil
		}
		if ctx.Err() != nil {
			return nil, timedOut(fmt.Errorf("kds: GET %s: %w", u, context.Cause(ctx)))
		}
		var he *HTTPError
		isHTTP := errors.As(err, &he)
		if isHTTP {
			he.Attempts = attempt
			if !neterr.Retryable(he.StatusCode) || he.RetryAfter > maxRetryWait {
				return nil, err
			}
		} else if errors.Is(err, ErrFormat) {
			return nil, err // an oversize body is not transient
		}
		if attempt > c.retries {
			return nil, err
		}
		wait := backoff(attempt)
		if isHTTP && he.RetryAfter > 0 {
			wait = he.RetryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, err // would outlive the caller: report the real failure
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, timedOut(fmt.Errorf("kds: GET %s: %w (while waiting to retry after: %v)", u, serr, err))
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

func (c *Client) getOnce(ctx context.Context, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("kds: GET %s: %w", u, err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, retry.Mark(fmt.Errorf("kds: GET %s: %w", u, neterr.Cause(err)), ErrUnavailable)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, bodyExcerptSize))
		return nil, &HTTPError{
			URL:        u,
			StatusCode: resp.StatusCode,
			Status:     resp.Status,
			Body:       excerpt,
			Attempts:   1,
			RetryAfter: retry.After(resp.Header.Get("Retry-After"), time.Now()),
		}
	}
	if resp.ContentLength > limit {
		return nil, formatError("GET "+u, "response of %d bytes exceeds the limit of %d", resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, retry.Mark(fmt.Errorf("kds: GET %s: reading the body: %w", u, err), ErrUnavailable)
	}
	if int64(len(body)) > limit {
		return nil, formatError("GET "+u, "response exceeds the limit of %d bytes", limit)
	}
	return body, nil
}
