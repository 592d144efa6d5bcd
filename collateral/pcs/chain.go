package pcs

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
)

// Limits on certificate chains and CRLs.
const (
	// maxChainSize bounds an issuer chain (PEM or percent-encoded PEM);
	// Intel's chains are two or three certificates, under 4 KiB.
	maxChainSize = 64 << 10
	// maxChainCerts bounds the number of certificates in a chain.
	maxChainCerts = 8
	// maxCRLSize bounds a CRL in any encoding.
	maxCRLSize = 1 << 20
)

// ParsePEMChain parses a certificate chain given as concatenated PEM
// CERTIFICATE blocks, or as the URL-percent-encoded form PCS puts in the
// *-Issuer-Chain response headers. Trailing NUL bytes (C string terminators
// seen in quotes and QPL buffers) and surrounding whitespace are ignored;
// anything else outside the PEM blocks is an error. The order is kept
// (PCS: signing certificate first, root last); it is not verified here.
func ParsePEMChain(b []byte) ([]*x509.Certificate, error) {
	if len(b) > maxChainSize {
		return nil, fieldErrorf("chain", "larger than %d bytes", maxChainSize)
	}
	b = bytes.TrimSpace(bytes.TrimRight(b, "\x00"))
	// PEM never contains '%', so any '%' means the header form.
	if bytes.IndexByte(b, '%') >= 0 {
		// PathUnescape keeps '+', which may be base64 text; a '+' standing
		// for a space (form encoding) can only occur in the BEGIN/END lines.
		s, err := url.PathUnescape(string(b))
		if err != nil {
			return nil, fieldErrorf("chain", "invalid percent-encoding: %v", err)
		}
		s = strings.ReplaceAll(s, "-----BEGIN+CERTIFICATE-----", "-----BEGIN CERTIFICATE-----")
		s = strings.ReplaceAll(s, "-----END+CERTIFICATE-----", "-----END CERTIFICATE-----")
		b = bytes.TrimSpace(bytes.TrimRight([]byte(s), "\x00"))
	}
	if len(b) == 0 {
		return nil, fieldErrorf("chain", "empty")
	}
	const begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
	var certs []*x509.Certificate
	for rest := b; len(rest) > 0; rest = bytes.TrimSpace(rest) {
		where := fmt.Sprintf("chain[%d]", len(certs))
		if len(certs) == maxChainCerts {
			return nil, fieldErrorf("chain", "more than %d certificates", maxChainCerts)
		}
		if !bytes.HasPrefix(rest, []byte(begin)) {
			return nil, fieldErrorf(where, "want %q, got non-PEM or non-certificate data", begin)
		}
		// Cut out exactly one block so pem.Decode cannot skip over
		// malformed text to a later block.
		n := bytes.Index(rest, []byte(end))
		if n < 0 {
			return nil, fieldErrorf(where, "unterminated PEM block")
		}
		n += len(end)
		block, tail := pem.Decode(rest[:n])
		if block == nil || len(bytes.TrimSpace(tail)) != 0 {
			return nil, fieldErrorf(where, "invalid PEM block")
		}
		if len(block.Headers) != 0 {
			return nil, fieldErrorf(where, "unexpected PEM headers")
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fieldErrorf(where, "%v", err)
		}
		certs = append(certs, c)
		rest = rest[n:]
	}
	return certs, nil
}

// EncodePEMChain encodes certificates as concatenated PEM blocks.
func EncodePEMChain(certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) // writes to a bytes.Buffer cannot fail
	}
	return b.Bytes()
}

// ParseCRL parses a certificate revocation list given as DER, as PEM
// ("X509 CRL"), or as hex-encoded DER (dcap-qvl collateral JSON, and QVL's
// own CRL input). Trailing NULs and whitespace around the text forms are
// ignored. The signature is not checked.
func ParseCRL(b []byte) (*x509.RevocationList, error) {
	if len(b) > maxCRLSize {
		return nil, fieldErrorf("crl", "larger than %d bytes", maxCRLSize)
	}
	der := b
	t := bytes.TrimSpace(bytes.TrimRight(b, "\x00"))
	switch {
	case len(t) == 0:
		return nil, fieldErrorf("crl", "empty")
	case bytes.HasPrefix(t, []byte("-----BEGIN")):
		block, rest := pem.Decode(t)
		if block == nil {
			return nil, fieldErrorf("crl", "invalid PEM")
		}
		if block.Type != "X509 CRL" {
			return nil, fieldErrorf("crl", "want PEM type X509 CRL, got %q", block.Type)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, fieldErrorf("crl", "%d bytes of trailing data after the PEM block", len(bytes.TrimSpace(rest)))
		}
		der = block.Bytes
	case isHexText(t): // DER always has bytes outside [0-9A-Fa-f]
		d, err := hex.DecodeString(string(t))
		if err != nil {
			return nil, fieldErrorf("crl", "want DER, PEM or hex-encoded DER: %v", err)
		}
		der = d
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fieldErrorf("crl", "%v", err)
	}
	// ParseRevocationList ignores bytes after the CRL.
	if len(crl.Raw) != len(der) {
		return nil, fieldErrorf("crl", "%d bytes of trailing data after the CRL", len(der)-len(crl.Raw))
	}
	return crl, nil
}

func isHexText(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// encodeCRLPEM encodes a CRL as a PEM "X509 CRL" block.
func encodeCRLPEM(crl *x509.RevocationList) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl.Raw})
}
