package dcapsim

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/ratls/ratls/evidence/quote"
)

// IntelQEVendorID is the QE vendor ID of Intel's quoting enclaves.
var IntelQEVendorID = [16]byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}

// Measurements of Intel's production quoting enclaves, as published in
// Intel's QE and TD_QE identities.
var (
	IntelQEMRSigner   = [32]byte{0x8c, 0x4f, 0x57, 0x75, 0xd7, 0x96, 0x50, 0x3e, 0x96, 0x13, 0x7f, 0x77, 0xc6, 0x8a, 0x82, 0x9a, 0x00, 0x56, 0xac, 0x8d, 0xed, 0x70, 0x14, 0x0b, 0x08, 0x1b, 0x09, 0x44, 0x90, 0xc5, 0x7b, 0xff}
	IntelTDQEMRSigner = [32]byte{0xdc, 0x9e, 0x2a, 0x7c, 0x6f, 0x94, 0x8f, 0x17, 0x47, 0x4e, 0x34, 0xa7, 0xfc, 0x43, 0xed, 0x03, 0x0f, 0x7c, 0x15, 0x63, 0xf1, 0xba, 0xbd, 0xdf, 0x63, 0x40, 0xc8, 0x2e, 0x0e, 0x54, 0xa8, 0xc5}
)

// IntelQEProdID and IntelTDQEProdID are the ISV product IDs of Intel's
// SGX and TDX quoting enclaves.
const (
	IntelQEProdID   = 1
	IntelTDQEProdID = 2
)

// QEOptions describes the quoting enclave whose report a quote carries.
type QEOptions struct {
	MREnclave, MRSigner [32]byte
	ISVProdID, ISVSVN   uint16
	MiscSelect          uint32
	Attributes          [16]byte
	// CPUSVN zero means the CPUSVN of the PCK certificate.
	CPUSVN [16]byte
	// AuthData is the QE authentication data. Nil means the 32 bytes
	// 0x00..0x1f that Intel's quoting enclaves use; an empty non-nil slice
	// means none.
	AuthData []byte
}

// DefaultQE returns the quoting enclave of Intel's production SGX (tdx
// false) or TDX quotes: Intel's MRSIGNER and product ID, SVN 8 (SGX) or 4
// (TDX), flags INIT|MODE64BIT|PROVISION_KEY and XFRM 0xe7. MRENCLAVE is a
// made-up value, since no verifier checks it.
func DefaultQE(tdx bool) QEOptions {
	qe := QEOptions{
		MREnclave: sha256.Sum256([]byte("dcaptest quoting enclave")),
		MRSigner:  IntelQEMRSigner,
		ISVProdID: IntelQEProdID,
		ISVSVN:    8,
	}
	qe.Attributes[0] = byte(quote.SGXAttrInitted | quote.SGXAttrMode64Bit | quote.SGXAttrProvisionKey)
	qe.Attributes[8] = 0xe7
	if tdx {
		qe.MREnclave = sha256.Sum256([]byte("dcaptest TD quoting enclave"))
		qe.MRSigner = IntelTDQEMRSigner
		qe.ISVProdID = IntelTDQEProdID
		qe.ISVSVN = 4
	}
	return qe
}

// QuoteFaults are deliberate defects for negative tests. The zero value
// gives a correct quote.
type QuoteFaults struct {
	// QuoteSigner signs header and body instead of the attestation key
	// (whose public key the quote still carries).
	QuoteSigner *ecdsa.PrivateKey
	// QEReportSigner signs the QE report instead of the PCK key.
	QEReportSigner *ecdsa.PrivateKey
	// QEReportData replaces the QE report_data, which otherwise binds the
	// attestation key and QE authentication data.
	QEReportData *[64]byte
}

// QuoteOptions describes a quote.
type QuoteOptions struct {
	// Version is 3, 4 or 5; zero means 3 for SGX and 4 for TDX.
	Version int
	// TDX makes a TDX quote (TEE type 0x81, TD report body); version 4 or
	// 5 only.
	TDX bool
	// TDX15 makes the body a TDX 1.5 TD report (body type 3); version 5
	// only. A version 5 TDX quote without it has body type 2.
	TDX15 bool
	// SGX is the enclave report body of an SGX quote.
	SGX quote.SGXReportBody
	// TD is the TD report body of a TDX quote; its V15 flag is set from
	// TDX15.
	TD quote.TDReportBody
	// QE is the quoting enclave.
	QE QEOptions
	// PCK certifies the QE report; required.
	PCK *PCK
	// AttestationKey signs the quote; nil means a new key.
	AttestationKey *ecdsa.PrivateKey
	// QESVN and PCESVN go to header bytes 8..12. For version 3, zero means
	// QE.ISVSVN and the PCK's PCESVN; versions 4 and 5 reserve these bytes
	// (Intel's TDX quotes carry zero) and write them as given.
	QESVN, PCESVN uint16
	// QEVendorID zero means IntelQEVendorID.
	QEVendorID [16]byte
	// UserData is the header user data; zero means a random 16-byte QE ID
	// followed by 4 zero bytes, as Intel's QE writes.
	UserData [20]byte
	// CertChainPEM is the content of certification data type 5; nil means
	// PCK.ChainPEM followed by a NUL byte, as Intel's QE writes it.
	CertChainPEM []byte
	// OmitChainNUL drops the NUL after the default chain (some quotes
	// lack it).
	OmitChainNUL bool
	// Faults injects defects; see QuoteFaults.
	Faults QuoteFaults
}

// NewQuote returns a byte-exact quote signed as Intel's QE signs:
//
//   - the quote signature is ECDSA P-256/SHA-256 by the attestation key
//     over header and body (for version 5 including body_type and
//     body_size), as r||s;
//   - the attestation key is written as X||Y;
//   - the QE report's report_data is SHA-256(attestation key || QE
//     authentication data) followed by 32 zero bytes;
//   - the QE report is signed by the PCK key over its 384 bytes;
//   - certification data is type 5 (the PEM chain) in version 3, and type
//     6 (QE report, its signature, the authentication data and a nested
//     type 5) in versions 4 and 5.
func (p *PKI) NewQuote(o QuoteOptions) ([]byte, error) {
	q, err := p.BuildQuote(o)
	if err != nil {
		return nil, err
	}
	return q.Marshal(), nil
}

// BuildQuote is [PKI.NewQuote] returning the signed quote as a structure,
// for callers that want to change it further (re-signing is then theirs).
func (p *PKI) BuildQuote(o QuoteOptions) (*quote.Quote, error) {
	if o.PCK == nil {
		return nil, errors.New("dcaptest: quote: PCK is required")
	}
	if o.Version == 0 {
		o.Version = 3
		if o.TDX {
			o.Version = 4
		}
	}
	switch {
	case o.Version < 3 || o.Version > 5:
		return nil, fmt.Errorf("dcaptest: quote version: want 3, 4 or 5, got %d", o.Version)
	case o.TDX && o.Version == 3:
		return nil, errors.New("dcaptest: quote version 3 is SGX only; TDX needs version 4 or 5")
	case o.TDX15 && (!o.TDX || o.Version != 5):
		return nil, errors.New("dcaptest: a TDX 1.5 body needs a TDX quote of version 5")
	}
	if len(o.QE.AuthData) > 0xffff {
		return nil, fmt.Errorf("dcaptest: QE authentication data: want at most 65535 bytes, got %d", len(o.QE.AuthData))
	}

	attKey := o.AttestationKey
	if attKey == nil {
		var err error
		if attKey, err = p.newKey(); err != nil {
			return nil, err
		}
	}
	attPub, err := rawPublicKey(&attKey.PublicKey)
	if err != nil {
		return nil, err
	}

	h := quote.Header{
		Version:    uint16(o.Version),
		AttKeyType: quote.AttKeyTypeECDSAP256,
		TEEType:    quote.TEETypeSGX,
		QESVN:      o.QESVN,
		PCESVN:     o.PCESVN,
		QEVendorID: o.QEVendorID,
		UserData:   o.UserData,
	}
	if o.TDX {
		h.TEEType = quote.TEETypeTDX
	}
	if o.Version == 3 {
		if h.QESVN == 0 {
			h.QESVN = o.QE.ISVSVN
		}
		if h.PCESVN == 0 {
			h.PCESVN = o.PCK.Options.PCESVN
		}
	}
	if h.QEVendorID == ([16]byte{}) {
		h.QEVendorID = IntelQEVendorID
	}
	if h.UserData == ([20]byte{}) {
		if err := p.randomBytes(h.UserData[:16]); err != nil {
			return nil, err
		}
	}

	q := &quote.Quote{Header: h}
	if o.TDX {
		td := o.TD
		td.V15 = o.TDX15
		q.TD = &td
		q.BodyType = quote.BodyTypeTDX10
		if o.TDX15 {
			q.BodyType = quote.BodyTypeTDX15
		}
	} else {
		sgx := o.SGX
		q.SGX = &sgx
		q.BodyType = quote.BodyTypeSGX
	}

	authData := o.QE.AuthData
	if authData == nil {
		authData = make([]byte, 32)
		for i := range authData {
			authData[i] = byte(i)
		}
	}
	qeReport := quote.SGXReportBody{
		CPUSVN:     o.QE.CPUSVN,
		MiscSelect: o.QE.MiscSelect,
		Attributes: o.QE.Attributes,
		MREnclave:  o.QE.MREnclave,
		MRSigner:   o.QE.MRSigner,
		ISVProdID:  o.QE.ISVProdID,
		ISVSVN:     o.QE.ISVSVN,
	}
	if qeReport.CPUSVN == ([16]byte{}) {
		qeReport.CPUSVN = o.PCK.Options.CPUSVN
	}
	if o.Faults.QEReportData != nil {
		qeReport.ReportData = *o.Faults.QEReportData
	} else {
		binding := sha256.New()
		binding.Write(attPub[:])
		binding.Write(authData)
		copy(qeReport.ReportData[:32], binding.Sum(nil))
	}
	qeSigner := o.PCK.Key
	if o.Faults.QEReportSigner != nil {
		qeSigner = o.Faults.QEReportSigner
	}
	qeSig, err := signRaw(qeSigner, qeReport.Marshal())
	if err != nil {
		return nil, err
	}

	chain := o.CertChainPEM
	if chain == nil {
		chain = append([]byte(nil), o.PCK.ChainPEM...)
		if !o.OmitChainNUL {
			chain = append(chain, 0)
		}
	}
	if uint64(len(chain)) > 0xffffffff {
		return nil, fmt.Errorf("dcaptest: certification data: %d bytes do not fit a 32-bit size", len(chain))
	}

	quoteSigner := attKey
	if o.Faults.QuoteSigner != nil {
		quoteSigner = o.Faults.QuoteSigner
	}
	quoteSig, err := signRaw(quoteSigner, q.SignedData())
	if err != nil {
		return nil, err
	}
	q.Signature = quote.Signature{
		QuoteSignature:    quoteSig,
		AttestationKey:    attPub,
		QEReport:          qeReport,
		QEReportSignature: qeSig,
		QEAuthData:        authData,
		Certification:     quote.CertificationData{Type: quote.CertTypePCKChain, Data: chain},
	}
	// Fill the derived fields the way quote.Parse would.
	q.Signature.QEReportRaw = qeReport.Marshal()
	q.Signature.OuterCertification = q.Signature.Certification
	if o.Version != 3 {
		q.Signature.OuterCertification = quote.CertificationData{
			Type: quote.CertTypeQEReport,
			QEReport: &quote.QEReportCertificationData{
				QEReport:          qeReport,
				QEReportRaw:       q.Signature.QEReportRaw,
				QEReportSignature: qeSig,
				QEAuthData:        authData,
				Certification:     q.Signature.Certification,
			},
		}
		q.Signature.OuterCertification.Data = q.Signature.OuterCertification.QEReport.Marshal()
	}
	q.Raw = q.Marshal()
	return q, nil
}
