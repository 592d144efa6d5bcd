package ratls

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/exportedauth"
)

// Post-handshake mode: right after the TLS handshake, each side may ask the
// other for an exported authenticator carrying attestation bound to the
// connection (expat.go). The exchange uses a minimal framing on the TLS
// stream, before any application data (docs/binding.md, "Transport"):
//
//	frame = kind (1 byte) || length (3 bytes, big endian) || body
//
//	client -> server  REQUEST(ClientCertificateRequest, or empty: none)
//	server -> client  REQUEST(CertificateRequest, or empty: none)
//	server -> client  AUTHENTICATOR          if the client asked
//	client -> server  AUTHENTICATOR          if the server asked
//	server -> client  DONE                   or ERROR(reason)
//
// Either side sends ERROR(reason) instead of its next frame when it
// refuses the other, then closes.
const (
	frameRequest       = 1
	frameAuthenticator = 2
	frameDone          = 3
	frameError         = 4

	maxFrame      = exportedauth.MaxMessageSize + 64<<10
	maxErrorFrame = 1 << 10
)

var frameNames = map[byte]string{frameRequest: "REQUEST", frameAuthenticator: "AUTHENTICATOR", frameDone: "DONE", frameError: "ERROR"}

func writeFrame(w io.Writer, kind byte, body []byte) error {
	if len(body) > maxFrame {
		return fmt.Errorf("ratls: %s frame of %d bytes exceeds the limit of %d", frameNames[kind], len(body), maxFrame)
	}
	_, err := w.Write(append([]byte{kind, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...))
	return err
}

// PeerRefusedError reports that the peer refused this side's attestation
// (or the exchange) and said why in an ERROR frame.
type PeerRefusedError struct{ Reason string }

func (e *PeerRefusedError) Error() string { return "ratls: the peer refused: " + e.Reason }

// readFrame reads the next frame, which must be of kind want; an ERROR
// frame becomes a *PeerRefusedError.
func readFrame(r io.Reader, want byte) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("ratls: post-handshake attestation: waiting for a %s frame: %w (the peer does not run post-handshake attestation, or closed)", frameNames[want], err)
	}
	n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	name, known := frameNames[h[0]]
	switch {
	case !known:
		return nil, fmt.Errorf("ratls: post-handshake attestation: want a %s frame, got bytes %x: the peer does not speak this protocol (a plain TLS or certificate-mode peer?)", frameNames[want], h)
	case n > maxFrame || (h[0] == frameError && n > maxErrorFrame):
		return nil, fmt.Errorf("ratls: post-handshake attestation: %s frame of %d bytes exceeds the limit", name, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("ratls: post-handshake attestation: %s frame: %w", name, err)
	}
	if h[0] == frameError {
		return nil, &PeerRefusedError{Reason: string(bytes.ToValidUTF8(body, []byte("?")))}
	}
	if h[0] != want {
		return nil, fmt.Errorf("ratls: post-handshake attestation: want a %s frame, got %s: the peer skipped a step of the exchange", frameNames[want], name)
	}
	return body, nil
}

// refuse tells the peer why, then returns err.
func refuse(w io.Writer, err error) error {
	msg := err.Error()
	if len(msg) > maxErrorFrame {
		msg = msg[:maxErrorFrame]
	}
	writeFrame(w, frameError, []byte(msg))
	return err
}

// PostHandshake configures one side of post-handshake attestation. The
// same value serves any number of connections.
type PostHandshake struct {
	// Issuer attests this side: its current certificate signs the
	// authenticator, and its attester produces Evidence bound to the
	// connection. Nil: this side declines to attest (empty authenticator).
	Issuer *Issuer
	// Passport, when set, trades that Evidence for an EAR from a
	// verification service and sends the EAR (passport model).
	Passport PassportFunc
	// Peers, when set, asks the peer to attest and verifies its
	// attestation with this verifier's options and policy, the same as in
	// certificate mode. Nil: the peer is not asked.
	Peers *PeerVerifier
	// PassportKeys are the keys of the verification services whose EARs
	// are accepted from peers; nil refuses EARs.
	PassportKeys *ear.JWKSet
	// Timeout bounds the exchange; zero means 30 seconds.
	Timeout time.Duration
}

func (ph *PostHandshake) timeout() time.Duration {
	if ph.Timeout > 0 {
		return ph.Timeout
	}
	return 30 * time.Second
}

// attestationRequest is the request this side sends when it asks the
// peer to attest: a fresh 32-byte context and an empty cmw_attestation.
func attestationRequest(from exportedauth.Role) (*exportedauth.Request, error) {
	context := make([]byte, 32)
	if _, err := rand.Read(context); err != nil {
		return nil, err
	}
	return exportedauth.NewRequest(from, context, exportedauth.DefaultSignatureSchemes,
		exportedauth.Extension{Type: ExtensionCMWAttestation})
}

// answer builds this side's authenticator for the peer's request: attested
// when there is an Issuer, an empty authenticator (a refusal) otherwise.
// light selects the Issuer's light certificate, which
// PostHandshakeServerConfig presents, over its RA-TLS certificate.
func (ph *PostHandshake) answer(ctx context.Context, cs *tls.ConnectionState, sess *exportedauth.Session, as exportedauth.Role, req *exportedauth.Request, light bool) ([]byte, error) {
	if ph.Issuer == nil {
		return sess.Refuse(as, req)
	}
	return ph.Issuer.attestedAuthenticator(ctx, cs, sess, as, req, ph.Passport, light)
}

// parsePeerRequest reads the peer's REQUEST frame body: empty (no
// request) or a request of the kind the peer's role sends.
func parsePeerRequest(body []byte, peer exportedauth.Role) (*exportedauth.Request, error) {
	if len(body) == 0 {
		return nil, nil
	}
	req, err := exportedauth.ParseRequest(body)
	if err != nil {
		return nil, err
	}
	if req.From != peer {
		return nil, fmt.Errorf("ratls: post-handshake attestation: the %s sent a request of the %s's kind (a reflected request?)", peer, req.From)
	}
	return req, nil
}

// start completes the handshake and opens the exported-authenticator
// session of the connection, the exchange bounded by the timeout; done
// releases the deadline.
func (ph *PostHandshake) start(ctx context.Context, conn *tls.Conn) (context.Context, *tls.ConnectionState, *exportedauth.Session, func(), error) {
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, ph.timeout())
	stop := deadlineFromContext(ctx, conn)
	done := func() { stop(); cancel() }
	cs := conn.ConnectionState()
	sess, err := exportedauth.NewSession(&cs)
	if err != nil {
		done()
		return nil, nil, nil, nil, err
	}
	return ctx, &cs, sess, done, nil
}

// Client runs the exchange as the TLS client, right after the handshake
// and before any application data. It returns the server's verification
// (nil when Peers is nil) and fails unless the server's attestation is
// accepted and, when asked, the server accepted this client's.
func (ph *PostHandshake) Client(ctx context.Context, conn *tls.Conn) (*ChannelVerification, error) {
	ctx, cs, sess, done, err := ph.start(ctx, conn)
	if err != nil {
		return nil, err
	}
	defer done()
	var mine []byte
	var req *exportedauth.Request
	if ph.Peers != nil {
		if req, err = attestationRequest(exportedauth.Client); err != nil {
			return nil, err
		}
		mine = req.Marshal()
	}
	if err := writeFrame(conn, frameRequest, mine); err != nil {
		return nil, err
	}
	body, err := readFrame(conn, frameRequest)
	if err != nil {
		return nil, err
	}
	theirs, err := parsePeerRequest(body, exportedauth.Server)
	if err != nil {
		return nil, refuse(conn, err)
	}
	var result *ChannelVerification
	if req != nil {
		auth, err := readFrame(conn, frameAuthenticator)
		if err != nil {
			return nil, err
		}
		result, err = ph.Peers.verifyAttestedAuthenticator(ctx, cs, sess, exportedauth.Server, req, auth, ph.PassportKeys)
		if err != nil {
			// Tell a server that waits for this client's authenticator;
			// one that does not has sent DONE already and gets nothing
			// more on this connection.
			if theirs != nil {
				refuse(conn, err)
			}
			return result, err
		}
	}
	if theirs != nil {
		auth, err := ph.answer(ctx, cs, sess, exportedauth.Client, theirs, true)
		if err != nil {
			return result, refuse(conn, err)
		}
		if err := writeFrame(conn, frameAuthenticator, auth); err != nil {
			return result, err
		}
	}
	if _, err := readFrame(conn, frameDone); err != nil {
		return result, err
	}
	return result, nil
}

// Server runs the exchange as the TLS server, right after the handshake.
// It returns the client's verification (nil when Peers is nil) and fails
// unless, when Peers is set, the client's attestation is accepted.
func (ph *PostHandshake) Server(ctx context.Context, conn *tls.Conn) (*ChannelVerification, error) {
	ctx, cs, sess, done, err := ph.start(ctx, conn)
	if err != nil {
		return nil, err
	}
	defer done()
	body, err := readFrame(conn, frameRequest)
	if err != nil {
		return nil, err
	}
	theirs, err := parsePeerRequest(body, exportedauth.Client)
	if err != nil {
		return nil, refuse(conn, err)
	}
	var mine []byte
	var req *exportedauth.Request
	if ph.Peers != nil {
		if req, err = attestationRequest(exportedauth.Server); err != nil {
			return nil, err
		}
		mine = req.Marshal()
	}
	if err := writeFrame(conn, frameRequest, mine); err != nil {
		return nil, err
	}
	if theirs != nil {
		auth, err := ph.answer(ctx, cs, sess, exportedauth.Server, theirs, true)
		if err != nil {
			return nil, refuse(conn, err)
		}
		if err := writeFrame(conn, frameAuthenticator, auth); err != nil {
			return nil, err
		}
	}
	var result *ChannelVerification
	if req != nil {
		auth, err := readFrame(conn, frameAuthenticator)
		if err != nil {
			return nil, err
		}
		if result, err = ph.Peers.verifyAttestedAuthenticator(ctx, cs, sess, exportedauth.Client, req, auth, ph.PassportKeys); err != nil {
			return result, refuse(conn, err)
		}
	}
	return result, writeFrame(conn, frameDone, nil)
}

// deadlineFromContext applies ctx's deadline to conn and returns a
// function that clears it; cancelling ctx interrupts blocked I/O.
func deadlineFromContext(ctx context.Context, conn net.Conn) (stop func()) {
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-ctx.Done():
			conn.SetDeadline(time.Unix(1, 0))
		case <-done:
		}
	}()
	return func() {
		close(done)
		<-exited
		conn.SetDeadline(time.Time{})
	}
}

// PostHandshakeServerConfig returns a TLS 1.3 server configuration for
// post-handshake mode (PostHandshake.Server). It presents a light
// certificate for the key of iss's current certificate, without evidence
// or collateral: the evidence comes in the authenticator, bound to the
// connection. It sends no session tickets, since the draft forbids
// resumption on connections it covers. Certificate-mode clients cannot use
// such a listener (they do not run the exchange either); serve them with
// ServerConfig, which the HTTP binding uses too.
func PostHandshakeServerConfig(iss *Issuer) *tls.Config {
	cfg := ServerConfig(iss, nil)
	cfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, err := iss.GetCertificate(hello)
		if err != nil {
			return nil, err
		}
		return lightCertificates.get(c)
	}
	cfg.SessionTicketsDisabled = true
	return cfg
}

// PostHandshakeClientConfig returns a TLS 1.3 client configuration for
// post-handshake mode. The handshake only requires a server certificate:
// the server's identity is established by the attestation exchange that
// must follow (PostHandshake.Client, Dial); without it the connection
// proves nothing. It keeps no session tickets (no resumption).
func PostHandshakeClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // the attestation exchange replaces it
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("ratls: the server presented no certificate")
			}
			return nil
		},
	}
}

// Dial connects to addr in post-handshake mode: TLS handshake, then the
// attestation exchange. It returns the connection only when the server's
// attestation is accepted (and, when asked, the server accepted this
// client's), with the server's verification.
func (ph *PostHandshake) Dial(ctx context.Context, network, addr string) (*tls.Conn, *ChannelVerification, error) {
	d := &tls.Dialer{Config: PostHandshakeClientConfig()}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, nil, err
	}
	conn := c.(*tls.Conn)
	v, err := ph.Client(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, v, err
	}
	return conn, v, nil
}
