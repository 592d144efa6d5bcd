package pcs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// TCB Info identifiers ("id").
const (
	TCBInfoIDSGX = "SGX"
	TCBInfoIDTDX = "TDX"
)

// TCBInfo is Intel's TCB Info for one FMSPC (PCS /sgx/certification/v4/tcb or
// /tdx/certification/v4/tcb), versions 2 (SGX only) and 3 (SGX and TDX).
//
// TCBLevels is in QVL's evaluation order (descending; see MatchSGX), not in
// JSON order. Raw holds the exact bytes the signature covers.
type TCBInfo struct {
	ID                      string // "SGX" or "TDX"; version 2 has no id and is SGX
	Version                 uint32 // 2 or 3
	IssueDate               time.Time
	NextUpdate              time.Time
	FMSPC                   [6]byte
	PCEID                   [2]byte
	TCBType                 uint32 // always 0
	TCBEvaluationDataNumber uint32

	// TDXModule is the default TDX module identity (TDX only, required).
	TDXModule *TDXModule
	// TDXModuleIdentities are the per-version module identities (TDX only,
	// optional; required for TDs whose TEE_TCB_SVN[1] is not 0).
	TDXModuleIdentities []TDXModuleIdentity

	TCBLevels []TCBLevel

	// Signature is the ECDSA P-256 signature (r||s, 64 bytes) over Raw.
	Signature []byte
	// Raw is the exact "tcbInfo" JSON value as received.
	Raw json.RawMessage

	body []byte // the PCS body it was parsed from, if any
}

// TDXModule is the expected identity of the Intel TDX module (SEAM): the TD
// report's MRSIGNERSEAM must equal MRSigner and its SEAMATTRIBUTES, masked
// with AttributesMask, must equal Attributes.
type TDXModule struct {
	MRSigner       [48]byte
	Attributes     [8]byte
	AttributesMask [8]byte
}

// TDXModuleIdentity is a TDX module identity for one module major version
// (ID "TDX_%02X" of TEE_TCB_SVN[1]), with the TCB levels of its minor SVN.
type TDXModuleIdentity struct {
	ID string
	TDXModule
	// TCBLevels is sorted descending by ISVSVN (QVL's order).
	TCBLevels []TDXModuleTCBLevel
}

// TDXModuleTCBLevel is one TCB level of a TDX module identity.
type TDXModuleTCBLevel struct {
	TCB         TDXModuleTCB
	TCBDate     time.Time
	TCBStatus   Status
	AdvisoryIDs []string
}

// TDXModuleTCB is the "tcb" object of a TDX module TCB level.
type TDXModuleTCB struct {
	ISVSVN uint16
}

// TCBLevel is one TCB level of a TCB Info.
type TCBLevel struct {
	TCB         TCB
	TCBDate     time.Time
	TCBStatus   Status
	AdvisoryIDs []string
}

// TCB holds the SVNs a platform must reach for a TCB level. Version 2 TCB
// Info (sgxtcbcompNNsvn fields) is mapped to the same form without category
// or type. TDXComponents is nil for SGX TCB Info.
//
// SVNs are kept as the full JSON integers. Real collateral only has values up
// to 255, but Intel's own synthetic test data has larger ones; QVL truncates
// them to 8 bits, this package compares the full value, so a component
// requiring more than 255 is never met by a platform byte.
type TCB struct {
	SGXComponents [16]TCBComponent
	PCESVN        uint32
	TDXComponents *[16]TCBComponent
}

// TCBComponent is one SVN component of a TCB level. Category and Type are
// informative (e.g. "BIOS", "Early Microcode Update") and may be empty.
type TCBComponent struct {
	SVN      uint32
	Category string
	Type     string
}

// ParseTCBInfo parses a PCS TCB Info response body,
// {"tcbInfo":{...},"signature":"<128 hex>"}. The top level must hold exactly
// these two keys. The signature is not checked; call CheckSignature.
func ParseTCBInfo(body []byte) (*TCBInfo, error) {
	v, sig, err := splitSignedBody(body, "tcbInfo")
	if err != nil {
		return nil, err
	}
	t, err := parseTCBInfoValue(v, sig)
	if err != nil {
		return nil, err
	}
	t.body = bytes.Clone(body)
	return t, nil
}

// parseBareTCBInfo parses a bare "tcbInfo" JSON value together with its
// signature (64 bytes r||s), as stored by tools that keep the two apart
// (dcap-qvl's collateral JSON). raw must be exactly the signed bytes.
func parseBareTCBInfo(raw []byte, signature []byte) (*TCBInfo, error) {
	if len(raw) > MaxJSONSize {
		return nil, fieldErrorf("tcbInfo", "larger than %d bytes", MaxJSONSize)
	}
	if len(signature) != 64 {
		return nil, fieldErrorf("signature", "want 64 bytes (r||s), got %d", len(signature))
	}
	v, err := parseJSON(raw, "tcbInfo")
	if err != nil {
		return nil, err
	}
	x, err := parseTCBInfoValue(v, bytes.Clone(signature))
	if err != nil {
		return nil, err
	}
	x.Raw = bytes.Clone(raw) // the signed bytes, including any surrounding whitespace
	return x, nil
}

// splitSignedBody checks the PCS body shape {"<key>":{...},"signature":"hex"}
// and returns the signed value and the decoded signature.
func splitSignedBody(body []byte, key string) (*jval, []byte, error) {
	if len(body) > MaxJSONSize {
		return nil, nil, fieldErrorf("", "body larger than %d bytes", MaxJSONSize)
	}
	top, err := decodeObject(body, "")
	if err != nil {
		return nil, nil, err
	}
	if err := top.allowOnly(key, "signature"); err != nil {
		return nil, nil, err
	}
	v, err := top.required(key)
	if err != nil {
		return nil, nil, err
	}
	sig, err := top.hexBytes("signature", 64)
	if err != nil {
		return nil, nil, err
	}
	return v, sig, nil
}

func parseTCBInfoValue(v *jval, sig []byte) (*TCBInfo, error) {
	o, err := asObject(v, "tcbInfo")
	if err != nil {
		return nil, err
	}
	t := &TCBInfo{Raw: bytes.Clone(v.raw), Signature: sig}

	if t.Version, err = o.uint32("version"); err != nil {
		return nil, err
	}
	switch t.Version {
	case 2:
		// Version 2 predates TDX and has no id (QVL: "TCB identifier is not
		// a valid field in TCB Info V2 structure").
		if o.has("id") {
			return nil, fieldErrorf("tcbInfo.id", "not allowed in version 2")
		}
		t.ID = TCBInfoIDSGX
	case 3:
		if t.ID, err = o.str("id"); err != nil {
			return nil, err
		}
		if t.ID != TCBInfoIDSGX && t.ID != TCBInfoIDTDX {
			return nil, fieldErrorf("tcbInfo.id", "want %q or %q, got %q", TCBInfoIDSGX, TCBInfoIDTDX, t.ID)
		}
	default:
		return nil, fieldErrorf("tcbInfo.version", "want 2 or 3, got %d", t.Version)
	}

	if t.IssueDate, err = o.date("issueDate"); err != nil {
		return nil, err
	}
	if t.NextUpdate, err = o.date("nextUpdate"); err != nil {
		return nil, err
	}
	if !t.NextUpdate.After(t.IssueDate) {
		return nil, fieldErrorf("tcbInfo.nextUpdate", "want later than issueDate %s, got %s",
			t.IssueDate.Format(time.RFC3339), t.NextUpdate.Format(time.RFC3339))
	}
	b, err := o.hexBytes("fmspc", 6)
	if err != nil {
		return nil, err
	}
	copy(t.FMSPC[:], b)
	if b, err = o.hexBytes("pceId", 2); err != nil {
		return nil, err
	}
	copy(t.PCEID[:], b)
	if t.TCBType, err = o.uint32("tcbType"); err != nil {
		return nil, err
	}
	if t.TCBType != 0 {
		return nil, fieldErrorf("tcbInfo.tcbType", "want 0, got %d", t.TCBType)
	}
	if t.TCBEvaluationDataNumber, err = o.uint32("tcbEvaluationDataNumber"); err != nil {
		return nil, err
	}

	if t.ID == TCBInfoIDSGX {
		for _, k := range []string{"tdxModule", "tdxModuleIdentities"} {
			if o.has(k) {
				return nil, fieldErrorf("tcbInfo."+k, "not allowed in SGX TCB Info")
			}
		}
	} else {
		mo, err := o.object("tdxModule")
		if err != nil {
			return nil, err
		}
		m, err := parseTDXModule(mo)
		if err != nil {
			return nil, err
		}
		t.TDXModule = &m
		if o.has("tdxModuleIdentities") {
			if t.TDXModuleIdentities, err = parseModuleIdentities(o); err != nil {
				return nil, err
			}
		}
	}

	levels, err := o.array("tcbLevels", maxTCBLevels, true)
	if err != nil {
		return nil, err
	}
	t.TCBLevels = make([]TCBLevel, 0, len(levels))
	for i, lv := range levels {
		l, err := t.parseTCBLevel(lv, index("tcbInfo.tcbLevels", i))
		if err != nil {
			return nil, err
		}
		t.TCBLevels = append(t.TCBLevels, l)
	}
	// QVL keeps the levels in a std::set ordered by TcbLevel::operator>, so
	// evaluation order never depends on the JSON order, and two levels with
	// equal SVNs are rejected as duplicates.
	slices.SortStableFunc(t.TCBLevels, compareTCBLevels)
	for i := 1; i < len(t.TCBLevels); i++ {
		if compareTCBLevels(t.TCBLevels[i-1], t.TCBLevels[i]) == 0 {
			return nil, fieldErrorf("tcbInfo.tcbLevels", "duplicate TCB level (SGX components %s, PCESVN %d)",
				svnString(t.TCBLevels[i].TCB.SGXComponents[:]), t.TCBLevels[i].TCB.PCESVN)
		}
	}
	return t, nil
}

func parseTDXModule(o *object) (TDXModule, error) {
	var m TDXModule
	b, err := o.hexBytes("mrsigner", 48)
	if err != nil {
		return m, err
	}
	copy(m.MRSigner[:], b)
	if b, err = o.hexBytes("attributes", 8); err != nil {
		return m, err
	}
	copy(m.Attributes[:], b)
	if b, err = o.hexBytes("attributesMask", 8); err != nil {
		return m, err
	}
	copy(m.AttributesMask[:], b)
	return m, nil
}

func parseModuleIdentities(o *object) ([]TDXModuleIdentity, error) {
	elems, err := o.array("tdxModuleIdentities", maxModuleIDs, true)
	if err != nil {
		return nil, err
	}
	ids := make([]TDXModuleIdentity, 0, len(elems))
	for i, e := range elems {
		path := index("tcbInfo.tdxModuleIdentities", i)
		mo, err := asObject(e, path)
		if err != nil {
			return nil, err
		}
		var id TDXModuleIdentity
		if id.ID, err = mo.str("id"); err != nil {
			return nil, err
		}
		// QVL looks identities up case-insensitively and takes the first;
		// two identities for one version would make that choice arbitrary.
		for _, prev := range ids {
			if strings.EqualFold(prev.ID, id.ID) {
				return nil, fieldErrorf(join(path, "id"), "duplicate module identity %q", id.ID)
			}
		}
		if id.TDXModule, err = parseTDXModule(mo); err != nil {
			return nil, err
		}
		levels, err := mo.array("tcbLevels", maxTCBLevels, true)
		if err != nil {
			return nil, err
		}
		for j, lv := range levels {
			lpath := index(join(path, "tcbLevels"), j)
			lo, err := asObject(lv, lpath)
			if err != nil {
				return nil, err
			}
			var l TDXModuleTCBLevel
			to, err := lo.object("tcb")
			if err != nil {
				return nil, err
			}
			if l.TCB.ISVSVN, err = to.uint16("isvsvn"); err != nil {
				return nil, err
			}
			if l.TCBDate, err = lo.date("tcbDate"); err != nil {
				return nil, err
			}
			// QVL accepts any string here and checks the matched level
			// against UpToDate/OutOfDate/Revoked at evaluation time; an
			// unknown name is rejected here already.
			if l.TCBStatus, err = lo.status("tcbStatus", tcbInfoStatuses); err != nil {
				return nil, err
			}
			if l.AdvisoryIDs, err = lo.optStrings("advisoryIDs"); err != nil {
				return nil, err
			}
			id.TCBLevels = append(id.TCBLevels, l)
		}
		// QVL: std::set ordered by isvsvn, duplicates rejected.
		slices.SortStableFunc(id.TCBLevels, func(a, b TDXModuleTCBLevel) int {
			return int(b.TCB.ISVSVN) - int(a.TCB.ISVSVN)
		})
		for j := 1; j < len(id.TCBLevels); j++ {
			if id.TCBLevels[j].TCB.ISVSVN == id.TCBLevels[j-1].TCB.ISVSVN {
				return nil, fieldErrorf(join(path, "tcbLevels"), "duplicate TCB level for isvsvn %d", id.TCBLevels[j].TCB.ISVSVN)
			}
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (t *TCBInfo) parseTCBLevel(v *jval, path string) (TCBLevel, error) {
	var l TCBLevel
	o, err := asObject(v, path)
	if err != nil {
		return l, err
	}
	to, err := o.object("tcb")
	if err != nil {
		return l, err
	}
	if t.Version == 2 {
		for i := range l.TCB.SGXComponents {
			if l.TCB.SGXComponents[i].SVN, err = to.uint32(fmt.Sprintf("sgxtcbcomp%02dsvn", i+1)); err != nil {
				return l, err
			}
		}
	} else {
		if err := parseComponents(to, "sgxtcbcomponents", &l.TCB.SGXComponents); err != nil {
			return l, err
		}
		if t.ID == TCBInfoIDTDX {
			l.TCB.TDXComponents = new([16]TCBComponent)
			if err := parseComponents(to, "tdxtcbcomponents", l.TCB.TDXComponents); err != nil {
				return l, err
			}
		} else if to.has("tdxtcbcomponents") {
			return l, fieldErrorf(join(to.path, "tdxtcbcomponents"), "not allowed in SGX TCB Info")
		}
	}
	if l.TCB.PCESVN, err = to.uint32("pcesvn"); err != nil {
		return l, err
	}
	if l.TCBDate, err = o.date("tcbDate"); err != nil {
		return l, err
	}
	if l.TCBStatus, err = o.status("tcbStatus", tcbInfoStatuses); err != nil {
		return l, err
	}
	if l.AdvisoryIDs, err = o.optStrings("advisoryIDs"); err != nil {
		return l, err
	}
	return l, nil
}

func parseComponents(o *object, key string, out *[16]TCBComponent) error {
	path := join(o.path, key)
	elems, err := o.array(key, 16, false)
	if err != nil {
		return err
	}
	if len(elems) != 16 {
		return fieldErrorf(path, "want 16 components, got %d", len(elems))
	}
	for i, e := range elems {
		co, err := asObject(e, index(path, i))
		if err != nil {
			return err
		}
		c := &out[i]
		if c.SVN, err = co.uint32("svn"); err != nil {
			return err
		}
		if c.Category, err = co.optStr("category"); err != nil {
			return err
		}
		if c.Type, err = co.optStr("type"); err != nil {
			return err
		}
	}
	return nil
}

// compareTCBLevels orders levels as QVL's TcbLevel::operator> does, highest
// first: SGX component SVNs lexicographically, then PCESVN, then (TDX) the
// TDX component SVNs. It returns 0 for levels QVL treats as duplicates.
func compareTCBLevels(a, b TCBLevel) int {
	if c := compareSVNs(b.TCB.SGXComponents[:], a.TCB.SGXComponents[:]); c != 0 {
		return c
	}
	if a.TCB.PCESVN != b.TCB.PCESVN {
		if a.TCB.PCESVN > b.TCB.PCESVN {
			return -1
		}
		return 1
	}
	if a.TCB.TDXComponents != nil && b.TCB.TDXComponents != nil {
		return compareSVNs(b.TCB.TDXComponents[:], a.TCB.TDXComponents[:])
	}
	return 0
}

func compareSVNs(a, b []TCBComponent) int {
	for i := range a {
		if a[i].SVN != b[i].SVN {
			if a[i].SVN < b[i].SVN {
				return -1
			}
			return 1
		}
	}
	return 0
}

func svnString(c []TCBComponent) string {
	var sb strings.Builder
	for i, x := range c {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%d", x.SVN)
	}
	return sb.String()
}

// Body returns the PCS body, {"tcbInfo":…,"signature":"…"}: the bytes it was
// parsed from, or, for TCB Info built from a bare value, a body wrapping Raw
// verbatim so the signature still verifies.
func (t *TCBInfo) Body() []byte {
	if t.body != nil {
		return bytes.Clone(t.body)
	}
	return signedBody("tcbInfo", t.Raw, t.Signature)
}

func signedBody(key string, raw, sig []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"` + key + `":`)
	b.Write(raw)
	b.WriteString(`,"signature":"`)
	b.WriteString(hex.EncodeToString(sig))
	b.WriteString(`"}`)
	return b.Bytes()
}

// CheckSignature verifies the ECDSA P-256 / SHA-256 signature over Raw with
// the key of signer (normally the "Intel SGX TCB Signing" certificate, whose
// chain the caller verifies).
func (t *TCBInfo) CheckSignature(signer *x509.Certificate) error {
	return checkP256Signature("TCB Info", signer, t.Raw, t.Signature)
}

// ValidAt reports whether now lies within [IssueDate, NextUpdate]. A
// *ValidityError matching ErrExpired or ErrNotYetValid is returned otherwise.
func (t *TCBInfo) ValidAt(now time.Time) error {
	return checkWindow("TCB Info", now, t.IssueDate, t.NextUpdate)
}

func checkP256Signature(what string, signer *x509.Certificate, raw, sig []byte) error {
	if signer == nil {
		return fmt.Errorf("pcs: %s signature: no signer certificate", what)
	}
	pub, ok := signer.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return fmt.Errorf("pcs: %s signature: signer %q: want an ECDSA P-256 key, got %T", what, signer.Subject.CommonName, signer.PublicKey)
	}
	if len(sig) != 64 {
		return fmt.Errorf("pcs: %s signature: want 64 bytes, got %d: %w", what, len(sig), ErrSignature)
	}
	digest := sha256.Sum256(raw)
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return fmt.Errorf("pcs: %s signature by %q: %w", what, signer.Subject.CommonName, ErrSignature)
	}
	return nil
}

// moduleIdentity returns the TDX module identity for module major version
// ver ("TDX_%02X", compared case-insensitively as QVL does), or nil.
func (t *TCBInfo) moduleIdentity(ver byte) *TDXModuleIdentity {
	want := fmt.Sprintf("TDX_%02X", ver)
	for i := range t.TDXModuleIdentities {
		if strings.EqualFold(t.TDXModuleIdentities[i].ID, want) {
			return &t.TDXModuleIdentities[i]
		}
	}
	return nil
}
