package dcapsim

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// TimeFormat is the date format of Intel collateral (always UTC).
const TimeFormat = "2006-01-02T15:04:05Z"

// TCB status values of TCB levels and enclave identity levels.
const (
	StatusUpToDate                          = "UpToDate"
	StatusSWHardeningNeeded                 = "SWHardeningNeeded"
	StatusConfigurationNeeded               = "ConfigurationNeeded"
	StatusConfigurationAndSWHardeningNeeded = "ConfigurationAndSWHardeningNeeded"
	StatusOutOfDate                         = "OutOfDate"
	StatusOutOfDateConfigurationNeeded      = "OutOfDateConfigurationNeeded"
	StatusRevoked                           = "Revoked"
)

// Defaults of collateral fields whose zero value is not meaningful.
const (
	DefaultEvaluationDataNumber = 17
	defaultCollateralLifetime   = 30 * 24 * time.Hour
)

// ComponentLabel is the optional category and type of a TCB component in
// TCB Info version 3.
type ComponentLabel struct {
	Category, Type string
}

// IntelTDXSGXComponentLabels and IntelTDXComponentLabels are the labels
// Intel's TDX TCB Info carries for the SGX and TDX TCB components.
var (
	IntelTDXSGXComponentLabels = [16]ComponentLabel{
		{"BIOS", "Early Microcode Update"},
		{"OS/VMM", "SGX Late Microcode Update"},
		{"OS/VMM", "TXT SINIT"},
		{"BIOS", ""},
		{"BIOS", ""},
		{"BIOS", ""},
		{},
		{"OS/VMM", "SEAMLDR ACM"},
	}
	IntelTDXComponentLabels = [16]ComponentLabel{
		{"OS/VMM", "TDX Module"},
		{"OS/VMM", "TDX Module"},
		{"OS/VMM", "TDX Late Microcode Update"},
	}
)

// TCBLevel is one entry of tcbLevels in TCB Info.
type TCBLevel struct {
	SGXComponents [16]uint8
	PCESVN        uint16
	// TDXComponents is written only in TDX TCB Info.
	TDXComponents [16]uint8
	// Date is the tcbDate; zero means the TCB Info issue date at midnight.
	Date time.Time
	// Status is the tcbStatus; empty means UpToDate.
	Status string
	// Advisories are the advisoryIDs; omitted when empty, and always in
	// version 2, which has no such field.
	Advisories []string
}

// IdentityLevel is one entry of tcbLevels in an enclave identity or a TDX
// module identity.
type IdentityLevel struct {
	ISVSVN uint16
	// Date is the tcbDate; zero means the issue date at midnight.
	Date time.Time
	// Status is the tcbStatus; empty means UpToDate.
	Status     string
	Advisories []string
}

// TDXModule is the tdxModule object of TDX TCB Info.
type TDXModule struct {
	MRSigner       [48]byte
	Attributes     [8]byte
	AttributesMask [8]byte
}

// ModuleIdentity is one entry of tdxModuleIdentities.
type ModuleIdentity struct {
	// ID is "TDX_" and the module major version in two upper-case hex
	// digits, e.g. "TDX_01".
	ID             string
	MRSigner       [48]byte
	Attributes     [8]byte
	AttributesMask [8]byte
	Levels         []IdentityLevel
}

// IntelTDXModule is the tdxModule value of Intel's TCB Info: an all-zero
// signer and attributes, all attribute bits checked.
var IntelTDXModule = TDXModule{AttributesMask: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}

// TCBInfoOptions describes a TCB Info.
type TCBInfoOptions struct {
	// TDX selects id "TDX" (and the TDX fields) instead of "SGX".
	TDX bool
	// Version is 3 (default) or 2 (SGX only: no id, flat component SVNs,
	// no advisory IDs).
	Version int
	FMSPC   [6]byte
	PCEID   [2]byte
	// LowerCaseFMSPC writes the FMSPC in lower-case hex. PCS echoes the
	// case of the request, so both are seen.
	LowerCaseFMSPC bool
	// TCBType is written as is; Intel only defines 0.
	TCBType int
	// IssueDate defaults to Now-24h, NextUpdate to IssueDate+30d.
	IssueDate, NextUpdate time.Time
	// EvaluationDataNumber defaults to DefaultEvaluationDataNumber.
	EvaluationDataNumber int
	Levels               []TCBLevel
	// SGXComponentLabels and TDXComponentLabels label the components of
	// version 3 TCB Info. Nil means Intel's labels for TDX TCB Info and no
	// labels for SGX TCB Info, as PCS serves them.
	SGXComponentLabels, TDXComponentLabels *[16]ComponentLabel
	// TDXModule defaults to IntelTDXModule; TDX only.
	TDXModule *TDXModule
	// TDXModuleIdentities are omitted when empty; TDX only.
	TDXModuleIdentities []ModuleIdentity
}

// QEIdentityOptions describes an enclave identity (QE, TD_QE, QVE).
type QEIdentityOptions struct {
	// TDX selects id "TD_QE" instead of "QE".
	TDX bool
	// ID, when set, overrides the id (e.g. "QVE").
	ID string
	// Version defaults to 2.
	Version int
	// IssueDate defaults to Now-24h, NextUpdate to IssueDate+30d.
	IssueDate, NextUpdate time.Time
	// EvaluationDataNumber defaults to DefaultEvaluationDataNumber.
	EvaluationDataNumber int
	// MiscSelect is written as 8 hex digits of the 32-bit value. A zero
	// MiscSelectMask means Intel's FFFFFFFF.
	MiscSelect, MiscSelectMask uint32
	// Attributes and AttributesMask are in report byte order. When both
	// are zero, Intel's values are used: 11000000000000000000000000000000
	// and FBFFFFFFFFFFFFFF0000000000000000.
	Attributes, AttributesMask [16]byte
	MRSigner                   [32]byte
	ISVProdID                  uint16
	Levels                     []IdentityLevel
}

// Intel's enclave identity attribute values: the flags must be
// INIT|PROVISION_KEY with DEBUG clear; MODE64BIT and XFRM are not checked.
var (
	IntelQEAttributes     = [16]byte{0x11}
	IntelQEAttributesMask = [16]byte{0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// JSON shapes, with fields in Intel's order.
type (
	tcbInfoJSON struct {
		ID                      string               `json:"id,omitempty"`
		Version                 int                  `json:"version"`
		IssueDate               string               `json:"issueDate"`
		NextUpdate              string               `json:"nextUpdate"`
		FMSPC                   string               `json:"fmspc"`
		PCEID                   string               `json:"pceId"`
		TCBType                 int                  `json:"tcbType"`
		TCBEvaluationDataNumber int                  `json:"tcbEvaluationDataNumber"`
		TDXModule               *tdxModuleJSON       `json:"tdxModule,omitempty"`
		TDXModuleIdentities     []moduleIdentityJSON `json:"tdxModuleIdentities,omitempty"`
		TCBLevels               []tcbLevelJSON       `json:"tcbLevels"`
	}
	tdxModuleJSON struct {
		MRSigner       string `json:"mrsigner"`
		Attributes     string `json:"attributes"`
		AttributesMask string `json:"attributesMask"`
	}
	moduleIdentityJSON struct {
		ID             string              `json:"id"`
		MRSigner       string              `json:"mrsigner"`
		Attributes     string              `json:"attributes"`
		AttributesMask string              `json:"attributesMask"`
		TCBLevels      []identityLevelJSON `json:"tcbLevels"`
	}
	tcbLevelJSON struct {
		TCB        any      `json:"tcb"`
		TCBDate    string   `json:"tcbDate"`
		TCBStatus  string   `json:"tcbStatus"`
		AdvisoryID []string `json:"advisoryIDs,omitempty"`
	}
	tcbV3JSON struct {
		SGX    []componentJSON `json:"sgxtcbcomponents"`
		PCESVN uint16          `json:"pcesvn"`
		TDX    []componentJSON `json:"tdxtcbcomponents,omitempty"`
	}
	componentJSON struct {
		SVN      uint8  `json:"svn"`
		Category string `json:"category,omitempty"`
		Type     string `json:"type,omitempty"`
	}
	tcbV2JSON struct {
		C01    uint8  `json:"sgxtcbcomp01svn"`
		C02    uint8  `json:"sgxtcbcomp02svn"`
		C03    uint8  `json:"sgxtcbcomp03svn"`
		C04    uint8  `json:"sgxtcbcomp04svn"`
		C05    uint8  `json:"sgxtcbcomp05svn"`
		C06    uint8  `json:"sgxtcbcomp06svn"`
		C07    uint8  `json:"sgxtcbcomp07svn"`
		C08    uint8  `json:"sgxtcbcomp08svn"`
		C09    uint8  `json:"sgxtcbcomp09svn"`
		C10    uint8  `json:"sgxtcbcomp10svn"`
		C11    uint8  `json:"sgxtcbcomp11svn"`
		C12    uint8  `json:"sgxtcbcomp12svn"`
		C13    uint8  `json:"sgxtcbcomp13svn"`
		C14    uint8  `json:"sgxtcbcomp14svn"`
		C15    uint8  `json:"sgxtcbcomp15svn"`
		C16    uint8  `json:"sgxtcbcomp16svn"`
		PCESVN uint16 `json:"pcesvn"`
	}
	identityLevelJSON struct {
		TCB struct {
			ISVSVN uint16 `json:"isvsvn"`
		} `json:"tcb"`
		TCBDate    string   `json:"tcbDate"`
		TCBStatus  string   `json:"tcbStatus"`
		AdvisoryID []string `json:"advisoryIDs,omitempty"`
	}
	enclaveIdentityJSON struct {
		ID                      string              `json:"id"`
		Version                 int                 `json:"version"`
		IssueDate               string              `json:"issueDate"`
		NextUpdate              string              `json:"nextUpdate"`
		TCBEvaluationDataNumber int                 `json:"tcbEvaluationDataNumber"`
		MiscSelect              string              `json:"miscselect"`
		MiscSelectMask          string              `json:"miscselectMask"`
		Attributes              string              `json:"attributes"`
		AttributesMask          string              `json:"attributesMask"`
		MRSigner                string              `json:"mrsigner"`
		ISVProdID               uint16              `json:"isvprodid"`
		TCBLevels               []identityLevelJSON `json:"tcbLevels"`
	}
)

func upperHex(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

func formatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// collateralDates applies the issue/next-update defaults.
func (p *PKI) collateralDates(issue, next time.Time) (time.Time, time.Time) {
	if issue.IsZero() {
		issue = p.Now.Add(-24 * time.Hour)
	}
	if next.IsZero() {
		next = issue.Add(defaultCollateralLifetime)
	}
	return issue, next
}

func levelDate(d, issue time.Time) string {
	if d.IsZero() {
		d = issue.UTC().Truncate(24 * time.Hour)
	}
	return formatTime(d)
}

func levelStatus(s string) string {
	if s == "" {
		return StatusUpToDate
	}
	return s
}

func identityLevels(levels []IdentityLevel, issue time.Time) []identityLevelJSON {
	out := make([]identityLevelJSON, 0, len(levels))
	for _, l := range levels {
		var j identityLevelJSON
		j.TCB.ISVSVN = l.ISVSVN
		j.TCBDate = levelDate(l.Date, issue)
		j.TCBStatus = levelStatus(l.Status)
		j.AdvisoryID = l.Advisories
		out = append(out, j)
	}
	return out
}

func components(svns [16]uint8, labels *[16]ComponentLabel) []componentJSON {
	out := make([]componentJSON, 16)
	for i, svn := range svns {
		out[i].SVN = svn
		if labels != nil {
			out[i].Category, out[i].Type = labels[i].Category, labels[i].Type
		}
	}
	return out
}

// TCBInfoValue returns the JSON of the tcbInfo object alone: the bytes
// that [PKI.TCBInfo] signs.
func (p *PKI) TCBInfoValue(o TCBInfoOptions) ([]byte, error) {
	if o.Version == 0 {
		o.Version = 3
	}
	if o.Version != 2 && o.Version != 3 {
		return nil, fmt.Errorf("dcaptest: TCB Info version: want 2 or 3, got %d", o.Version)
	}
	if o.Version == 2 && o.TDX {
		return nil, fmt.Errorf("dcaptest: TCB Info version 2 is SGX only")
	}
	if o.EvaluationDataNumber == 0 {
		o.EvaluationDataNumber = DefaultEvaluationDataNumber
	}
	issue, next := p.collateralDates(o.IssueDate, o.NextUpdate)
	fmspc := upperHex(o.FMSPC[:])
	if o.LowerCaseFMSPC {
		fmspc = strings.ToLower(fmspc)
	}
	info := tcbInfoJSON{
		Version:                 o.Version,
		IssueDate:               formatTime(issue),
		NextUpdate:              formatTime(next),
		FMSPC:                   fmspc,
		PCEID:                   upperHex(o.PCEID[:]),
		TCBType:                 o.TCBType,
		TCBEvaluationDataNumber: o.EvaluationDataNumber,
		TCBLevels:               make([]tcbLevelJSON, 0, len(o.Levels)),
	}
	if o.Version == 3 {
		info.ID = "SGX"
		if o.TDX {
			info.ID = "TDX"
		}
	}
	if o.TDX {
		m := IntelTDXModule
		if o.TDXModule != nil {
			m = *o.TDXModule
		}
		info.TDXModule = &tdxModuleJSON{upperHex(m.MRSigner[:]), upperHex(m.Attributes[:]), upperHex(m.AttributesMask[:])}
		for _, id := range o.TDXModuleIdentities {
			info.TDXModuleIdentities = append(info.TDXModuleIdentities, moduleIdentityJSON{
				ID:             id.ID,
				MRSigner:       upperHex(id.MRSigner[:]),
				Attributes:     upperHex(id.Attributes[:]),
				AttributesMask: upperHex(id.AttributesMask[:]),
				TCBLevels:      identityLevels(id.Levels, issue),
			})
		}
	}
	sgxLabels, tdxLabels := o.SGXComponentLabels, o.TDXComponentLabels
	if o.TDX && sgxLabels == nil {
		sgxLabels = &IntelTDXSGXComponentLabels
	}
	if o.TDX && tdxLabels == nil {
		tdxLabels = &IntelTDXComponentLabels
	}
	for _, l := range o.Levels {
		level := tcbLevelJSON{TCBDate: levelDate(l.Date, issue), TCBStatus: levelStatus(l.Status)}
		if o.Version == 2 {
			c := l.SGXComponents
			level.TCB = tcbV2JSON{c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15], l.PCESVN}
		} else {
			tcb := tcbV3JSON{SGX: components(l.SGXComponents, sgxLabels), PCESVN: l.PCESVN}
			if o.TDX {
				tcb.TDX = components(l.TDXComponents, tdxLabels)
			}
			level.TCB = tcb
			level.AdvisoryID = l.Advisories
		}
		info.TCBLevels = append(info.TCBLevels, level)
	}
	return marshalJSON(info)
}

// TCBInfo returns a signed TCB Info exactly as PCS serves it:
// {"tcbInfo":{...},"signature":"<128 hex digits>"}, where the signature is
// ECDSA P-256/SHA-256 by the TCB signer over the exact bytes of the tcbInfo
// value, as r||s.
func (p *PKI) TCBInfo(o TCBInfoOptions) ([]byte, error) {
	v, err := p.TCBInfoValue(o)
	if err != nil {
		return nil, err
	}
	return p.SignCollateral("tcbInfo", v)
}

// QEIdentityValue returns the JSON of the enclaveIdentity object alone: the
// bytes that [PKI.QEIdentity] signs.
func (p *PKI) QEIdentityValue(o QEIdentityOptions) ([]byte, error) {
	if o.Version == 0 {
		o.Version = 2
	}
	if o.EvaluationDataNumber == 0 {
		o.EvaluationDataNumber = DefaultEvaluationDataNumber
	}
	if o.MiscSelectMask == 0 {
		o.MiscSelectMask = 0xffffffff
	}
	if o.Attributes == ([16]byte{}) && o.AttributesMask == ([16]byte{}) {
		o.Attributes, o.AttributesMask = IntelQEAttributes, IntelQEAttributesMask
	}
	id := o.ID
	if id == "" {
		id = "QE"
		if o.TDX {
			id = "TD_QE"
		}
	}
	issue, next := p.collateralDates(o.IssueDate, o.NextUpdate)
	return marshalJSON(enclaveIdentityJSON{
		ID:                      id,
		Version:                 o.Version,
		IssueDate:               formatTime(issue),
		NextUpdate:              formatTime(next),
		TCBEvaluationDataNumber: o.EvaluationDataNumber,
		MiscSelect:              fmt.Sprintf("%08X", o.MiscSelect),
		MiscSelectMask:          fmt.Sprintf("%08X", o.MiscSelectMask),
		Attributes:              upperHex(o.Attributes[:]),
		AttributesMask:          upperHex(o.AttributesMask[:]),
		MRSigner:                upperHex(o.MRSigner[:]),
		ISVProdID:               o.ISVProdID,
		TCBLevels:               identityLevels(o.Levels, issue),
	})
}

// QEIdentity returns a signed enclave identity exactly as PCS serves it:
// {"enclaveIdentity":{...},"signature":"<128 hex digits>"}, signed like
// TCB Info.
func (p *PKI) QEIdentity(o QEIdentityOptions) ([]byte, error) {
	v, err := p.QEIdentityValue(o)
	if err != nil {
		return nil, err
	}
	return p.SignCollateral("enclaveIdentity", v)
}

// SignCollateral wraps a JSON value as PCS does, {"<field>":<value>,
// "signature":"<hex r||s>"}, signing the exact bytes of value with the TCB
// signer. It lets tests sign hand-made TCB Info or identity JSON.
func (p *PKI) SignCollateral(field string, value []byte) ([]byte, error) {
	sig, err := signRaw(p.TCBSignerKey, value)
	if err != nil {
		return nil, err
	}
	name, err := marshalJSON(field)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(value) + len(name) + 160)
	b.WriteByte('{')
	b.Write(name)
	b.WriteByte(':')
	b.Write(value)
	b.WriteString(`,"signature":"`)
	b.WriteString(hex.EncodeToString(sig[:]))
	b.WriteString(`"}`)
	return b.Bytes(), nil
}

// marshalJSON encodes v compactly without HTML escaping and without the
// trailing newline of json.Encoder.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Collateral file names written by [Collateral.WriteDir].
const (
	FileTCBInfo               = "tcb_info.json"
	FileTCBInfoIssuerChain    = "tcb_info_issuer_chain.pem"
	FileQEIdentity            = "qe_identity.json"
	FileQEIdentityIssuerChain = "qe_identity_issuer_chain.pem"
	FilePCKCRL                = "pck_crl.der"
	FilePCKCRLIssuerChain     = "pck_crl_issuer_chain.pem"
	FileRootCRL               = "root_ca_crl.der"
)

const (
	collateralFilePermission = 0o644
	collateralDirPermission  = 0o755
)

// Collateral is the verification collateral of one platform, with issuer
// chains as PCS sends them in response headers (PEM, signer first).
type Collateral struct {
	TCBInfo, TCBInfoIssuerChain       []byte
	QEIdentity, QEIdentityIssuerChain []byte
	PCKCRL, PCKCRLIssuerChain         []byte
	RootCRL                           []byte
}

// Collateral assembles a Collateral from signed parts, adding the issuer
// chains. pckCA names the CA that issued pckCRL. Nil parts stay nil, and
// so do their issuer chains.
func (p *PKI) Collateral(tcbInfo, qeIdentity, pckCRL []byte, pckCA string, rootCRL []byte) (*Collateral, error) {
	c := &Collateral{TCBInfo: tcbInfo, QEIdentity: qeIdentity, PCKCRL: pckCRL, RootCRL: rootCRL}
	if tcbInfo != nil {
		c.TCBInfoIssuerChain = p.TCBIssuerChainPEM()
	}
	if qeIdentity != nil {
		c.QEIdentityIssuerChain = p.TCBIssuerChainPEM()
	}
	if pckCRL != nil {
		chain, err := p.PCKCRLIssuerChainPEM(pckCA)
		if err != nil {
			return nil, err
		}
		c.PCKCRLIssuerChain = chain
	}
	return c, nil
}

// WriteCollateralDir writes collateral files into dir (created if needed):
// tcb_info.json, tcb_info_issuer_chain.pem, qe_identity.json,
// qe_identity_issuer_chain.pem, pck_crl.der, pck_crl_issuer_chain.pem (the
// PCK CA named by pckCA, then the root) and root_ca_crl.der. A nil part is
// not written, nor is its issuer chain.
func (p *PKI) WriteCollateralDir(dir string, tcbInfo, qeIdentity, pckCRL []byte, pckCA string, rootCRL []byte) error {
	c, err := p.Collateral(tcbInfo, qeIdentity, pckCRL, pckCA, rootCRL)
	if err != nil {
		return err
	}
	return c.WriteDir(dir)
}

// WriteDir writes the non-nil parts of c into dir (created if needed)
// under the File* names.
func (c *Collateral) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, collateralDirPermission); err != nil {
		return fmt.Errorf("dcaptest: collateral directory: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{FileTCBInfo, c.TCBInfo},
		{FileTCBInfoIssuerChain, c.TCBInfoIssuerChain},
		{FileQEIdentity, c.QEIdentity},
		{FileQEIdentityIssuerChain, c.QEIdentityIssuerChain},
		{FilePCKCRL, c.PCKCRL},
		{FilePCKCRLIssuerChain, c.PCKCRLIssuerChain},
		{FileRootCRL, c.RootCRL},
	} {
		if f.data == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, collateralFilePermission); err != nil {
			return fmt.Errorf("dcaptest: writing collateral: %w", err)
		}
	}
	return nil
}
