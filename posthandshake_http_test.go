package ratls

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serveHTTP serves handler over TLS 1.3 with iss's certificate.
func serveHTTP(t *testing.T, iss *Issuer, handler http.Handler) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", HTTPServerConfig(iss))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestPostHandshakeHTTPBinding(t *testing.T) {
	victim := newPHPlatform(t, true)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from "+r.URL.Path) })
	addr := serveHTTP(t, victim.iss, (&PostHandshake{Issuer: victim.iss}).Handler(app))

	var dials atomic.Int32
	ph := &PostHandshake{Peers: victim.verifier()}
	client := &http.Client{Transport: &http.Transport{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return ph.DialHTTP(ctx, network, addr)
	}}}
	for range 3 {
		resp, err := client.Get("https://" + addr + "/app")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hello from /app" {
			t.Fatalf("body %q", b)
		}
	}
	if dials.Load() != 1 {
		t.Errorf("connections: want 1 (attested once, then reused), got %d", dials.Load())
	}

	// A server without the endpoint: the client refuses to use it.
	plain := serveHTTP(t, victim.iss, app)
	if _, err := ph.DialHTTP(context.Background(), "tcp", plain); err == nil || !strings.Contains(err.Error(), "200 OK") && !strings.Contains(err.Error(), "Content-Type") {
		t.Fatalf("server without the endpoint: %v", err)
	}
	// The endpoint of a server that cannot attest.
	declines := serveHTTP(t, victim.iss, (&PostHandshake{}).Handler(app))
	if _, err := ph.DialHTTP(context.Background(), "tcp", declines); err == nil || !strings.Contains(err.Error(), "declined to attest") {
		t.Fatalf("server that declines: %v", err)
	}
	// Without a verifier there is nothing to check.
	if _, err := (&PostHandshake{}).DialHTTP(context.Background(), "tcp", addr); err == nil {
		t.Fatal("DialHTTP without Peers")
	}
}

func TestPostHandshakeHTTPHandlerErrors(t *testing.T) {
	victim := newPHPlatform(t, true)
	addr := serveHTTP(t, victim.iss, (&PostHandshake{Issuer: victim.iss}).Handler(nil))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, tc := range []struct {
		method, path, ct, body string
		want                   int
	}{
		{"GET", WellKnownAttestationPath, "", "", http.StatusMethodNotAllowed},
		{"POST", WellKnownAttestationPath, "text/plain", "x", http.StatusUnsupportedMediaType},
		{"POST", WellKnownAttestationPath, mediaTypeAuthenticatorRequest, "", http.StatusBadRequest},
		{"POST", WellKnownAttestationPath, mediaTypeAuthenticatorRequest, "garbage", http.StatusBadRequest},
		{"GET", "/other", "", "", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tc.method, "https://"+addr+tc.path, strings.NewReader(tc.body))
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s (%s): got %d, want %d", tc.method, tc.path, tc.ct, resp.StatusCode, tc.want)
		}
	}
}
