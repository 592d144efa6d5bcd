package exportedauth

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
)

// Handshake message types (RFC 8446 Section 4; client_certificate_request
// is RFC 9261 Section 8).
const (
	typeCertificate              = 11
	typeCertificateRequest       = 13
	typeCertificateVerify        = 15
	typeClientCertificateRequest = 17
	typeFinished                 = 20
)

// Extension types this package interprets.
const (
	ExtensionServerName          uint16 = 0
	ExtensionSignatureAlgorithms uint16 = 13
)

// Limits on what this package parses and builds.
const (
	// MaxContextSize is the largest certificate_request_context (opaque<0..2^8-1>).
	MaxContextSize = 255
	// MaxMessageSize bounds one handshake message: far above any real
	// certificate chain, far below the 2^24-1 the format allows.
	MaxMessageSize = 1 << 20
	maxExtensions  = 1<<16 - 1
)

var errTruncated = errors.New("truncated")

// Extension is a TLS extension: its type and its extension_data.
type Extension struct {
	Type uint16
	Data []byte
}

// reader reads TLS presentation-language fields; it records the first
// error and returns zero values after it.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail(errTruncated)
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) uint(size int) int {
	b := r.bytes(size)
	n := 0
	for _, c := range b {
		n = n<<8 | int(c)
	}
	return n
}

// vector reads a variable-length vector with a size-byte length prefix.
func (r *reader) vector(size int) []byte { return r.bytes(r.uint(size)) }

func (r *reader) empty() bool { return len(r.b) == 0 }

// appendVector appends v with a size-byte length prefix.
func appendVector(b []byte, size int, v []byte) []byte {
	for i := size - 1; i >= 0; i-- {
		b = append(b, byte(len(v)>>(8*i)))
	}
	return append(b, v...)
}

// handshake frames body as a handshake message of type typ.
func handshake(typ byte, body []byte) []byte {
	return appendVector([]byte{typ}, 3, body)
}

// readHandshake reads one handshake message from the front of b.
func readHandshake(b []byte) (typ byte, body, msg, rest []byte, err error) {
	if len(b) < 4 {
		return 0, nil, nil, nil, fmt.Errorf("handshake message: want a 4-byte header, got %d bytes", len(b))
	}
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if n > MaxMessageSize {
		return 0, nil, nil, nil, fmt.Errorf("handshake message of type %d: %d bytes exceeds the limit of %d", b[0], n, MaxMessageSize)
	}
	if len(b)-4 < n {
		return 0, nil, nil, nil, fmt.Errorf("handshake message of type %d: length says %d bytes, %d follow", b[0], n, len(b)-4)
	}
	return b[0], b[4 : 4+n : 4+n], b[: 4+n : 4+n], b[4+n:], nil
}

func marshalExtensions(exts []Extension) ([]byte, error) {
	var b []byte
	seen := make(map[uint16]bool, len(exts))
	for _, e := range exts {
		if seen[e.Type] {
			return nil, fmt.Errorf("extension %d appears twice", e.Type)
		}
		seen[e.Type] = true
		if len(e.Data) > maxExtensions {
			return nil, fmt.Errorf("extension %d: %d bytes exceeds the limit of %d", e.Type, len(e.Data), maxExtensions)
		}
		b = append(b, byte(e.Type>>8), byte(e.Type))
		b = appendVector(b, 2, e.Data)
	}
	if len(b) > maxExtensions {
		return nil, fmt.Errorf("extensions: %d bytes exceeds the limit of %d", len(b), maxExtensions)
	}
	return b, nil
}

// parseExtensions reads an extension block; a type may appear only once
// (RFC 8446 Section 4.2).
func parseExtensions(b []byte) ([]Extension, error) {
	r := &reader{b: b}
	var exts []Extension
	seen := make(map[uint16]bool)
	for !r.empty() && r.err == nil {
		typ := uint16(r.uint(2))
		data := r.vector(2)
		if r.err != nil {
			break
		}
		if seen[typ] {
			return nil, fmt.Errorf("extension %d appears twice", typ)
		}
		seen[typ] = true
		exts = append(exts, Extension{Type: typ, Data: bytes.Clone(data)})
	}
	if r.err != nil {
		return nil, fmt.Errorf("extensions: %w", r.err)
	}
	return exts, nil
}

func findExtension(exts []Extension, typ uint16) ([]byte, bool) {
	for _, e := range exts {
		if e.Type == typ {
			return e.Data, true
		}
	}
	return nil, false
}

// Request is an authenticator request: a CertificateRequest sent by a
// server or a ClientCertificateRequest sent by a client (RFC 9261 Section 4).
type Request struct {
	// From is the role of the endpoint that sent the request; the other
	// endpoint answers it.
	From Role
	// Context is the certificate_request_context the authenticator echoes.
	Context []byte
	// Extensions are the request's extensions, signature_algorithms
	// included.
	Extensions []Extension

	raw []byte // the message as sent: part of every transcript
}

// NewRequest builds the request an endpoint in role from sends: context
// should be unique on the connection and unpredictable (RFC 9261 Section
// 4), schemes lists the signature schemes it accepts (most preferred
// first), extra holds other extensions (for example an empty
// cmw_attestation).
func NewRequest(from Role, context []byte, schemes []tls.SignatureScheme, extra ...Extension) (*Request, error) {
	if err := from.check(); err != nil {
		return nil, err
	}
	if len(context) > MaxContextSize {
		return nil, fmt.Errorf("exportedauth: certificate_request_context: want at most %d bytes, got %d", MaxContextSize, len(context))
	}
	if len(schemes) == 0 {
		return nil, errors.New("exportedauth: a request must list at least one signature scheme")
	}
	var sa []byte
	for _, s := range schemes {
		sa = append(sa, byte(s>>8), byte(s))
	}
	exts := append([]Extension{{Type: ExtensionSignatureAlgorithms, Data: appendVector(nil, 2, sa)}}, extra...)
	eb, err := marshalExtensions(exts)
	if err != nil {
		return nil, fmt.Errorf("exportedauth: request: %w", err)
	}
	body := appendVector(nil, 1, context)
	body = appendVector(body, 2, eb)
	req := &Request{From: from, Context: bytes.Clone(context), Extensions: cloneExtensions(exts), raw: handshake(from.requestType(), body)}
	return req, nil
}

// ParseRequest parses a request as received. The signature_algorithms
// extension is mandatory; other extensions are kept (unrecognised ones
// are ignored by this package, as RFC 9261 Section 5.2.1 requires).
func ParseRequest(b []byte) (*Request, error) {
	typ, body, msg, rest, err := readHandshake(b)
	if err != nil {
		return nil, fmt.Errorf("exportedauth: request: %w", err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("exportedauth: request: %d bytes after the message", len(rest))
	}
	req := &Request{raw: bytes.Clone(msg)}
	switch typ {
	case typeCertificateRequest:
		req.From = Server
	case typeClientCertificateRequest:
		req.From = Client
	default:
		return nil, fmt.Errorf("exportedauth: request: want a CertificateRequest (13) or ClientCertificateRequest (17) message, got type %d", typ)
	}
	r := &reader{b: body}
	ctx := r.vector(1)
	exts := r.vector(2)
	if r.err != nil {
		return nil, fmt.Errorf("exportedauth: request: %w", r.err)
	}
	if !r.empty() {
		return nil, fmt.Errorf("exportedauth: request: %d bytes after the extensions", len(r.b))
	}
	req.Context = bytes.Clone(ctx)
	if req.Extensions, err = parseExtensions(exts); err != nil {
		return nil, fmt.Errorf("exportedauth: request: %w", err)
	}
	if _, err := req.schemes(); err != nil {
		return nil, err
	}
	return req, nil
}

// Marshal returns the request message as it is sent and as transcripts
// include it.
func (r *Request) Marshal() []byte { return bytes.Clone(r.raw) }

// Extension returns the data of the extension of type typ.
func (r *Request) Extension(typ uint16) ([]byte, bool) { return findExtension(r.Extensions, typ) }

// SignatureSchemes returns the schemes of the signature_algorithms
// extension, in the requester's order of preference.
func (r *Request) SignatureSchemes() []tls.SignatureScheme {
	s, _ := r.schemes()
	return s
}

func (r *Request) schemes() ([]tls.SignatureScheme, error) {
	data, ok := r.Extension(ExtensionSignatureAlgorithms)
	if !ok {
		return nil, errors.New("exportedauth: request: no signature_algorithms extension (RFC 9261 requires it)")
	}
	return parseSchemes(data)
}

// parseSchemes reads SignatureScheme supported_signature_algorithms<2..2^16-2>.
func parseSchemes(data []byte) ([]tls.SignatureScheme, error) {
	r := &reader{b: data}
	list := r.vector(2)
	if r.err != nil || !r.empty() || len(list) == 0 || len(list)%2 != 0 {
		return nil, fmt.Errorf("exportedauth: signature_algorithms: want a non-empty list of 2-byte schemes, got %x", data)
	}
	var out []tls.SignatureScheme
	for i := 0; i < len(list); i += 2 {
		out = append(out, tls.SignatureScheme(list[i])<<8|tls.SignatureScheme(list[i+1]))
	}
	return out, nil
}

func cloneExtensions(exts []Extension) []Extension {
	out := make([]Extension, len(exts))
	for i, e := range exts {
		out[i] = Extension{Type: e.Type, Data: bytes.Clone(e.Data)}
	}
	return out
}

// CertificateEntry is one certificate of an authenticator's Certificate
// message with its extensions.
type CertificateEntry struct {
	Data       []byte // DER X.509 certificate
	Extensions []Extension
}

// Extension returns the data of the entry's extension of type typ.
func (e *CertificateEntry) Extension(typ uint16) ([]byte, bool) {
	return findExtension(e.Extensions, typ)
}

func marshalCertificate(context []byte, entries []CertificateEntry) ([]byte, error) {
	if len(context) > MaxContextSize {
		return nil, fmt.Errorf("certificate_request_context: want at most %d bytes, got %d", MaxContextSize, len(context))
	}
	var list []byte
	for i, e := range entries {
		if len(e.Data) == 0 {
			return nil, fmt.Errorf("certificate %d is empty", i)
		}
		eb, err := marshalExtensions(e.Extensions)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", i, err)
		}
		list = appendVector(list, 3, e.Data)
		list = appendVector(list, 2, eb)
	}
	body := appendVector(nil, 1, context)
	body = appendVector(body, 3, list)
	if len(body) > MaxMessageSize {
		return nil, fmt.Errorf("the Certificate message: %d bytes exceeds the limit of %d", len(body), MaxMessageSize)
	}
	return handshake(typeCertificate, body), nil
}

func parseCertificate(body []byte) (context []byte, entries []CertificateEntry, err error) {
	r := &reader{b: body}
	context = r.vector(1)
	list := &reader{b: r.vector(3)}
	if r.err == nil && !r.empty() {
		return nil, nil, fmt.Errorf("%d bytes after the certificate list", len(r.b))
	}
	for r.err == nil && list.err == nil && !list.empty() {
		data := list.vector(3)
		exts := list.vector(2)
		if list.err != nil {
			break
		}
		if len(data) == 0 {
			return nil, nil, fmt.Errorf("certificate %d is empty", len(entries))
		}
		e := CertificateEntry{Data: bytes.Clone(data)}
		if e.Extensions, err = parseExtensions(exts); err != nil {
			return nil, nil, fmt.Errorf("certificate %d: %w", len(entries), err)
		}
		entries = append(entries, e)
	}
	if err := errors.Join(r.err, list.err); err != nil {
		return nil, nil, err
	}
	return bytes.Clone(context), entries, nil
}
