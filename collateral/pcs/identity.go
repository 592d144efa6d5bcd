package pcs

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Enclave Identity identifiers ("id").
const (
	EnclaveIDQE   = "QE"    // SGX quoting enclave
	EnclaveIDQVE  = "QVE"   // quote verification enclave
	EnclaveIDTDQE = "TD_QE" // TDX quoting enclave
)

// EnclaveIdentity is Intel's Enclave Identity, version 2 (PCS
// /sgx/certification/v4/qe/identity, /qve/identity and
// /tdx/certification/v4/qe/identity).
//
// The byte fields keep the byte order of the JSON hex strings, which is the
// byte order of the enclave report (MiscSelect is the little-endian encoding
// of the report's MISCSELECT). Raw holds the exact bytes the signature covers.
type EnclaveIdentity struct {
	ID                      string // "QE", "QVE" or "TD_QE"
	Version                 uint32 // 2
	IssueDate               time.Time
	NextUpdate              time.Time
	TCBEvaluationDataNumber uint32
	MiscSelect              [4]byte
	MiscSelectMask          [4]byte
	Attributes              [16]byte
	AttributesMask          [16]byte
	MRSigner                [32]byte
	ISVProdID               uint16

	// TCBLevels is in JSON order, which must be strictly descending by
	// ISVSVN (QVL walks the JSON order; requiring it sorted makes that
	// unambiguous).
	TCBLevels []EnclaveTCBLevel

	// Signature is the ECDSA P-256 signature (r||s, 64 bytes) over Raw.
	Signature []byte
	// Raw is the exact "enclaveIdentity" JSON value as received.
	Raw json.RawMessage

	body []byte
}

// EnclaveTCBLevel is one TCB level of an Enclave Identity. TCBStatus is one
// of UpToDate, ConfigurationNeeded, OutOfDate, OutOfDateConfigurationNeeded
// or Revoked (the statuses QVL parses for identities).
type EnclaveTCBLevel struct {
	TCB         EnclaveTCB
	TCBDate     time.Time
	TCBStatus   Status
	AdvisoryIDs []string
}

// EnclaveTCB is the "tcb" object of an Enclave Identity level.
type EnclaveTCB struct {
	ISVSVN uint16
}

// ParseEnclaveIdentity parses a PCS Enclave Identity response body,
// {"enclaveIdentity":{...},"signature":"<128 hex>"}. The signature is not
// checked; call CheckSignature.
func ParseEnclaveIdentity(body []byte) (*EnclaveIdentity, error) {
	v, sig, err := splitSignedBody(body, "enclaveIdentity")
	if err != nil {
		return nil, err
	}
	e, err := parseEnclaveIdentityValue(v, sig)
	if err != nil {
		return nil, err
	}
	e.body = bytes.Clone(body)
	return e, nil
}

// parseBareEnclaveIdentity parses a bare "enclaveIdentity" JSON value with
// its signature (64 bytes r||s). raw must be exactly the signed bytes.
func parseBareEnclaveIdentity(raw []byte, signature []byte) (*EnclaveIdentity, error) {
	if len(raw) > MaxJSONSize {
		return nil, fieldErrorf("enclaveIdentity", "larger than %d bytes", MaxJSONSize)
	}
	if len(signature) != 64 {
		return nil, fieldErrorf("signature", "want 64 bytes (r||s), got %d", len(signature))
	}
	v, err := parseJSON(raw, "enclaveIdentity")
	if err != nil {
		return nil, err
	}
	x, err := parseEnclaveIdentityValue(v, bytes.Clone(signature))
	if err != nil {
		return nil, err
	}
	x.Raw = bytes.Clone(raw) // the signed bytes, including any surrounding whitespace
	return x, nil
}

func parseEnclaveIdentityValue(v *jval, sig []byte) (*EnclaveIdentity, error) {
	const p = "enclaveIdentity"
	o, err := asObject(v, p)
	if err != nil {
		return nil, err
	}
	e := &EnclaveIdentity{Raw: bytes.Clone(v.raw), Signature: sig}
	if e.ID, err = o.str("id"); err != nil {
		return nil, err
	}
	if e.ID != EnclaveIDQE && e.ID != EnclaveIDQVE && e.ID != EnclaveIDTDQE {
		return nil, fieldErrorf(p+".id", "want %q, %q or %q, got %q", EnclaveIDQE, EnclaveIDQVE, EnclaveIDTDQE, e.ID)
	}
	if e.Version, err = o.uint32("version"); err != nil {
		return nil, err
	}
	if e.Version != 2 {
		return nil, fieldErrorf(p+".version", "want 2, got %d", e.Version)
	}
	if e.IssueDate, err = o.date("issueDate"); err != nil {
		return nil, err
	}
	if e.NextUpdate, err = o.date("nextUpdate"); err != nil {
		return nil, err
	}
	if !e.NextUpdate.After(e.IssueDate) {
		return nil, fieldErrorf(p+".nextUpdate", "want later than issueDate %s, got %s",
			e.IssueDate.Format(time.RFC3339), e.NextUpdate.Format(time.RFC3339))
	}
	if e.TCBEvaluationDataNumber, err = o.uint32("tcbEvaluationDataNumber"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		key string
		dst []byte
	}{
		{"miscselect", e.MiscSelect[:]},
		{"miscselectMask", e.MiscSelectMask[:]},
		{"attributes", e.Attributes[:]},
		{"attributesMask", e.AttributesMask[:]},
		{"mrsigner", e.MRSigner[:]},
	} {
		b, err := o.hexBytes(f.key, len(f.dst))
		if err != nil {
			return nil, err
		}
		copy(f.dst, b)
	}
	// QVL reads isvprodid as a 32-bit integer; the report field is 16 bits,
	// so a larger value could never match and is rejected here.
	if e.ISVProdID, err = o.uint16("isvprodid"); err != nil {
		return nil, err
	}
	levels, err := o.array("tcbLevels", maxTCBLevels, true)
	if err != nil {
		return nil, err
	}
	for i, lv := range levels {
		path := index(p+".tcbLevels", i)
		lo, err := asObject(lv, path)
		if err != nil {
			return nil, err
		}
		var l EnclaveTCBLevel
		to, err := lo.object("tcb")
		if err != nil {
			return nil, err
		}
		if l.TCB.ISVSVN, err = to.uint16("isvsvn"); err != nil {
			return nil, err
		}
		if i > 0 && l.TCB.ISVSVN >= e.TCBLevels[i-1].TCB.ISVSVN {
			return nil, fieldErrorf(join(to.path, "isvsvn"), "want levels strictly descending by isvsvn, got %d after %d",
				l.TCB.ISVSVN, e.TCBLevels[i-1].TCB.ISVSVN)
		}
		if l.TCBDate, err = lo.date("tcbDate"); err != nil {
			return nil, err
		}
		if l.TCBStatus, err = lo.status("tcbStatus", enclaveIdentityStatuses); err != nil {
			return nil, err
		}
		if l.AdvisoryIDs, err = lo.optStrings("advisoryIDs"); err != nil {
			return nil, err
		}
		e.TCBLevels = append(e.TCBLevels, l)
	}
	return e, nil
}

// Body returns the PCS body {"enclaveIdentity":…,"signature":"…"}: the bytes
// it was parsed from, or a body wrapping Raw verbatim.
func (e *EnclaveIdentity) Body() []byte {
	if e.body != nil {
		return bytes.Clone(e.body)
	}
	return signedBody("enclaveIdentity", e.Raw, e.Signature)
}

// CheckSignature verifies the ECDSA P-256 / SHA-256 signature over Raw with
// the key of signer (normally the "Intel SGX TCB Signing" certificate).
func (e *EnclaveIdentity) CheckSignature(signer *x509.Certificate) error {
	return checkP256Signature("enclave identity "+e.ID, signer, e.Raw, e.Signature)
}

// ValidAt reports whether now lies within [IssueDate, NextUpdate].
func (e *EnclaveIdentity) ValidAt(now time.Time) error {
	return checkWindow("enclave identity "+e.ID, now, e.IssueDate, e.NextUpdate)
}

// EnclaveReport holds the enclave report fields an Enclave Identity
// constrains, as found in an SGX report body (for a quote: the QE report).
type EnclaveReport struct {
	MiscSelect uint32 // report body offset 16, little-endian
	Attributes [16]byte
	MRSigner   [32]byte
	ISVProdID  uint16
	ISVSVN     uint16
}

// MatchQE checks an enclave report against the identity as QVL's
// EnclaveReportVerifier does and returns the first TCB level whose ISVSVN the
// report reaches:
//
//  1. (MISCSELECT & miscselectMask) == miscselect
//  2. (ATTRIBUTES & attributesMask) == attributes
//  3. MRSIGNER == mrsigner
//  4. ISVPRODID == isvprodid
//  5. first level with isvsvn <= ISVSVN
//
// Steps 1-4 fail with an *IdentityMismatchError (ErrIdentityMismatch); step 5
// fails with ErrNoTCBLevel. The level's TCBStatus is what ConvergeStatus
// takes as the QE status. The caller checks that ID fits the quote (QE for
// SGX, TD_QE for TDX).
func (e *EnclaveIdentity) MatchQE(r EnclaveReport) (*EnclaveTCBLevel, error) {
	var misc [4]byte
	binary.LittleEndian.PutUint32(misc[:], r.MiscSelect)
	if got := and(misc[:], e.MiscSelectMask[:]); !bytes.Equal(got, e.MiscSelect[:]) {
		return nil, e.mismatch("MISCSELECT", e.MiscSelect[:], got, e.MiscSelectMask[:])
	}
	if got := and(r.Attributes[:], e.AttributesMask[:]); !bytes.Equal(got, e.Attributes[:]) {
		return nil, e.mismatch("ATTRIBUTES", e.Attributes[:], got, e.AttributesMask[:])
	}
	if r.MRSigner != e.MRSigner {
		return nil, e.mismatch("MRSIGNER", e.MRSigner[:], r.MRSigner[:], nil)
	}
	if r.ISVProdID != e.ISVProdID {
		return nil, &IdentityMismatchError{Identity: e.ID, Field: "ISVPRODID",
			Want: strconv.Itoa(int(e.ISVProdID)), Got: strconv.Itoa(int(r.ISVProdID))}
	}
	for i := range e.TCBLevels {
		if e.TCBLevels[i].TCB.ISVSVN <= r.ISVSVN {
			return &e.TCBLevels[i], nil
		}
	}
	return nil, fmt.Errorf("pcs: enclave identity %s: ISVSVN %d is below every TCB level: %w", e.ID, r.ISVSVN, ErrNoTCBLevel)
}

func (e *EnclaveIdentity) mismatch(field string, want, got, mask []byte) error {
	m := &IdentityMismatchError{Identity: e.ID, Field: field,
		Want: hex.EncodeToString(want), Got: hex.EncodeToString(got)}
	if mask != nil {
		m.Mask = hex.EncodeToString(mask)
	}
	return m
}

func and(a, mask []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] & mask[i]
	}
	return out
}
