package inspect

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
)

// SourceCollateral is the Report.Source of verification collateral: Intel
// TCB Info, QE Identity, CRLs, dcap-qvl or PCCS collateral files.
const SourceCollateral = "collateral"

// Collateral describes verification collateral. Nothing in it is verified:
// signatures are checked by "ratls verify".
type Collateral struct {
	Items []*CollateralItem `json:"items"`
	// PCKCertificateChain is the PCK chain some tools store with
	// collateral (dcap-qvl's pck_certificate_chain).
	PCKCertificateChain []*Certificate `json:"pck_certificate_chain,omitempty"`
	// Ignored lists parts of the input that are not collateral.
	Ignored []string `json:"ignored,omitempty"`
}

// CollateralItem is one TCB Info, Enclave Identity or CRL.
type CollateralItem struct {
	// Kind is "tcb_info", "qe_identity", "pck_crl" or "root_ca_crl".
	Kind  string `json:"kind"`
	Where string `json:"where,omitempty"`
	// Fields are the item's own fields in document order.
	Fields Fields `json:"fields"`
	// Levels are the TCB levels of a TCB Info or Enclave Identity, in the
	// order they are evaluated.
	Levels []Fields `json:"tcb_levels,omitempty"`
	// TDXModuleIdentities are a TDX TCB Info's per-version module
	// identities.
	TDXModuleIdentities []Fields `json:"tdx_module_identities,omitempty"`
	// IssuerChain names the issuer chain, signer first, as completed from
	// the input and Intel's public certificates.
	IssuerChain []string `json:"issuer_chain,omitempty"`
	// Revoked lists the serial numbers a CRL revokes.
	Revoked []string `json:"revoked,omitempty"`
}

func day(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// collateralReport describes collateral found by pcs.ParseOffline or
// pcs.LoadOffline.
func collateralReport(o *pcs.Offline) *Report {
	c := &Collateral{Items: []*CollateralItem{}, Ignored: o.Ignored}
	for i, cert := range o.PCKCertChain {
		c.PCKCertificateChain = append(c.PCKCertificateChain, describeCertificate(cert, issuerOf(o.PCKCertChain, i)))
	}
	for _, it := range o.Contents() {
		c.Items = append(c.Items, describeCollateralItem(it))
	}
	return &Report{Source: SourceCollateral, Evidence: []*Evidence{}, Collateral: c}
}

func describeCollateralItem(it pcs.OfflineItem) *CollateralItem {
	out := &CollateralItem{Where: it.File}
	if it.File == inputName {
		out.Where = "" // the whole input: nothing to add
	}
	for _, c := range it.Chain {
		out.IssuerChain = append(out.IssuerChain, c.Subject.String())
	}
	switch {
	case it.TCBInfo != nil:
		t := it.TCBInfo
		out.Kind = "tcb_info"
		out.Fields = Fields{
			{"id", t.ID}, {"version", t.Version}, {"fmspc", hexs(t.FMSPC[:])}, {"pce_id", hexs(t.PCEID[:])},
			{"tcb_type", t.TCBType}, {"tcb_evaluation_data_number", t.TCBEvaluationDataNumber},
			{"issue_date", day(t.IssueDate)}, {"next_update", day(t.NextUpdate)},
			{"signature", hexs(t.Signature)},
		}
		if m := t.TDXModule; m != nil {
			out.Fields = append(out.Fields, Field{"tdx_module", tdxModule(m)})
		}
		for _, l := range t.TCBLevels {
			f := Fields{{"tcb_status", string(l.TCBStatus)}, {"tcb_date", day(l.TCBDate)}, {"advisory_ids", nonNil(l.AdvisoryIDs)},
				{"sgx_components", svns(l.TCB.SGXComponents[:])}, {"pce_svn", l.TCB.PCESVN}}
			if l.TCB.TDXComponents != nil {
				f = append(f, Field{"tdx_components", svns(l.TCB.TDXComponents[:])})
			}
			out.Levels = append(out.Levels, f)
		}
		for _, m := range t.TDXModuleIdentities {
			var levels []Fields
			for _, l := range m.TCBLevels {
				levels = append(levels, Fields{{"isv_svn", l.TCB.ISVSVN}, {"tcb_status", string(l.TCBStatus)}, {"tcb_date", day(l.TCBDate)}, {"advisory_ids", nonNil(l.AdvisoryIDs)}})
			}
			out.TDXModuleIdentities = append(out.TDXModuleIdentities, append(Fields{{"id", m.ID}}, append(tdxModule(&m.TDXModule), Field{"tcb_levels", levels})...))
		}
	case it.Identity != nil:
		e := it.Identity
		out.Kind = "qe_identity"
		out.Fields = Fields{
			{"id", e.ID}, {"version", e.Version}, {"tcb_evaluation_data_number", e.TCBEvaluationDataNumber},
			{"issue_date", day(e.IssueDate)}, {"next_update", day(e.NextUpdate)},
			{"mrsigner", hexs(e.MRSigner[:])}, {"isv_prod_id", e.ISVProdID},
			{"miscselect", hexs(e.MiscSelect[:])}, {"miscselect_mask", hexs(e.MiscSelectMask[:])},
			{"attributes", hexs(e.Attributes[:])}, {"attributes_mask", hexs(e.AttributesMask[:])},
			{"signature", hexs(e.Signature)},
		}
		for _, l := range e.TCBLevels {
			out.Levels = append(out.Levels, Fields{{"isv_svn", l.TCB.ISVSVN}, {"tcb_status", string(l.TCBStatus)}, {"tcb_date", day(l.TCBDate)}, {"advisory_ids", nonNil(l.AdvisoryIDs)}})
		}
	case it.CRL != nil:
		l := it.CRL
		out.Kind = "root_ca_crl"
		if it.CA != "" {
			out.Kind = "pck_crl"
		}
		out.Fields = Fields{{"issuer", l.Issuer.String()}}
		if it.CA != "" {
			out.Fields = append(out.Fields, Field{"ca", string(it.CA)})
		}
		if l.Number != nil {
			out.Fields = append(out.Fields, Field{"number", l.Number.String()})
		}
		out.Fields = append(out.Fields, Field{"this_update", day(l.ThisUpdate)}, Field{"next_update", day(l.NextUpdate)},
			Field{"signature_algorithm", l.SignatureAlgorithm.String()}, Field{"revoked_count", len(l.RevokedCertificateEntries)})
		for _, e := range l.RevokedCertificateEntries {
			out.Revoked = append(out.Revoked, e.SerialNumber.Text(16))
		}
	}
	return out
}

func tdxModule(m *pcs.TDXModule) Fields {
	return Fields{{"mrsigner", hexs(m.MRSigner[:])}, {"attributes", hexs(m.Attributes[:])}, {"attributes_mask", hexs(m.AttributesMask[:])}}
}

func svns(cs []pcs.TCBComponent) []uint32 {
	out := make([]uint32, len(cs))
	for i, c := range cs {
		out[i] = c.SVN
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// inputName names input of Bytes in messages.
const inputName = "input"

// collateralBytes reads b as collateral when it is: ok is false for input
// that holds none (to be tried as evidence), err set for collateral that
// is malformed.
func collateralBytes(b []byte, certs []*x509.Certificate) (r *Report, ok bool, err error) {
	if !mayBeCollateral(b) {
		return nil, false, nil
	}
	o, err := pcs.ParseOffline(inputName, b, &pcs.OfflineOptions{Certificates: certs})
	switch {
	case errors.Is(err, pcs.ErrNoCollateral):
		return nil, false, nil
	case err != nil:
		return nil, true, err
	}
	return collateralReport(o), true, nil
}

// mayBeCollateral is a cheap test of the forms collateral takes: JSON
// objects, CRLs in PEM or DER, saved HTTP responses.
func mayBeCollateral(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && (t[0] == '{' || t[0] == 0x30 || bytes.HasPrefix(t, []byte("HTTP/")) ||
		bytes.Contains(t, []byte("-----BEGIN X509 CRL-----")))
}

// Dir describes a directory of collateral.
func Dir(path string) (*Report, error) {
	o, err := pcs.LoadOffline(path, nil)
	if err != nil {
		return nil, &InputError{Input: path, Err: err}
	}
	r := collateralReport(o)
	r.Input = path
	return r, nil
}

// unrecognisedError is the error for input that is nothing ratls reads.
func unrecognisedError(b []byte) error {
	n := min(len(b), 8)
	return fmt.Errorf("not a certificate, quote, report, token, CMW or collateral document (%d bytes starting %s)", len(b), hex.EncodeToString(b[:n]))
}
