package inspect

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/internal/neterr"
	"github.com/ratls/ratls/tee"
)

// MaxInputSize bounds files and certificate chains read by this package.
const MaxInputSize = 4 << 20

// InputError reports input that cannot be read as a certificate or evidence.
type InputError struct {
	Input string
	Err   error
}

func (e *InputError) Error() string {
	if e.Input == "" {
		return e.Err.Error()
	}
	return e.Input + ": " + e.Err.Error()
}

func (e *InputError) Unwrap() error { return e.Err }

// Source inspects a file path or, when no such file exists and the argument
// has the form host:port, a TLS server's certificate.
func Source(ctx context.Context, source string, opt *Options) (*Report, error) {
	if _, err := os.Stat(source); err == nil || !looksLikeAddress(source) {
		return File(source)
	}
	return Address(ctx, source, opt)
}

// File inspects a certificate (PEM or DER, a chain leaf first) or raw
// evidence (binary, hex or base64) stored in a file.
func File(path string) (*Report, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return Dir(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &InputError{Input: path, Err: err}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxInputSize+1))
	if err != nil {
		return nil, &InputError{Input: path, Err: err}
	}
	if len(b) > MaxInputSize {
		return nil, &InputError{Input: path, Err: fmt.Errorf("file exceeds the limit of %d bytes", MaxInputSize)}
	}
	r, err := Bytes(b)
	if err != nil {
		return nil, &InputError{Input: path, Err: err}
	}
	r.Input = path
	return r, nil
}

// Bytes inspects input that is either a certificate (PEM or DER) or raw
// evidence in binary, hex or base64 form.
func Bytes(b []byte) (*Report, error) {
	if len(b) == 0 {
		return nil, errors.New("empty input")
	}
	text := isText(b)
	if t := bytes.TrimSpace(b); text && len(t) > 0 && t[0] == '{' {
		// JSON collateral may hold PEM chains: not a certificate file.
		if r, ok, err := collateralBytes(b, nil); ok {
			return r, err
		}
	}
	if text && bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) {
		certs, err := parsePEMCertificates(b)
		if err != nil {
			return nil, err
		}
		return Certificates(certs)
	}
	if b[0] == 0x30 { // DER SEQUENCE: a certificate or a DER chain
		if certs, err := x509.ParseCertificates(b); err == nil && len(certs) > 0 {
			return Certificates(certs)
		}
	}
	if r, ok, err := collateralBytes(b, nil); ok {
		return r, err
	}
	if text {
		b = decodeText(b)
		if r, ok, err := collateralBytes(b, nil); ok {
			return r, err // a hex-encoded CRL
		}
	}
	r, err := EvidenceBytes(b)
	if err != nil && !plausibleEvidence(b) {
		return nil, unrecognisedError(b)
	}
	return r, err
}

// plausibleEvidence reports whether b looks enough like some evidence that
// the parser's error says more than "unrecognised": well-formed CBOR or
// JSON, a quote header, or the exact size of a report.
func plausibleEvidence(b []byte) bool {
	switch {
	case len(b) == 0:
		return false
	case b[0] == '{' || b[0] == '[':
		return json.Valid(b)
	case b[0] >= 0x80 && b[0] <= 0xdf:
		return cbor.Wellformed(b) == nil
	case len(b) >= 4:
		version, keyType := binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:])
		if (version == 3 || version == 4 || version == 5) && (keyType == 2 || keyType == 3) {
			return true
		}
	}
	return len(b) == snp.ReportSize || len(b) == 432 || len(b) == 1024
}

// isText reports whether b is printable ASCII text (PEM, hex or base64)
// rather than binary. Binary evidence such as a quote may embed PEM.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}

func parsePEMCertificates(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("PEM input holds no CERTIFICATE block")
	}
	return certs, nil
}

// DecodeText reads input as Bytes does before looking for evidence:
// printable ASCII text that is hex (optionally 0x-prefixed) or base64, in
// any of its alphabets and over several lines, is decoded; other input,
// binary or words, is returned unchanged.
func DecodeText(b []byte) []byte {
	if !isText(b) {
		return b
	}
	return decodeText(b)
}

// decodeText turns hex or base64 text into bytes; text that is neither is
// returned unchanged.
func decodeText(b []byte) []byte {
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	s := strings.Join(lines, "")
	if strings.ContainsAny(s, " \t") {
		return b // words, not an encoding
	}
	if d, err := hex.DecodeString(strings.TrimPrefix(s, "0x")); err == nil && len(d) > 0 {
		return d
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(s); err == nil && len(d) > 0 {
			return d
		}
	}
	return b
}

// Certificates describes a certificate chain, leaf first, and the evidence
// in the leaf.
func Certificates(certs []*x509.Certificate) (*Report, error) {
	if len(certs) == 0 {
		return nil, errors.New("no certificate")
	}
	leaf := certs[0]
	ce, err := evidence.FromCertificate(leaf)
	if err != nil {
		return nil, err
	}
	r := &Report{Source: SourceCertificate, Evidence: []*Evidence{}, Certs: certs}
	r.Certificate = describeCertificate(leaf, issuerOf(certs, 0))
	for i := 1; i < len(certs); i++ {
		r.Chain = append(r.Chain, describeCertificate(certs[i], issuerOf(certs, i)))
	}
	items := orderPreferredFirst(ce)
	for _, it := range items {
		r.Evidence = append(r.Evidence, describeItem(it, leaf))
	}
	r.Items = items
	if ce.Endorsements != nil {
		r.Endorsements = describeEndorsements(ce.Endorsements)
	}
	return r, nil
}

// issuerOf returns the next certificate in the chain when it issued certs[i].
func issuerOf(certs []*x509.Certificate, i int) *x509.Certificate {
	if i+1 < len(certs) && certs[i].Issuer.String() == certs[i+1].Subject.String() {
		return certs[i+1]
	}
	return nil
}

func orderPreferredFirst(ce *evidence.CertificateEvidence) []*evidence.Item {
	pref := tee.Preferred(ce)
	items := make([]*evidence.Item, 0, len(ce.Items))
	if pref != nil {
		items = append(items, pref)
	}
	for _, it := range ce.Items {
		if it != pref {
			items = append(items, it)
		}
	}
	return items
}

// EvidenceBytes describes raw evidence bytes.
func EvidenceBytes(b []byte) (*Report, error) {
	items, err := evidence.ParseRaw(b)
	if err != nil {
		return nil, err
	}
	r := &Report{Source: SourceEvidence, Evidence: []*Evidence{}, Items: items}
	for _, it := range items {
		r.Evidence = append(r.Evidence, describeItem(it, nil))
	}
	return r, nil
}

// Options configures Address.
type Options struct {
	// SNI is the server name sent in the ClientHello; defaults to the host.
	SNI string
	// Timeout bounds the connection and handshake; defaults to 10 seconds.
	Timeout time.Duration
}

// errGotCertificate aborts the handshake once the certificate is captured.
var errGotCertificate = errors.New("certificate captured")

// Address connects to a TLS server, captures the certificate chain it
// presents and aborts the handshake: inspection trusts nothing and sends no
// application data. The certificate is described, not verified.
func Address(ctx context.Context, addr string, opt *Options) (*Report, error) {
	var o Options
	if opt != nil {
		o = *opt
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &InputError{Input: addr, Err: err}
	}
	if o.SNI == "" && net.ParseIP(host) == nil {
		o.SNI = host
	}
	var captured []*x509.Certificate
	cfg := &tls.Config{
		ServerName: o.SNI,
		// Verification is deliberately replaced: the callback below keeps
		// the presented chain and fails the handshake, so the connection
		// can never be used for data.
		InsecureSkipVerify: true, //nolint:gosec // see above; nothing is trusted or sent
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			for _, der := range raw {
				c, err := x509.ParseCertificate(der)
				if err != nil {
					return fmt.Errorf("peer certificate: %w", err)
				}
				captured = append(captured, c)
			}
			return errGotCertificate
		},
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	d := &tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		conn.Close()
		return nil, &InputError{Input: addr, Err: errors.New("handshake completed without presenting a certificate")}
	}
	if !errors.Is(err, errGotCertificate) || len(captured) == 0 {
		return nil, &InputError{Input: addr, Err: neterr.Cause(err)}
	}
	r, err := Certificates(captured)
	if err != nil {
		return nil, &InputError{Input: addr, Err: err}
	}
	r.Input = addr
	return r, nil
}

func looksLikeAddress(s string) bool {
	host, port, err := net.SplitHostPort(s)
	return err == nil && host != "" && port != "" && !strings.ContainsAny(s, "/\\")
}
