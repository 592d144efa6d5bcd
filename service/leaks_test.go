package service_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
)

// rawExchange writes req on a new connection made by dial and reads the
// answer.
func rawExchange(t *testing.T, c net.Conn, req string, pause time.Duration) *response {
	t.Helper()
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	if pause > 0 {
		time.Sleep(pause)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer to %.40q: %v", req, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{code: resp.StatusCode, hdr: resp.Header, body: b}
}

// checkNoEcho checks that an answer quotes none of the given strings.
func checkNoEcho(t *testing.T, what string, r *response, leaks ...string) {
	t.Helper()
	for _, l := range leaks {
		if l != "" && strings.Contains(string(r.body), l) {
			t.Errorf("%s: the answer quotes %.40q: %.300s", what, l, r.body)
		}
	}
}

// serve runs f's server with Serve on a new loopback listener until the
// test ends.
func serve(t *testing.T, f *fixture, sc service.ServeConfig) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(ctx, ln, sc) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln.Addr().String()
}

// Requests Go's HTTP server refuses itself get problem documents that
// quote nothing of the request.
func TestServerErrorsAreProblems(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	addr := serve(t, f, service.ServeConfig{})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	big := strings.Repeat("A", 64<<10)
	for _, c := range []struct {
		name, req string
		code      int
		typ       string
		leaks     []string
	}{
		{"header too large", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge, "request-header-too-large", []string{"AAAAAAAA", "X-Big"}},
		{"control character", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Evil: a\x01<script>\r\n\r\n",
			http.StatusBadRequest, "bad-request", []string{"<script>", "X-Evil"}},
		{"malformed request line", "GET<script>alert(1)</script>\r\n\r\n",
			http.StatusBadRequest, "bad-request", []string{"<script>", "alert"}},
		{"unsupported transfer encoding", "POST /v1/attest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip-evil\r\n\r\n",
			http.StatusNotImplemented, "bad-request", []string{"gzip-evil"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rawExchange(t, dial(), c.req, 0)
			p := r.problem(t, c.code, c.typ)
			if p.Detail == "" {
				t.Errorf("problem without a detail: %s", r.body)
			}
			if r.hdr.Get("Content-Length") != strconv.Itoa(len(r.body)) {
				t.Errorf("Content-Length %q for a %d-byte body", r.hdr.Get("Content-Length"), len(r.body))
			}
			checkNoEcho(t, c.name, r, c.leaks...)
		})
	}
	// Ordinary answers pass unchanged.
	r := rawExchange(t, dial(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0)
	if r.code != http.StatusOK || !strings.Contains(string(r.body), "ok") {
		t.Errorf("GET /healthz through Serve: %d %s", r.code, r.body)
	}
}

// The same holds over TLS, where the service speaks HTTP/1.1 only.
func TestServerErrorsAreProblemsOverTLS(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	addr := serve(t, f, service.ServeConfig{TLS: selfSigned(t)})
	conf := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}}
	c, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p == "h2" {
		t.Fatalf("negotiated %q: the service must not offer HTTP/2", p)
	}
	r := rawExchange(t, c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Evil: a\x01<script>\r\n\r\n", 0)
	r.problem(t, http.StatusBadRequest, "bad-request")
	checkNoEcho(t, "control character over TLS", r, "<script>")

	// An ordinary client works.
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: true}}
	resp, err := cl.Get("https://" + addr + api.PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 1 {
		t.Errorf("GET /healthz over TLS: %d %s", resp.StatusCode, resp.Proto)
	}
}

func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		NextProtos: []string{"h2", "http/1.1"}}
}

// A body that arrives too slowly is a 400 that does not name the
// connection's addresses.
func TestSlowBodyNoAddresses(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	hs := httptest.NewUnstartedServer(f.srv.Handler())
	hs.Config.ReadTimeout = 300 * time.Millisecond
	hs.Start()
	t.Cleanup(hs.Close)
	c, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	local := c.LocalAddr().(*net.TCPAddr)
	server := hs.Listener.Addr().(*net.TCPAddr)
	r := rawExchange(t, c, "POST "+api.PathAttest+" HTTP/1.1\r\nHost: x\r\nContent-Type: "+api.MediaDCAPQuote+
		"\r\nContent-Length: 1000\r\n\r\nonly a little", 0)
	r.problem(t, http.StatusBadRequest, "bad-request")
	checkNoEcho(t, "slow body", r, "127.0.0.1", ":"+strconv.Itoa(local.Port), ":"+strconv.Itoa(server.Port), "i/o timeout", "tcp")
}

// A client's strings are quoted only in part, however long they are.
func TestLongClientStringsNotEchoed(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	long := strings.Repeat("x", 1<<20-1024) // a 1 MB string that fits the body limit
	body, _ := json.Marshal(map[string]any{"media_type": "application/" + long, "evidence": []byte("q")})
	for _, c := range []struct {
		what string
		r    *response
		code int
	}{
		{"a 1 MB media_type", f.do("POST", api.PathAttest, "", "application/json", body), http.StatusUnsupportedMediaType},
		{"a long Content-Type", f.do("POST", api.PathAttest, "", "application/"+long[:16<<10], []byte("q")), http.StatusUnsupportedMediaType},
		{"a long nonceSize", f.do("POST", api.PathNewSession+"?nonceSize="+long[:16<<10], "", "", nil), http.StatusBadRequest},
		{"a long unknown path", f.do("GET", "/"+long[:16<<10], "", "", nil), http.StatusNotFound},
		{"a long token role", f.do("POST", api.PathTokens, f.admin, "application/json", []byte(`{"name":"n","role":"`+long+`"}`)), http.StatusBadRequest},
		{"a long unknown JSON key", f.do("POST", api.PathTokens, f.admin, "application/json", []byte(`{"`+long+`":1}`)), http.StatusBadRequest},
	} {
		if c.r.code != c.code {
			t.Errorf("%s: want %d, got %d: %.200s", c.what, c.code, c.r.code, c.r.body)
		}
		if len(c.r.body) > 2048 {
			t.Errorf("%s: a %d-byte answer quotes the request: %.200s…", c.what, len(c.r.body), c.r.body)
		}
	}
}
