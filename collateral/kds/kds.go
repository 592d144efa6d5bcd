package kds

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/ratls/ratls/evidence/snp"
)

// Size limits on certificate material, whatever its source.
const (
	// maxCertSize bounds one certificate file or KDS VCEK response.
	maxCertSize = 16 << 10
	// maxChainSize bounds a cert_chain response (two RSA-4096 certificates
	// in PEM are about 4.6 KB).
	maxChainSize = 64 << 10
	// maxCRLSize bounds a CRL in any encoding.
	maxCRLSize = 1 << 20
)

// Sentinel errors; test with errors.Is.
var (
	// ErrUnsupported: the request is valid but this package does not
	// fetch it (Turin VCEKs, see the package documentation).
	ErrUnsupported = errors.New("kds: not supported")
	// ErrVLEKNotFetchable: a VLEK was requested from KDS. KDS serves VLEKs
	// only to authorized cloud providers; supply them with LoadDir or
	// Static (for example from the certificate table carried with the
	// evidence).
	ErrVLEKNotFetchable = errors.New("kds: VLEK certificates cannot be fetched from KDS; supply them from files or with the evidence")
	// ErrNotFound: the source has no such item (KDS answered 404, or a file
	// is missing).
	ErrNotFound = errors.New("kds: not found")
	// ErrFormat: a certificate, chain or CRL is malformed or oversize.
	ErrFormat = errors.New("kds: malformed certificate data")
	// ErrMismatch: a certificate or CRL does not answer the request (wrong
	// issuer, hardware ID or TCB).
	ErrMismatch = errors.New("kds: certificate does not match the request")
	// ErrExpired: certificates or a CRL from the source are already past
	// their validity.
	ErrExpired = errors.New("kds: expired")
	// ErrUnavailable: the source itself failed. It could not be reached,
	// timed out, or answered 429 or 5xx (after the client's retries). It
	// says nothing about the platform: verification could not complete,
	// and may later. A Cache returns it as an *UnavailableError.
	ErrUnavailable = errors.New("kds: source unavailable")
)

// UnavailableError is the answer of a Cache (or of another provider that
// backs off) while the source of an item (a VCEK, a certificate chain, a
// CRL, or all of them) is unavailable. The source is not asked again for
// the item before RetryAfter has passed: until then this error is returned
// at once. It matches ErrUnavailable.
type UnavailableError struct {
	What string // the item, e.g. "Milan cert_chain"
	// RetryAfter is how long, from when the error was returned, until the
	// source is asked again.
	RetryAfter time.Duration
	// Err is the source's failure. It names the source's URLs: log it, do
	// not show it to remote parties.
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("kds: %s: %v (the source is not asked again for %s)", e.What, e.Err, e.RetryAfter.Round(time.Second))
}

// Unwrap returns the source's failure, which matches ErrUnavailable.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Request identifies the certificates that endorse one attestation report.
// Build it from the report: ChipID and ReportedTCB, SignerInfo.SigningKey(),
// and the product from Report.Product (or the platform, for version 2
// reports, which carry no CPUID fields).
type Request struct {
	Product    string // snp.ProductMilan, snp.ProductGenoa or snp.ProductTurin
	ChipID     [64]byte
	TCB        snp.TCBVersion // the report's REPORTED_TCB
	SigningKey snp.SigningKey // snp.SigningKeyVCEK or snp.SigningKeyVLEK
}

// String names the request, e.g.
// "Milan VCEK chip=3ac3fe21…006b5d tcb=0x0200000000000544".
func (r Request) String() string {
	chip := hex.EncodeToString(r.ChipID[:])
	return fmt.Sprintf("%s %s chip=%s…%s tcb=0x%016x", r.Product, r.SigningKey, chip[:8], chip[len(chip)-6:], uint64(r.TCB))
}

// check validates the fields every provider relies on.
func (r Request) check() error {
	switch r.Product {
	case snp.ProductMilan, snp.ProductGenoa, snp.ProductTurin:
	default:
		return fmt.Errorf("kds: request product: want %q, %q or %q, got %q",
			snp.ProductMilan, snp.ProductGenoa, snp.ProductTurin, r.Product)
	}
	if r.SigningKey != snp.SigningKeyVCEK && r.SigningKey != snp.SigningKeyVLEK {
		return fmt.Errorf("kds: request signing key: want VCEK or VLEK, got %s", r.SigningKey)
	}
	return nil
}

// CRLKind says which of a product's two certificate revocation lists a CRL
// is. AMD's KDS publishes one for the VCEK chain at
// /vcek/v1/{product}/crl, covering the ASK, and one for the VLEK chain at
// /vlek/v1/{product}/crl, covering the ASVK and VLEKs. The ARK issues and
// signs both, so nothing in a CRL's bytes tells them apart reliably: its
// kind is where it was obtained.
type CRLKind uint8

const (
	// CRLUnknown: the source does not say which list it is, as for the CRL
	// entry of a report's certificate table.
	CRLUnknown CRLKind = iota
	CRLVCEK            // /vcek/v1/{product}/crl
	CRLVLEK            // /vlek/v1/{product}/crl
)

// CRLKindFor returns the kind of CRL that covers the chain of key.
func CRLKindFor(key snp.SigningKey) CRLKind {
	if key == snp.SigningKeyVLEK {
		return CRLVLEK
	}
	return CRLVCEK
}

// String names the list: "VCEK CRL", "VLEK CRL" or "CRL of unstated kind".
func (k CRLKind) String() string {
	switch k {
	case CRLVCEK:
		return "VCEK CRL"
	case CRLVLEK:
		return "VLEK CRL"
	}
	return "CRL of unstated kind"
}

// URL returns where AMD's KDS publishes the list of this kind for product,
// "" for CRLUnknown.
func (k CRLKind) URL(product string) string {
	if k != CRLVCEK && k != CRLVLEK {
		return ""
	}
	return fmt.Sprintf("%s/%s/v1/%s/crl", DefaultBaseURL, k.path(), product)
}

// path is the KDS path segment of the list's chain: "vcek" or "vlek".
func (k CRLKind) path() string {
	if k == CRLVLEK {
		return "vlek"
	}
	return "vcek"
}

// CRL is one of an ARK's certificate revocation lists.
type CRL struct {
	List   *x509.RevocationList
	Kind   CRLKind
	Source string // where it came from, for messages
}

// Certificates endorse a report: Leaf signed it, Intermediate issued Leaf and
// Root issued Intermediate. Providers return the same *Certificates for
// unchanged certificates, so verifiers may cache their verification by
// pointer; callers must not modify it.
type Certificates struct {
	// Leaf is the VCEK or VLEK. It is nil when the source cannot supply it
	// (KDS serves no VLEK, no Turin VCEK and no VCEK for a masked chip ID)
	// but has the rest: the certificate carried with the evidence then
	// fills the gap (WithPeer).
	Leaf         *x509.Certificate
	Intermediate *x509.Certificate // ASK (for a VCEK) or ASVK (for a VLEK)
	Root         *x509.Certificate // ARK
	// CRLs are revocation lists issued by the ARK: usually the one of the
	// leaf's kind; none when the source has none.
	CRLs   []CRL
	Source string // where they came from, for messages
}

// Chain returns leaf, intermediate and root, omitting nil ones.
func (c *Certificates) Chain() []*x509.Certificate {
	var out []*x509.Certificate
	for _, cert := range []*x509.Certificate{c.Leaf, c.Intermediate, c.Root} {
		if cert != nil {
			out = append(out, cert)
		}
	}
	return out
}

// A Provider supplies the certificates for a report: KDS (Client), files
// (LoadDir, Static) or a Cache in front of another provider.
type Provider interface {
	Certificates(ctx context.Context, req Request) (*Certificates, error)
}

// Static is a Provider that always returns the same certificates, such as
// ones from LoadDir or carried with the evidence.
type Static struct{ C *Certificates }

// Certificates returns s.C whatever the request; the verifier checks that
// they fit the report.
func (s Static) Certificates(context.Context, Request) (*Certificates, error) {
	if s.C == nil {
		return nil, fmt.Errorf("%w: no certificates configured", ErrNotFound)
	}
	return s.C, nil
}

// formatError wraps ErrFormat with where the data came from.
func formatError(where, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrFormat, where, fmt.Sprintf(format, args...))
}

func mismatchError(where, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMismatch, where, fmt.Sprintf(format, args...))
}

// ParseCertificate parses one certificate in DER or PEM (exactly one
// CERTIFICATE block, nothing else but white space). where names the source
// in errors.
func ParseCertificate(where string, b []byte) (*x509.Certificate, error) {
	if len(b) > maxCertSize {
		return nil, formatError(where, "%d bytes exceeds the limit of %d", len(b), maxCertSize)
	}
	der := b
	if block, rest := pem.Decode(b); block != nil {
		if block.Type != "CERTIFICATE" {
			return nil, formatError(where, "PEM block type: want CERTIFICATE, got %q", block.Type)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, formatError(where, "want exactly one PEM certificate, found trailing data")
		}
		der = block.Bytes
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, formatError(where, "%v", err)
	}
	return cert, nil
}

// ParseSupplied reads the certificates an attester supplied with its report
// (in an RA-TLS endorsements extension, or the certificate table of an
// extended report): the VCEK or VLEK, and, when not empty, its
// intermediate (ASK or ASVK), the ARK and a CRL of unstated kind, each in
// DER or PEM. Absent intermediate or root certificates are left for the
// verifier to take from its own copy of AMD's roots. source becomes the
// Source of the result and of its CRL.
func ParseSupplied(source string, leaf, intermediate, root, crl []byte) (*Certificates, error) {
	c := &Certificates{Source: source}
	var err error
	if c.Leaf, err = ParseCertificate("SEV-SNP VCEK/VLEK", leaf); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		der  []byte
		name string
		dst  **x509.Certificate
	}{{intermediate, "SEV-SNP ASK/ASVK", &c.Intermediate}, {root, "SEV-SNP ARK", &c.Root}} {
		if len(f.der) > 0 {
			if *f.dst, err = ParseCertificate(f.name, f.der); err != nil {
				return nil, err
			}
		}
	}
	if len(crl) > 0 {
		l, err := ParseCRL("SEV-SNP CRL", crl)
		if err != nil {
			return nil, err
		}
		c.CRLs = []CRL{{List: l, Source: source}}
	}
	return c, nil
}

// ParseCertChain parses a KDS cert_chain response: exactly two PEM
// certificates, the intermediate (ASK or ASVK) then the root (ARK).
func ParseCertChain(where string, b []byte) (intermediate, root *x509.Certificate, err error) {
	if len(b) > maxChainSize {
		return nil, nil, formatError(where, "%d bytes exceeds the limit of %d", len(b), maxChainSize)
	}
	var certs []*x509.Certificate
	rest := b
	for len(bytes.TrimSpace(rest)) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, nil, formatError(where, "want PEM certificates, found other data after %d certificate(s)", len(certs))
		}
		if block.Type != "CERTIFICATE" {
			return nil, nil, formatError(where, "PEM block %d type: want CERTIFICATE, got %q", len(certs)+1, block.Type)
		}
		if len(certs) == 2 {
			return nil, nil, formatError(where, "want 2 certificates (intermediate, root), got more")
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, formatError(where, "certificate %d: %v", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) != 2 {
		return nil, nil, formatError(where, "want 2 certificates (intermediate, root), got %d", len(certs))
	}
	return certs[0], certs[1], nil
}

// ParseCRL parses a CRL in DER (as KDS serves it) or PEM ("X509 CRL").
func ParseCRL(where string, b []byte) (*x509.RevocationList, error) {
	if len(b) > maxCRLSize {
		return nil, formatError(where, "%d bytes exceeds the limit of %d", len(b), maxCRLSize)
	}
	der := b
	if block, rest := pem.Decode(b); block != nil {
		if block.Type != "X509 CRL" {
			return nil, formatError(where, "PEM block type: want X509 CRL, got %q", block.Type)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, formatError(where, "want exactly one PEM CRL, found trailing data")
		}
		der = block.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, formatError(where, "%v", err)
	}
	return crl, nil
}

// VCEK/VLEK certificate extensions (AMD arc 1.3.6.1.4.1.3704.1).
var (
	oidBootloaderSPL = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 1}
	oidTEESPL        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 2}
	oidSNPSPL        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 3}
	oidMicrocodeSPL  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 8}
	oidHWID          = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 4}
)

// Common names of the AMD certificate authorities for product p.
func askCN(p string) string  { return "SEV-" + p }
func asvkCN(p string) string { return "SEV-VLEK-" + p }
func arkCN(p string) string  { return "ARK-" + p }

// intermediateName names the issuer of key's certificates and its common
// name for product p.
func intermediateName(key snp.SigningKey, p string) (role, cn string) {
	if key == snp.SigningKeyVLEK {
		return "ASVK", asvkCN(p)
	}
	return "ASK", askCN(p)
}

// extension returns the value of the extension oid, or nil when absent.
func extension(cert *x509.Certificate, oid asn1.ObjectIdentifier) []byte {
	for _, e := range cert.Extensions {
		if e.Id.Equal(oid) {
			return e.Value
		}
	}
	return nil
}

// checkVCEK checks that a Milan or Genoa VCEK answers req: issued by the
// product's ASK, hardware ID equal to the chip ID and SPL extensions equal
// to the requested TCB.
func checkVCEK(where string, cert *x509.Certificate, req Request) error {
	if cn := cert.Issuer.CommonName; cn != askCN(req.Product) {
		return mismatchError(where, "VCEK issuer: want CN %q, got %q", askCN(req.Product), cn)
	}
	hwid := extension(cert, oidHWID)
	if !bytes.Equal(hwid, req.ChipID[:]) {
		return mismatchError(where, "VCEK hwID extension: want %x, got %x", req.ChipID[:], hwid)
	}
	spls := []struct {
		name string
		oid  asn1.ObjectIdentifier
		want uint8
	}{
		{"blSPL", oidBootloaderSPL, req.TCB.BootloaderSPL()},
		{"teeSPL", oidTEESPL, req.TCB.TEESPL()},
		{"snpSPL", oidSNPSPL, req.TCB.SNPSPL()},
		{"ucodeSPL", oidMicrocodeSPL, req.TCB.MicrocodeSPL()},
	}
	for _, s := range spls {
		v := extension(cert, s.oid)
		if v == nil {
			return mismatchError(where, "VCEK %s extension %s: missing", s.name, s.oid)
		}
		var n int
		rest, err := asn1.Unmarshal(v, &n)
		if err != nil || len(rest) != 0 || n < 0 || n > 255 {
			return formatError(where, "VCEK %s extension %s: want a DER INTEGER 0..255, got %x", s.name, s.oid, v)
		}
		if n != int(s.want) {
			return mismatchError(where, "VCEK %s: want %d (REPORTED_TCB), got %d", s.name, s.want, n)
		}
	}
	return nil
}

// checkChain checks the names of the certificate chain of key for product
// p: the ASK or ASVK, then the ARK.
func checkChain(where string, inter, ark *x509.Certificate, p string, key snp.SigningKey) error {
	role, cn := intermediateName(key, p)
	if got := inter.Subject.CommonName; got != cn {
		return mismatchError(where, "%s subject: want CN %q, got %q", role, cn, got)
	}
	if got := inter.Issuer.CommonName; got != arkCN(p) {
		return mismatchError(where, "%s issuer: want CN %q, got %q", role, arkCN(p), got)
	}
	if cn := ark.Subject.CommonName; cn != arkCN(p) {
		return mismatchError(where, "ARK subject: want CN %q, got %q", arkCN(p), cn)
	}
	return nil
}

// checkCRL checks that a CRL is the product's ARK CRL.
func checkCRL(where string, crl *x509.RevocationList, p string) error {
	if cn := crl.Issuer.CommonName; cn != arkCN(p) {
		return mismatchError(where, "CRL issuer: want CN %q, got %q", arkCN(p), cn)
	}
	return nil
}
