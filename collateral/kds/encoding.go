package kds

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// MaxEncodedSize bounds the input of ParseCertificates: three certificates
// and a CRL at their size limits, base64 encoded.
const MaxEncodedSize = 2 << 20

// maxSourceLength bounds Certificates.Source in an encoding.
const maxSourceLength = 4096

// encodingVersion is the "version" member MarshalCertificates writes.
const encodingVersion = 1

// encoded is the JSON shape MarshalCertificates writes: DER in base64
// (encoding/json's []byte), absent items omitted.
type encoded struct {
	Version      int    `json:"version"`
	Source       string `json:"source"`
	Leaf         []byte `json:"leaf,omitempty"`
	Intermediate []byte `json:"intermediate,omitempty"`
	Root         []byte `json:"root,omitempty"`
	CRL          []byte `json:"crl,omitempty"`
}

// MarshalCertificates encodes c exactly, for ParseCertificates:
//
//	{"version":1,"source":"…","leaf":"<base64 DER>","intermediate":"…","root":"…","crl":"…"}
//
// with nil items left out. Certificates and the CRL keep their DER (Raw).
func MarshalCertificates(c *Certificates) ([]byte, error) {
	if c == nil {
		return nil, errors.New("kds: MarshalCertificates: nil certificates")
	}
	if !utf8.ValidString(c.Source) || len(c.Source) > maxSourceLength {
		return nil, fmt.Errorf("kds: MarshalCertificates: source: want valid UTF-8 of at most %d bytes, got %d bytes", maxSourceLength, len(c.Source))
	}
	e := encoded{Version: encodingVersion, Source: c.Source}
	for _, it := range []struct {
		name string
		cert *x509.Certificate
		dst  *[]byte
	}{
		{"leaf", c.Leaf, &e.Leaf},
		{"intermediate", c.Intermediate, &e.Intermediate},
		{"root", c.Root, &e.Root},
	} {
		if it.cert == nil {
			continue
		}
		if len(it.cert.Raw) == 0 {
			return nil, fmt.Errorf("kds: MarshalCertificates: %s: no certificate bytes", it.name)
		}
		*it.dst = it.cert.Raw
	}
	if c.CRL != nil {
		if len(c.CRL.Raw) == 0 {
			return nil, errors.New("kds: MarshalCertificates: crl: no CRL bytes")
		}
		e.CRL = c.CRL.Raw
	}
	return json.Marshal(e)
}

// ParseCertificates decodes what MarshalCertificates wrote. The certificates
// and the CRL go through ParseCertificate and ParseCRL, as when fetched, so
// an encoding is trusted no more than a KDS response; names and extensions
// are not checked against any request (the verifier checks them against the
// report). Input that is not exactly what MarshalCertificates writes for
// the decoded value (unknown, duplicate or differently cased members, white
// space, another version, bytes after a CRL) is an error matching ErrFormat.
func ParseCertificates(b []byte) (*Certificates, error) {
	const where = "encoded certificates"
	if len(b) > MaxEncodedSize {
		return nil, formatError(where, "%d bytes exceeds the limit of %d", len(b), MaxEncodedSize)
	}
	var e encoded
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, formatError(where, "%v", err)
	}
	if e.Version != encodingVersion {
		return nil, formatError(where, "version: want %d, got %d", encodingVersion, e.Version)
	}
	c := &Certificates{Source: e.Source}
	for _, it := range []struct {
		name string
		der  []byte
		dst  **x509.Certificate
	}{
		{"leaf", e.Leaf, &c.Leaf},
		{"intermediate", e.Intermediate, &c.Intermediate},
		{"root", e.Root, &c.Root},
	} {
		if it.der == nil {
			continue
		}
		cert, err := ParseCertificate(where+" "+it.name, it.der)
		if err != nil {
			return nil, err
		}
		*it.dst = cert
	}
	if e.CRL != nil {
		crl, err := ParseCRL(where+" crl", e.CRL)
		if err != nil {
			return nil, err
		}
		c.CRL = crl
	}
	// Encoding the result again must give the input: this rejects what
	// encoding/json lets through (duplicate members, case-insensitive
	// names, PEM where DER belongs) and bytes ParseCRL ignores.
	again, err := MarshalCertificates(c)
	if err != nil {
		return nil, formatError(where, "%v", err)
	}
	if !bytes.Equal(again, b) {
		return nil, formatError(where, "not in the canonical encoding")
	}
	return c, nil
}

// CacheExpiry is when Cache stops serving c when it comes from a provider
// that is not a Fetcher: the earliest NotAfter of its certificates and the
// CRL's NextUpdate (a day after its ThisUpdate when it has none), or a day
// after now when c holds nothing.
func CacheExpiry(c *Certificates, now time.Time) time.Time {
	var t time.Time
	for _, cert := range c.Chain() {
		t = earliest(t, cert.NotAfter)
	}
	if c.CRL != nil {
		t = earliest(t, crlExpiry(c.CRL))
	}
	if t.IsZero() {
		t = now.Add(crlDefaultLifetime)
	}
	return t
}
