package inspect

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ratls/ratls/collateral/pcs"
)

// AltNames are the subject alternative names of a certificate.
type AltNames struct {
	DNS   []string `json:"dns,omitempty"`
	IP    []string `json:"ip,omitempty"`
	Email []string `json:"email,omitempty"`
	URI   []string `json:"uri,omitempty"`
}

// BasicConstraints is the basic constraints extension.
type BasicConstraints struct {
	CA bool `json:"ca"`
	// MaxPathLen is the path length constraint; absent when unlimited.
	MaxPathLen *int `json:"max_path_len,omitempty"`
}

// SGXExtensions are the SGX extensions of an Intel PCK certificate
// (OID 1.2.840.113741.1.13.1).
type SGXExtensions struct {
	FMSPC   string `json:"fmspc"`
	PCEID   string `json:"pce_id"`
	SGXType string `json:"sgx_type"`
	PPID    string `json:"ppid"`
	// TCBComponents are the 16 SGX TCB component SVNs, PCESVN and CPUSVN
	// the certificate was issued for.
	TCBComponents []int  `json:"tcb_components"`
	PCESVN        uint16 `json:"pce_svn"`
	CPUSVN        string `json:"cpu_svn"`
	// PlatformInstanceID and Configuration are in certificates of the
	// PCK Platform CA only.
	PlatformInstanceID string          `json:"platform_instance_id,omitempty"`
	Configuration      map[string]bool `json:"configuration,omitempty"`
	// CA is the issuing PCK CA: "processor" or "platform".
	CA string `json:"ca,omitempty"`
	// Error says why the extensions could not be decoded.
	Error string `json:"error,omitempty"`
}

// describeX509 fills the fields openssl x509 -text shows beyond the basics.
func describeX509(out *Certificate, c *x509.Certificate) {
	out.Version = c.Version
	out.SignatureValue = hex.EncodeToString(c.Signature)
	if len(c.DNSNames)+len(c.IPAddresses)+len(c.EmailAddresses)+len(c.URIs) > 0 {
		an := &AltNames{DNS: c.DNSNames, Email: c.EmailAddresses}
		for _, ip := range c.IPAddresses {
			an.IP = append(an.IP, ip.String())
		}
		for _, u := range c.URIs {
			an.URI = append(an.URI, u.String())
		}
		out.AltNames = an
	}
	out.KeyUsage = keyUsageNames(c.KeyUsage)
	for _, u := range c.ExtKeyUsage {
		out.ExtKeyUsage = append(out.ExtKeyUsage, extKeyUsageName(u))
	}
	for _, oid := range c.UnknownExtKeyUsage {
		out.ExtKeyUsage = append(out.ExtKeyUsage, oidName(oid))
	}
	if c.BasicConstraintsValid {
		bc := &BasicConstraints{CA: c.IsCA}
		if c.MaxPathLen > 0 || c.MaxPathLenZero {
			n := c.MaxPathLen
			bc.MaxPathLen = &n
		}
		out.BasicConstraints = bc
	}
	out.SubjectKeyID = hex.EncodeToString(c.SubjectKeyId)
	out.AuthorityKeyID = hex.EncodeToString(c.AuthorityKeyId)
	out.CRLDistributionPoints = c.CRLDistributionPoints
	out.OCSPServers = c.OCSPServer
	out.IssuingCertificateURLs = c.IssuingCertificateURL
	for _, p := range c.Policies {
		out.Policies = append(out.Policies, p.String())
	}
	if len(out.Policies) == 0 {
		for _, p := range c.PolicyIdentifiers {
			out.Policies = append(out.Policies, p.String())
		}
	}
	out.PublicKeyHex = publicKeyHex(c.PublicKey)
	for i, e := range c.Extensions {
		if v := extensionValue(c, e.Id); v != "" {
			out.Extensions[i].Value = v
		}
	}
	if hasExtension(c, pcs.OIDSGXExtensions) {
		out.SGX = describeSGXExtensions(c)
		if out.SGX.Error == "" {
			for _, e := range out.Extensions {
				if e.OID == pcs.OIDSGXExtensions.String() {
					e.Name = "Intel SGX PCK extensions"
					e.Value = "FMSPC " + out.SGX.FMSPC + ", PCE ID " + out.SGX.PCEID + ", " + out.SGX.SGXType
				}
			}
		}
	}
}

func hasExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}

// describeSGXExtensions decodes a PCK certificate's SGX extensions; a
// malformed extension is reported, not fatal.
func describeSGXExtensions(c *x509.Certificate) *SGXExtensions {
	out := &SGXExtensions{}
	if ca, err := pcs.CAType(c); err == nil {
		out.CA = string(ca)
	}
	e, err := pcs.ParsePCKExtensions(c)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	out.FMSPC = hex.EncodeToString(e.FMSPC[:])
	out.PCEID = hex.EncodeToString(e.PCEID[:])
	out.SGXType = e.SGXType.String()
	out.PPID = hex.EncodeToString(e.PPID[:])
	for _, c := range e.TCB.CompSVN {
		out.TCBComponents = append(out.TCBComponents, int(c))
	}
	out.PCESVN = e.TCB.PCESVN
	out.CPUSVN = hex.EncodeToString(e.TCB.CPUSVN[:])
	if e.PlatformInstanceID != nil {
		out.PlatformInstanceID = hex.EncodeToString(e.PlatformInstanceID[:])
	}
	if cfg := e.Configuration; cfg != nil {
		out.Configuration = map[string]bool{"dynamic_platform": cfg.DynamicPlatform, "cached_keys": cfg.CachedKeys, "smt_enabled": cfg.SMTEnabled}
	}
	return out
}

var keyUsages = []struct {
	bit  x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "Digital Signature"},
	{x509.KeyUsageContentCommitment, "Non Repudiation"},
	{x509.KeyUsageKeyEncipherment, "Key Encipherment"},
	{x509.KeyUsageDataEncipherment, "Data Encipherment"},
	{x509.KeyUsageKeyAgreement, "Key Agreement"},
	{x509.KeyUsageCertSign, "Certificate Sign"},
	{x509.KeyUsageCRLSign, "CRL Sign"},
	{x509.KeyUsageEncipherOnly, "Encipher Only"},
	{x509.KeyUsageDecipherOnly, "Decipher Only"},
}

// keyUsageNames names the key usage bits as openssl does.
func keyUsageNames(ku x509.KeyUsage) []string {
	var out []string
	for _, u := range keyUsages {
		if ku&u.bit != 0 {
			out = append(out, u.name)
		}
	}
	return out
}

var extKeyUsageNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:             "Any Extended Key Usage",
	x509.ExtKeyUsageServerAuth:      "TLS Web Server Authentication",
	x509.ExtKeyUsageClientAuth:      "TLS Web Client Authentication",
	x509.ExtKeyUsageCodeSigning:     "Code Signing",
	x509.ExtKeyUsageEmailProtection: "E-mail Protection",
	x509.ExtKeyUsageTimeStamping:    "Time Stamping",
	x509.ExtKeyUsageOCSPSigning:     "OCSP Signing",
}

func extKeyUsageName(u x509.ExtKeyUsage) string {
	if n, ok := extKeyUsageNames[u]; ok {
		return n
	}
	return fmt.Sprintf("extended key usage %d", int(u))
}

// TCG DICE extended key usages (tcg-dice-kp-*, 2.23.133.5.4.100.x).
var diceKeyPurposes = map[string]string{
	"6": "identityInit", "7": "identityLoc", "8": "attestInit", "9": "attestLoc",
	"10": "assertInit", "11": "assertLoc", "12": "eca",
}

// oidName names an extended key usage OID ratls knows, else gives it.
func oidName(oid asn1.ObjectIdentifier) string {
	s := oid.String()
	if rest, ok := strings.CutPrefix(s, "2.23.133.5.4.100."); ok {
		if n, ok := diceKeyPurposes[rest]; ok {
			return "tcg-dice-kp-" + n + " (" + s + ")"
		}
	}
	return s
}

// extensionValue describes a known extension's value in one line.
func extensionValue(c *x509.Certificate, oid asn1.ObjectIdentifier) string {
	switch oid.String() {
	case "2.5.29.14":
		return colonHex(c.SubjectKeyId)
	case "2.5.29.35":
		return colonHex(c.AuthorityKeyId)
	case "2.5.29.15":
		return strings.Join(keyUsageNames(c.KeyUsage), ", ")
	case "2.5.29.19":
		s := "CA:FALSE"
		if c.IsCA {
			s = "CA:TRUE"
		}
		if c.MaxPathLen > 0 || c.MaxPathLenZero {
			s += fmt.Sprintf(", pathlen:%d", c.MaxPathLen)
		}
		return s
	case "2.5.29.17":
		return strings.Join(altNameList(c), ", ")
	case "2.5.29.37":
		var names []string
		for _, u := range c.ExtKeyUsage {
			names = append(names, extKeyUsageName(u))
		}
		for _, o := range c.UnknownExtKeyUsage {
			names = append(names, oidName(o))
		}
		return strings.Join(names, ", ")
	case "2.5.29.31":
		return strings.Join(c.CRLDistributionPoints, ", ")
	case "1.3.6.1.5.5.7.1.1":
		var parts []string
		for _, u := range c.OCSPServer {
			parts = append(parts, "OCSP "+u)
		}
		for _, u := range c.IssuingCertificateURL {
			parts = append(parts, "CA Issuers "+u)
		}
		return strings.Join(parts, ", ")
	}
	return ""
}

func altNameList(c *x509.Certificate) []string {
	var out []string
	for _, n := range c.DNSNames {
		out = append(out, "DNS:"+n)
	}
	for _, ip := range c.IPAddresses {
		out = append(out, "IP:"+ip.String())
	}
	for _, e := range c.EmailAddresses {
		out = append(out, "email:"+e)
	}
	for _, u := range c.URIs {
		out = append(out, "URI:"+u.String())
	}
	return out
}

// colonHex writes bytes as openssl does, "AB:CD:…".
func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":")
}

// publicKeyHex is the public key's bytes: the uncompressed point of an EC
// key, the modulus of an RSA key, the Ed25519 key.
func publicKeyHex(pub any) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if ek, err := k.ECDH(); err == nil {
			return hex.EncodeToString(ek.Bytes())
		}
	case *rsa.PublicKey:
		return hex.EncodeToString(k.N.Bytes())
	case ed25519.PublicKey:
		return hex.EncodeToString(k)
	}
	return ""
}
