package exportedauth

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"

	_ "crypto/sha256" // the TLS 1.3 cipher suite hashes
	_ "crypto/sha512"
)

// Role is the side of a TLS connection an endpoint plays.
type Role uint8

// Roles.
const (
	Client Role = 1
	Server Role = 2
)

func (r Role) String() string {
	switch r {
	case Client:
		return "client"
	case Server:
		return "server"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

func (r Role) check() error {
	if r != Client && r != Server {
		return fmt.Errorf("exportedauth: unknown role %d", uint8(r))
	}
	return nil
}

func (r Role) requestType() byte {
	if r == Server {
		return typeCertificateRequest
	}
	return typeClientCertificateRequest
}

// Exporter labels of RFC 9261 Section 5.1, by the role of the endpoint
// that sends the authenticator.
const (
	labelClientHandshakeContext = "EXPORTER-client authenticator handshake context"
	labelServerHandshakeContext = "EXPORTER-server authenticator handshake context"
	labelClientFinishedKey      = "EXPORTER-client authenticator finished key"
	labelServerFinishedKey      = "EXPORTER-server authenticator finished key"
)

// ErrRefused is returned by Verify for a valid empty authenticator: the
// peer declined to authenticate (RFC 9261 Section 6).
var ErrRefused = errors.New("exportedauth: the peer sent an empty authenticator (it declines to authenticate)")

// ErrNoSignatureScheme is returned by Authenticate when the key can sign
// with none of the schemes the request accepts; RFC 9261 then says no
// authenticator should be made (send Refuse's empty authenticator instead).
var ErrNoSignatureScheme = errors.New("exportedauth: the key signs with none of the requested signature schemes")

// ExportFunc is ConnectionState.ExportKeyingMaterial.
type ExportFunc func(label string, context []byte, length int) ([]byte, error)

// Session makes and checks the authenticators of one TLS 1.3 connection.
// It remembers the certificate_request_context of every authenticator it
// validated, and of every spontaneous authenticator it made, and refuses
// to use one twice (RFC 9261 Sections 5.2.1 and 7.4). It is safe for
// concurrent use.
type Session struct {
	hash   crypto.Hash
	export ExportFunc
	// known are certificates crypto/tls already parsed (the peer's
	// handshake chain): an authenticator repeating them is not parsed again.
	known []*x509.Certificate

	mu   sync.Mutex
	used map[string]bool
}

// NewSession returns the Session of an established TLS 1.3 connection.
func NewSession(cs *tls.ConnectionState) (*Session, error) {
	if cs.Version != tls.VersionTLS13 {
		return nil, fmt.Errorf("exportedauth: TLS version: want TLS 1.3, got %s", tls.VersionName(cs.Version))
	}
	if !cs.HandshakeComplete {
		return nil, errors.New("exportedauth: the TLS handshake is not complete")
	}
	h, err := SuiteHash(cs.CipherSuite)
	if err != nil {
		return nil, err
	}
	s := NewSessionFromExporter(h, cs.ExportKeyingMaterial)
	s.known = cs.PeerCertificates
	return s, nil
}

// NewSessionFromExporter returns a Session for a connection whose exporter
// and cipher suite hash are given directly (for other TLS 1.3 stacks, or
// for tests with fixed exporter values).
func NewSessionFromExporter(h crypto.Hash, export ExportFunc) *Session {
	return &Session{hash: h, export: export, used: make(map[string]bool)}
}

// SuiteHash returns the hash of a TLS 1.3 cipher suite: the authenticator
// hash of RFC 9261 Section 5.1.
func SuiteHash(suite uint16) (crypto.Hash, error) {
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256, tls.TLS_CHACHA20_POLY1305_SHA256:
		return crypto.SHA256, nil
	case tls.TLS_AES_256_GCM_SHA384:
		return crypto.SHA384, nil
	}
	return 0, fmt.Errorf("exportedauth: cipher suite %s (0x%04x) is not a TLS 1.3 suite", tls.CipherSuiteName(suite), suite)
}

// Hash is the connection's authenticator hash.
func (s *Session) Hash() crypto.Hash { return s.hash }

// keys derives the Handshake Context and Finished MAC Key of the
// authenticators sender sends: exporter values with an empty context and
// the hash's length (RFC 9261 Section 5.1).
func (s *Session) keys(sender Role) (hc, fk []byte, err error) {
	hcLabel, fkLabel := labelClientHandshakeContext, labelClientFinishedKey
	if sender == Server {
		hcLabel, fkLabel = labelServerHandshakeContext, labelServerFinishedKey
	}
	if hc, err = s.export(hcLabel, nil, s.hash.Size()); err != nil {
		return nil, nil, fmt.Errorf("exportedauth: exporter %q: %w", hcLabel, err)
	}
	if fk, err = s.export(fkLabel, nil, s.hash.Size()); err != nil {
		return nil, nil, fmt.Errorf("exportedauth: exporter %q: %w", fkLabel, err)
	}
	return hc, fk, nil
}

// transcriptHash hashes the concatenation of parts.
func transcriptHash(h crypto.Hash, parts ...[]byte) []byte {
	d := h.New()
	for _, p := range parts {
		d.Write(p)
	}
	return d.Sum(nil)
}

// finishedMAC is HMAC(Finished MAC Key, Hash(transcript)).
func finishedMAC(h crypto.Hash, fk []byte, transcript ...[]byte) []byte {
	m := hmac.New(h.New, fk)
	m.Write(transcriptHash(h, transcript...))
	return m.Sum(nil)
}

// transcript hashes Handshake Context || request || Certificate once for
// both the CertificateVerify and the Finished message, which extends it
// with the CertificateVerify (the Certificate message can be large).
type transcript struct {
	h     crypto.Hash
	d     hash.Hash
	parts [][]byte
}

func newTranscript(h crypto.Hash, parts ...[]byte) *transcript {
	d := h.New()
	for _, p := range parts {
		d.Write(p)
	}
	return &transcript{h: h, d: d, parts: parts}
}

func (t *transcript) sum() []byte { return t.d.Sum(nil) }

// finished is HMAC(fk, Hash(transcript || cv)).
func (t *transcript) finished(fk, cv []byte) []byte {
	if c, ok := t.d.(hash.Cloner); ok {
		if d, err := c.Clone(); err == nil {
			d.Write(cv)
			m := hmac.New(t.h.New, fk)
			m.Write(d.Sum(nil))
			return m.Sum(nil)
		}
	}
	return finishedMAC(t.h, fk, append(t.parts[:len(t.parts):len(t.parts)], cv)...)
}

// Identity is what an authenticator proves possession of.
type Identity struct {
	// Chain is the certificate chain, DER, end-entity certificate first.
	Chain [][]byte
	// Key is the end-entity certificate's private key.
	Key crypto.Signer
	// Extensions go in the end-entity certificate's entry; each must have
	// been offered in the request (RFC 9261 Section 5.2.1).
	Extensions []Extension
}

// Authenticate builds the authenticator that an endpoint in role as sends
// in answer to req, the peer's request.
func (s *Session) Authenticate(as Role, req *Request, id *Identity) ([]byte, error) {
	if err := as.check(); err != nil {
		return nil, err
	}
	if req == nil || req.From == as {
		return nil, fmt.Errorf("exportedauth: a %s answers its peer's request; use Spontaneous to authenticate unasked", as)
	}
	for _, e := range id.Extensions {
		if _, ok := req.Extension(e.Type); !ok {
			return nil, fmt.Errorf("exportedauth: extension %d was not offered in the request (RFC 9261 Section 5.2.1)", e.Type)
		}
	}
	return s.authenticate(as, req.raw, req.Context, req.SignatureSchemes(), id)
}

// Spontaneous builds a server authenticator that answers no request
// (RFC 9261 Section 3). context must be unique on the connection and
// unpredictable; nil picks 32 random bytes. peerSchemes are the
// signature_algorithms of the client's ClientHello
// (tls.ClientHelloInfo.SignatureSchemes) and peerExtensions the extension
// types it sent (tls.ClientHelloInfo.Extensions): id's extensions must be
// among them.
func (s *Session) Spontaneous(id *Identity, context []byte, peerSchemes []tls.SignatureScheme, peerExtensions []uint16) ([]byte, error) {
	if context == nil {
		context = make([]byte, 32)
		if _, err := rand.Read(context); err != nil {
			return nil, err
		}
	}
	for _, e := range id.Extensions {
		if !slices.Contains(peerExtensions, e.Type) {
			return nil, fmt.Errorf("exportedauth: extension %d was not in the ClientHello (RFC 9261 Section 5.2.1)", e.Type)
		}
	}
	if !s.claim(context) {
		return nil, fmt.Errorf("exportedauth: certificate_request_context %x was already used on this connection", context)
	}
	return s.authenticate(Server, nil, context, peerSchemes, id)
}

func (s *Session) authenticate(as Role, reqRaw, context []byte, schemes []tls.SignatureScheme, id *Identity) ([]byte, error) {
	if id == nil || id.Key == nil || len(id.Chain) == 0 {
		return nil, errors.New("exportedauth: an identity needs a certificate chain and its key")
	}
	scheme, ok := chooseScheme(schemes, id.Key.Public())
	if !ok {
		return nil, ErrNoSignatureScheme
	}
	entries := make([]CertificateEntry, len(id.Chain))
	for i, der := range id.Chain {
		entries[i].Data = der
	}
	entries[0].Extensions = id.Extensions
	cert, err := marshalCertificate(context, entries)
	if err != nil {
		return nil, fmt.Errorf("exportedauth: %w", err)
	}
	hc, fk, err := s.keys(as)
	if err != nil {
		return nil, err
	}
	t := newTranscript(s.hash, hc, reqRaw, cert)
	sig, err := sign(id.Key, scheme, signedContent(t.sum()))
	if err != nil {
		return nil, fmt.Errorf("exportedauth: CertificateVerify: %w", err)
	}
	cvBody := []byte{byte(scheme >> 8), byte(scheme)}
	cv := handshake(typeCertificateVerify, appendVector(cvBody, 2, sig))
	fin := handshake(typeFinished, t.finished(fk, cv))
	return slices.Concat(cert, cv, fin), nil
}

// Refuse builds the empty authenticator with which an endpoint in role as
// declines req (RFC 9261 Section 6).
func (s *Session) Refuse(as Role, req *Request) ([]byte, error) {
	if err := as.check(); err != nil {
		return nil, err
	}
	if req == nil || req.From == as {
		return nil, fmt.Errorf("exportedauth: a %s can refuse only its peer's request", as)
	}
	return s.emptyAuthenticator(as, req.raw, req.Context)
}

func (s *Session) emptyAuthenticator(as Role, reqRaw, context []byte) ([]byte, error) {
	hc, fk, err := s.keys(as)
	if err != nil {
		return nil, err
	}
	cert, err := marshalCertificate(context, nil)
	if err != nil {
		return nil, fmt.Errorf("exportedauth: %w", err)
	}
	return handshake(typeFinished, finishedMAC(s.hash, fk, hc, reqRaw, cert)), nil
}

// parseCertificate parses der, or returns the handshake's parsed copy of
// the same bytes.
func (s *Session) parseCertificate(der []byte) (*x509.Certificate, error) {
	for _, c := range s.known {
		if bytes.Equal(c.Raw, der) {
			return c, nil
		}
	}
	return x509.ParseCertificate(der)
}

// claim records a context as used; it reports false if it already was.
func (s *Session) claim(context []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used[string(context)] {
		return false
	}
	s.used[string(context)] = true
	return true
}

// Authenticator is a parsed authenticator.
type Authenticator struct {
	// Context is the certificate_request_context.
	Context []byte
	// Entries are the Certificate message's entries, end-entity first;
	// none in an empty authenticator.
	Entries []CertificateEntry
	// Chain is Entries parsed (set by Verify).
	Chain []*x509.Certificate
	// Scheme and Signature are the CertificateVerify message's.
	Scheme    tls.SignatureScheme
	Signature []byte
	// Finished is the Finished message's MAC.
	Finished []byte
	// Empty marks an empty authenticator (a refusal).
	Empty bool

	cert, cv []byte // messages as received, for the transcripts
}

// ParseAuthenticator parses an authenticator without checking it: an
// empty authenticator (a Finished message alone) or a Certificate,
// CertificateVerify and Finished message, nothing before or after.
func ParseAuthenticator(b []byte) (*Authenticator, error) {
	typ, body, msg, rest, err := readHandshake(b)
	if err != nil {
		return nil, fmt.Errorf("exportedauth: authenticator: %w", err)
	}
	if typ == typeFinished {
		if len(rest) != 0 {
			return nil, fmt.Errorf("exportedauth: empty authenticator: %d bytes after the Finished message", len(rest))
		}
		return &Authenticator{Empty: true, Finished: bytes.Clone(body)}, nil
	}
	if typ != typeCertificate {
		return nil, fmt.Errorf("exportedauth: authenticator: want a Certificate (11) or, for an empty authenticator, a Finished (20) message first, got type %d", typ)
	}
	a := &Authenticator{cert: bytes.Clone(msg)}
	if a.Context, a.Entries, err = parseCertificate(body); err != nil {
		return nil, fmt.Errorf("exportedauth: Certificate message: %w", err)
	}
	if len(a.Entries) == 0 {
		return nil, errors.New("exportedauth: Certificate message: no certificate (only an empty authenticator may omit it, and then it is a Finished message alone)")
	}
	typ, body, msg, rest, err = readHandshake(rest)
	if err != nil {
		return nil, fmt.Errorf("exportedauth: authenticator: %w", err)
	}
	if typ != typeCertificateVerify {
		return nil, fmt.Errorf("exportedauth: authenticator: want a CertificateVerify (15) message after the Certificate, got type %d", typ)
	}
	a.cv = bytes.Clone(msg)
	r := &reader{b: body}
	a.Scheme = tls.SignatureScheme(r.uint(2))
	a.Signature = bytes.Clone(r.vector(2))
	if r.err != nil || !r.empty() {
		return nil, fmt.Errorf("exportedauth: CertificateVerify message: want a scheme and a signature<0..2^16-1>, got %d bytes", len(body))
	}
	typ, body, _, rest, err = readHandshake(rest)
	if err != nil {
		return nil, fmt.Errorf("exportedauth: authenticator: %w", err)
	}
	if typ != typeFinished {
		return nil, fmt.Errorf("exportedauth: authenticator: want a Finished (20) message after the CertificateVerify, got type %d", typ)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("exportedauth: authenticator: %d bytes after the Finished message", len(rest))
	}
	a.Finished = bytes.Clone(body)
	return a, nil
}

// ChainVerifier validates an authenticator's certificate chain (end-entity
// first), as the "validate" API of RFC 9261 Section 7.4 requires.
type ChainVerifier func(chain []*x509.Certificate) error

// Verify checks the authenticator that the endpoint in role from sent in
// answer to req, this endpoint's request: its context, the signature over
// the transcript, the Finished MAC, its extensions (only those req
// offered), and finally the chain, with verifyChain (nil refuses every
// authenticator: chain validation is not optional). A valid empty
// authenticator returns ErrRefused. A context is accepted once per
// Session.
func (s *Session) Verify(from Role, req *Request, auth []byte, verifyChain ChainVerifier) (*Authenticator, error) {
	if err := from.check(); err != nil {
		return nil, err
	}
	if req == nil || req.From == from {
		return nil, fmt.Errorf("exportedauth: verify a %s's authenticator against the request sent to it; use VerifySpontaneous for an unasked one", from)
	}
	offered := make([]uint16, len(req.Extensions))
	for i, e := range req.Extensions {
		offered[i] = e.Type
	}
	return s.verify(from, req.raw, req.Context, req.SignatureSchemes(), offered, auth, verifyChain)
}

// VerifySpontaneous checks a server authenticator that answers no request:
// schemes are the signature_algorithms this client sent in its
// ClientHello and extensions the extension types it sent there.
func (s *Session) VerifySpontaneous(auth []byte, schemes []tls.SignatureScheme, extensions []uint16, verifyChain ChainVerifier) (*Authenticator, error) {
	return s.verify(Server, nil, nil, schemes, extensions, auth, verifyChain)
}

func (s *Session) verify(from Role, reqRaw, reqContext []byte, schemes []tls.SignatureScheme, offered []uint16, auth []byte, verifyChain ChainVerifier) (*Authenticator, error) {
	a, err := ParseAuthenticator(auth)
	if err != nil {
		return nil, err
	}
	hc, fk, err := s.keys(from)
	if err != nil {
		return nil, err
	}
	if a.Empty {
		if reqRaw == nil {
			return nil, errors.New("exportedauth: an empty authenticator answers a request; there was none")
		}
		want, err := s.emptyAuthenticator(from, reqRaw, reqContext)
		if err != nil {
			return nil, err
		}
		if !hmac.Equal(want, auth) {
			return nil, fmt.Errorf("exportedauth: empty authenticator: Finished does not match this connection's %s finished key and the request", from)
		}
		return a, ErrRefused
	}
	spontaneous := reqRaw == nil
	if !spontaneous && !bytes.Equal(a.Context, reqContext) {
		return nil, fmt.Errorf("exportedauth: certificate_request_context: want %s (the request's), got %s", hex.EncodeToString(reqContext), hex.EncodeToString(a.Context))
	}
	for i, e := range a.Entries {
		for _, x := range e.Extensions {
			if !slices.Contains(offered, x.Type) {
				where := "the request"
				if spontaneous {
					where = "the ClientHello"
				}
				return nil, fmt.Errorf("exportedauth: certificate %d carries extension %d, which %s did not offer (RFC 9261 Section 5.2.1)", i, x.Type, where)
			}
		}
	}
	if !slices.Contains(schemes, a.Scheme) {
		return nil, fmt.Errorf("exportedauth: CertificateVerify: scheme %s was not offered (offered: %v)", a.Scheme, schemes)
	}
	for _, e := range a.Entries {
		c, err := s.parseCertificate(e.Data)
		if err != nil {
			return nil, fmt.Errorf("exportedauth: certificate %d: %w", len(a.Chain), err)
		}
		a.Chain = append(a.Chain, c)
	}
	t := newTranscript(s.hash, hc, reqRaw, a.cert)
	if err := verifySignature(a.Chain[0].PublicKey, a.Scheme, signedContent(t.sum()), a.Signature); err != nil {
		return nil, fmt.Errorf("exportedauth: CertificateVerify (%s): %w: the authenticator was not made for this connection, this request and this %s's exporter keys", a.Scheme, err, from)
	}
	if !hmac.Equal(a.Finished, t.finished(fk, a.cv)) {
		return nil, fmt.Errorf("exportedauth: Finished: the MAC does not match this connection's %s finished key", from)
	}
	if verifyChain == nil {
		return nil, errors.New("exportedauth: no certificate chain validation was configured: refusing the authenticator")
	}
	if err := verifyChain(a.Chain); err != nil {
		return nil, fmt.Errorf("exportedauth: certificate chain: %w", err)
	}
	if !s.claim(a.Context) {
		return nil, fmt.Errorf("exportedauth: certificate_request_context %x was already used by an authenticator on this connection (replay)", a.Context)
	}
	return a, nil
}
