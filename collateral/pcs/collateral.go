package pcs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Collateral is the verification collateral for one DCAP quote: what Intel's
// sgx_ql_qve_collateral_t carries. Any item may be nil when the source does
// not have it; the verifier decides what a missing item means. Every item
// keeps its exact bytes (TCBInfo.Raw and Body, EnclaveIdentity.Raw and Body,
// x509.Certificate.Raw, x509.RevocationList.Raw).
type Collateral struct {
	TCBInfo               *TCBInfo
	TCBInfoIssuerChain    []*x509.Certificate
	QEIdentity            *EnclaveIdentity
	QEIdentityIssuerChain []*x509.Certificate
	PCKCRL                *x509.RevocationList
	PCKCRLIssuerChain     []*x509.Certificate
	RootCACRL             *x509.RevocationList

	// Source says where the collateral came from, e.g. "dir:/path" or
	// "dcap-qvl-json".
	Source string
}

// File names of the directory layout (LoadDir, WriteDir). CRLs are written
// as DER; LoadDir also accepts the ".pem" names below instead, holding PEM or
// hex-encoded DER.
const (
	FileTCBInfo               = "tcb_info.json"
	FileTCBInfoIssuerChain    = "tcb_info_issuer_chain.pem"
	FileQEIdentity            = "qe_identity.json"
	FileQEIdentityIssuerChain = "qe_identity_issuer_chain.pem"
	FilePCKCRL                = "pck_crl.der"
	FilePCKCRLPEM             = "pck_crl.pem"
	FilePCKCRLIssuerChain     = "pck_crl_issuer_chain.pem"
	FileRootCACRL             = "root_ca_crl.der"
	FileRootCACRLPEM          = "root_ca_crl.pem"
)

// MissingError lists the collateral items a source lacks. LoadDir returns it
// together with the partial collateral; it matches fs.ErrNotExist.
type MissingError struct {
	Source string
	Items  []string // file names (directory) or keys
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("pcs: collateral %s: missing %s", e.Source, strings.Join(e.Items, ", "))
}

// Unwrap returns fs.ErrNotExist.
func (e *MissingError) Unwrap() error { return fs.ErrNotExist }

// Missing lists the items that are nil, by their directory file names.
func (c *Collateral) Missing() []string {
	var m []string
	for _, it := range []struct {
		absent bool
		name   string
	}{
		{c.TCBInfo == nil, FileTCBInfo},
		{len(c.TCBInfoIssuerChain) == 0, FileTCBInfoIssuerChain},
		{c.QEIdentity == nil, FileQEIdentity},
		{len(c.QEIdentityIssuerChain) == 0, FileQEIdentityIssuerChain},
		{c.PCKCRL == nil, FilePCKCRL},
		{len(c.PCKCRLIssuerChain) == 0, FilePCKCRLIssuerChain},
		{c.RootCACRL == nil, FileRootCACRL},
	} {
		if it.absent {
			m = append(m, it.name)
		}
	}
	return m
}

// maxFileSize bounds any file LoadDir reads.
const maxFileSize = MaxJSONSize

// LoadDir reads collateral from dir in the layout of the File* names. Items
// whose files are absent stay nil and are listed in a *MissingError, which is
// returned together with the (partial) collateral; any other problem (a
// malformed file, a CRL given both as .der and .pem) returns a nil collateral.
// A directory without any collateral file is an error too.
func LoadDir(dir string) (*Collateral, error) {
	c := &Collateral{Source: "dir:" + dir}
	var missing []string

	read := func(name string) ([]byte, bool, error) {
		b, err := readLimited(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return b, err == nil, err
	}
	readCRL := func(der, pemName string) ([]byte, string, bool, error) {
		b1, ok1, err := read(der)
		if err != nil {
			return nil, "", false, err
		}
		b2, ok2, err := read(pemName)
		if err != nil {
			return nil, "", false, err
		}
		switch {
		case ok1 && ok2:
			return nil, "", false, fmt.Errorf("pcs: collateral %s: both %s and %s present", c.Source, der, pemName)
		case ok1:
			return b1, der, true, nil
		case ok2:
			return b2, pemName, true, nil
		}
		return nil, "", false, nil
	}
	wrap := func(name string, err error) error {
		return withPrefix(filepath.Join(dir, name), err)
	}

	if b, ok, err := read(FileTCBInfo); err != nil {
		return nil, wrap(FileTCBInfo, err)
	} else if ok {
		if c.TCBInfo, err = ParseTCBInfo(b); err != nil {
			return nil, wrap(FileTCBInfo, err)
		}
	} else {
		missing = append(missing, FileTCBInfo)
	}
	if b, ok, err := read(FileQEIdentity); err != nil {
		return nil, wrap(FileQEIdentity, err)
	} else if ok {
		if c.QEIdentity, err = ParseEnclaveIdentity(b); err != nil {
			return nil, wrap(FileQEIdentity, err)
		}
	} else {
		missing = append(missing, FileQEIdentity)
	}
	for _, ch := range []struct {
		name string
		dst  *[]*x509.Certificate
	}{
		{FileTCBInfoIssuerChain, &c.TCBInfoIssuerChain},
		{FileQEIdentityIssuerChain, &c.QEIdentityIssuerChain},
		{FilePCKCRLIssuerChain, &c.PCKCRLIssuerChain},
	} {
		b, ok, err := read(ch.name)
		if err != nil {
			return nil, wrap(ch.name, err)
		}
		if !ok {
			missing = append(missing, ch.name)
			continue
		}
		if *ch.dst, err = ParsePEMChain(b); err != nil {
			return nil, wrap(ch.name, err)
		}
	}
	for _, cr := range []struct {
		der, pem string
		dst      **x509.RevocationList
	}{
		{FilePCKCRL, FilePCKCRLPEM, &c.PCKCRL},
		{FileRootCACRL, FileRootCACRLPEM, &c.RootCACRL},
	} {
		b, name, ok, err := readCRL(cr.der, cr.pem)
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, cr.der)
			continue
		}
		if *cr.dst, err = ParseCRL(b); err != nil {
			return nil, wrap(name, err)
		}
	}
	if len(missing) == 7 {
		return nil, &MissingError{Source: c.Source, Items: missing}
	}
	if len(missing) > 0 {
		return c, &MissingError{Source: c.Source, Items: missing}
	}
	return c, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return b, nil
}

// WriteDir writes c to dir (created if needed) in the layout LoadDir reads,
// so that dir holds exactly c: files of present items are written (CRLs as
// DER, chains as PEM, TCB Info and QE Identity as PCS bodies whose signed
// bytes are unchanged), and the files of absent items are removed.
func WriteDir(dir string, c *Collateral) error {
	if c == nil {
		return errors.New("pcs: WriteDir: nil collateral")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("pcs: WriteDir: %w", err)
	}
	files := map[string][]byte{}
	if c.TCBInfo != nil {
		files[FileTCBInfo] = c.TCBInfo.Body()
	}
	if c.QEIdentity != nil {
		files[FileQEIdentity] = c.QEIdentity.Body()
	}
	if len(c.TCBInfoIssuerChain) > 0 {
		files[FileTCBInfoIssuerChain] = EncodePEMChain(c.TCBInfoIssuerChain)
	}
	if len(c.QEIdentityIssuerChain) > 0 {
		files[FileQEIdentityIssuerChain] = EncodePEMChain(c.QEIdentityIssuerChain)
	}
	if len(c.PCKCRLIssuerChain) > 0 {
		files[FilePCKCRLIssuerChain] = EncodePEMChain(c.PCKCRLIssuerChain)
	}
	if c.PCKCRL != nil {
		files[FilePCKCRL] = c.PCKCRL.Raw
	}
	if c.RootCACRL != nil {
		files[FileRootCACRL] = c.RootCACRL.Raw
	}
	for _, name := range []string{
		FileTCBInfo, FileTCBInfoIssuerChain, FileQEIdentity, FileQEIdentityIssuerChain,
		FilePCKCRL, FilePCKCRLPEM, FilePCKCRLIssuerChain, FileRootCACRL, FileRootCACRLPEM,
	} {
		path := filepath.Join(dir, name)
		b, ok := files[name]
		if !ok {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("pcs: WriteDir: %w", err)
			}
			continue
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return fmt.Errorf("pcs: WriteDir: %w", err)
		}
	}
	return nil
}

// dcap-qvl collateral JSON keys (its QuoteCollateralV3 serialization).
// pck_certificate_chain is optional: current releases add it, earlier ones
// do not write it.
var dcapQVLKeys = []string{
	"pck_crl_issuer_chain", "root_ca_crl", "pck_crl",
	"tcb_info_issuer_chain", "tcb_info", "tcb_info_signature",
	"qe_identity_issuer_chain", "qe_identity", "qe_identity_signature",
}

const dcapQVLPCKChain = "pck_certificate_chain"

// ParseDCAPQVLJSON parses the collateral JSON of Phala-Network/dcap-qvl
// (QuoteCollateralV3). The string members are tcb_info and qe_identity
// (the signed JSON values, verbatim) and the PEM issuer chains
// tcb_info_issuer_chain, qe_identity_issuer_chain and pck_crl_issuer_chain.
// The binary members tcb_info_signature, qe_identity_signature (r||s),
// pck_crl and root_ca_crl (DER) are hex strings, as the Rust library
// writes them, or arrays of byte values, as the JavaScript getCollateral()
// writes them; the CRLs may also be PEM. All these members are required
// and must be non-empty. The optional pck_certificate_chain (PEM, or null)
// is not collateral and is ignored here (ParseOffline uses it).
func ParseDCAPQVLJSON(b []byte) (*Collateral, error) {
	c, _, err := parseDCAPQVLJSONWithPCK(b)
	return c, err
}

// parseDCAPQVLJSONWithPCK is ParseDCAPQVLJSON that also returns the PCK
// certificate chain of the optional pck_certificate_chain member (nil when
// absent or null). dcap-qvl stores it so that quotes carrying only an
// encrypted PPID can be verified offline.
func parseDCAPQVLJSONWithPCK(b []byte) (*Collateral, []*x509.Certificate, error) {
	if len(b) > MaxJSONSize {
		return nil, nil, fieldErrorf("", "dcap-qvl collateral larger than %d bytes", MaxJSONSize)
	}
	o, err := decodeObject(b, "")
	if err != nil {
		return nil, nil, err
	}
	if err := o.allowOnly(append(dcapQVLKeys, dcapQVLPCKChain)...); err != nil {
		return nil, nil, err
	}
	text := func(key string) (string, error) {
		s, err := o.strMax(key, MaxJSONSize)
		if err == nil && s == "" {
			err = fieldErrorf(key, "empty")
		}
		return s, err
	}
	sig := func(key string) ([]byte, error) {
		d, err := o.binary(key, false)
		if err != nil {
			return nil, err
		}
		if len(d) != 64 {
			return nil, fieldErrorf(key, "want 64 bytes (128 hex digits), got %d bytes", len(d))
		}
		return d, nil
	}
	c := &Collateral{Source: "dcap-qvl-json"}
	tcbInfo, err := text("tcb_info")
	if err != nil {
		return nil, nil, err
	}
	tsig, err := sig("tcb_info_signature")
	if err != nil {
		return nil, nil, err
	}
	if c.TCBInfo, err = parseBareTCBInfo([]byte(tcbInfo), tsig); err != nil {
		return nil, nil, withPrefix("tcb_info", err)
	}
	qeIdentity, err := text("qe_identity")
	if err != nil {
		return nil, nil, err
	}
	qsig, err := sig("qe_identity_signature")
	if err != nil {
		return nil, nil, err
	}
	if c.QEIdentity, err = parseBareEnclaveIdentity([]byte(qeIdentity), qsig); err != nil {
		return nil, nil, withPrefix("qe_identity", err)
	}
	for _, ch := range []struct {
		key string
		dst *[]*x509.Certificate
	}{
		{"tcb_info_issuer_chain", &c.TCBInfoIssuerChain},
		{"qe_identity_issuer_chain", &c.QEIdentityIssuerChain},
		{"pck_crl_issuer_chain", &c.PCKCRLIssuerChain},
	} {
		s, err := text(ch.key)
		if err != nil {
			return nil, nil, err
		}
		if *ch.dst, err = ParsePEMChain([]byte(s)); err != nil {
			return nil, nil, withPrefix(ch.key, err)
		}
	}
	for _, cr := range []struct {
		key string
		dst **x509.RevocationList
	}{
		{"pck_crl", &c.PCKCRL},
		{"root_ca_crl", &c.RootCACRL},
	} {
		d, err := o.binary(cr.key, true)
		if err != nil {
			return nil, nil, err
		}
		if *cr.dst, err = ParseCRL(d); err != nil {
			return nil, nil, withPrefix(cr.key, err)
		}
	}
	var pck []*x509.Certificate
	if v, ok := o.get(dcapQVLPCKChain); ok && v.kind != 'n' {
		s, err := o.strMax(dcapQVLPCKChain, maxChainSize)
		if err != nil {
			return nil, nil, err
		}
		if pck, err = ParsePEMChain([]byte(s)); err != nil {
			return nil, nil, withPrefix(dcapQVLPCKChain, err)
		}
	}
	return c, pck, nil
}
