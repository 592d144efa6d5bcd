package ratls

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/ratls/ratls/exportedauth"
)

// HTTP binding of post-handshake attestation: on an established HTTPS
// connection, the client POSTs a ClientCertificateRequest to a well-known
// path and the server answers with its attested authenticator, bound to
// that connection's exporter (every request on a connection shares it).
// Only server attestation: HTTP gives the server no way to ask.
const (
	WellKnownAttestationPath      = "/.well-known/ratls/attestation"
	mediaTypeAuthenticatorRequest = "application/vnd.ratls.authenticator-request"
	mediaTypeAuthenticator        = "application/vnd.ratls.authenticator"
)

// Handler serves POST WellKnownAttestationPath with this side's attested
// authenticator and passes every other request to next (which may be nil
// when the server serves nothing else). The authenticator is for the
// Issuer's RA-TLS certificate: serve it with HTTPServerConfig, so that
// certificate-mode HTTPS clients are served on the same listener.
func (ph *PostHandshake) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != WellKnownAttestationPath {
			if next == nil {
				http.NotFound(w, r)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST a "+mediaTypeAuthenticatorRequest, http.StatusMethodNotAllowed)
			return
		}
		if r.TLS == nil || r.TLS.Version != tls.VersionTLS13 {
			http.Error(w, "post-handshake attestation needs TLS 1.3", http.StatusBadRequest)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != mediaTypeAuthenticatorRequest {
			http.Error(w, fmt.Sprintf("Content-Type: want %s, got %q", mediaTypeAuthenticatorRequest, ct), http.StatusUnsupportedMediaType)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, exportedauth.MaxMessageSize))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		req, err := parsePeerRequest(body, exportedauth.Client)
		if err == nil && req == nil {
			err = errors.New("empty request")
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sess, err := exportedauth.NewSession(r.TLS)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		auth, err := ph.answer(r.Context(), r.TLS, sess, exportedauth.Server, req, false)
		if err != nil {
			http.Error(w, "attestation failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", mediaTypeAuthenticator)
		w.Header().Set("Cache-Control", "no-store")
		w.Write(auth)
	})
}

// HTTPServerConfig returns the TLS configuration of a server with the HTTP
// binding: ServerConfig (iss's RA-TLS certificate, for certificate-mode
// clients too) without session tickets, offering HTTP/1.1 only (DialHTTP
// attests each connection before handing it to the HTTP client).
func HTTPServerConfig(iss *Issuer) *tls.Config {
	cfg := ServerConfig(iss, nil)
	cfg.SessionTicketsDisabled = true
	cfg.NextProtos = []string{"http/1.1"}
	return cfg
}

// DialHTTP connects to addr for an HTTP/1.1 client: TLS handshake, then a
// POST to WellKnownAttestationPath on that connection, and returns the
// connection only when the server's attestation is accepted. It has the
// signature of http.Transport.DialTLSContext, so every connection of an
// http.Client is attested before its first request:
//
//	client := &http.Client{Transport: &http.Transport{DialTLSContext: ph.DialHTTP}}
func (ph *PostHandshake) DialHTTP(ctx context.Context, network, addr string) (net.Conn, error) {
	if ph.Peers == nil {
		return nil, errors.New("ratls: DialHTTP needs PostHandshake.Peers to verify the server")
	}
	cfg := PostHandshakeClientConfig()
	cfg.NextProtos = []string{"http/1.1"}
	c, err := (&tls.Dialer{Config: cfg}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	conn := c.(*tls.Conn)
	if _, err := ph.attestOverHTTP(ctx, conn, addr); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// attestOverHTTP asks the server on conn for its attestation with the
// HTTP binding and verifies it.
func (ph *PostHandshake) attestOverHTTP(ctx context.Context, conn *tls.Conn, addr string) (*ChannelVerification, error) {
	ctx, cancel := context.WithTimeout(ctx, ph.timeout())
	defer cancel()
	stop := deadlineFromContext(ctx, conn)
	defer stop()

	cs := conn.ConnectionState()
	sess, err := exportedauth.NewSession(&cs)
	if err != nil {
		return nil, err
	}
	req, err := attestationRequest(exportedauth.Client)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+WellKnownAttestationPath, bytes.NewReader(req.Marshal()))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", mediaTypeAuthenticatorRequest)
	if err := hreq.Write(conn); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, hreq)
	if err != nil {
		return nil, fmt.Errorf("ratls: %s: %w", WellKnownAttestationPath, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFrame+1))
	if err != nil {
		return nil, fmt.Errorf("ratls: %s: %w", WellKnownAttestationPath, err)
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("ratls: %s: the server answered %s: %s (does it serve post-handshake attestation?)", WellKnownAttestationPath, resp.Status, bytes.TrimSpace(body[:min(len(body), 200)]))
	case resp.Header.Get("Content-Type") != mediaTypeAuthenticator:
		return nil, fmt.Errorf("ratls: %s: Content-Type: want %s, got %q", WellKnownAttestationPath, mediaTypeAuthenticator, resp.Header.Get("Content-Type"))
	case len(body) > maxFrame:
		return nil, fmt.Errorf("ratls: %s: the answer exceeds %d bytes", WellKnownAttestationPath, maxFrame)
	case br.Buffered() > 0:
		// The connection goes to the HTTP client next: it must hold
		// nothing but the answer.
		return nil, fmt.Errorf("ratls: %s: the server sent %d bytes after its answer", WellKnownAttestationPath, br.Buffered())
	}
	return ph.Peers.verifyAttestedAuthenticator(ctx, &cs, sess, exportedauth.Server, req, body, ph.PassportKeys)
}
