package service

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"

	"github.com/ratls/ratls/service/api"
)

// Go's HTTP server answers requests it cannot parse (headers beyond
// MaxHeaderBytes, control characters, a malformed request line, an unknown
// transfer encoding) itself, before any handler runs, writing a text/plain
// answer straight to the connection in one Write: the status line, then
// exactly serverErrorHeaders. problemConn recognizes that answer and sends
// a problem document with the same status instead, which says what was
// wrong in the service's words and quotes nothing of the request. Handlers'
// answers never start that way: the server writes their headers sorted,
// so Connection would come before Content-Type.
const serverErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// serverErrorDetail says what each status of Go's own answers means.
var serverErrorDetail = map[int]string{
	http.StatusBadRequest:                  "the request is not valid HTTP/1.1: a malformed request line or header (e.g. a control character), or a missing or repeated Host",
	http.StatusRequestHeaderFieldsTooLarge: "the request's header fields are too large",
	http.StatusNotImplemented:              "the request uses a transfer encoding the service does not support",
	http.StatusHTTPVersionNotSupported:     "the request's HTTP version is not supported",
}

// problemListener wraps the connections of a listener in problemConns.
type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &problemConn{Conn: c}, nil
}

// problemConn replaces Go's own text/plain error answers with problem
// documents.
type problemConn struct{ net.Conn }

func (c *problemConn) Write(b []byte) (int, error) {
	if p := serverErrorProblem(b); p != nil {
		if _, err := c.Conn.Write(p); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// CloseWrite half-closes the connection when it can, as the server does
// after a 431 so that the client reads the answer before the connection is
// reset.
func (c *problemConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// serverErrorProblem returns the problem answer that replaces b when b is
// one of Go's own error answers, nil otherwise.
func serverErrorProblem(b []byte) []byte {
	rest, ok := bytes.CutPrefix(b, []byte("HTTP/1.1 "))
	if !ok || len(rest) < 4 || rest[3] != ' ' {
		return nil
	}
	code, err := strconv.Atoi(string(rest[:3]))
	if err != nil || code < 400 || code > 599 {
		return nil
	}
	line, _, ok := bytes.Cut(rest, []byte("\r\n"))
	if !ok || !bytes.HasPrefix(rest[len(line):], []byte(serverErrorHeaders)) {
		return nil
	}
	detail := serverErrorDetail[code]
	if detail == "" {
		detail = "the request could not be read"
	}
	body, _ := json.Marshal(&api.Problem{Type: api.ProblemTypeBase + serverProblemType(code),
		Title: http.StatusText(code), Status: code, Detail: detail})
	body = append(body, '\n')
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		code, http.StatusText(code), api.ProblemMedia, len(body), body)
}

// serverProblemType is the problem type of a status Go's server answers.
func serverProblemType(code int) string {
	if code == http.StatusRequestHeaderFieldsTooLarge {
		return probHeadersTooLarge
	}
	return probBadRequest
}

// problemTLSConfig returns a copy of cfg that negotiates HTTP/1.1 only.
// With TLS, the server sees problemConns rather than *tls.Conn, so it
// cannot serve HTTP/2 on them: a client must not be offered it.
func problemTLSConfig(cfg *tls.Config) *tls.Config {
	cfg = cfg.Clone()
	cfg.NextProtos = slices.DeleteFunc(slices.Clone(cfg.NextProtos), func(p string) bool { return p == "h2" })
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"http/1.1"}
	}
	return cfg
}
