package dcapsim

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/internal/testvectors"
)

// testNow is the reference time of the test PKI.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// newTestPKI returns a PKI with a deterministic random source.
func newTestPKI(t testing.TB) *PKI {
	t.Helper()
	p, err := New(Options{Now: testNow, Rand: mrand.NewChaCha8([32]byte{1})})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readTestdata(t testing.TB, folder, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path(folder, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readCertPEM(t testing.TB, folder, name string) *x509.Certificate {
	t.Helper()
	certs := parsePEMCerts(t, readTestdata(t, folder, name))
	if len(certs) != 1 {
		t.Fatalf("%s/%s: want 1 certificate, got %d", folder, name, len(certs))
	}
	return certs[0]
}

func parsePEMCerts(t testing.TB, b []byte) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	rest := bytes.TrimRight(b, "\x00")
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("trailing non-PEM data: %q", rest)
	}
	return certs
}

// --- Independent quote checks -------------------------------------------
//
// These walk the quote with the offsets of docs/formats.md, "DCAP quotes", rather than
// with the quote package, so they check the generator and the parser
// against the reference, not against each other.

// quoteParts are the pieces of a quote the checks need.
type quoteParts struct {
	version   uint16
	teeType   uint32
	signed    []byte // header and body (v5: with body_type and body_size)
	quoteSig  []byte
	attKey    []byte
	qeReport  []byte
	qeSig     []byte
	authData  []byte
	outerType uint16
	innerType uint16
	chain     []byte // type 5 data as found (may end with NUL)
	trailing  int    // bytes after signature_data
}

// cursor reads little-endian fields with bounds checks.
type cursor struct {
	b   []byte
	off int
	err error
}

func (c *cursor) take(n int, what string) []byte {
	if c.err != nil {
		return nil
	}
	if n < 0 || c.off+n > len(c.b) {
		c.err = fmt.Errorf("%s: need %d bytes at %d, have %d", what, n, c.off, len(c.b)-c.off)
		return nil
	}
	v := c.b[c.off : c.off+n]
	c.off += n
	return v
}

func (c *cursor) u16(what string) uint16 {
	if v := c.take(2, what); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (c *cursor) u32(what string) uint32 {
	if v := c.take(4, what); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func splitQuote(raw []byte) (*quoteParts, error) {
	p := &quoteParts{}
	c := &cursor{b: raw}
	c.take(48, "header")
	if c.err != nil {
		return nil, c.err
	}
	p.version = binary.LittleEndian.Uint16(raw[0:])
	p.teeType = binary.LittleEndian.Uint32(raw[4:])
	bodySize := 384
	if p.teeType == 0x81 {
		bodySize = 584
	}
	if p.version == 5 {
		c.u16("body_type")
		bodySize = int(c.u32("body_size"))
	}
	c.take(bodySize, "body")
	p.signed = raw[:c.off]
	sigLen := int(c.u32("signature_data_len"))
	sig := c.take(sigLen, "signature_data")
	if c.err != nil {
		return nil, c.err
	}
	p.trailing = len(raw) - c.off

	s := &cursor{b: sig}
	p.quoteSig = s.take(64, "quote signature")
	p.attKey = s.take(64, "attestation key")
	qe := s
	if p.version != 3 {
		p.outerType = s.u16("outer certification type")
		size := int(s.u32("outer certification size"))
		qe = &cursor{b: s.take(size, "outer certification data")}
		if s.err != nil {
			return nil, s.err
		}
	}
	p.qeReport = qe.take(384, "qe_report")
	p.qeSig = qe.take(64, "qe_report_signature")
	p.authData = qe.take(int(qe.u16("qe_auth_data size")), "qe_auth_data")
	p.innerType = qe.u16("certification type")
	if p.version == 3 {
		p.outerType = p.innerType
	}
	p.chain = qe.take(int(qe.u32("certification size")), "certification data")
	if qe.err != nil {
		return nil, qe.err
	}
	if qe.off != len(qe.b) || s.off != len(s.b) {
		return nil, errors.New("signature data not consumed exactly")
	}
	return p, nil
}

func verifyRaw(pub *ecdsa.PublicKey, msg, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	h := sha256.Sum256(msg)
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, h[:], r, s)
}

// quoteVerdict holds the result of each independent check.
type quoteVerdict struct {
	parts                         *quoteParts
	pck                           *x509.Certificate
	quoteSig, qeSig, binding, pki error
}

func (v quoteVerdict) ok() error {
	return errors.Join(v.quoteSig, v.qeSig, v.binding, v.pki)
}

// checkQuote verifies the quote signature, the QE report signature, the
// QE binding and the PCK chain (to root, at now) of raw.
func checkQuote(raw []byte, root *x509.Certificate, now time.Time) (quoteVerdict, error) {
	var v quoteVerdict
	p, err := splitQuote(raw)
	if err != nil {
		return v, err
	}
	v.parts = p
	attPub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, p.attKey...))
	if err != nil {
		return v, err
	}
	if !verifyRaw(attPub, p.signed, p.quoteSig) {
		v.quoteSig = errors.New("quote signature does not verify with the attestation key")
	}
	binding := sha256.Sum256(append(slices.Clone(p.attKey), p.authData...))
	if !bytes.Equal(p.qeReport[320:352], binding[:]) || !bytes.Equal(p.qeReport[352:384], make([]byte, 32)) {
		v.binding = errors.New("QE report_data is not SHA-256(attestation key || QE auth data) || zeros")
	}

	var certs []*x509.Certificate
	rest := bytes.TrimRight(p.chain, "\x00")
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return v, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return v, errors.New("no certificates in the PCK chain")
	}
	v.pck = certs[0]
	pckPub, ok := v.pck.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return v, errors.New("PCK key is not ECDSA")
	}
	if !verifyRaw(pckPub, p.qeReport, p.qeSig) {
		v.qeSig = errors.New("QE report signature does not verify with the PCK key")
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, v.pki = v.pck.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now})
	return v, nil
}

// --- DER shape ----------------------------------------------------------

// derShape describes the structure of DER data: one line per element with
// its depth, class, tag and, for OIDs, the value. Primitive values other
// than OIDs are left out, so two encodings with the same structure and
// different contents have the same shape.
func derShape(b []byte) ([]string, error) {
	var out []string
	err := appendShape(&out, b, 0)
	return out, err
}

func appendShape(out *[]string, b []byte, depth int) error {
	for len(b) > 0 {
		var rv asn1.RawValue
		rest, err := asn1.Unmarshal(b, &rv)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s%d/%d", strings.Repeat("  ", depth), rv.Class, rv.Tag)
		switch {
		case rv.IsCompound:
			line += " {"
		case rv.Class == asn1.ClassUniversal && rv.Tag == asn1.TagOID:
			var oid asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(rv.FullBytes, &oid); err != nil {
				return err
			}
			line += " " + oid.String()
		}
		*out = append(*out, line)
		if rv.IsCompound {
			if err := appendShape(out, rv.Bytes, depth+1); err != nil {
				return err
			}
		}
		b = rest
	}
	return nil
}

func mustShape(t testing.TB, b []byte) []string {
	t.Helper()
	s, err := derShape(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func diffShapes(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: DER shape differs from Intel's\n got:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// --- SGX extension decoding ---------------------------------------------

// decodedSGXExt is the content of a PCK SGX extension, decoded by the test.
type decodedSGXExt struct {
	OIDs               []string // top-level entry OIDs in order
	PPID               []byte
	CompSVN            [16]int
	PCESVN             int
	CPUSVN             []byte
	PCEID, FMSPC       []byte
	SGXType            int
	PlatformInstanceID []byte
	Configuration      []bool
}

type oidEntry struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

func decodeEntries(b []byte) ([]oidEntry, error) {
	var seq []asn1.RawValue
	if rest, err := asn1.Unmarshal(b, &seq); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("not a single SEQUENCE OF (err %v, %d trailing bytes)", err, len(rest))
	}
	out := make([]oidEntry, 0, len(seq))
	for _, raw := range seq {
		var e oidEntry
		if rest, err := asn1.Unmarshal(raw.FullBytes, &e); err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("entry: %v", err)
		}
		out = append(out, e)
	}
	return out, nil
}

func decodeSGXExt(b []byte) (*decodedSGXExt, error) {
	entries, err := decodeEntries(b)
	if err != nil {
		return nil, err
	}
	d := &decodedSGXExt{}
	for _, e := range entries {
		d.OIDs = append(d.OIDs, e.ID.String())
		arc := e.ID[len(e.ID)-1]
		var rest []byte
		switch arc {
		case 1:
			rest, err = asn1.Unmarshal(e.Value.FullBytes, &d.PPID)
		case 2:
			tcb, err := decodeEntries(e.Value.FullBytes)
			if err != nil {
				return nil, err
			}
			if len(tcb) != 18 {
				return nil, fmt.Errorf("TCB: want 18 entries, got %d", len(tcb))
			}
			for i, c := range tcb[:16] {
				if got := c.ID.String(); got != fmt.Sprintf("1.2.840.113741.1.13.1.2.%d", i+1) {
					return nil, fmt.Errorf("TCB entry %d OID %s", i, got)
				}
				if _, err := asn1.Unmarshal(c.Value.FullBytes, &d.CompSVN[i]); err != nil {
					return nil, err
				}
			}
			if _, err := asn1.Unmarshal(tcb[16].Value.FullBytes, &d.PCESVN); err != nil {
				return nil, err
			}
			if _, err := asn1.Unmarshal(tcb[17].Value.FullBytes, &d.CPUSVN); err != nil {
				return nil, err
			}
		case 3:
			rest, err = asn1.Unmarshal(e.Value.FullBytes, &d.PCEID)
		case 4:
			rest, err = asn1.Unmarshal(e.Value.FullBytes, &d.FMSPC)
		case 5:
			var t asn1.Enumerated
			rest, err = asn1.Unmarshal(e.Value.FullBytes, &t)
			d.SGXType = int(t)
		case 6:
			rest, err = asn1.Unmarshal(e.Value.FullBytes, &d.PlatformInstanceID)
		case 7:
			cfg, err := decodeEntries(e.Value.FullBytes)
			if err != nil {
				return nil, err
			}
			for _, c := range cfg {
				var flag bool
				if _, err := asn1.Unmarshal(c.Value.FullBytes, &flag); err != nil {
					return nil, err
				}
				d.Configuration = append(d.Configuration, flag)
			}
		}
		if err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("entry %s: %v", e.ID, err)
		}
	}
	return d, nil
}

func sgxExtensionOf(t testing.TB, c *x509.Certificate) []byte {
	t.Helper()
	for _, e := range c.Extensions {
		if e.Id.Equal(OIDSGXExtensions) {
			return e.Value
		}
	}
	t.Fatalf("certificate %q has no SGX extension", c.Subject.CommonName)
	return nil
}

// --- JSON key structure -------------------------------------------------

// jsonKeyOrders returns, for each path in a JSON document, the set of key
// lists (in document order) of the objects found there. Array elements
// share the path of their array with "[]" appended.
func jsonKeyOrders(b []byte) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := walkJSON(dec, "", out); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("data after the JSON value")
	}
	return out, nil
}

func walkJSON(dec *json.Decoder, path string, out map[string]map[string]bool) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		var keys []string
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key := k.(string)
			keys = append(keys, key)
			if err := walkJSON(dec, path+"."+key, out); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		if out[path] == nil {
			out[path] = map[string]bool{}
		}
		out[path][strings.Join(keys, ",")] = true
	case json.Delim('['):
		for dec.More() {
			if err := walkJSON(dec, path+"[]", out); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
	}
	return nil
}

func mustKeyOrders(t testing.TB, b []byte) map[string]map[string]bool {
	t.Helper()
	k, err := jsonKeyOrders(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// mergeKeyOrders adds the key lists of src to dst.
func mergeKeyOrders(dst, src map[string]map[string]bool) {
	for path, set := range src {
		if dst[path] == nil {
			dst[path] = map[string]bool{}
		}
		for k := range set {
			dst[path][k] = true
		}
	}
}

// checkKeyOrdersWithin fails unless every path of got exists in want and
// every key list of got is one want has at that path.
func checkKeyOrdersWithin(t testing.TB, what string, got, want map[string]map[string]bool) {
	t.Helper()
	for path, set := range got {
		if want[path] == nil {
			t.Errorf("%s: path %q does not exist in Intel's documents", what, path)
			continue
		}
		for k := range set {
			if !want[path][k] {
				t.Errorf("%s: at %q key list %q; Intel's: %v", what, path, k, keysOf(want[path]))
			}
		}
	}
}

func keysOf(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkSignedCollateral splits a PCS body into the raw value of field and the
// signature, and checks the signature with the signer's key.
func checkSignedCollateral(t testing.TB, body []byte, field string, signer *x509.Certificate) json.RawMessage {
	t.Helper()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc) != 2 {
		t.Errorf("want 2 top-level keys (%s, signature), got %d", field, len(doc))
	}
	raw := doc[field]
	if !bytes.Contains(body, raw) {
		t.Fatalf("raw %s value is not a substring of the body", field)
	}
	var sigHex string
	if err := json.Unmarshal(doc["signature"], &sigHex); err != nil {
		t.Fatal(err)
	}
	if len(sigHex) != 128 || strings.ToLower(sigHex) != sigHex {
		t.Errorf("signature: want 128 lower-case hex digits, got %q", sigHex)
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil {
		t.Fatal(err)
	}
	if !verifyRaw(signer.PublicKey.(*ecdsa.PublicKey), raw, sig) {
		t.Errorf("%s signature does not verify over the raw value with %q", field, signer.Subject.CommonName)
	}
	return raw
}
