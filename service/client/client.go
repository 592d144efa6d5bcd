// Package client is a Go client of the ratls verification service (package
// service): challenge-response sessions, the one-shot POST /v1/attest, EAR
// verification against the service's published keys, and the management
// API (policies, reference values, tokens, logs, collateral status).
//
// A Client is a base URL, an HTTP client and an optional API token:
//
//	c := &client.Client{BaseURL: "https://verifier.example:8443"}
//	res, err := c.Attest(ctx, &api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: quote, Nonce: nonce})
//	var p *api.Problem
//	if errors.As(err, &p) && p.EAR != "" {
//		// rejected by policy: p.Reasons say why, p.EAR is the signed result
//	}
//	e, err := c.VerifyEAR(ctx, res.EAR)
//
// Answers other than 2xx that are problem documents (application/problem+json)
// are returned as errors wrapping an *api.Problem; other failed answers as an
// *HTTPError. Response bodies are read up to MaxResponseSize bytes.
package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/internal/neterr"
	"github.com/ratls/ratls/service/api"
)

// MaxResponseSize bounds the response bodies the client reads: the largest
// answers are pages of up to 1000 appraisal log entries.
const MaxResponseSize = 8 << 20

// maxErrorBody bounds how much of an unexpected body an HTTPError quotes.
const maxErrorBody = 512

// keysMaxAge is how long VerifyEAR trusts its copy of /v1/keys before
// fetching it again; a token signed by a key not in the copy triggers a
// fetch at once (a replica that started since).
const keysMaxAge = 10 * time.Minute

// Client talks to one verification service. The zero value is not usable:
// set BaseURL. A Client is safe for concurrent use once its fields are set.
type Client struct {
	// BaseURL is the service's URL, such as "https://verifier:8443"; a
	// trailing slash is ignored.
	BaseURL string
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Token is sent as "Authorization: Bearer <Token>" when set: the API
	// token ("ratls_...") the management endpoints, and a service run with
	// verification authentication, require.
	Token string

	mu      sync.Mutex
	keys    *ear.JWKSet
	keysAt  time.Time
	keysURL string
}

// Session is a challenge-response session just created: its ID, its URL
// and the session document (nonce, expiry, accepted media types).
type Session struct {
	ID  string
	URL string
	api.Session
}

// HTTPError is a failed answer that is not a problem document, or a
// successful one that could not be read (Err). Its URL is the request's
// path (without the base URL and query), its Body the start of the body (at
// most 512 bytes).
type HTTPError = neterr.HTTPError[httpSource]

// httpSource makes an HTTPError read as this package's.
type httpSource struct{}

func (httpSource) Name() string                  { return "ratls service" }
func (httpSource) MaxRetryWait() time.Duration   { return 0 }
func (httpSource) Is(status int, err error) bool { return false }

// base returns the parsed base URL.
func (c *Client) base() (*url.URL, error) {
	if c.BaseURL == "" {
		return nil, errors.New("ratls service: Client.BaseURL is not set")
	}
	u, err := url.Parse(strings.TrimRight(c.BaseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("ratls service: BaseURL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ratls service: BaseURL: want http://host[:port] or https://host[:port], got %q", c.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("ratls service: BaseURL: want no query or fragment, got %q", c.BaseURL)
	}
	return u, nil
}

// endpoint returns the absolute URL of path (already escaped) and query.
func (c *Client) endpoint(path string, q url.Values) (string, error) {
	u, err := c.base()
	if err != nil {
		return "", err
	}
	s := u.String() + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s, nil
}

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return http.DefaultClient
}

// response is a successful answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request and returns a 2xx answer, or the error the answer
// amounts to.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, contentType string, body []byte) (*response, error) {
	target, err := c.endpoint(path, q)
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("ratls service: %s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", acceptFor(path))
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("ratls service %s: %s %s: %w", c.BaseURL, method, path, neterr.Cause(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("ratls service: %s %s: reading the answer (HTTP %d): %w", method, path, resp.StatusCode, err)
	}
	ct := resp.Header.Get("Content-Type")
	if len(b) > MaxResponseSize {
		return nil, &HTTPError{Method: method, URL: path, StatusCode: resp.StatusCode, ContentType: ct,
			Err: fmt.Errorf("answer exceeds the limit of %d bytes", MaxResponseSize)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, answerError(method, path, resp.StatusCode, ct, b)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// acceptFor is the Accept of a request: Veraison's endpoints answer 406
// unless it admits their media types.
func acceptFor(path string) string {
	switch {
	case strings.HasPrefix(path, api.PathNewSession), strings.HasPrefix(path, api.PathSession):
		return api.SessionMedia + ", " + api.ProblemMedia
	case path == api.PathDiscovery:
		return api.DiscoveryMedia + ", " + api.ProblemMedia
	}
	return api.JSONMedia + ", " + api.ProblemMedia
}

// answerError turns a failed answer into a problem or an HTTPError.
func answerError(method, path string, status int, ct string, b []byte) error {
	mt, _, _ := mime.ParseMediaType(ct)
	if mt == api.ProblemMedia {
		var p api.Problem
		if err := json.Unmarshal(b, &p); err == nil && p.Title != "" {
			if p.Status == 0 {
				p.Status = status
			}
			return fmt.Errorf("ratls service: %s %s: %w", method, path, &p)
		}
		return &HTTPError{Method: method, URL: path, StatusCode: status, ContentType: ct, Body: snippet(b),
			Err: errors.New("malformed problem document")}
	}
	return &HTTPError{Method: method, URL: path, StatusCode: status, ContentType: ct, Body: snippet(b)}
}

func snippet(b []byte) []byte {
	if len(b) > maxErrorBody {
		b = b[:maxErrorBody]
	}
	return bytes.ToValidUTF8(b, []byte("?"))
}

// decode reads a JSON answer into v. Unknown members are ignored: the
// service may add some.
func (r *response) decode(method, path string, v any) error {
	ct := r.header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if mt != api.JSONMedia && !strings.HasSuffix(mt, "+json") {
		return &HTTPError{Method: method, URL: path, StatusCode: r.status, ContentType: ct, Body: snippet(r.body),
			Err: errors.New("want a JSON answer")}
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	if err := dec.Decode(v); err != nil {
		return &HTTPError{Method: method, URL: path, StatusCode: r.status, ContentType: ct, Body: snippet(r.body),
			Err: fmt.Errorf("malformed JSON answer: %w", err)}
	}
	if dec.More() {
		return &HTTPError{Method: method, URL: path, StatusCode: r.status, ContentType: ct, Body: snippet(r.body),
			Err: errors.New("trailing data after the JSON answer")}
	}
	return nil
}

// call sends a request and decodes its JSON answer into out (when not nil).
func (c *Client) call(ctx context.Context, method, path string, q url.Values, contentType string, body []byte, out any) (*response, error) {
	r, err := c.do(ctx, method, path, q, contentType, body)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := r.decode(method, path, out); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Discovery returns the service's discovery document (Veraison's
// /.well-known/veraison/verification).
func (c *Client) Discovery(ctx context.Context) (*api.Discovery, error) {
	var d api.Discovery
	if _, err := c.call(ctx, http.MethodGet, api.PathDiscovery, nil, "", nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Keys returns the public EAR signing keys of all the service's replicas.
func (c *Client) Keys(ctx context.Context) (*ear.JWKSet, error) {
	var set ear.JWKSet
	if _, err := c.call(ctx, http.MethodGet, api.PathKeys, nil, "", nil, &set); err != nil {
		return nil, err
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("ratls service: GET %s: the key set is empty", api.PathKeys)
	}
	return &set, nil
}

// NewSession starts a challenge-response session whose nonce the service
// draws, nonceSize bytes long (0: the service's default).
func (c *Client) NewSession(ctx context.Context, nonceSize int) (*Session, error) {
	var q url.Values
	if nonceSize != 0 {
		q = url.Values{"nonceSize": {strconv.Itoa(nonceSize)}}
	}
	return c.newSession(ctx, q)
}

// NewSessionWithNonce starts a challenge-response session with a nonce the
// caller chose (8 to 64 bytes).
func (c *Client) NewSessionWithNonce(ctx context.Context, nonce []byte) (*Session, error) {
	if len(nonce) == 0 {
		return nil, errors.New("ratls service: new session: the nonce is empty")
	}
	return c.newSession(ctx, url.Values{"nonce": {base64.URLEncoding.EncodeToString(nonce)}})
}

func (c *Client) newSession(ctx context.Context, q url.Values) (*Session, error) {
	var s Session
	r, err := c.call(ctx, http.MethodPost, api.PathNewSession, q, "", nil, &s.Session)
	if err != nil {
		return nil, err
	}
	loc := r.header.Get("Location")
	id, ok := api.SessionIDFromLocation(loc)
	if !ok {
		return nil, &HTTPError{Method: http.MethodPost, URL: api.PathNewSession, StatusCode: r.status,
			Err: fmt.Errorf("the Location header: want session/<id> (relative to %s) or %s<id>, got %q", api.PathNewSession, api.PathSession, loc)}
	}
	p, err := sessionPath(id)
	if err != nil {
		return nil, err
	}
	if s.URL, err = c.endpoint(p, nil); err != nil {
		return nil, err
	}
	s.ID = id
	return &s, nil
}

func sessionPath(id string) (string, error) {
	if id == "" {
		return "", errors.New("ratls service: the session ID is empty")
	}
	return api.PathSession + url.PathEscape(id), nil
}

// Submit sends evidence of the given media type (one of api.EvidenceMedia)
// to the session with this ID and returns the completed session, whose
// Result is the EAR. The nonce can be redeemed once: submitting the same
// evidence again returns the session again, other evidence gets a 409
// problem, an expired session a 404 stale-nonce.
func (c *Client) Submit(ctx context.Context, id, mediaType string, evidence []byte) (*api.Session, error) {
	p, err := sessionPath(id)
	if err != nil {
		return nil, err
	}
	if mediaType == "" {
		return nil, errors.New("ratls service: submit: the evidence media type is empty")
	}
	var s api.Session
	if _, err := c.call(ctx, http.MethodPost, p, nil, mediaType, evidence, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Session returns the session with this ID.
func (c *Client) Session(ctx context.Context, id string) (*api.Session, error) {
	p, err := sessionPath(id)
	if err != nil {
		return nil, err
	}
	var s api.Session
	if _, err := c.call(ctx, http.MethodGet, p, nil, "", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// DeleteSession deletes the session with this ID.
func (c *Client) DeleteSession(ctx context.Context, id string) error {
	p, err := sessionPath(id)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodDelete, p, nil, "", nil)
	return err
}

// Attest appraises evidence in one request (POST /v1/attest). The evidence
// is posted raw with req.MediaType as its Content-Type; req.Nonce (when not
// empty) and req.Policy go in the query.
//
// Evidence the policy rejects gets an error wrapping an *api.Problem of
// status 422 whose EAR member is the signed (contraindicated) result and
// whose Reasons say why.
func (c *Client) Attest(ctx context.Context, req *api.AttestRequest) (*api.AttestResult, error) {
	if req == nil || req.MediaType == "" {
		return nil, errors.New("ratls service: attest: the evidence media type is empty")
	}
	// The service reads a JSON body as an AttestRequest envelope, not as
	// evidence.
	if mt, _, err := mime.ParseMediaType(req.MediaType); err != nil || mt == api.JSONMedia {
		return nil, fmt.Errorf("ratls service: attest: want an evidence media type such as %s, got %q", api.MediaDCAPQuote, req.MediaType)
	}
	q := url.Values{}
	if len(req.Nonce) > 0 {
		q.Set("nonce", base64.URLEncoding.EncodeToString(req.Nonce))
	}
	if req.Policy != "" {
		q.Set("policy", req.Policy)
	}
	var res api.AttestResult
	if _, err := c.call(ctx, http.MethodPost, api.PathAttest, q, req.MediaType, req.Evidence, &res); err != nil {
		return nil, err
	}
	if res.EAR == "" {
		return nil, fmt.Errorf("ratls service: POST %s: the answer has no EAR", api.PathAttest)
	}
	return &res, nil
}

// VerifyEAR verifies an EAR's signature against the service's keys
// (/v1/keys) and its validity at the current time, and returns its claims.
// The keys are fetched once and kept; they are fetched again when a token
// names a key the copy lacks, or after ten minutes.
func (c *Client) VerifyEAR(ctx context.Context, token string) (*ear.EAR, error) {
	set, fresh, err := c.keySet(ctx, false)
	if err != nil {
		return nil, err
	}
	e, err := ear.Verify([]byte(token), set, time.Now())
	if errors.Is(err, ear.ErrUnknownKey) && !fresh {
		if set, _, err = c.keySet(ctx, true); err != nil {
			return nil, err
		}
		e, err = ear.Verify([]byte(token), set, time.Now())
	}
	if err != nil {
		return nil, fmt.Errorf("ratls service: EAR: %w", err)
	}
	return e, nil
}

// keySet returns the cached key set, fetching it when there is none, it is
// old, BaseURL changed or refresh is set; fresh reports a fetch.
func (c *Client) keySet(ctx context.Context, refresh bool) (set *ear.JWKSet, fresh bool, err error) {
	c.mu.Lock()
	set, at, from := c.keys, c.keysAt, c.keysURL
	c.mu.Unlock()
	if set != nil && !refresh && from == c.BaseURL && time.Since(at) < keysMaxAge {
		return set, false, nil
	}
	if set, err = c.Keys(ctx); err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	c.keys, c.keysAt, c.keysURL = set, time.Now(), c.BaseURL
	c.mu.Unlock()
	return set, true, nil
}

// ---- management ----

func docPath(base, name string, version int) (string, error) {
	if name == "" {
		return "", errors.New("ratls service: the document name is empty")
	}
	if version < 0 {
		return "", fmt.Errorf("ratls service: version: want 0 (the latest) or more, got %d", version)
	}
	p := base + "/" + url.PathEscape(name)
	if version > 0 {
		p += "/versions/" + strconv.Itoa(version)
	}
	return p, nil
}

func (c *Client) putDocument(ctx context.Context, base, name string, body []byte) (*api.Document, error) {
	p, err := docPath(base, name, 0)
	if err != nil {
		return nil, err
	}
	var d api.Document
	if _, err := c.call(ctx, http.MethodPost, p, nil, api.JSONMedia, body, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func (c *Client) getDocument(ctx context.Context, base, name string, version int) (*api.Document, error) {
	p, err := docPath(base, name, version)
	if err != nil {
		return nil, err
	}
	var d api.Document
	if _, err := c.call(ctx, http.MethodGet, p, nil, "", nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func (c *Client) listDocuments(ctx context.Context, path string) ([]api.Document, error) {
	var out struct {
		Documents []api.Document `json:"documents"`
	}
	if _, err := c.call(ctx, http.MethodGet, path, nil, "", nil, &out); err != nil {
		return nil, err
	}
	return out.Documents, nil
}

// PutPolicy stores body (a policy, docs/policy.md) as the next version of
// the named policy and returns it. It needs a write token.
func (c *Client) PutPolicy(ctx context.Context, name string, body []byte) (*api.Document, error) {
	return c.putDocument(ctx, api.PathPolicies, name, body)
}

// Policy returns a version of the named policy with its body; version 0
// is the latest.
func (c *Client) Policy(ctx context.Context, name string, version int) (*api.Document, error) {
	return c.getDocument(ctx, api.PathPolicies, name, version)
}

// Policies lists the latest version of every policy, without bodies.
func (c *Client) Policies(ctx context.Context) ([]api.Document, error) {
	return c.listDocuments(ctx, api.PathPolicies)
}

// PolicyVersions lists the versions of the named policy, oldest first,
// without bodies.
func (c *Client) PolicyVersions(ctx context.Context, name string) ([]api.Document, error) {
	p, err := docPath(api.PathPolicies, name, 0)
	if err != nil {
		return nil, err
	}
	return c.listDocuments(ctx, p+"/versions")
}

// PutReferenceValues stores body (the reference sections of a policy) as
// the next version of the named reference value set, which replaces the
// reference values of the policy of the same name. It needs a write token.
func (c *Client) PutReferenceValues(ctx context.Context, name string, body []byte) (*api.Document, error) {
	return c.putDocument(ctx, api.PathReferences, name, body)
}

// ReferenceValues returns a version of the named reference value set;
// version 0 is the latest.
func (c *Client) ReferenceValues(ctx context.Context, name string, version int) (*api.Document, error) {
	return c.getDocument(ctx, api.PathReferences, name, version)
}

func pageQuery(before int64, limit int) (url.Values, error) {
	if before < 0 || limit < 0 {
		return nil, fmt.Errorf("ratls service: page: want before and limit of 0 (none) or more, got %d and %d", before, limit)
	}
	q := url.Values{}
	if before > 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q, nil
}

// Appraisals lists up to limit entries of the appraisal log with an ID
// below before, newest first; before 0 starts from the newest and limit 0
// is the service's default (100).
func (c *Client) Appraisals(ctx context.Context, before int64, limit int) ([]api.Appraisal, error) {
	q, err := pageQuery(before, limit)
	if err != nil {
		return nil, err
	}
	var out struct {
		Appraisals []api.Appraisal `json:"appraisals"`
	}
	if _, err := c.call(ctx, http.MethodGet, api.PathAppraisals, q, "", nil, &out); err != nil {
		return nil, err
	}
	return out.Appraisals, nil
}

// Audit lists entries of the audit log as Appraisals does; it needs an
// admin token.
func (c *Client) Audit(ctx context.Context, before int64, limit int) ([]api.Audit, error) {
	q, err := pageQuery(before, limit)
	if err != nil {
		return nil, err
	}
	var out struct {
		Audit []api.Audit `json:"audit"`
	}
	if _, err := c.call(ctx, http.MethodGet, api.PathAudit, q, "", nil, &out); err != nil {
		return nil, err
	}
	return out.Audit, nil
}

// Tokens lists the API tokens (without secrets); it needs an admin token.
func (c *Client) Tokens(ctx context.Context) ([]api.Token, error) {
	var out struct {
		Tokens []api.Token `json:"tokens"`
	}
	if _, err := c.call(ctx, http.MethodGet, api.PathTokens, nil, "", nil, &out); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// CreateToken creates an API token with a role (read, write or admin) and
// returns it with its secret, shown only this once; it needs an admin
// token.
func (c *Client) CreateToken(ctx context.Context, name, role string) (*api.Token, error) {
	body, err := json.Marshal(api.NewToken{Name: name, Role: role})
	if err != nil {
		return nil, err
	}
	var t api.Token
	if _, err := c.call(ctx, http.MethodPost, api.PathTokens, nil, api.JSONMedia, body, &t); err != nil {
		return nil, err
	}
	if t.Secret == "" {
		return nil, fmt.Errorf("ratls service: POST %s: the answer has no token secret", api.PathTokens)
	}
	return &t, nil
}

// DeleteToken revokes the API token with this ID; it needs an admin token.
func (c *Client) DeleteToken(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("ratls service: the token ID is empty")
	}
	_, err := c.do(ctx, http.MethodDelete, api.PathTokens+"/"+url.PathEscape(id), nil, "", nil)
	return err
}

// Collateral reports the shared collateral cache and its counters; it
// needs a read token.
func (c *Client) Collateral(ctx context.Context) (*api.CollateralStatus, error) {
	var s api.CollateralStatus
	if _, err := c.call(ctx, http.MethodGet, api.PathCollateral, nil, "", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Metrics returns the service's Prometheus metrics (text exposition
// format).
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	r, err := c.do(ctx, http.MethodGet, api.PathMetrics, nil, "", nil)
	if err != nil {
		return nil, err
	}
	return r.body, nil
}
