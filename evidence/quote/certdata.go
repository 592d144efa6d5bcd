package quote

import (
	"bytes"
	"encoding/base64"
	"fmt"
)

// Certification data types (cert_key_type in Intel's sgx_quote_3.h).
const (
	CertTypePPIDCleartext uint16 = 1 // PPID in clear text, CPUSVN, PCESVN
	CertTypePPIDRSA2048   uint16 = 2 // PPID encrypted with RSA-2048-OAEP, CPUSVN, PCESVN
	CertTypePPIDRSA3072   uint16 = 3 // PPID encrypted with RSA-3072-OAEP, CPUSVN, PCESVN
	CertTypePCKCleartext  uint16 = 4 // PCK leaf certificate in clear text
	CertTypePCKChain      uint16 = 5 // PCK leaf, intermediate and root certificates, PEM
	CertTypeQEReport      uint16 = 6 // QE report certification data (ECDSA_SIG_AUX_DATA)
)

const (
	pemBeginMarker = "-----BEGIN "
	pemCertBegin   = "-----BEGIN CERTIFICATE-----"
	pemCertEnd     = "-----END CERTIFICATE-----"
	// maxPCKChainCerts caps PCKChainDER; Intel chains have 3 certificates.
	maxPCKChainCerts = 8
	leafCertTypes    = "1 to 5"
)

// CertTypeName returns a short name for a certification data type.
func CertTypeName(t uint16) string {
	switch t {
	case CertTypePPIDCleartext:
		return "PPID cleartext"
	case CertTypePPIDRSA2048:
		return "PPID RSA-2048 encrypted"
	case CertTypePPIDRSA3072:
		return "PPID RSA-3072 encrypted"
	case CertTypePCKCleartext:
		return "PCK leaf certificate"
	case CertTypePCKChain:
		return "PCK certificate chain"
	case CertTypeQEReport:
		return "QE report certification data"
	case 7:
		return "platform manifest"
	}
	return "unknown"
}

func isLeafCertType(t uint16) bool { return t >= CertTypePPIDCleartext && t <= CertTypePCKChain }

func certTypeString(t uint16) string { return fmt.Sprintf("%d (%s)", t, CertTypeName(t)) }

// CertificationData is one certification data entry:
// u16 type | u32 size | size bytes of data.
type CertificationData struct {
	Type uint16
	// Data is the entry's content exactly as in the quote (for type 5 a PEM
	// chain that may end in NUL bytes). After Parse it aliases Quote.Raw.
	Data []byte
	// QEReport is the decoded content of a type 6 entry, nil otherwise.
	QEReport *QEReportCertificationData
}

// QEReportCertificationData is the content of a type 6 entry
// (sgx_qe_report_certification_data_t): the QE report, its signature by the
// PCK key, the QE authentication data and a nested certification data
// entry (normally type 5, the PCK chain).
type QEReportCertificationData struct {
	QEReport SGXReportBody
	// QEReportRaw is the 384 bytes covered by QEReportSignature.
	QEReportRaw       []byte
	QEReportSignature [64]byte
	QEAuthData        []byte
	Certification     CertificationData
}

// certTypeRule says which certification data types are acceptable at a
// position in the structure; desc is used in errors.
type certTypeRule struct {
	ok   func(uint16) bool
	desc string
}

var (
	// A leaf entry: a v3 quote's certification data or the entry nested in
	// type 6. Type 6 is not a leaf, which limits nesting to two levels.
	leafCertRule = certTypeRule{isLeafCertType, leafCertTypes}
	// The outer entry of a v4 or v5 quote.
	qeReportCertRule = certTypeRule{func(t uint16) bool { return t == CertTypeQEReport }, certTypeString(CertTypeQEReport)}
	// Any entry this package can decode.
	anyCertRule = certTypeRule{func(t uint16) bool { return isLeafCertType(t) || t == CertTypeQEReport }, "1 to 6"}
)

// ParseCertificationData decodes one certification data entry of type 1
// to 6 that must span all of b. A type 6 entry is decoded together with
// its nested entry, which must be of type 1 to 5. The result aliases b.
func ParseCertificationData(b []byte) (*CertificationData, error) {
	r := newReader(b, "certification data")
	c, err := parseCertificationData(r, anyCertRule)
	if err != nil {
		return nil, err
	}
	if r.left() != 0 {
		return nil, formatErr(ErrMalformed, "certification data size", fmt.Sprintf("%d bytes", r.off), fmt.Sprintf("%d bytes", len(b)))
	}
	return &c, nil
}

// parseCertificationData reads one entry whose type must satisfy rule,
// decoding the content of a type 6 entry.
func parseCertificationData(r *reader, rule certTypeRule) (CertificationData, error) {
	var c CertificationData
	var err error
	if c.Type, err = r.u16("type"); err != nil {
		return c, err
	}
	if !rule.ok(c.Type) {
		return c, formatErr(ErrUnsupported, r.field("type"), rule.desc, certTypeString(c.Type))
	}
	size, err := r.u32("size")
	if err != nil {
		return c, err
	}
	if c.Data, err = r.sized(size, "data"); err != nil {
		return c, err
	}
	if c.Type == CertTypeQEReport {
		if c.QEReport, err = parseQEReportCertificationData(c.Data); err != nil {
			return c, err
		}
	}
	return c, nil
}

// parseQEReportCertificationData decodes type 6 content, which must be
// consumed exactly (as QVL requires).
func parseQEReportCertificationData(b []byte) (*QEReportCertificationData, error) {
	r := newReader(b, "QE report certification data")
	q := new(QEReportCertificationData)
	var err error
	if q.QEReportRaw, err = r.bytes(SGXReportBodySize, "qe_report"); err != nil {
		return nil, err
	}
	q.QEReport.decode(q.QEReportRaw)
	if err = r.read(q.QEReportSignature[:], "qe_report_signature"); err != nil {
		return nil, err
	}
	authSize, err := r.u16("qe_auth_data size")
	if err != nil {
		return nil, err
	}
	if q.QEAuthData, err = r.sized(uint32(authSize), "qe_auth_data"); err != nil {
		return nil, err
	}
	inner := newReader(r.rest(), "QE report certification data nested certification data")
	if q.Certification, err = parseCertificationData(inner, leafCertRule); err != nil {
		return nil, err
	}
	if inner.left() != 0 {
		return nil, formatErr(ErrMalformed, "QE report certification data size (must end with the nested certification data)",
			fmt.Sprintf("%d bytes", len(b)-inner.left()), fmt.Sprintf("%d bytes", len(b)))
	}
	return q, nil
}

// PCKChainPEM returns the PEM-encoded PCK certificate chain (type 5),
// looking inside a type 6 entry if needed, with trailing NUL bytes removed.
// If there is no PEM chain it returns an error wrapping [ErrNoPCKChain] that
// names the type found. The result aliases c.Data.
func (c *CertificationData) PCKChainPEM() ([]byte, error) {
	d := c
	if d.Type == CertTypeQEReport && d.QEReport != nil {
		d = &d.QEReport.Certification
	}
	if d.Type != CertTypePCKChain {
		return nil, formatErr(ErrNoPCKChain, "certification data type", certTypeString(CertTypePCKChain), certTypeString(d.Type))
	}
	pem := bytes.TrimRight(d.Data, "\x00")
	if !bytes.HasPrefix(bytes.TrimLeft(pem, " \t\r\n"), []byte(pemBeginMarker)) {
		return nil, formatErr(ErrNoPCKChain, "certification data type 5 content", "PEM certificates", "data that is not PEM")
	}
	return pem, nil
}

// PCKChainDER returns the DER certificates of the PCK chain (see
// PCKChainPEM), in the order of the quote: leaf first, root last.
//
// Unlike encoding/pem it also accepts blocks that are not separated by a
// line break ("-----END CERTIFICATE----------BEGIN CERTIFICATE-----"), as
// found in real quotes (the rats-tls sample certificate in testdata). Only
// CERTIFICATE blocks and whitespace between them are allowed.
func (c *CertificationData) PCKChainDER() ([][]byte, error) {
	p, err := c.PCKChainPEM()
	if err != nil {
		return nil, err
	}
	var certs [][]byte
	rest := bytes.TrimSpace(p)
	for len(rest) > 0 {
		if !bytes.HasPrefix(rest, []byte(pemCertBegin)) {
			return nil, formatErr(ErrMalformed, fmt.Sprintf("PCK chain certificate %d", len(certs)), pemCertBegin, fmt.Sprintf("%.30q", rest))
		}
		rest = rest[len(pemCertBegin):]
		end := bytes.Index(rest, []byte(pemCertEnd))
		if end < 0 {
			return nil, formatErr(ErrMalformed, fmt.Sprintf("PCK chain certificate %d", len(certs)), pemCertEnd, "end of data")
		}
		if len(certs) == maxPCKChainCerts {
			return nil, formatErr(ErrMalformed, "PCK chain length", fmt.Sprintf("at most %d certificates", maxPCKChainCerts), "more")
		}
		b64 := bytes.Join(bytes.Fields(rest[:end]), nil)
		der := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
		n, err := base64.StdEncoding.Decode(der, b64)
		if err != nil {
			return nil, formatErr(ErrMalformed, fmt.Sprintf("PCK chain certificate %d", len(certs)), "base64 DER", fmt.Sprintf("undecodable text (%v)", err))
		}
		if n == 0 {
			return nil, formatErr(ErrMalformed, fmt.Sprintf("PCK chain certificate %d", len(certs)), "base64 DER", "an empty block")
		}
		certs = append(certs, der[:n:n])
		rest = bytes.TrimSpace(rest[end+len(pemCertEnd):])
	}
	return certs, nil
}

// Marshal returns the entry's encoding. For a type 6 entry with QEReport
// set, the content is encoded from QEReport; otherwise Data is written.
func (c *CertificationData) Marshal() []byte { return c.append(nil) }

func (c *CertificationData) append(b []byte) []byte {
	b = appendU16(b, c.Type)
	if c.Type == CertTypeQEReport && c.QEReport != nil {
		sizeAt := len(b)
		b = appendU32(b, 0)
		b = c.QEReport.append(b)
		putU32(b[sizeAt:], uint32(len(b)-sizeAt-4))
		return b
	}
	b = appendU32(b, uint32(len(c.Data)))
	return append(b, c.Data...)
}

// Marshal returns the encoding of the type 6 content.
func (q *QEReportCertificationData) Marshal() []byte { return q.append(nil) }

func (q *QEReportCertificationData) append(b []byte) []byte {
	b = q.QEReport.append(b)
	b = append(b, q.QEReportSignature[:]...)
	b = appendU16(b, uint16(len(q.QEAuthData)))
	b = append(b, q.QEAuthData...)
	return q.Certification.append(b)
}
