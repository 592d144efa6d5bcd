package ratls

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"
)

// Freshness (nonce mode). A plain RA-TLS certificate proves what ran when
// it was issued; someone who obtained the certificate and its private key
// (a leaked key, an old snapshot of the workload) could present it again
// later. In nonce mode the client sends a fresh random nonce in the
// ClientHello's server name, the server issues a certificate whose claims
// buffer carries that nonce in the standard "nonce" claim (so the quote
// covers it), and the client accepts only a certificate with its own nonce.
// See docs/binding.md for the threat model and the design choice.

// NonceSize is the size of the nonces ratls generates.
const NonceSize = 32

// nonceSuffix ends the server name that carries a nonce. The .invalid
// top-level domain is reserved (RFC 2606): no real host has such a name.
const nonceSuffix = ".nonce.ratls.invalid"

var nonceEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// NonceServerName encodes a nonce as a DNS-safe server name.
func NonceServerName(nonce []byte) string {
	return strings.ToLower(nonceEncoding.EncodeToString(nonce)) + nonceSuffix
}

// NonceFromServerName extracts the nonce from a server name made by
// NonceServerName.
func NonceFromServerName(name string) ([]byte, bool) {
	label, ok := strings.CutSuffix(strings.ToLower(name), nonceSuffix)
	if !ok || len(label) == 0 || len(label) > 63 || strings.Contains(label, ".") {
		return nil, false
	}
	n, err := nonceEncoding.DecodeString(strings.ToUpper(label))
	if err != nil || len(n) < 8 || len(n) > 32 {
		return nil, false
	}
	return n, true
}

// ErrNonceUsed refuses a second handshake with a FreshClientConfig
// configuration: its nonce was sent once already, so a certificate made for
// it proves nothing about this connection.
var ErrNonceUsed = errors.New("ratls: nonce already used: FreshClientConfig is for one connection; use DialFresh or a new config")

// FreshClientConfig returns a client configuration for ONE connection in
// nonce mode: it carries a new random nonce and accepts only a server
// certificate whose claims contain it. Fresh certificates are verified
// every time (never from the cache). The server must run an Issuer with
// IssuerOptions.AllowNonce.
//
// The configuration (and any clone of it, such as those net/http makes)
// verifies one handshake: every later handshake fails with ErrNonceUsed,
// since a server could answer it with the certificate of the first. For
// many connections use DialFresh, or a new configuration per connection.
func (p *PeerVerifier) FreshClientConfig(iss *Issuer) (*tls.Config, error) {
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	cfg := ClientConfig(p, iss)
	cfg.ServerName = NonceServerName(nonce)
	// Shared by clones, which copy this closure.
	var used atomic.Bool
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		// Used up by the first verification, accepted or not: the nonce
		// has been seen by a server.
		if !used.CompareAndSwap(false, true) {
			return ErrNonceUsed
		}
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("ratls: the peer presented no certificate")
		}
		v, err := p.verifyCertificate(context.Background(), cs.PeerCertificates[0], nonce)
		if err != nil {
			return err
		}
		// Recorded for Verification, never reused: the certificate was
		// made for this one connection.
		p.record(cs.PeerCertificates[0], v, time.Time{})
		if !v.Accepted() {
			return &PeerError{Verification: v}
		}
		return nil
	}
	return cfg, nil
}

// DialFresh connects to addr in nonce mode, with a new nonce for each call.
// It has the signature of http.Transport.DialTLSContext, so HTTP clients
// can use fresh attestation for every connection.
func (p *PeerVerifier) DialFresh(ctx context.Context, network, addr string) (net.Conn, error) {
	cfg, err := p.FreshClientConfig(nil)
	if err != nil {
		return nil, err
	}
	d := &tls.Dialer{Config: cfg}
	return d.DialContext(ctx, network, addr)
}
