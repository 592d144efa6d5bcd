package service

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ratls/ratls/service/api"
)

// A request line that does not arrive in time (slow headers) is answered
// by Go's server with a 400, which becomes a problem document; a silent
// client just loses its connection.
func TestSlowHeadersProblem(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 200 * time.Millisecond}
	go hs.Serve(problemListener{ln})
	t.Cleanup(func() { hs.Close() })

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /healthz HT")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p api.Problem
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != api.ProblemMedia ||
		json.NewDecoder(resp.Body).Decode(&p) != nil || p.Type != api.ProblemTypeBase+probBadRequest {
		t.Errorf("slow request line: %d %s %+v; want a 400 bad-request problem", resp.StatusCode, resp.Header.Get("Content-Type"), p)
	}
}

// Only Go's own error answers are rewritten.
func TestServerErrorProblemOnlyRewritesGoErrors(t *testing.T) {
	for _, b := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nok",
		"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nx",
		"HTTP/1.1 404 Not Found\r\nContent-Type: application/problem+json\r\n\r\n{}",
		"HTTP/1.1 4",
		"some body bytes",
	} {
		if p := serverErrorProblem([]byte(b)); p != nil {
			t.Errorf("%q rewritten as %q", b, p)
		}
	}
}
