package pcs

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// maxEncodedSize bounds the input of ParseCollateral: two signed documents
// and two CRLs at their size limits, base64 or PEM encoded, plus three
// chains.
const maxEncodedSize = 8 << 20

// encodingVersion is the "version" member MarshalCollateral writes.
const encodingVersion = 1

// Members of the encoding, in the order MarshalCollateral writes them.
var encodingKeys = []string{
	"version", "source",
	"tcb_info", "tcb_info_issuer_chain",
	"qe_identity", "qe_identity_issuer_chain",
	"pck_crl", "pck_crl_issuer_chain",
	"root_ca_crl",
}

// encoded is the JSON shape MarshalCollateral writes. Absent items are
// omitted.
type encoded struct {
	Version               int         `json:"version"`
	Source                string      `json:"source"`
	TCBInfo               *encodedDoc `json:"tcb_info,omitempty"`
	TCBInfoIssuerChain    string      `json:"tcb_info_issuer_chain,omitempty"`
	QEIdentity            *encodedDoc `json:"qe_identity,omitempty"`
	QEIdentityIssuerChain string      `json:"qe_identity_issuer_chain,omitempty"`
	PCKCRL                string      `json:"pck_crl,omitempty"`
	PCKCRLIssuerChain     string      `json:"pck_crl_issuer_chain,omitempty"`
	RootCACRL             string      `json:"root_ca_crl,omitempty"`
}

// encodedDoc is a signed TCB Info or Enclave Identity: either the PCS body
// it was parsed from, or the bare signed value and its signature.
type encodedDoc struct {
	Body      string `json:"body,omitempty"`      // base64 of the PCS body
	Value     string `json:"value,omitempty"`     // base64 of Raw
	Signature string `json:"signature,omitempty"` // hex r||s
}

// MarshalCollateral encodes c exactly, for ParseCollateral: a JSON object
//
//	{"version":1,"source":"…",
//	 "tcb_info":{"body":"<base64>"},           (or {"value":"<base64>","signature":"<hex>"})
//	 "tcb_info_issuer_chain":"<PEM>",
//	 "qe_identity":{…}, "qe_identity_issuer_chain":"<PEM>",
//	 "pck_crl":"<PEM>", "pck_crl_issuer_chain":"<PEM>", "root_ca_crl":"<PEM>"}
//
// with the members of absent items (nil, or an empty chain) left out. A TCB
// Info or Enclave Identity parsed from a PCS body keeps that body byte for
// byte, one parsed from a bare value (ParseDCAPQVLJSON) keeps the value and
// signature; certificates and CRLs keep their DER (Raw). The signed JSON is
// base64 encoded because it need not be valid UTF-8, which a JSON string
// could not carry unchanged.
//
// The dcap-qvl JSON (ParseDCAPQVLJSON) is not used for this: it has no
// Source, requires every item, and keeps only the bare values, losing the
// PCS bodies.
func MarshalCollateral(c *Collateral) ([]byte, error) {
	if c == nil {
		return nil, errors.New("pcs: MarshalCollateral: nil collateral")
	}
	if !utf8.ValidString(c.Source) || len(c.Source) > maxStringLength {
		return nil, fmt.Errorf("pcs: MarshalCollateral: source: want valid UTF-8 of at most %d bytes, got %d bytes", maxStringLength, len(c.Source))
	}
	e := encoded{Version: encodingVersion, Source: c.Source}
	var err error
	if c.TCBInfo != nil {
		if e.TCBInfo, err = encodeDoc("tcb_info", c.TCBInfo.body, c.TCBInfo.Raw, c.TCBInfo.Signature); err != nil {
			return nil, err
		}
	}
	if c.QEIdentity != nil {
		if e.QEIdentity, err = encodeDoc("qe_identity", c.QEIdentity.body, c.QEIdentity.Raw, c.QEIdentity.Signature); err != nil {
			return nil, err
		}
	}
	for _, ch := range []struct {
		name  string
		certs []*x509.Certificate
		dst   *string
	}{
		{"tcb_info_issuer_chain", c.TCBInfoIssuerChain, &e.TCBInfoIssuerChain},
		{"qe_identity_issuer_chain", c.QEIdentityIssuerChain, &e.QEIdentityIssuerChain},
		{"pck_crl_issuer_chain", c.PCKCRLIssuerChain, &e.PCKCRLIssuerChain},
	} {
		for i, cert := range ch.certs {
			if cert == nil || len(cert.Raw) == 0 {
				return nil, fmt.Errorf("pcs: MarshalCollateral: %s[%d]: no certificate bytes", ch.name, i)
			}
		}
		*ch.dst = string(EncodePEMChain(ch.certs))
	}
	for _, cr := range []struct {
		name string
		crl  *x509.RevocationList
		dst  *string
	}{
		{"pck_crl", c.PCKCRL, &e.PCKCRL},
		{"root_ca_crl", c.RootCACRL, &e.RootCACRL},
	} {
		if cr.crl == nil {
			continue
		}
		if len(cr.crl.Raw) == 0 {
			return nil, fmt.Errorf("pcs: MarshalCollateral: %s: no CRL bytes", cr.name)
		}
		*cr.dst = string(encodeCRLPEM(cr.crl))
	}
	return json.Marshal(e)
}

func encodeDoc(name string, body, raw, sig []byte) (*encodedDoc, error) {
	if body != nil {
		return &encodedDoc{Body: base64.StdEncoding.EncodeToString(body)}, nil
	}
	if len(raw) == 0 || len(sig) != 64 {
		return nil, fmt.Errorf("pcs: MarshalCollateral: %s: want the signed value and a 64-byte signature, got %d and %d bytes", name, len(raw), len(sig))
	}
	return &encodedDoc{Value: base64.StdEncoding.EncodeToString(raw), Signature: hex.EncodeToString(sig)}, nil
}

// ParseCollateral decodes what MarshalCollateral wrote. Every item goes
// through the parser it would go through when fetched (ParseTCBInfo,
// ParseEnclaveIdentity, ParsePEMChain, ParseCRL, or the first two's forms
// for a bare signed value), so an encoding is trusted no more than a PCS
// response; unknown or duplicate members, another version and empty items
// are errors (matching ErrFormat). Signatures are not checked. Absent items
// stay nil.
func ParseCollateral(b []byte) (*Collateral, error) {
	if len(b) > maxEncodedSize {
		return nil, fieldErrorf("", "encoded collateral larger than %d bytes", maxEncodedSize)
	}
	o, err := decodeObject(b, "")
	if err != nil {
		return nil, err
	}
	if err := o.allowOnly(encodingKeys...); err != nil {
		return nil, err
	}
	ver, err := o.uint32("version")
	if err != nil {
		return nil, err
	}
	if ver != encodingVersion {
		return nil, fieldErrorf("version", "want %d, got %d", encodingVersion, ver)
	}
	c := &Collateral{}
	if c.Source, err = o.str("source"); err != nil {
		return nil, err
	}
	if o.has("tcb_info") {
		body, raw, sig, err := decodeDoc(o, "tcb_info")
		if err != nil {
			return nil, err
		}
		if body != nil {
			c.TCBInfo, err = ParseTCBInfo(body)
		} else {
			c.TCBInfo, err = parseBareTCBInfo(raw, sig)
		}
		if err != nil {
			return nil, withPrefix("tcb_info", err)
		}
	}
	if o.has("qe_identity") {
		body, raw, sig, err := decodeDoc(o, "qe_identity")
		if err != nil {
			return nil, err
		}
		if body != nil {
			c.QEIdentity, err = ParseEnclaveIdentity(body)
		} else {
			c.QEIdentity, err = parseBareEnclaveIdentity(raw, sig)
		}
		if err != nil {
			return nil, withPrefix("qe_identity", err)
		}
	}
	for _, ch := range []struct {
		key string
		dst *[]*x509.Certificate
	}{
		{"tcb_info_issuer_chain", &c.TCBInfoIssuerChain},
		{"qe_identity_issuer_chain", &c.QEIdentityIssuerChain},
		{"pck_crl_issuer_chain", &c.PCKCRLIssuerChain},
	} {
		if !o.has(ch.key) {
			continue
		}
		s, err := o.strMax(ch.key, maxChainSize)
		if err != nil {
			return nil, err
		}
		// Only the PEM MarshalCollateral writes, not the header form.
		if !strings.HasPrefix(s, "-----BEGIN CERTIFICATE-----") || strings.Contains(s, "%") {
			return nil, fieldErrorf(ch.key, "want PEM certificates")
		}
		if *ch.dst, err = ParsePEMChain([]byte(s)); err != nil {
			return nil, withPrefix(ch.key, err)
		}
	}
	for _, cr := range []struct {
		key string
		dst **x509.RevocationList
	}{
		{"pck_crl", &c.PCKCRL},
		{"root_ca_crl", &c.RootCACRL},
	} {
		if !o.has(cr.key) {
			continue
		}
		s, err := o.strMax(cr.key, maxCRLSize)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(s, "-----BEGIN X509 CRL-----") {
			return nil, fieldErrorf(cr.key, "want a PEM X509 CRL")
		}
		if *cr.dst, err = ParseCRL([]byte(s)); err != nil {
			return nil, withPrefix(cr.key, err)
		}
	}
	return c, nil
}

// decodeDoc reads a signed document member: exactly "body", or exactly
// "value" and "signature".
func decodeDoc(o *object, key string) (body, raw, sig []byte, err error) {
	d, err := o.object(key)
	if err != nil {
		return nil, nil, nil, err
	}
	b64 := func(k string) ([]byte, error) {
		s, err := d.strMax(k, base64.StdEncoding.EncodedLen(MaxJSONSize))
		if err != nil {
			return nil, err
		}
		v, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			return nil, fieldErrorf(join(d.path, k), "invalid base64: %v", err)
		}
		if len(v) == 0 {
			return nil, fieldErrorf(join(d.path, k), "empty")
		}
		return v, nil
	}
	if d.has("body") {
		if err := d.allowOnly("body"); err != nil {
			return nil, nil, nil, err
		}
		body, err = b64("body")
		return body, nil, nil, err
	}
	if err := d.allowOnly("value", "signature"); err != nil {
		return nil, nil, nil, err
	}
	if raw, err = b64("value"); err != nil {
		return nil, nil, nil, err
	}
	if sig, err = d.hexBytes("signature", 64); err != nil {
		return nil, nil, nil, err
	}
	return nil, raw, sig, nil
}

// CacheExpiry applies the rule of Cache to collateral from a provider: it
// must be complete (else a *MissingError) and not expired at now (else a
// *ValidityError matching ErrExpired, naming the item). It returns the
// earliest nextUpdate of the TCB Info, QE Identity and both CRLs, at which
// the collateral stops being served; a CRL without nextUpdate does not
// expire.
func CacheExpiry(c *Collateral, now time.Time) (time.Time, error) {
	if c == nil {
		return time.Time{}, errors.New("pcs: no collateral")
	}
	if m := c.Missing(); len(m) > 0 {
		return time.Time{}, &MissingError{Source: c.Source, Items: m}
	}
	first := earliestNextUpdate(c)
	if !now.Before(first.NotAfter) {
		first.Now = now
		return time.Time{}, fmt.Errorf("pcs: collateral from %s: %w", c.Source, &first)
	}
	return first.NotAfter, nil
}
