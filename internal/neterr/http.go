package neterr

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Source describes the HTTPErrors of one client: how their message starts
// and which of the client's sentinel errors they match. Its methods are
// called on the zero value, so that an HTTPError built as a literal (by a
// test, or a provider that relays one) behaves as the client's own.
type Source interface {
	// Name starts the message: "pcs", "kds", "ratls service".
	Name() string
	// MaxRetryWait is the longest Retry-After the client waits for before
	// it retries; 0 for a client that does not retry.
	MaxRetryWait() time.Duration
	// Is reports whether an answer with this status matches target, one
	// of the client's sentinels.
	Is(status int, target error) bool
}

// HTTPError reports an HTTP answer other than the one wanted, after any
// retries: a status other than 200 OK, or a successful answer that could
// not be read (Err). The clients name it after themselves (pcs.HTTPError,
// kds.HTTPError, client.HTTPError), each with its own Source.
type HTTPError[S Source] struct {
	// Method is the request's method; empty means GET.
	Method string
	// URL is the request's URL, or its path when the client's base URL is
	// known to the caller (the service client).
	URL         string
	StatusCode  int
	Status      string // e.g. "503 Service Unavailable"; empty: "HTTP <code>"
	ContentType string // the answer's, when it matters
	// ErrorCode and ErrorMessage are the Error-Code and Error-Message
	// headers Intel's PCS sends with a failure, when sent.
	ErrorCode    string
	ErrorMessage string
	// Body is the start of the answer's body.
	Body []byte
	// Attempts is how many requests were sent.
	Attempts int
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
	// Err says what was wrong with a successful answer; nil for an
	// unsuccessful one.
	Err error
}

func (e *HTTPError[S]) Error() string {
	var src S
	var b strings.Builder
	method := e.Method
	if method == "" {
		method = http.MethodGet
	}
	status := e.Status
	if status == "" {
		status = fmt.Sprintf("HTTP %d", e.StatusCode)
	}
	fmt.Fprintf(&b, "%s: %s %s: %s", src.Name(), method, e.URL, status)
	if e.ContentType != "" {
		fmt.Fprintf(&b, " (%s)", e.ContentType)
	}
	if e.ErrorCode != "" || e.ErrorMessage != "" {
		fmt.Fprintf(&b, " (Error-Code %q, Error-Message %q)", e.ErrorCode, e.ErrorMessage)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if len(e.Body) > 0 {
		fmt.Fprintf(&b, ": body %q", e.Body)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	if limit := src.MaxRetryWait(); limit > 0 && e.RetryAfter > limit {
		fmt.Fprintf(&b, " (Retry-After %s exceeds the %s limit)", e.RetryAfter, limit)
	}
	return b.String()
}

// Is matches the client's sentinels its Source names for the status.
func (e *HTTPError[S]) Is(target error) bool {
	var src S
	return src.Is(e.StatusCode, target)
}

// Unwrap returns Err.
func (e *HTTPError[S]) Unwrap() error { return e.Err }

// Retryable reports whether an answer with this status is worth another
// attempt: 429 Too Many Requests and the 5xx.
func Retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500 && status <= 599
}

// retryAfterError is an HTTPError of any client.
type retryAfterError interface{ retryAfter() time.Duration }

func (e *HTTPError[S]) retryAfter() time.Duration { return e.RetryAfter }

// RetryAfter returns the Retry-After of the HTTPError in err's chain, 0
// when there is none or it sent none.
func RetryAfter(err error) time.Duration {
	var he retryAfterError
	if errors.As(err, &he) {
		return he.retryAfter()
	}
	return 0
}
