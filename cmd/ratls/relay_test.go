package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/attest/sim"
)

// "printf 'GET / …' | ratls connect --relay" through "ratls serve
// --upstream http://…": standard output is the server's answer and nothing
// else (the report goes to standard error), and the end of standard input
// half-closes the connection instead of cancelling the request (which the
// proxy answered with 502).
func TestConnectRelayHTTP(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond) // the client's end of input arrives before the answer
		fmt.Fprintf(w, "upstream saw %s %s", r.Method, r.URL.Path)
	}))
	defer upstream.Close()
	dir := newSimDir(t)
	srv := startServe(t, "--attester", "sim", "--sim-dir", dir, "--tee", "sgx", "--upstream", upstream.URL)

	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	var stdout, stderr syncBuffer
	stdin := strings.NewReader("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
	code := runWith(ctx, []string{"connect", "--relay", "--offline", "--trust-root", filepath.Join(dir, sim.RootFile),
		"--policy", filepath.Join(dir, sim.PolicyFile), srv.addr}, stdin, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	out := stdout.String()
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(out, "upstream saw GET /hello") {
		t.Errorf("standard output is not the upstream's answer alone:\n%q", out)
	}
	if !strings.Contains(stderr.String(), "Result: WARNING") {
		t.Errorf("the report is not on standard error:\n%s", stderr.String())
	}
}
