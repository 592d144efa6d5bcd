package evidence

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
)

// BindingStatus is the outcome of checking that evidence vouches for a
// certificate's public key.
type BindingStatus string

// Binding outcomes.
const (
	BindingOK            BindingStatus = "ok"             // the evidence binds this key
	BindingMismatch      BindingStatus = "mismatch"       // it binds something else
	BindingAbsent        BindingStatus = "absent"         // the format carries no binding to check
	BindingNotApplicable BindingStatus = "not-applicable" // no certificate to bind to
)

// Binding rules, named in results so a reader knows which convention matched.
const (
	// RuleClaimsSHA256: report_data = SHA-256(claims-buffer) ‖ 32 zero bytes,
	// and the claims' pubkey-hash is the hash of the certificate's SPKI.
	RuleClaimsSHA256 = "claims-sha256"
	// RuleClaimsSHA384: the Intel SGX SDK TDX variant, report_data =
	// SHA-384(claims-buffer) ‖ 16 zero bytes.
	RuleClaimsSHA384 = "claims-sha384"
	// RuleSPKISHA256: report_data = SHA-256(DER SubjectPublicKeyInfo) ‖ zeros
	// (Gramine / sgx-ra-tls legacy extension, EGo).
	RuleSPKISHA256 = "spki-sha256"
	// RulePKCS1SHA256: report_data = SHA-256(DER PKCS#1 RSAPublicKey) ‖ zeros
	// (Enclave-TLS / rats-tls before the interoperable format).
	RulePKCS1SHA256 = "pkcs1-sha256"
	// RulePEMSHA256: report_data = SHA-256(PEM public key ‖ NUL) ‖ zeros
	// (Open Enclave remote reports).
	RulePEMSHA256 = "pem-sha256"
	// RuleOECustomClaims: the Open Enclave custom-claims buffer is the PEM
	// public key and report_data = SHA-256(custom claims) ‖ zeros.
	RuleOECustomClaims = "oe-custom-claims"
)

// Binding reports whether and how evidence binds a certificate key.
type Binding struct {
	Status BindingStatus
	Rule   string // the rule that matched, or that was checked on mismatch
	Detail string // what was compared, with expected and actual values
}

// CheckBinding checks that the item's evidence vouches for cert's public key
// under the rule of its format. It never returns BindingOK unless the bytes
// the TEE signed (report_data) commit to this exact key.
func (it *Item) CheckBinding(cert *x509.Certificate) Binding {
	if cert == nil {
		return Binding{Status: BindingNotApplicable, Detail: "no certificate: raw evidence binds no key"}
	}
	rd := it.ReportData()
	if rd == nil {
		return Binding{Status: BindingAbsent, Detail: fmt.Sprintf("%s evidence: report data not available, nothing binds the key", it.Kind)}
	}
	spki := cert.RawSubjectPublicKeyInfo
	switch {
	case it.Claims != nil:
		return checkClaimsBinding(it.Claims, rd, spki)
	case it.OEFormatID != nil:
		return checkOECustomClaims(it.OECustomClaims, rd, spki)
	case it.Format == FormatGramineLegacy || it.Format == FormatIntelSDKLegacy || it.Format == FormatOpenEnclave:
		return checkKeyDigestBinding(rd, cert, it.Format)
	}
	return Binding{Status: BindingAbsent, Detail: fmt.Sprintf("%s evidence in %s format carries no claims buffer binding the key", it.Kind, it.Format)}
}

// BoundBy reports whether report data (the bytes the TEE signed) commits
// to this claims buffer, and under which rule: SHA-256 of the buffer, or
// SHA-384 (Intel SGX SDK TDX convention), followed by zero bytes. Claims
// that are not bound are the peer's word, not the hardware's: nothing in
// them may be used.
func (c *Claims) BoundBy(rd []byte) (rule string, ok bool) {
	h256 := sha256.Sum256(c.Raw)
	if zeroPadded(rd, h256[:]) {
		return RuleClaimsSHA256, true
	}
	h384 := sha512.Sum384(c.Raw)
	if zeroPadded(rd, h384[:]) {
		return RuleClaimsSHA384, true
	}
	return RuleClaimsSHA256, false
}

// ClaimsBindingDetail explains a claims buffer that report data does not
// bind, with the expected and actual values.
func ClaimsBindingDetail(c *Claims, rd []byte) string {
	h256 := sha256.Sum256(c.Raw)
	return fmt.Sprintf("report_data: want SHA-256(claims-buffer) %x followed by zeros, got %s", h256, hex.EncodeToString(rd))
}

func checkClaimsBinding(c *Claims, rd, spki []byte) Binding {
	if want := c.PubKeyHashAlg.Sum(spki); !bytes.Equal(want, c.PubKeyHash) {
		return Binding{Status: BindingMismatch, Rule: RuleClaimsSHA256,
			Detail: fmt.Sprintf("pubkey-hash: claims name %s:%x, the certificate key hashes to %x", c.PubKeyHashAlg, c.PubKeyHash, want)}
	}
	switch rule, ok := c.BoundBy(rd); {
	case !ok:
		return Binding{Status: BindingMismatch, Rule: rule, Detail: ClaimsBindingDetail(c, rd)}
	case rule == RuleClaimsSHA384:
		return Binding{Status: BindingOK, Rule: rule, Detail: "report_data = SHA-384(claims-buffer) (Intel SGX SDK TDX convention); pubkey-hash matches the certificate key"}
	default:
		return Binding{Status: BindingOK, Rule: rule, Detail: "report_data = SHA-256(claims-buffer); pubkey-hash matches the certificate key"}
	}
}

func checkOECustomClaims(custom, rd, spki []byte) Binding {
	h := sha256.Sum256(custom)
	if !zeroPadded(rd, h[:]) {
		return Binding{Status: BindingMismatch, Rule: RuleOECustomClaims,
			Detail: fmt.Sprintf("report_data: want SHA-256(custom claims) %x followed by zeros, got %s", h, hex.EncodeToString(rd))}
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	if bytes.Equal(bytes.TrimSuffix(custom, []byte{0}), pemKey) {
		return Binding{Status: BindingOK, Rule: RuleOECustomClaims, Detail: "custom claims = the certificate's PEM public key; report_data = SHA-256(custom claims)"}
	}
	return Binding{Status: BindingMismatch, Rule: RuleOECustomClaims,
		Detail: fmt.Sprintf("custom claims (%d bytes) are not the certificate's PEM public key", len(custom))}
}

// checkKeyDigestBinding checks the legacy rules where report_data is a digest
// of the key itself.
func checkKeyDigestBinding(rd []byte, cert *x509.Certificate, f Format) Binding {
	spkiHash := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	if zeroPadded(rd, spkiHash[:]) {
		return Binding{Status: BindingOK, Rule: RuleSPKISHA256, Detail: "report_data = SHA-256(SubjectPublicKeyInfo)"}
	}
	if rsaKey, ok := cert.PublicKey.(*rsa.PublicKey); ok {
		h := sha256.Sum256(x509.MarshalPKCS1PublicKey(rsaKey))
		if zeroPadded(rd, h[:]) {
			return Binding{Status: BindingOK, Rule: RulePKCS1SHA256, Detail: "report_data = SHA-256(PKCS#1 RSAPublicKey)"}
		}
	}
	if f == FormatOpenEnclave {
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: cert.RawSubjectPublicKeyInfo})
		h := sha256.Sum256(append(pemKey, 0))
		if zeroPadded(rd, h[:]) {
			return Binding{Status: BindingOK, Rule: RulePEMSHA256, Detail: "report_data = SHA-256(PEM public key ‖ NUL)"}
		}
	}
	return Binding{Status: BindingMismatch, Rule: RuleSPKISHA256,
		Detail: fmt.Sprintf("report_data: want SHA-256(SubjectPublicKeyInfo) %x followed by zeros, got %s", spkiHash, hex.EncodeToString(rd))}
}

// zeroPadded reports whether rd is digest followed only by zero bytes.
func zeroPadded(rd, digest []byte) bool {
	if len(rd) < len(digest) || !bytes.Equal(rd[:len(digest)], digest) {
		return false
	}
	for _, b := range rd[len(digest):] {
		if b != 0 {
			return false
		}
	}
	return true
}
