package pcs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Limits of LoadOffline.
const (
	// maxOfflineFileSize bounds one file. A PCCS platform collateral file
	// holding the TCB Info of every FMSPC is a few MiB.
	maxOfflineFileSize = 32 << 20
	// maxOfflineFiles bounds the files read from a directory tree.
	maxOfflineFiles = 1024
	// maxOfflineDepth is how deep LoadOffline descends into directories:
	// "ratls collateral fetch" writes one subdirectory per platform.
	maxOfflineDepth = 2
)

// Where Intel publishes what offline collateral most often lacks, for the
// messages naming it.
const (
	rootCACRLHint = "Intel publishes it at " + intelRootCACRLURL
	pcsHint       = "https://api.trustedservices.intel.com"
)

// ErrNoCollateral: LoadOffline or ParseOffline found nothing that is
// collateral (as opposed to collateral that is malformed).
var ErrNoCollateral = errors.New("no TCB Info, QE Identity or CRL found")

// OfflineOptions configures LoadOffline and ParseOffline.
type OfflineOptions struct {
	// Certificates complete issuer chains besides Intel's public ones, for
	// example the test roots a verifier is told to trust.
	Certificates []*x509.Certificate
}

// Offline is collateral read from files in the forms other tools write,
// recognised by content whatever the files are called:
//
//   - PCS response bodies, {"tcbInfo":…,"signature":…} and
//     {"enclaveIdentity":…,"signature":…}, pretty-printed or not (Intel's
//     own names are tcbInfo.json and qeIdentity.json);
//   - the issuer chains PCS sends in response headers, saved as headers
//     (curl -D, or curl -i with the body), as PEM files or as the
//     percent-encoded header value;
//   - CRLs in DER, PEM or hex;
//   - dcap-qvl collateral JSON (as ParseDCAPQVLJSON reads it, with its
//     pck_certificate_chain);
//   - the platform collateral JSON of Intel's PCCS admin tool
//     (pccsadmin fetch, platform_collaterals.json);
//   - the directory layout of LoadDir and WriteDir.
//
// It may hold the collateral of several platforms and answers each request
// with the items of the requested TEE, FMSPC and PCK CA; of several
// versions of an item it uses the newest (highest TCB evaluation data
// number, latest issue). Issuer chains that are missing, or that stop short
// of the root, are completed with the certificates at hand, Intel's public
// ones (embedded in the package) and OfflineOptions.Certificates, matched by
// issuer name and signature. Nothing is trusted here: the verifier checks
// every signature against the roots it trusts.
//
// Offline is a Provider; it is safe for concurrent use.
type Offline struct {
	// Source names the input, e.g. "offline coll/".
	Source string
	// PCKCertChain is the PCK certificate chain stored with dcap-qvl
	// collateral (pck_certificate_chain), nil when none was.
	PCKCertChain []*x509.Certificate
	// Ignored lists the files that hold no usable collateral and why, e.g.
	// "coll/README: not collateral".
	Ignored []string

	tcbInfos   []*signedDoc
	identities []*signedDoc
	pckCRLs    []*crlDoc
	rootCRLs   []*crlDoc

	mu   sync.Mutex
	memo map[Request]*Collateral
}

// signedDoc is a TCB Info or an Enclave Identity and its issuer chain.
type signedDoc struct {
	file   string
	update Update // "" when the form does not say
	chain  []*x509.Certificate
	tcb    *TCBInfo
	id     *EnclaveIdentity
	// compact is the document in compact form when it was read
	// pretty-printed: Intel signs the compact bytes.
	compact *signedDoc
}

// crlDoc is a CRL; ca is the issuing PCK CA, "" for the root CA CRL.
type crlDoc struct {
	file  string
	crl   *x509.RevocationList
	chain []*x509.Certificate
	ca    CA
}

// LoadOffline reads the collateral in path, a file or a directory tree
// (see Offline). Files that hold no collateral are listed in Ignored; a
// file that is collateral but malformed is an error, as is a path holding
// no collateral at all.
func LoadOffline(path string, opt *OfflineOptions) (*Offline, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	l := newOfflineLoader(opt)
	if !st.IsDir() {
		b, err := readOfflineFile(path)
		if err != nil {
			return nil, err
		}
		if err := l.add(path, b); err != nil {
			return nil, err
		}
	} else if err := l.addDir(path, 0); err != nil {
		return nil, err
	}
	return l.build("offline " + path)
}

// ParseOffline reads collateral from one document b; name says where it
// came from in messages.
func ParseOffline(name string, b []byte, opt *OfflineOptions) (*Offline, error) {
	l := newOfflineLoader(opt)
	if err := l.add(name, b); err != nil {
		return nil, err
	}
	return l.build(name)
}

type offlineLoader struct {
	docs  []*signedDoc
	crls  []*crlDoc
	user  []*x509.Certificate // certificates found in the input
	extra []*x509.Certificate // OfflineOptions.Certificates
	pck   []*x509.Certificate
	files int
	// ignored lists files without collateral; unparsed those that looked
	// like collateral but were not, which are errors if nothing else is
	// usable.
	ignored []string
}

func newOfflineLoader(opt *OfflineOptions) *offlineLoader {
	l := &offlineLoader{}
	if opt != nil {
		l.extra = opt.Certificates
	}
	return l
}

func readOfflineFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxOfflineFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxOfflineFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxOfflineFileSize)
	}
	return b, nil
}

func (l *offlineLoader) addDir(dir string, depth int) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if e.IsDir() {
			if depth < maxOfflineDepth {
				if err := l.addDir(path, depth+1); err != nil {
					return err
				}
			}
			continue
		}
		if !e.Type().IsRegular() {
			continue
		}
		if l.files++; l.files > maxOfflineFiles {
			return fmt.Errorf("%s: more than %d files", dir, maxOfflineFiles)
		}
		b, err := readOfflineFile(path)
		if err != nil {
			return err
		}
		if err := l.add(path, b); err != nil {
			return err
		}
	}
	return nil
}

func (l *offlineLoader) ignore(name, format string, args ...any) {
	l.ignored = append(l.ignored, name+": "+fmt.Sprintf(format, args...))
}

// add classifies one document by its content.
func (l *offlineLoader) add(name string, b []byte) error {
	t := bytes.TrimSpace(bytes.TrimRight(b, "\x00"))
	switch {
	case len(t) == 0:
		l.ignore(name, "empty")
	case bytes.HasPrefix(t, []byte("HTTP/")):
		return l.addHTTP(name, t)
	case t[0] == '{':
		return l.addJSON(name, t, nil)
	case bytes.Contains(t, []byte("-----BEGIN")):
		return l.addPEM(name, t)
	case bytes.HasPrefix(t, []byte("-----BEGIN%20")) || bytes.HasPrefix(t, []byte("-----BEGIN+")):
		return l.addChain(name, t)
	case isHexText(t):
		d, err := hex.DecodeString(string(t))
		if err != nil {
			l.ignore(name, "hex text of odd length, not collateral")
			return nil
		}
		l.addDER(name, d)
	default:
		l.addDER(name, b)
	}
	return nil
}

// addDER reads a DER CRL or certificate(s); anything else is not
// collateral (a quote, say).
func (l *offlineLoader) addDER(name string, b []byte) {
	if len(b) == 0 || b[0] != 0x30 {
		l.ignore(name, "not collateral")
		return
	}
	if crl, err := ParseCRL(b); err == nil {
		l.crls = append(l.crls, &crlDoc{file: name, crl: crl})
		return
	}
	if certs, err := x509.ParseCertificates(b); err == nil && len(certs) > 0 {
		l.user = append(l.user, certs...)
		return
	}
	l.ignore(name, "DER, but neither a CRL nor a certificate")
}

// addPEM reads the CERTIFICATE and X509 CRL blocks of a PEM file.
func (l *offlineLoader) addPEM(name string, t []byte) error {
	found := false
	for rest := t; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return fmt.Errorf("%s: certificate: %w", name, err)
			}
			l.user = append(l.user, c)
			found = true
		case "X509 CRL":
			crl, err := ParseCRL(blk.Bytes)
			if err != nil {
				return withPrefix(name, err)
			}
			l.crls = append(l.crls, &crlDoc{file: name, crl: crl})
			found = true
		}
	}
	if !found {
		l.ignore(name, "PEM without a CERTIFICATE or X509 CRL block")
	}
	return nil
}

// addChain reads a percent-encoded issuer chain (a saved header value).
func (l *offlineLoader) addChain(name string, t []byte) error {
	certs, err := ParsePEMChain(t)
	if err != nil {
		return withPrefix(name, err)
	}
	l.user = append(l.user, certs...)
	return nil
}

// Issuer-chain response headers of PCS and PCCS.
const (
	hdrTCBInfoChain    = "Tcb-Info-Issuer-Chain"
	hdrTCBInfoChainV3  = "Sgx-Tcb-Info-Issuer-Chain"
	hdrIdentityChain   = "Sgx-Enclave-Identity-Issuer-Chain"
	hdrPCKCRLChain     = "Sgx-Pck-Crl-Issuer-Chain"
	hdrPCKCertChain    = "Sgx-Pck-Certificate-Issuer-Chain"
	maxHeaderResponses = 8 // redirects and interim responses saved by curl -L -D
)

// addHTTP reads saved HTTP responses: status line and headers (curl -D,
// which also records redirects), optionally followed by the body (curl -i).
// Go's http.ReadResponse cannot be used: it refuses "HTTP/2 200".
func (l *offlineLoader) addHTTP(name string, t []byte) error {
	r := bufio.NewReader(bytes.NewReader(t))
	var body []byte
	var hdr textproto.MIMEHeader
	for i := 0; ; i++ {
		status, err := r.ReadString('\n')
		if err != nil && status == "" {
			break
		}
		if !strings.HasPrefix(status, "HTTP/") || i == maxHeaderResponses {
			return fmt.Errorf("%s: want HTTP response headers, got %q", name, truncate(strings.TrimSpace(status), 40))
		}
		if hdr, err = textproto.NewReader(r).ReadMIMEHeader(); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: HTTP headers: %v", name, err)
		}
		if f := strings.Fields(status); len(f) < 2 || f[1] != "200" {
			if len(f) >= 2 && f[1][0] == '3' || len(f) >= 2 && f[1] == "100" {
				continue // a redirect or interim response: its headers say nothing
			}
			return fmt.Errorf("%s: the saved response is %q, not a 200 OK with collateral", name, strings.TrimSpace(status))
		}
		rest, _ := io.ReadAll(r)
		if next := bytes.TrimLeft(rest, "\r\n"); bytes.HasPrefix(next, []byte("HTTP/")) {
			r = bufio.NewReader(bytes.NewReader(next))
			continue
		}
		body = bytes.TrimSpace(rest)
		break
	}
	chains := map[string][]*x509.Certificate{}
	for _, h := range []string{hdrTCBInfoChain, hdrTCBInfoChainV3, hdrIdentityChain, hdrPCKCRLChain, hdrPCKCertChain} {
		v := hdr.Get(h)
		if v == "" {
			continue
		}
		certs, err := ParsePEMChain([]byte(v))
		if err != nil {
			return withPrefix(name+": header "+h, err)
		}
		chains[h] = certs
		l.user = append(l.user, certs...)
	}
	if len(chains) == 0 && len(body) == 0 {
		l.ignore(name, "HTTP headers without an issuer chain (%s, %s, %s or %s)", hdrTCBInfoChain, hdrIdentityChain, hdrPCKCRLChain, hdrPCKCertChain)
		return nil
	}
	if len(body) == 0 {
		return nil
	}
	switch {
	case body[0] == '{':
		chain := chains[hdrTCBInfoChain]
		if chain == nil {
			chain = chains[hdrTCBInfoChainV3]
		}
		if chain == nil {
			chain = chains[hdrIdentityChain]
		}
		return l.addJSON(name, body, chain)
	default:
		before := len(l.crls)
		if err := l.add(name, body); err != nil {
			return err
		}
		if len(l.crls) > before {
			l.crls[len(l.crls)-1].chain = chains[hdrPCKCRLChain]
		}
	}
	return nil
}

// addJSON dispatches a JSON document on its members; chain is the issuer
// chain that came with it (a response header), if any.
func (l *offlineLoader) addJSON(name string, b []byte, chain []*x509.Certificate) error {
	// The strict parsers below check every collateral item; this only
	// finds which one the document is, and copes with PCCS files far
	// larger than one item.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		l.ignore(name, "not collateral: invalid JSON: %v", err)
		return nil
	}
	has := func(k string) bool { _, ok := top[k]; return ok }
	switch {
	case has("tcbInfo"):
		return l.addSigned(name, b, chain, "", true)
	case has("enclaveIdentity"):
		return l.addSigned(name, b, chain, "", false)
	case has("tcb_info") || has("qe_identity"):
		c, pck, err := parseDCAPQVLJSONWithPCK(b)
		if err != nil {
			return withPrefix(name+" (dcap-qvl collateral)", err)
		}
		l.docs = append(l.docs,
			&signedDoc{file: name, tcb: c.TCBInfo, chain: c.TCBInfoIssuerChain},
			&signedDoc{file: name, id: c.QEIdentity, chain: c.QEIdentityIssuerChain})
		l.crls = append(l.crls,
			&crlDoc{file: name, crl: c.PCKCRL, chain: c.PCKCRLIssuerChain},
			&crlDoc{file: name, crl: c.RootCACRL})
		for _, ch := range [][]*x509.Certificate{c.TCBInfoIssuerChain, c.QEIdentityIssuerChain, c.PCKCRLIssuerChain, pck} {
			l.user = append(l.user, ch...)
		}
		if pck != nil {
			l.pck = pck
		}
		return nil
	case has("collaterals"):
		return l.addPCCS(name, top["collaterals"])
	}
	l.ignore(name, "JSON, but not collateral (no tcbInfo, enclaveIdentity, tcb_info or collaterals member)")
	return nil
}

// addSigned parses a PCS body. A pretty-printed body is kept as it is and
// in compact form, since Intel signs the compact bytes; build keeps the
// form whose signature verifies.
func (l *offlineLoader) addSigned(name string, b []byte, chain []*x509.Certificate, u Update, tcb bool) error {
	parse := func(b []byte) (*signedDoc, error) {
		d := &signedDoc{file: name, chain: chain, update: u}
		var err error
		if tcb {
			d.tcb, err = ParseTCBInfo(b)
		} else {
			d.id, err = ParseEnclaveIdentity(b)
		}
		return d, err
	}
	d, err := parse(b)
	if err != nil {
		return withPrefix(name, err)
	}
	var compact bytes.Buffer
	if json.Compact(&compact, b) == nil && !bytes.Equal(compact.Bytes(), b) {
		if d.compact, err = parse(compact.Bytes()); err != nil {
			return withPrefix(name, err)
		}
	}
	if d.id != nil && d.id.ID == EnclaveIDQVE {
		l.ignore(name, "QVE identity, which quote verification does not use")
		return nil
	}
	l.docs = append(l.docs, d)
	return nil
}

// addPCCS reads the "collaterals" member of a PCCS platform collateral
// file (pccsadmin fetch). The tool re-serializes the TCB Infos with
// spaces, so they are read in compact form, which is what Intel signed.
func (l *offlineLoader) addPCCS(name string, raw json.RawMessage) error {
	var c struct {
		TCBInfos     []map[string]json.RawMessage `json:"tcbinfos"`
		PCKCACRL     map[string]string            `json:"pckcacrl"`
		RootCACRL    string                       `json:"rootcacrl"`
		Certificates map[string]json.RawMessage   `json:"certificates"`
		// Identities are PCS bodies as strings.
		QE        string `json:"qeidentity"`
		QEEarly   string `json:"qeidentity_early"`
		TDQE      string `json:"tdqeidentity"`
		TDQEEarly string `json:"tdqeidentity_early"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("%s: PCCS platform collateral: collaterals: %v", name, err)
	}
	chainOf := func(keys ...string) ([]*x509.Certificate, error) {
		for _, k := range keys {
			var s string
			if v, ok := c.Certificates[k]; ok && json.Unmarshal(v, &s) == nil && s != "" {
				certs, err := ParsePEMChain([]byte(s))
				if err != nil {
					return nil, withPrefix(name+": collaterals.certificates."+k, err)
				}
				l.user = append(l.user, certs...)
				return certs, nil
			}
		}
		return nil, nil
	}
	tcbChain, err := chainOf("TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain")
	if err != nil {
		return err
	}
	idChain, err := chainOf("SGX-Enclave-Identity-Issuer-Chain")
	if err != nil {
		return err
	}
	pckChains := map[CA][]*x509.Certificate{}
	if v, ok := c.Certificates["SGX-PCK-Certificate-Issuer-Chain"]; ok {
		var m map[string]string
		if json.Unmarshal(v, &m) == nil {
			for ca, s := range m {
				certs, err := ParsePEMChain([]byte(s))
				if err != nil {
					return withPrefix(name+": collaterals.certificates.SGX-PCK-Certificate-Issuer-Chain."+ca, err)
				}
				l.user = append(l.user, certs...)
				pckChains[CA(ca)] = certs
			}
		}
	}
	for i, e := range c.TCBInfos {
		keys := make([]string, 0, len(e))
		for k := range e {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			u := UpdateStandard
			base := strings.TrimSuffix(k, "_early")
			if base != k {
				u = UpdateEarly
			}
			if base != "tcbinfo" && base != "sgx_tcbinfo" && base != "tdx_tcbinfo" {
				continue
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, e[k]); err != nil {
				return fmt.Errorf("%s: collaterals.tcbinfos[%d].%s: %v", name, i, k, err)
			}
			where := fmt.Sprintf("%s: collaterals.tcbinfos[%d].%s", name, i, k)
			if err := l.addSigned(where, compact.Bytes(), tcbChain, u, true); err != nil {
				return err
			}
		}
	}
	for _, id := range []struct {
		key, body string
		u         Update
	}{
		{"qeidentity", c.QE, UpdateStandard}, {"qeidentity_early", c.QEEarly, UpdateEarly},
		{"tdqeidentity", c.TDQE, UpdateStandard}, {"tdqeidentity_early", c.TDQEEarly, UpdateEarly},
	} {
		if id.body == "" {
			continue
		}
		if err := l.addSigned(name+": collaterals."+id.key, []byte(id.body), idChain, id.u, false); err != nil {
			return err
		}
	}
	for key, ca := range map[string]CA{"processorCrl": CAProcessor, "platformCrl": CAPlatform} {
		s := c.PCKCACRL[key]
		if s == "" {
			continue
		}
		crl, err := ParseCRL([]byte(s))
		if err != nil {
			return withPrefix(name+": collaterals.pckcacrl."+key, err)
		}
		l.crls = append(l.crls, &crlDoc{file: name + ": collaterals.pckcacrl." + key, crl: crl, chain: pckChains[ca]})
	}
	if c.RootCACRL != "" {
		crl, err := ParseCRL([]byte(c.RootCACRL))
		if err != nil {
			return withPrefix(name+": collaterals.rootcacrl", err)
		}
		l.crls = append(l.crls, &crlDoc{file: name + ": collaterals.rootcacrl", crl: crl})
	}
	return nil
}

// pool returns the certificates that complete chains: the input's own
// first, then the caller's, then Intel's.
func (l *offlineLoader) pool() []*x509.Certificate {
	out := slices.Clone(l.user)
	out = append(out, l.extra...)
	return append(out, intelCerts...)
}

// complete extends chain upward with issuers from pool until a
// self-signed certificate.
func complete(chain, pool []*x509.Certificate) []*x509.Certificate {
	out := slices.Clone(chain)
	for len(out) > 0 && len(out) < maxChainCerts {
		last := out[len(out)-1]
		if bytes.Equal(last.RawIssuer, last.RawSubject) {
			break
		}
		issuer := issuerIn(pool, last.RawIssuer, last.CheckSignatureFrom)
		if issuer == nil {
			break
		}
		out = append(out, issuer)
	}
	return out
}

// issuerIn returns the certificate of pool named subject whose key verifies
// (check returns nil), preferring the one valid longest.
func issuerIn(pool []*x509.Certificate, subject []byte, check func(*x509.Certificate) error) *x509.Certificate {
	var best *x509.Certificate
	for _, c := range pool {
		if bytes.Equal(c.RawSubject, subject) && check(c) == nil && (best == nil || c.NotAfter.After(best.NotAfter)) {
			best = c
		}
	}
	return best
}

// build resolves chains and classifies CRLs.
func (l *offlineLoader) build(source string) (*Offline, error) {
	pool := l.pool()
	o := &Offline{Source: source, PCKCertChain: l.pck, Ignored: l.ignored}
	for _, d := range l.docs {
		d = preferVerifying(d, pool)
		d.chain = complete(signerChain(d, pool, l.user), pool)
		if d.tcb != nil {
			o.tcbInfos = append(o.tcbInfos, d)
		} else {
			o.identities = append(o.identities, d)
		}
	}
	for _, d := range l.crls {
		if err := classifyCRL(d, pool); err != nil {
			o.Ignored = append(o.Ignored, d.file+": "+err.Error())
			continue
		}
		if d.ca == "" {
			o.rootCRLs = append(o.rootCRLs, d)
		} else {
			o.pckCRLs = append(o.pckCRLs, d)
		}
	}
	if len(o.tcbInfos)+len(o.identities)+len(o.pckCRLs)+len(o.rootCRLs) == 0 {
		if len(o.Ignored) > 0 {
			return nil, fmt.Errorf("%s: %w (%s)", strings.TrimPrefix(source, "offline "), ErrNoCollateral, strings.Join(o.Ignored, "; "))
		}
		return nil, fmt.Errorf("%s: %w", strings.TrimPrefix(source, "offline "), ErrNoCollateral)
	}
	return o, nil
}

// preferVerifying returns the compact form of a pretty-printed document
// when only that form's signature verifies.
func preferVerifying(d *signedDoc, pool []*x509.Certificate) *signedDoc {
	if d.compact == nil || d.signer(pool) != nil {
		return d
	}
	if d.compact.signer(pool) != nil {
		return d.compact
	}
	return d
}

// verifiedBy reports whether c's key verifies the document's signature.
func (d *signedDoc) verifiedBy(c *x509.Certificate) bool {
	if d.tcb != nil {
		return d.tcb.CheckSignature(c) == nil
	}
	return d.id.CheckSignature(c) == nil
}

// signer returns the certificate that signed the document: the first of
// its chain if it came with one, else one of pool.
func (d *signedDoc) signer(pool []*x509.Certificate) *x509.Certificate {
	if len(d.chain) > 0 {
		if d.verifiedBy(d.chain[0]) {
			return d.chain[0]
		}
		return nil
	}
	for _, c := range pool {
		if !c.IsCA && d.verifiedBy(c) {
			return c
		}
	}
	return nil
}

// signerChain returns the issuer chain of a TCB Info or Enclave Identity:
// the one it came with, else one whose first certificate's key verifies
// its signature (of several such certificates, the one valid at its issue
// date: Intel re-issued its TCB Signing certificate with the same key).
// When no certificate at hand verifies it, the one collateral signing
// certificate in the input is taken, so that verification reports the bad
// signature instead of a missing chain.
func signerChain(d *signedDoc, pool, user []*x509.Certificate) []*x509.Certificate {
	if len(d.chain) > 0 {
		return d.chain
	}
	issued := d.issueDate()
	var best *x509.Certificate
	for _, c := range pool {
		if c.IsCA || !d.verifiedBy(c) {
			continue
		}
		covers := !issued.Before(c.NotBefore) && !issued.After(c.NotAfter)
		if best == nil || covers && (issued.Before(best.NotBefore) || issued.After(best.NotAfter)) {
			best = c
		}
	}
	if best != nil {
		return []*x509.Certificate{best}
	}
	var signers []*x509.Certificate
	for _, c := range user {
		if !c.IsCA && c.PublicKeyAlgorithm == x509.ECDSA && !slices.ContainsFunc(signers, c.Equal) {
			signers = append(signers, c)
		}
	}
	if len(signers) == 1 {
		return signers
	}
	return nil
}

func (d *signedDoc) issueDate() time.Time {
	if d.tcb != nil {
		return d.tcb.IssueDate
	}
	return d.id.IssueDate
}

// classifyCRL finds a CRL's issuer: the root CA (root CA CRL) or a PCK CA
// (PCK CRL of that CA).
func classifyCRL(d *crlDoc, pool []*x509.Certificate) error {
	var issuer *x509.Certificate
	if len(d.chain) > 0 {
		issuer = d.chain[0]
	} else {
		issuer = issuerIn(pool, d.crl.RawIssuer, func(c *x509.Certificate) error { return d.crl.CheckSignatureFrom(c) })
	}
	cn := d.crl.Issuer.CommonName
	switch {
	case issuer != nil && bytes.Equal(issuer.RawSubject, issuer.RawIssuer),
		issuer == nil && strings.HasSuffix(cn, "Root CA"):
		d.ca, d.chain = "", nil
		return nil
	case strings.HasSuffix(cn, "PCK Processor CA"):
		d.ca = CAProcessor
	case strings.HasSuffix(cn, "PCK Platform CA"):
		d.ca = CAPlatform
	default:
		return fmt.Errorf("a CRL issued by %q, neither the SGX root CA's nor a PCK CA's", cn)
	}
	if len(d.chain) == 0 && issuer != nil {
		d.chain = []*x509.Certificate{issuer}
	}
	d.chain = complete(d.chain, pool)
	return nil
}

// Collateral assembles the collateral of req. When an item is missing it
// returns a *MissingError naming each missing item, where it can be
// obtained, and what the input holds instead.
func (o *Offline) Collateral(_ context.Context, req Request) (*Collateral, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c, ok := o.memo[req]; ok {
		return c, nil
	}
	c, missing := o.assemble(req)
	if len(missing) > 0 {
		// Files that looked like collateral but could not be used may
		// explain the gap; plain other files (a README, a quote) do not.
		var unusable []string
		for _, s := range o.Ignored {
			if !strings.HasSuffix(s, ": not collateral") && !strings.Contains(s, ": JSON, but not collateral") {
				unusable = append(unusable, s)
			}
		}
		if len(unusable) > 0 {
			missing = append(missing, "and these files could not be used: "+strings.Join(unusable, "; "))
		}
		return nil, &MissingError{Source: o.Source, Items: missing}
	}
	if o.memo == nil {
		o.memo = map[Request]*Collateral{}
	}
	o.memo[req] = c
	return c, nil
}

func (o *Offline) assemble(req Request) (*Collateral, []string) {
	c := &Collateral{Source: o.Source}
	var missing []string
	tcbID, qeID := TCBInfoIDSGX, EnclaveIDQE
	if req.TEE == TEETDX {
		tcbID, qeID = TCBInfoIDTDX, EnclaveIDTDQE
	}
	fmspc := hex.EncodeToString(req.FMSPC[:])
	u := req.Update
	if u == "" {
		u = UpdateStandard
	}
	fits := func(d *signedDoc) bool { return d.update == "" || d.update == u }

	tcb := newestSigned(o.tcbInfos, func(d *signedDoc) bool {
		return fits(d) && d.tcb.ID == tcbID && d.tcb.FMSPC == req.FMSPC
	})
	switch {
	case tcb == nil:
		missing = append(missing, fmt.Sprintf("TCB Info of %s FMSPC %s (GET %s/%s/certification/v4/tcb?fmspc=%s; %s)",
			tcbID, fmspc, pcsHint, req.TEE, fmspc, o.heldTCBInfos()))
	case len(tcb.chain) == 0:
		missing = append(missing, fmt.Sprintf("the issuer chain of the TCB Info in %s: no certificate at hand signed it; save the %s header of the PCS response beside it", tcb.file, hdrTCBInfoChain))
	default:
		c.TCBInfo, c.TCBInfoIssuerChain = tcb.tcb, tcb.chain
	}
	qe := newestSigned(o.identities, func(d *signedDoc) bool { return fits(d) && d.id.ID == qeID })
	switch {
	case qe == nil:
		missing = append(missing, fmt.Sprintf("QE Identity %s (GET %s/%s/certification/v4/qe/identity; %s)", qeID, pcsHint, req.TEE, o.heldIdentities()))
	case len(qe.chain) == 0:
		missing = append(missing, fmt.Sprintf("the issuer chain of the QE Identity in %s: no certificate at hand signed it; save the %s header of the PCS response beside it", qe.file, hdrIdentityChain))
	default:
		c.QEIdentity, c.QEIdentityIssuerChain = qe.id, qe.chain
	}
	pck := newestCRL(o.pckCRLs, func(d *crlDoc) bool { return d.ca == req.CA })
	switch {
	case pck == nil:
		missing = append(missing, fmt.Sprintf("PCK CRL of the %s CA (GET %s/sgx/certification/v4/pckcrl?ca=%s&encoding=der; %s)", req.CA, pcsHint, req.CA, o.heldCRLs()))
	case len(pck.chain) == 0:
		missing = append(missing, fmt.Sprintf("the issuer chain of the PCK CRL in %s: save the %s header of the PCS response beside it", pck.file, hdrPCKCRLChain))
	default:
		c.PCKCRL, c.PCKCRLIssuerChain = pck.crl, pck.chain
	}
	if root := newestCRL(o.rootCRLs, func(*crlDoc) bool { return true }); root != nil {
		c.RootCACRL = root.crl
	} else {
		missing = append(missing, "the root CA CRL ("+rootCACRLHint+")")
	}
	return c, missing
}

// newestSigned picks, of the documents that fit, the one with the highest
// TCB evaluation data number, then the latest issue date.
func newestSigned(docs []*signedDoc, fit func(*signedDoc) bool) *signedDoc {
	var best *signedDoc
	for _, d := range docs {
		if !fit(d) {
			continue
		}
		if best == nil || d.evalNumber() > best.evalNumber() ||
			d.evalNumber() == best.evalNumber() && d.issueDate().After(best.issueDate()) {
			best = d
		}
	}
	return best
}

func (d *signedDoc) evalNumber() uint32 {
	if d.tcb != nil {
		return d.tcb.TCBEvaluationDataNumber
	}
	return d.id.TCBEvaluationDataNumber
}

// newestCRL picks, of the CRLs that fit, the one with the highest CRL
// number, then the latest thisUpdate.
func newestCRL(crls []*crlDoc, fit func(*crlDoc) bool) *crlDoc {
	var best *crlDoc
	for _, d := range crls {
		if !fit(d) {
			continue
		}
		if best == nil || crlNewer(d.crl, best.crl) {
			best = d
		}
	}
	return best
}

func crlNewer(a, b *x509.RevocationList) bool {
	if a.Number != nil && b.Number != nil {
		if n := a.Number.Cmp(b.Number); n != 0 {
			return n > 0
		}
	}
	return a.ThisUpdate.After(b.ThisUpdate)
}

// heldTCBInfos says which TCB Infos the input has, for a message.
func (o *Offline) heldTCBInfos() string {
	var held []string
	for _, d := range o.tcbInfos {
		s := fmt.Sprintf("%s FMSPC %x in %s", d.tcb.ID, d.tcb.FMSPC[:], d.file)
		if d.update != "" {
			s += " (" + string(d.update) + ")"
		}
		held = append(held, s)
	}
	return holds("TCB Info", held)
}

func (o *Offline) heldIdentities() string {
	var held []string
	for _, d := range o.identities {
		held = append(held, fmt.Sprintf("%s in %s", d.id.ID, d.file))
	}
	return holds("QE Identity", held)
}

func (o *Offline) heldCRLs() string {
	var held []string
	for _, d := range o.pckCRLs {
		held = append(held, fmt.Sprintf("the %s CA's in %s", d.ca, d.file))
	}
	return holds("PCK CRL", held)
}

func holds(what string, held []string) string {
	if len(held) == 0 {
		return "the input has no " + what
	}
	return "the input has " + what + " only for " + strings.Join(held, " and ")
}

// items lists what the collateral holds, one line per item, for a
// summary: kind, platform, validity and file.
func (o *Offline) items() []string {
	var out []string
	for _, d := range o.tcbInfos {
		out = append(out, fmt.Sprintf("TCB Info %s FMSPC %x, evaluation data number %d, next update %s (%s)",
			d.tcb.ID, d.tcb.FMSPC[:], d.tcb.TCBEvaluationDataNumber, d.tcb.NextUpdate.UTC().Format("2006-01-02"), d.file))
	}
	for _, d := range o.identities {
		out = append(out, fmt.Sprintf("QE Identity %s, evaluation data number %d, next update %s (%s)",
			d.id.ID, d.id.TCBEvaluationDataNumber, d.id.NextUpdate.UTC().Format("2006-01-02"), d.file))
	}
	for _, d := range o.pckCRLs {
		out = append(out, fmt.Sprintf("PCK CRL of the %s CA, next update %s (%s)", d.ca, d.crl.NextUpdate.UTC().Format("2006-01-02"), d.file))
	}
	for _, d := range o.rootCRLs {
		out = append(out, fmt.Sprintf("root CA CRL, next update %s (%s)", d.crl.NextUpdate.UTC().Format("2006-01-02"), d.file))
	}
	return out
}

var _ Provider = (*Offline)(nil)

// OfflineItem is one item of offline collateral: a TCB Info, an Enclave
// Identity or a CRL, with the file it came from and its issuer chain as
// completed.
type OfflineItem struct {
	File     string
	TCBInfo  *TCBInfo
	Identity *EnclaveIdentity
	CRL      *x509.RevocationList
	// CA is the PCK CA of a PCK CRL, "" for the root CA CRL.
	CA    CA
	Chain []*x509.Certificate
}

// Contents lists every item read, for tools that describe collateral.
func (o *Offline) Contents() []OfflineItem {
	var out []OfflineItem
	for _, d := range o.tcbInfos {
		out = append(out, OfflineItem{File: d.file, TCBInfo: d.tcb, Chain: d.chain})
	}
	for _, d := range o.identities {
		out = append(out, OfflineItem{File: d.file, Identity: d.id, Chain: d.chain})
	}
	for _, d := range o.pckCRLs {
		out = append(out, OfflineItem{File: d.file, CRL: d.crl, CA: d.ca, Chain: d.chain})
	}
	for _, d := range o.rootCRLs {
		out = append(out, OfflineItem{File: d.file, CRL: d.crl})
	}
	return out
}
