package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/ratls/ratls/inspect"
)

// writeReport renders an inspection report for a person: one section per
// certificate and per evidence item, aligned "name: value" lines.
func writeReport(w io.Writer, r *inspect.Report) {
	writeReportBody(w, r)
	fmt.Fprintln(w)
	if r.Source == inspect.SourceCollateral {
		fmt.Fprintln(w, "Nothing above is verified: the collateral is described, not trusted (\"ratls verify --collateral\" checks its signatures).")
		return
	}
	if r.Source == inspect.SourceCertificate {
		fmt.Fprintln(w, "Nothing above is verified except the certificate signature: the evidence is described, not trusted.")
	} else {
		fmt.Fprintln(w, "Nothing above is verified: the evidence is described, not trusted.")
	}
}

// writeReportBody renders the inspection sections without the closing note.
func writeReportBody(w io.Writer, r *inspect.Report) {
	p := &printer{w: w}
	if r.Input != "" {
		p.line(0, "Source", fmt.Sprintf("%s (%s)", r.Input, r.Source))
	}
	if c := r.Certificate; c != nil {
		p.section("Certificate")
		writeCertificate(p, c)
		for i, cc := range r.Chain {
			p.section(fmt.Sprintf("Chain certificate %d", i+1))
			writeCertificate(p, cc)
		}
	}
	if c := r.Collateral; c != nil {
		writeCollateral(p, c)
		return
	}
	if len(r.Evidence) == 0 {
		p.section("Evidence")
		p.line(1, "none", "this certificate carries no TEE evidence")
	}
	for i, e := range r.Evidence {
		title := fmt.Sprintf("Evidence %d", i+1)
		if i == 0 && len(r.Evidence) > 1 {
			title += " (preferred)"
		}
		p.section(title)
		writeEvidence(p, e, r.Source == inspect.SourceCertificate)
	}
	if e := r.Endorsements; e != nil {
		p.section("Endorsements")
		if e.Empty {
			p.line(1, "value", "empty")
		} else {
			p.line(1, "version", fmt.Sprintf("%d (encoded in %d bytes)", e.Version, e.VersionWidth))
			keys := []string{"tcb_info", "tcb_info_issuer_chain", "pck_crl", "root_ca_crl", "pck_crl_issuer_chain", "qe_identity", "qe_identity_issuer_chain", "creation_datetime"}
			if _, snp := e.Sizes["vcek_or_vlek"]; snp {
				keys = []string{"vcek_or_vlek", "ask_or_asvk", "ark", "crl"}
			}
			for _, k := range keys {
				p.line(1, k, fmt.Sprintf("%d bytes", e.Sizes[k]))
			}
		}
	}
}

func writeCertificate(p *printer, c *inspect.Certificate) {
	p.line(1, "subject", c.Subject)
	p.line(1, "issuer", c.Issuer)
	p.line(1, "serial", c.Serial)
	p.line(1, "version", fmt.Sprint(c.Version))
	p.line(1, "validity", c.NotBefore+" .. "+c.NotAfter)
	p.line(1, "public key", c.PublicKey+" (SPKI SHA-256 "+c.PublicKeySHA256+")")
	p.line(1, "signature", c.SignatureAlgorithm+", "+signatureState(c))
	if a := c.AltNames; a != nil {
		p.line(1, "alt names", strings.Join(altNames(a), ", "))
	}
	if len(c.KeyUsage) > 0 {
		p.line(1, "key usage", strings.Join(c.KeyUsage, ", "))
	}
	if len(c.ExtKeyUsage) > 0 {
		p.line(1, "ext key usage", strings.Join(c.ExtKeyUsage, ", "))
	}
	if b := c.BasicConstraints; b != nil {
		v := fmt.Sprintf("CA %v", b.CA)
		if b.MaxPathLen != nil {
			v += fmt.Sprintf(", path length %d", *b.MaxPathLen)
		}
		p.line(1, "basic constraints", v)
	}
	for _, e := range c.Extensions {
		v := fmt.Sprintf("%d bytes", e.Length)
		if e.Name != "" {
			v = e.Name + ", " + v
		}
		if e.Critical {
			v += ", critical"
		}
		if e.Value != "" {
			v += ": " + e.Value
		}
		p.line(1, "extension "+e.OID, v)
	}
	if x := c.SGX; x != nil {
		writeSGXExtensions(p, 1, x)
	}
}

func altNames(a *inspect.AltNames) []string {
	var out []string
	for _, n := range a.DNS {
		out = append(out, "DNS:"+n)
	}
	for _, n := range a.IP {
		out = append(out, "IP:"+n)
	}
	for _, n := range a.Email {
		out = append(out, "email:"+n)
	}
	for _, n := range a.URI {
		out = append(out, "URI:"+n)
	}
	return out
}

// writeSGXExtensions shows a PCK certificate's SGX extensions.
func writeSGXExtensions(p *printer, indent int, x *inspect.SGXExtensions) {
	p.line(indent, "SGX extensions", "")
	if x.Error != "" {
		p.line(indent+1, "error", x.Error)
		return
	}
	p.line(indent+1, "FMSPC", x.FMSPC)
	p.line(indent+1, "PCE ID", x.PCEID)
	p.line(indent+1, "SGX type", x.SGXType)
	comps := make([]string, len(x.TCBComponents))
	for i, c := range x.TCBComponents {
		comps[i] = fmt.Sprint(c)
	}
	p.line(indent+1, "TCB components", strings.Join(comps, " "))
	p.line(indent+1, "PCESVN", fmt.Sprint(x.PCESVN))
	p.line(indent+1, "CPUSVN", x.CPUSVN)
	p.line(indent+1, "PPID", x.PPID)
	if x.CA != "" {
		p.line(indent+1, "PCK CA", x.CA)
	}
	if x.PlatformInstanceID != "" {
		p.line(indent+1, "platform instance", x.PlatformInstanceID)
	}
	if c := x.Configuration; c != nil {
		p.line(indent+1, "configuration", fmt.Sprintf("dynamic platform %v, cached keys %v, SMT %v", c["dynamic_platform"], c["cached_keys"], c["smt_enabled"]))
	}
}

func signatureState(c *inspect.Certificate) string {
	switch {
	case c.SignatureValid && c.SelfSigned:
		return "self-signed, valid"
	case c.SignatureValid:
		return "valid (issuer in chain)"
	case c.SelfSigned:
		return "self-signed, INVALID"
	}
	return "issuer not provided, not checked"
}

func writeEvidence(p *printer, e *inspect.Evidence, inCert bool) {
	where := e.Format
	if e.OID != "" {
		where += ", extension " + e.OID
	}
	if e.CBORTag != nil {
		where += fmt.Sprintf(", CBOR tag %d (%s)", *e.CBORTag, e.TagName)
	}
	if len(e.Path) > 0 {
		where += ", CMW entry " + strings.Join(e.Path, "/")
	}
	p.line(1, "format", where)
	tee := e.TEE
	if tee == "" {
		tee = "unknown"
	}
	p.line(1, "TEE", fmt.Sprintf("%s (%s, %d bytes)", tee, e.Kind, e.Size))
	if e.Unsupported != "" {
		p.line(1, "note", e.Unsupported)
	}
	if q := e.Quote; q != nil {
		p.line(1, "quote", fmt.Sprintf("version %d, attestation key type %d, TEE type %#x, certification data type %d", q.Version, q.AttKeyType, q.TEEType, q.CertificationDataType))
		if q.TrailingBytes > 0 {
			p.line(1, "trailing bytes", fmt.Sprint(q.TrailingBytes))
		}
		p.line(1, "quoting enclave", fmt.Sprintf("isv_prod_id %v, isv_svn %v, mrsigner %v", q.QEReport.Get("isv_prod_id"), q.QEReport.Get("isv_svn"), q.QEReport.Get("mrsigner")))
		for i, c := range q.PCKChain {
			p.line(1, "PCK chain", fmt.Sprintf("%s (serial %s, %s .. %s, signature %s)", c.Subject, c.Serial, c.NotBefore, c.NotAfter, signatureState(c)))
			if i == 0 && c.SGX != nil {
				writeSGXExtensions(p, 2, c.SGX)
			}
		}
	}
	if r := e.SNPReport; r != nil {
		p.fields(1, *r)
	}
	if t := e.CCAToken; t != nil {
		p.line(1, "token form", t.Form)
	}
	writeAzure(p, e.Azure)
	if len(e.Measurements) > 0 {
		p.line(1, "measurements", "")
		p.fields(2, e.Measurements)
	}
	if e.ReportData != "" {
		p.line(1, "report data", e.ReportData)
	}
	writeEventLog(p, e.EventLog)
	if c := e.Claims; c != nil {
		p.line(1, "claims", "")
		p.line(2, "pubkey-hash", c.PubKeyHashAlg+":"+c.PubKeyHash)
		if c.Nonce != "" {
			p.line(2, "nonce", c.Nonce)
		}
		for k, v := range c.Unknown {
			p.line(2, k, v+" (unknown claim, ignored)")
		}
	}
	if inCert || e.KeyBinding != "not-applicable" {
		b := e.KeyBinding
		if e.BindingRule != "" {
			b += " (" + e.BindingRule + ")"
		}
		p.line(1, "key binding", b)
		if e.BindingDetail != "" {
			p.line(2, "detail", e.BindingDetail)
		}
	}
}

type printer struct{ w io.Writer }

func (p *printer) section(title string) { fmt.Fprintf(p.w, "\n%s\n", title) }

func (p *printer) line(indent int, name, value string) {
	pad := strings.Repeat("  ", indent)
	if value == "" {
		fmt.Fprintf(p.w, "%s%s:\n", pad, name)
		return
	}
	fmt.Fprintf(p.w, "%s%-*s %s\n", pad, 18-2*indent, name+":", value)
}

func (p *printer) fields(indent int, fs inspect.Fields) {
	for _, f := range fs {
		switch v := f.Value.(type) {
		case []string:
			for i, s := range v {
				p.line(indent, fmt.Sprintf("%s[%d]", f.Name, i), s)
			}
		case []inspect.Fields:
			for i, sub := range v {
				p.line(indent, fmt.Sprintf("%s[%d]", f.Name, i), "")
				p.fields(indent+1, sub)
			}
		case inspect.Fields:
			p.line(indent, f.Name, "")
			p.fields(indent+1, v)
		default:
			p.line(indent, f.Name, fmt.Sprint(v))
		}
	}
}

// collateralTitles name the kinds of collateral items.
var collateralTitles = map[string]string{
	"tcb_info": "TCB Info", "qe_identity": "QE Identity", "pck_crl": "PCK CRL", "root_ca_crl": "Root CA CRL",
}

func writeCollateral(p *printer, c *inspect.Collateral) {
	for _, it := range c.Items {
		p.section(collateralTitles[it.Kind])
		if it.Where != "" {
			p.line(1, "from", it.Where)
		}
		p.fields(1, it.Fields)
		for i, ch := range it.IssuerChain {
			p.line(1, fmt.Sprintf("issuer chain[%d]", i), ch)
		}
		for i, l := range it.Levels {
			p.line(1, fmt.Sprintf("TCB level %d", i+1), levelSummary(l))
		}
		for _, m := range it.TDXModuleIdentities {
			p.line(1, "TDX module", fmt.Sprint(m.Get("id")))
			p.fields(2, m)
		}
		if len(it.Revoked) > 0 {
			p.line(1, "revoked", strings.Join(it.Revoked, ", "))
		}
	}
	for i, cert := range c.PCKCertificateChain {
		p.section(fmt.Sprintf("PCK certificate chain %d", i+1))
		writeCertificate(p, cert)
	}
	for _, s := range c.Ignored {
		p.line(0, "ignored", s)
	}
}

// levelSummary puts one TCB level on a line: status, date, advisories,
// then the components.
func levelSummary(l inspect.Fields) string {
	var parts []string
	for _, f := range l {
		switch v := f.Value.(type) {
		case []string:
			if len(v) > 0 {
				parts = append(parts, f.Name+" "+strings.Join(v, ","))
			}
		case []uint32:
			s := make([]string, len(v))
			for i, n := range v {
				s[i] = fmt.Sprint(n)
			}
			parts = append(parts, f.Name+" "+strings.Join(s, " "))
		default:
			parts = append(parts, fmt.Sprintf("%s %v", f.Name, v))
		}
	}
	return strings.Join(parts, ", ")
}
