package neterr

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Each failure is said once: neither the URL nor the address repeats, and
// the resolver's address never appears. The original error is still there
// for errors.Is and errors.As.
func TestCause(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = http.Get("http://" + addr + "/x")
	got := Cause(err)
	if got.Error() != "connection refused" || !errors.Is(got, syscall.ECONNREFUSED) {
		t.Errorf("refused: %q (%v)", got, err)
	}

	dnsErr := &url.Error{Op: "Get", URL: "https://pcs.invalid/x", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "no such host", Name: "pcs.invalid", Server: "10.255.255.53:53", IsNotFound: true}}}
	if got := Cause(dnsErr); got.Error() != "cannot resolve host pcs.invalid: no such host" || strings.Contains(got.Error(), "10.255") {
		t.Errorf("DNS: %q", got)
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(200 * time.Millisecond) }))
	defer slow.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, slow.URL, nil)
	_, err = http.DefaultClient.Do(req)
	if got := Cause(err); got.Error() != "timed out" || !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("timeout: %q", got)
	}

	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer tlsSrv.Close()
	_, err = http.Get(tlsSrv.URL)
	if got := Cause(err); !strings.HasPrefix(got.Error(), "the server's TLS certificate is not accepted: ") || strings.Contains(got.Error(), tlsSrv.URL) {
		t.Errorf("TLS: %q", got)
	}

	plain := errors.New("something else")
	if Cause(plain) != plain || Cause(nil) != nil {
		t.Error("non-network errors are not kept as they are")
	}
}
