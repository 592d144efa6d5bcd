// Package relay pipes connections: Copy joins two of them, and StartTLS
// runs a TLS relay, a server that terminates TLS with a certificate and
// pipes each connection to another TLS server. "ratls serve" forwards
// connections with Copy; "ratls demo" uses a TLS relay holding a server's
// leaked key to show which attestation modes a relay defeats.
package relay

import (
	"crypto/tls"
	"io"
	"net"
	"time"
)

// Copy copies both ways until both directions are done, passing each
// half-close on, so a client may send its request, close its side and still
// read the answer.
func Copy(a, b io.ReadWriter) {
	done := make(chan struct{}, 2)
	cp := func(dst io.Writer, src io.Reader) {
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}

// ConnLifetime bounds each relayed connection.
const ConnLifetime = time.Minute

// TLS is a running TLS relay.
type TLS struct {
	ln net.Listener
}

// StartTLS listens on addr ("127.0.0.1:0" for any port) with a TLS 1.3
// server presenting cert, and pipes every connection to the TLS 1.3 server
// at target, whose certificate it does not check: the client's TLS session
// ends at the relay, which sees and forwards the plaintext. Each connection
// lasts at most ConnLifetime.
func StartTLS(addr string, cert tls.Certificate, target string) (*TLS, error) {
	ln, err := tls.Listen("tcp", addr, &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}})
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(ConnLifetime))
				up, err := tls.Dial("tcp", target, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
				if err != nil {
					return
				}
				defer up.Close()
				Copy(c, up)
			}()
		}
	}()
	return &TLS{ln: ln}, nil
}

// Addr is the address the relay listens on.
func (r *TLS) Addr() string { return r.ln.Addr().String() }

// Close stops accepting connections; those relayed end on their own.
func (r *TLS) Close() error { return r.ln.Close() }
