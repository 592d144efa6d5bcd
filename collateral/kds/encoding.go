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

// maxEncodedSize bounds the input of ParseCertificates: three certificates
// and a CRL at their size limits, base64 encoded.
const maxEncodedSize = 2 << 20

// maxSourceLength bounds Certificates.Source in an encoding.
const maxSourceLength = 4096

// encodingVersion is the "version" member MarshalCertificates writes.
// Version 1 held at most one CRL, of unstated kind, in "crl".
const encodingVersion = 2

// encoded is the JSON shape MarshalCertificates writes: DER in base64
// (encoding/json's []byte), absent items omitted.
type encoded struct {
	Version      int          `json:"version"`
	Source       string       `json:"source"`
	Leaf         []byte       `json:"leaf,omitempty"`
	Intermediate []byte       `json:"intermediate,omitempty"`
	Root         []byte       `json:"root,omitempty"`
	CRL          []byte       `json:"crl,omitempty"`  // version 1
	CRLs         []encodedCRL `json:"crls,omitempty"` // version 2
}

type encodedCRL struct {
	Kind   string `json:"kind,omitempty"` // "vcek" or "vlek"; absent when unstated
	Source string `json:"source"`
	DER    []byte `json:"der"`
}

// MarshalCertificates encodes c exactly, for ParseCertificates:
//
//	{"version":2,"source":"…","leaf":"<base64 DER>","intermediate":"…","root":"…",
//	 "crls":[{"kind":"vcek","source":"…","der":"…"}]}
//
// with nil items left out. Certificates and CRLs keep their DER (Raw).
func MarshalCertificates(c *Certificates) ([]byte, error) {
	e, err := encode(c, encodingVersion)
	if err != nil {
		return nil, err
	}
	return json.Marshal(e)
}

// encode returns the encoding of c in the given version (1 or 2).
func encode(c *Certificates, version int) (*encoded, error) {
	if c == nil {
		return nil, errors.New("kds: MarshalCertificates: nil certificates")
	}
	checkSource := func(what, s string) error {
		if !utf8.ValidString(s) || len(s) > maxSourceLength {
			return fmt.Errorf("kds: MarshalCertificates: %s: want valid UTF-8 of at most %d bytes, got %d bytes", what, maxSourceLength, len(s))
		}
		return nil
	}
	if err := checkSource("source", c.Source); err != nil {
		return nil, err
	}
	e := &encoded{Version: version, Source: c.Source}
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
	for i, crl := range c.CRLs {
		if crl.List == nil || len(crl.List.Raw) == 0 {
			return nil, fmt.Errorf("kds: MarshalCertificates: crl %d: no CRL bytes", i+1)
		}
		if err := checkSource(fmt.Sprintf("crl %d source", i+1), crl.Source); err != nil {
			return nil, err
		}
		kind := ""
		switch crl.Kind {
		case CRLVCEK, CRLVLEK:
			kind = crl.Kind.path()
		case CRLUnknown:
		default:
			return nil, fmt.Errorf("kds: MarshalCertificates: crl %d: unknown kind %d", i+1, crl.Kind)
		}
		e.CRLs = append(e.CRLs, encodedCRL{Kind: kind, Source: crl.Source, DER: crl.List.Raw})
	}
	if version == 1 {
		// Version 1 is only decoded: it has one CRL, of unstated kind and
		// from the certificates' source.
		if len(e.CRLs) > 1 || len(e.CRLs) == 1 && (e.CRLs[0].Kind != "" || e.CRLs[0].Source != c.Source) {
			return nil, errors.New("kds: MarshalCertificates: version 1 holds one CRL of unstated kind")
		}
		if len(e.CRLs) == 1 {
			e.CRL = e.CRLs[0].DER
		}
		e.CRLs = nil
	}
	return e, nil
}

// ParseCertificates decodes what MarshalCertificates wrote, in this or the
// previous version (whose CRL is of unstated kind). The certificates and
// CRLs go through ParseCertificate and ParseCRL, as when fetched, so an
// encoding is trusted no more than a KDS response; names and extensions
// are not checked against any request (the verifier checks them against
// the report). Input that is not exactly what MarshalCertificates writes
// for the decoded value (unknown, duplicate or differently cased members,
// white space, another version, bytes after a CRL) is an error matching
// ErrFormat.
func ParseCertificates(b []byte) (*Certificates, error) {
	const where = "encoded certificates"
	if len(b) > maxEncodedSize {
		return nil, formatError(where, "%d bytes exceeds the limit of %d", len(b), maxEncodedSize)
	}
	var e encoded
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, formatError(where, "%v", err)
	}
	if e.Version != encodingVersion && e.Version != 1 {
		return nil, formatError(where, "version: want 1 or %d, got %d", encodingVersion, e.Version)
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
	if e.Version == 1 && e.CRL != nil {
		e.CRLs = []encodedCRL{{Source: e.Source, DER: e.CRL}}
	}
	for i, ec := range e.CRLs {
		crl, err := ParseCRL(fmt.Sprintf("%s crl %d", where, i+1), ec.DER)
		if err != nil {
			return nil, err
		}
		kind := CRLUnknown
		switch ec.Kind {
		case "vcek":
			kind = CRLVCEK
		case "vlek":
			kind = CRLVLEK
		case "":
		default:
			return nil, formatError(where, "crl %d kind: want \"vcek\", \"vlek\" or none, got %q", i+1, ec.Kind)
		}
		c.CRLs = append(c.CRLs, CRL{List: crl, Kind: kind, Source: ec.Source})
	}
	// Encoding the result again must give the input: this rejects what
	// encoding/json lets through (duplicate members, case-insensitive
	// names, PEM where DER belongs, a member of the other version) and
	// bytes ParseCRL ignores.
	again, err := encode(c, e.Version)
	if err == nil {
		var j []byte
		if j, err = json.Marshal(again); err == nil && !bytes.Equal(j, b) {
			err = errors.New("not in the canonical encoding")
		}
	}
	if err != nil {
		return nil, formatError(where, "%v", err)
	}
	return c, nil
}

// CacheExpiry is when Cache stops serving c when it comes from a provider
// that is not a Fetcher: the earliest NotAfter of its certificates and the
// CRLs' NextUpdate (a day after its ThisUpdate when it has none), or a day
// after now when c holds nothing.
func CacheExpiry(c *Certificates, now time.Time) time.Time {
	var t time.Time
	for _, cert := range c.Chain() {
		t = earliest(t, cert.NotAfter)
	}
	t = earliestCRLExpiry(t, c.CRLs)
	if t.IsZero() {
		t = now.Add(crlDefaultLifetime)
	}
	return t
}
