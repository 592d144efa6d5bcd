package neterr

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
)

var errTestUnavailable = errors.New("unavailable")

type testSource struct{}

func (testSource) Name() string                { return "test" }
func (testSource) MaxRetryWait() time.Duration { return time.Minute }
func (testSource) Is(status int, target error) bool {
	return target == errTestUnavailable && Retryable(status)
}

func TestHTTPError(t *testing.T) {
	for _, tc := range []struct {
		e    *HTTPError[testSource]
		want string
	}{
		{&HTTPError[testSource]{URL: "https://x/a", StatusCode: 503, Status: "503 Service Unavailable", Body: []byte("down"), Attempts: 3},
			`test: GET https://x/a: 503 Service Unavailable: body "down" (after 3 attempts)`},
		{&HTTPError[testSource]{URL: "https://x/a", StatusCode: 429, Status: "429 Too Many Requests", ErrorCode: "C", ErrorMessage: "M", RetryAfter: time.Hour},
			`test: GET https://x/a: 429 Too Many Requests (Error-Code "C", Error-Message "M") (Retry-After 1h0m0s exceeds the 1m0s limit)`},
		{&HTTPError[testSource]{Method: http.MethodPost, URL: "/v1/x", StatusCode: 200, ContentType: "text/plain", Err: errors.New("want a JSON answer"), Body: []byte("ok")},
			`test: POST /v1/x: HTTP 200 (text/plain): want a JSON answer: body "ok"`},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
	if !errors.Is(&HTTPError[testSource]{StatusCode: 502}, errTestUnavailable) || errors.Is(&HTTPError[testSource]{StatusCode: 404}, errTestUnavailable) {
		t.Error("Is does not follow the source")
	}
	cause := errors.New("cause")
	if !errors.Is(&HTTPError[testSource]{StatusCode: 200, Err: cause}, cause) {
		t.Error("Err is not unwrapped")
	}
}

func TestRetryAfter(t *testing.T) {
	err := fmt.Errorf("fetch: %w", &HTTPError[testSource]{StatusCode: 429, RetryAfter: 30 * time.Second})
	if got := RetryAfter(err); got != 30*time.Second {
		t.Errorf("RetryAfter: got %s", got)
	}
	if got := RetryAfter(errors.New("other")); got != 0 {
		t.Errorf("RetryAfter of another error: %s", got)
	}
}
