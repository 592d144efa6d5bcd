package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// halfClosedConn lets an HTTP client half-close its connection (send a
// request, then end its input, as "ratls connect --relay" does at the end of
// standard input) and still get the answer. Go's HTTP server takes a read
// of EOF for a client that went away and cancels the request, which the
// reverse proxy answers with 502. Here a read at EOF while a request is
// being answered waits until the connection is closed instead, and the
// server closes the connection once it is idle after the answer
// (closeIdleAfterEOF). At EOF between requests the read returns EOF at
// once, as usual.
type halfClosedConn struct {
	net.Conn
	mu     sync.Mutex
	eof    bool
	active bool // a request is being answered
	// expired is set while the read deadline lies in the past.
	expired bool
	// wake is closed when a read deadline in the past is set: the HTTP
	// server does that to end its background read after each answer.
	wake   chan struct{}
	closed chan struct{}
	once   sync.Once
}

func newHalfClosedConn(c net.Conn) *halfClosedConn {
	return &halfClosedConn{Conn: c, closed: make(chan struct{}), wake: make(chan struct{})}
}

func (c *halfClosedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.expired = !t.IsZero() && !t.After(time.Now())
	if c.expired {
		close(c.wake)
		c.wake = make(chan struct{})
	}
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *halfClosedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if errors.Is(err, io.EOF) {
		c.mu.Lock()
		c.eof = true
		active, wake, expired := c.active, c.wake, c.expired
		c.mu.Unlock()
		if n > 0 || !active {
			return n, err
		}
		// A past deadline set before this read reached the lock has
		// replaced wake already: it must end this read too.
		if expired {
			return 0, os.ErrDeadlineExceeded
		}
		select {
		case <-c.closed:
			return 0, io.EOF
		case <-wake:
			return 0, os.ErrDeadlineExceeded
		}
	}
	return n, err
}

func (c *halfClosedConn) sawEOF() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eof
}

func (c *halfClosedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// closeIdleAfterEOF is an http.Server ConnState hook: a connection whose
// client has ended its input is closed once its last answer is written.
func closeIdleAfterEOF(c net.Conn, state http.ConnState) {
	h := findHalfClosed(c)
	if h == nil {
		return
	}
	h.mu.Lock()
	h.active = state == http.StateActive
	h.mu.Unlock()
	if state == http.StateIdle && h.sawEOF() {
		c.Close()
	}
}

// findHalfClosed finds the halfClosedConn under the wrappers the serving
// code puts around connections.
func findHalfClosed(c net.Conn) *halfClosedConn {
	for {
		switch x := c.(type) {
		case *halfClosedConn:
			return x
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
}
