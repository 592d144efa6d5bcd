package quote

import (
	"bytes"
	"fmt"
)

// Body types: the body_type field of version 5 quotes. [Quote.BodyType]
// carries the equivalent value for versions 3 and 4 as well.
const (
	BodyTypeSGX   uint16 = 1 // SGX enclave report, 384 bytes
	BodyTypeTDX10 uint16 = 2 // TD report for TDX 1.0, 584 bytes
	BodyTypeTDX15 uint16 = 3 // TD report for TDX 1.5, 648 bytes
)

// Signature is the decoded signature_data of a quote.
//
// In version 3 the QE report, its signature, the QE authentication data and
// the certification data sit directly in signature_data. In versions 4 and
// 5 they sit inside a type 6 certification data entry; Signature lifts them
// to the same fields, so a verifier reads both layouts the same way.
type Signature struct {
	// QuoteSignature is the ECDSA signature (r||s, big-endian) by the
	// attestation key over [Quote.SignedData].
	QuoteSignature [64]byte
	// AttestationKey is the raw public key X||Y (big-endian) of the QE's
	// attestation key.
	AttestationKey [64]byte
	// QEReport is the report of the quoting enclave; its ReportData binds
	// the attestation key (see QEBindingData).
	QEReport SGXReportBody
	// QEReportRaw is the 384 bytes covered by QEReportSignature.
	QEReportRaw []byte
	// QEReportSignature is the ECDSA signature (r||s) by the PCK key over
	// QEReportRaw.
	QEReportSignature [64]byte
	QEAuthData        []byte
	// Certification identifies the PCK: in version 3 the certification data
	// of signature_data, in versions 4 and 5 the entry nested inside the
	// type 6 entry (normally type 5, the PEM PCK chain).
	Certification CertificationData
	// OuterCertification is the certification data entry as it appears in
	// signature_data: type 6 in versions 4 and 5, the same as Certification
	// in version 3. Marshal does not read it.
	OuterCertification CertificationData
	// Extra holds bytes inside signature_data after the certification data.
	// QVL tolerates them and so does Parse; no signature covers them.
	Extra []byte
}

// QEBindingData returns AttestationKey || QEAuthData. A genuine QE report
// carries SHA-256 of these bytes in ReportData[0:32] (and zeros after).
func (s *Signature) QEBindingData() []byte {
	b := make([]byte, 0, len(s.AttestationKey)+len(s.QEAuthData))
	b = append(b, s.AttestationKey[:]...)
	return append(b, s.QEAuthData...)
}

// Quote is a parsed DCAP ECDSA quote, version 3, 4 or 5.
type Quote struct {
	// Raw is the quote: header, body and signature data, without Trailing.
	// Parse copies its input; slices in the Quote alias Raw.
	Raw    []byte
	Header Header
	// BodyType is body_type for version 5; for versions 3 and 4 it is the
	// equivalent value (BodyTypeSGX or BodyTypeTDX10).
	BodyType uint16
	// SGX is the enclave report of an SGX quote, TD the TD report of a TDX
	// quote; exactly one is set.
	SGX       *SGXReportBody
	TD        *TDReportBody
	Signature Signature
	// Trailing holds bytes after signature_data (quote buffers are often
	// padded). They are reported but belong to no structure.
	Trailing []byte
}

// Parse decodes a quote. See the package documentation for the rules.
func Parse(b []byte) (*Quote, error) {
	if len(b) > maxQuoteSize {
		return nil, formatErr(ErrTooLarge, "quote size", fmt.Sprintf("at most %d bytes", maxQuoteSize), fmt.Sprintf("%d bytes", len(b)))
	}
	h, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	if len(b) < minQuoteSize {
		return nil, formatErr(ErrTruncated, "quote size", fmt.Sprintf("at least %d bytes", minQuoteSize), fmt.Sprintf("%d bytes", len(b)))
	}

	buf := bytes.Clone(b)
	q := &Quote{Header: h}
	r := newReader(buf, "")
	r.off = HeaderSize
	if err := q.parseBody(r); err != nil {
		return nil, err
	}
	sigLen, err := r.u32("signature_data_len")
	if err != nil {
		return nil, err
	}
	sig, err := r.sized(sigLen, "signature_data")
	if err != nil {
		return nil, err
	}
	if q.Signature, err = parseSignature(sig, h.Version); err != nil {
		return nil, err
	}
	q.Raw = buf[:r.off:r.off]
	if r.left() > 0 {
		q.Trailing = r.rest()
	}
	return q, nil
}

// parseBody reads the body (and for version 5 its type and size) from r,
// which is positioned just after the header.
func (q *Quote) parseBody(r *reader) error {
	if q.Header.Version != Version5 {
		if q.Header.TEEType == TEETypeTDX {
			q.BodyType = BodyTypeTDX10
		} else {
			q.BodyType = BodyTypeSGX
		}
		return q.readBody(r)
	}

	bodyType, err := r.u16("body_type")
	if err != nil {
		return err
	}
	size, err := r.u32("body_size")
	if err != nil {
		return err
	}
	var want int
	switch bodyType {
	case BodyTypeSGX:
		want = SGXReportBodySize
	case BodyTypeTDX10:
		want = TDReportBody10Size
	case BodyTypeTDX15:
		want = TDReportBody15Size
	default:
		return formatErr(ErrUnsupported, "body_type", "1 (SGX), 2 (TDX 1.0) or 3 (TDX 1.5)", bodyType)
	}
	isSGXBody := bodyType == BodyTypeSGX
	if isSGXBody != (q.Header.TEEType == TEETypeSGX) {
		wantType := "2 or 3 (TD report)"
		if q.Header.TEEType == TEETypeSGX {
			wantType = "1 (SGX enclave report)"
		}
		return formatErr(ErrMalformed, fmt.Sprintf("body_type for tee_type 0x%08x", q.Header.TEEType), wantType, bodyType)
	}
	if uint64(size) != uint64(want) {
		return formatErr(ErrMalformed, fmt.Sprintf("body_size for body_type %d", bodyType), fmt.Sprint(want), size)
	}
	q.BodyType = bodyType
	return q.readBody(r)
}

// readBody decodes the body selected by q.BodyType.
func (q *Quote) readBody(r *reader) error {
	switch q.BodyType {
	case BodyTypeSGX:
		raw, err := r.bytes(SGXReportBodySize, "SGX report body")
		if err != nil {
			return err
		}
		q.SGX = new(SGXReportBody)
		q.SGX.decode(raw)
	default:
		size := TDReportBody10Size
		if q.BodyType == BodyTypeTDX15 {
			size = TDReportBody15Size
		}
		raw, err := r.bytes(size, "TD report body")
		if err != nil {
			return err
		}
		q.TD = new(TDReportBody)
		q.TD.decode(raw)
	}
	return nil
}

// parseSignature decodes signature_data for the given quote version.
func parseSignature(b []byte, version uint16) (Signature, error) {
	var s Signature
	r := newReader(b, "signature data")
	if err := r.read(s.QuoteSignature[:], "quote signature"); err != nil {
		return s, err
	}
	if err := r.read(s.AttestationKey[:], "attestation key"); err != nil {
		return s, err
	}

	if version == Version3 {
		raw, err := r.bytes(SGXReportBodySize, "qe_report")
		if err != nil {
			return s, err
		}
		s.QEReportRaw = raw
		s.QEReport.decode(raw)
		if err := r.read(s.QEReportSignature[:], "qe_report_signature"); err != nil {
			return s, err
		}
		authSize, err := r.u16("qe_auth_data size")
		if err != nil {
			return s, err
		}
		if s.QEAuthData, err = r.sized(uint32(authSize), "qe_auth_data"); err != nil {
			return s, err
		}
		cr := newReader(r.rest(), "signature data certification data")
		c, err := parseCertificationData(cr, leafCertRule)
		if err != nil {
			return s, err
		}
		s.Certification = c
		s.OuterCertification = c
		s.Extra = nonEmpty(cr.rest())
		return s, nil
	}

	cr := newReader(r.rest(), "signature data certification data")
	c, err := parseCertificationData(cr, qeReportCertRule)
	if err != nil {
		return s, err
	}
	qe := c.QEReport
	s.QEReport = qe.QEReport
	s.QEReportRaw = qe.QEReportRaw
	s.QEReportSignature = qe.QEReportSignature
	s.QEAuthData = qe.QEAuthData
	s.Certification = qe.Certification
	s.OuterCertification = c
	s.Extra = nonEmpty(cr.rest())
	return s, nil
}

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// IsTDX reports whether the quote carries a TD report.
func (q *Quote) IsTDX() bool { return q.TD != nil }

// ReportData returns the report data of the enclave or TD (not of the QE).
func (q *Quote) ReportData() [64]byte {
	switch {
	case q.SGX != nil:
		return q.SGX.ReportData
	case q.TD != nil:
		return q.TD.ReportData
	}
	return [64]byte{}
}

// Debug reports whether the enclave or TD runs in debug mode.
func (q *Quote) Debug() bool {
	switch {
	case q.SGX != nil:
		return q.SGX.Debug()
	case q.TD != nil:
		return q.TD.Debug()
	}
	return false
}

// SignedData returns the bytes covered by the quote signature: the header
// and the body, and for version 5 the body_type and body_size in between
// (QVL: quote[0 : 48+body] for versions 3 and 4, quote[0 : 54+body] for 5).
// It is encoded from the fields, which for a parsed quote reproduces Raw.
func (q *Quote) SignedData() []byte {
	return q.appendSigned(make([]byte, 0, HeaderSize+v5BodyDescriptorLen+TDReportBody15Size))
}

func (q *Quote) appendSigned(b []byte) []byte {
	b = q.Header.append(b)
	if q.Header.Version == Version5 {
		b = appendU16(b, q.BodyType)
		b = appendU32(b, uint32(q.bodySize()))
	}
	switch {
	case q.SGX != nil:
		b = q.SGX.append(b)
	case q.TD != nil:
		b = q.TD.append(b)
	}
	return b
}

func (q *Quote) bodySize() int {
	switch {
	case q.SGX != nil:
		return SGXReportBodySize
	case q.TD != nil:
		return q.TD.Size()
	}
	return 0
}

// Marshal encodes the quote from its fields, without Trailing. For a parsed
// quote the result equals Raw. Signature is encoded from its lifted fields
// (QEReport, QEReportSignature, QEAuthData, Certification, Extra), wrapped
// in a type 6 entry for versions 4 and 5. Lengths must fit their fields
// (u16 for QE auth data, u32 otherwise).
func (q *Quote) Marshal() []byte {
	b := make([]byte, 0, max(len(q.Raw), minQuoteSize))
	b = q.appendSigned(b)
	sizeAt := len(b)
	b = appendU32(b, 0)
	b = q.Signature.append(b, q.Header.Version)
	putU32(b[sizeAt:], uint32(len(b)-sizeAt-4))
	return b
}

func (s *Signature) append(b []byte, version uint16) []byte {
	b = append(b, s.QuoteSignature[:]...)
	b = append(b, s.AttestationKey[:]...)
	qe := QEReportCertificationData{
		QEReport:          s.QEReport,
		QEReportSignature: s.QEReportSignature,
		QEAuthData:        s.QEAuthData,
		Certification:     s.Certification,
	}
	if version == Version3 {
		b = qe.append(b)
	} else {
		outer := CertificationData{Type: CertTypeQEReport, QEReport: &qe}
		b = outer.append(b)
	}
	return append(b, s.Extra...)
}
