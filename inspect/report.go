// Package inspect describes RA-TLS certificates and raw TEE evidence as
// structured, stable reports: what a certificate is, which evidence it
// carries, what that evidence measures and whether it binds the key. It
// verifies nothing beyond a certificate's self-signature; see the verify
// packages for that.
//
// It is what "ratls inspect" prints and what the evidence explorer
// (package explore) decodes.
//
// The JSON field names are a documented interface (docs/cli.md).
package inspect

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/ratls/ratls/evidence"
)

// Source kinds.
const (
	SourceCertificate = "certificate"
	SourceEvidence    = "evidence"
)

// Report describes one input.
type Report struct {
	// Source is "certificate", "evidence" or "collateral".
	Source string `json:"source"`
	// Input names where the bytes came from (a file or host:port).
	Input string `json:"input,omitempty"`
	// Certificate is the leaf certificate, for certificate sources.
	Certificate *Certificate `json:"certificate,omitempty"`
	// Chain lists further certificates that came with the leaf.
	Chain []*Certificate `json:"chain,omitempty"`
	// Evidence lists every evidence item, the preferred one first.
	Evidence []*Evidence `json:"evidence"`
	// Endorsements describes the endorsements extension, when present.
	Endorsements *Endorsements `json:"endorsements,omitempty"`
	// Collateral describes verification collateral (Source "collateral").
	Collateral *Collateral `json:"collateral,omitempty"`

	// Certs are the parsed certificates (leaf first) and Items the parsed
	// evidence, in the order of Evidence, for callers that go on to verify.
	Certs []*x509.Certificate `json:"-"`
	Items []*evidence.Item    `json:"-"`
}

// Certificate describes an X.509 certificate.
type Certificate struct {
	Subject            string `json:"subject"`
	Issuer             string `json:"issuer"`
	Serial             string `json:"serial"`
	NotBefore          string `json:"not_before"`
	NotAfter           string `json:"not_after"`
	PublicKey          string `json:"public_key"`
	PublicKeySHA256    string `json:"public_key_sha256"` // SHA-256 of the DER SubjectPublicKeyInfo
	SignatureAlgorithm string `json:"signature_algorithm"`
	IsCA               bool   `json:"is_ca"`
	// SelfSigned: issuer equals subject. SignatureValid: the signature
	// verifies with the certificate's own key (self-signed) or with the next
	// certificate in the chain; false when there is nothing to check against.
	SelfSigned     bool         `json:"self_signed"`
	SignatureValid bool         `json:"signature_valid"`
	Extensions     []*Extension `json:"extensions"`

	// The remaining fields complete what openssl x509 -text shows.
	Version                int               `json:"version"`
	PublicKeyHex           string            `json:"public_key_hex,omitempty"`
	AltNames               *AltNames         `json:"subject_alt_names,omitempty"`
	KeyUsage               []string          `json:"key_usage,omitempty"`
	ExtKeyUsage            []string          `json:"extended_key_usage,omitempty"`
	BasicConstraints       *BasicConstraints `json:"basic_constraints,omitempty"`
	SubjectKeyID           string            `json:"subject_key_id,omitempty"`
	AuthorityKeyID         string            `json:"authority_key_id,omitempty"`
	CRLDistributionPoints  []string          `json:"crl_distribution_points,omitempty"`
	OCSPServers            []string          `json:"ocsp_servers,omitempty"`
	IssuingCertificateURLs []string          `json:"issuing_certificate_urls,omitempty"`
	Policies               []string          `json:"policies,omitempty"`
	// SGX holds the SGX extensions of an Intel PCK certificate.
	SGX            *SGXExtensions `json:"sgx_extensions,omitempty"`
	SignatureValue string         `json:"signature_value"`
}

// Extension is one certificate extension.
type Extension struct {
	OID      string `json:"oid"`
	Name     string `json:"name,omitempty"`
	Critical bool   `json:"critical"`
	Length   int    `json:"length"`
	// Value describes the value of extensions ratls decodes.
	Value string `json:"value,omitempty"`
}

// Evidence describes one evidence item.
type Evidence struct {
	Format    string   `json:"format"`
	OID       string   `json:"oid,omitempty"`
	CBORTag   *uint64  `json:"cbor_tag,omitempty"`
	TagName   string   `json:"tag_name,omitempty"`
	Path      []string `json:"cmw_path,omitempty"`
	MediaType string   `json:"media_type,omitempty"`
	Kind      string   `json:"kind"`
	TEE       string   `json:"tee,omitempty"`
	Size      int      `json:"size"`

	Quote         *Quote       `json:"quote,omitempty"`
	Report        *Fields      `json:"report,omitempty"` // SGX report / TDREPORT structure facts
	SNPReport     *Fields      `json:"snp_report,omitempty"`
	CCAToken      *CCAToken    `json:"cca_token,omitempty"`
	OE            *OpenEnclave `json:"openenclave,omitempty"`
	Measurements  Fields       `json:"measurements,omitempty"`
	ReportData    string       `json:"report_data,omitempty"`
	Claims        *Claims      `json:"claims,omitempty"`
	KeyBinding    string       `json:"key_binding"`
	BindingRule   string       `json:"binding_rule,omitempty"`
	BindingDetail string       `json:"binding_detail,omitempty"`
	Unsupported   string       `json:"unsupported,omitempty"`
	// Azure describes Azure vTPM CVM evidence.
	Azure *AzureVTPM `json:"azure_vtpm,omitempty"`
	// EventLog describes the TCG event log that came with the evidence.
	EventLog *EventLog `json:"event_log,omitempty"`
	// Family describes evidence of a TEE family registered outside ratls
	// (tee.Describer), under the family's name.
	Family map[string]any `json:"family,omitempty"`
}

// Claims describes an Interoperable RA-TLS claims buffer.
type Claims struct {
	Raw           string            `json:"raw"`
	PubKeyHashAlg string            `json:"pubkey_hash_alg"`
	PubKeyHash    string            `json:"pubkey_hash"`
	Nonce         string            `json:"nonce,omitempty"`
	Unknown       map[string]string `json:"unknown,omitempty"` // name -> raw CBOR value (hex); never trusted
}

// OpenEnclave describes Open Enclave container fields.
type OpenEnclave struct {
	FormatID     string `json:"format_id,omitempty"`
	CustomClaims string `json:"custom_claims,omitempty"`
}

// Endorsements describes the endorsements extension.
type Endorsements struct {
	Empty        bool           `json:"empty"`
	Version      uint64         `json:"version"`
	VersionWidth int            `json:"version_width"`
	Sizes        map[string]int `json:"sizes,omitempty"` // entry name -> bytes
}

func describeCertificate(c *x509.Certificate, issuer *x509.Certificate) *Certificate {
	spki := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	out := &Certificate{
		Subject:            c.Subject.String(),
		Issuer:             c.Issuer.String(),
		Serial:             c.SerialNumber.Text(16),
		NotBefore:          c.NotBefore.UTC().Format(time.RFC3339),
		NotAfter:           c.NotAfter.UTC().Format(time.RFC3339),
		PublicKey:          describeKey(c.PublicKey),
		PublicKeySHA256:    hex.EncodeToString(spki[:]),
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
		IsCA:               c.IsCA,
		SelfSigned:         c.Subject.String() == c.Issuer.String(),
		Extensions:         []*Extension{},
	}
	switch {
	case issuer != nil:
		out.SignatureValid = c.CheckSignatureFrom(issuer) == nil
	case out.SelfSigned:
		out.SignatureValid = c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
	}
	for _, e := range c.Extensions {
		out.Extensions = append(out.Extensions, &Extension{OID: e.Id.String(), Name: extensionName(e.Id.String()), Critical: e.Critical, Length: len(e.Value)})
	}
	describeX509(out, c)
	return out
}

func describeKey(pub any) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

var extensionNames = map[string]string{
	"2.5.29.14":                         "subject key identifier",
	"2.5.29.15":                         "key usage",
	"2.5.29.17":                         "subject alternative name",
	"2.5.29.19":                         "basic constraints",
	"2.5.29.31":                         "CRL distribution points",
	"2.5.29.35":                         "authority key identifier",
	"2.5.29.37":                         "extended key usage",
	"2.5.29.32":                         "certificate policies",
	"1.3.6.1.5.5.7.1.1":                 "authority information access",
	evidence.OIDTaggedEvidence.String(): "tcg-dice-conceptual-message-wrapper (RA-TLS evidence)",
	evidence.OIDEndorsements.String():   "tcg-dice-endorsement-manifest (RA-TLS endorsements)",
	evidence.OIDCMW.String():            "id-pe-cmw",
	evidence.OIDGramineLegacy.String():  "sgx-ra-tls quote (legacy)",
	evidence.OIDGramineLegacyMisencoded.String(): "Gramine quote (legacy, mis-encoded OID)",
	evidence.OIDIntelSDKLegacy.String():          "Intel SGX SDK quote (legacy) / SGX PCK extensions",
	evidence.OIDOEReportOld.String():             "Open Enclave report (old)",
	evidence.OIDOEEvidenceOld.String():           "Open Enclave evidence (old)",
	evidence.OIDOEReport.String():                "Open Enclave / EGo report",
	evidence.OIDOEEvidence.String():              "Open Enclave evidence",
}

func extensionName(oid string) string { return extensionNames[oid] }

func describeEndorsements(e *evidence.Endorsements) *Endorsements {
	if e.Empty {
		return &Endorsements{Empty: true}
	}
	if s := e.SNP; s != nil {
		return &Endorsements{Version: e.Version, VersionWidth: e.VersionWidth, Sizes: map[string]int{
			"vcek_or_vlek": len(s.Leaf), "ask_or_asvk": len(s.Intermediate), "ark": len(s.Root), "crl": len(s.CRL),
		}}
	}
	return &Endorsements{
		Version:      e.Version,
		VersionWidth: e.VersionWidth,
		Sizes: map[string]int{
			"tcb_info":                 len(e.TCBInfo),
			"tcb_info_issuer_chain":    len(e.TCBInfoIssuerChain),
			"pck_crl":                  len(e.PCKCRL),
			"root_ca_crl":              len(e.RootCACRL),
			"pck_crl_issuer_chain":     len(e.PCKCRLIssuerChain),
			"qe_identity":              len(e.QEIdentity),
			"qe_identity_issuer_chain": len(e.QEIdentityIssuerChain),
			"creation_datetime":        len(e.CreationDateTime),
		},
	}
}
