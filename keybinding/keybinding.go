// Package keybinding decides whether TEE evidence vouches for a
// certificate's public key: the key binding of RA-TLS.
//
// The TEE signs 64 bytes of report data that the attester chooses (SGX and
// TDX report_data, SEV-SNP REPORT_DATA, the Arm CCA realm challenge). The
// key is bound only when those signed bytes commit to it, under the rule of
// the evidence's format (the rule names are evidence.Rule*):
//
//   - evidence with a claims buffer (Interoperable RA-TLS tagged evidence,
//     as ratls, Gramine, rats-tls, rats-rs and the Intel SGX SDK write it):
//     report data is SHA-256 of the buffer followed by zero
//     bytes (RuleClaimsSHA256), or SHA-384 of it (RuleClaimsSHA384, the
//     Intel SGX SDK for TDX), and the buffer's pubkey-hash is the hash of
//     the certificate's SubjectPublicKeyInfo;
//   - Open Enclave evidence with custom claims: report data is SHA-256 of
//     the custom claims, which are the certificate's PEM public key
//     (RuleOECustomClaims);
//   - the legacy Gramine, Intel SGX SDK and Open Enclave report formats:
//     report data is SHA-256 of the DER SubjectPublicKeyInfo
//     (RuleSPKISHA256), of the PKCS#1 RSA public key (RulePKCS1SHA256), or,
//     for Open Enclave reports, of the PEM public key and a NUL byte
//     (RulePEMSHA256), followed by zero bytes.
//
// Check never returns evidence.BindingOK unless the signed report data
// commits to this exact key; formats with nothing to bind the key are
// BindingAbsent, never ok. It checks no signature: the verifiers decide
// whether the report data is the TEE's, and package ratls combines both
// verdicts. Package evidence only parses, and holds the vocabulary
// (evidence.Binding and its statuses and rule names) that this package,
// package appraise and package ratls share.
package keybinding

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"

	"github.com/ratls/ratls/evidence"
)

// Check checks that the item's evidence vouches for cert's public key under the
// rule of its format. It never returns BindingOK unless the bytes the TEE
// signed (report_data) commit to this exact key. A nil cert (raw evidence)
// is BindingNotApplicable.
func Check(it *evidence.Item, cert *x509.Certificate) evidence.Binding {
	if cert == nil {
		return evidence.Binding{Status: evidence.BindingNotApplicable, Detail: "no certificate: raw evidence binds no key"}
	}
	rd := it.ReportData()
	if rd == nil {
		return evidence.Binding{Status: evidence.BindingAbsent, Detail: fmt.Sprintf("%s evidence: report data not available, nothing binds the key", it.Kind)}
	}
	spki := cert.RawSubjectPublicKeyInfo
	switch {
	case it.Claims != nil:
		return checkClaims(it.Claims, rd, spki)
	case it.OEFormatID != nil:
		return checkOECustomClaims(it.OECustomClaims, rd, spki)
	case it.Format == evidence.FormatGramineLegacy || it.Format == evidence.FormatIntelSDKLegacy || it.Format == evidence.FormatOpenEnclave:
		return checkKeyDigest(rd, cert, it.Format)
	}
	return evidence.Binding{Status: evidence.BindingAbsent, Detail: fmt.Sprintf("%s evidence in %s format carries no claims buffer binding the key", it.Kind, it.Format)}
}

// ClaimsBound reports whether report data (the bytes the TEE signed)
// commits to the claims buffer c, and under which rule: SHA-256 of the
// buffer, or SHA-384 (Intel SGX SDK TDX convention), followed by zero
// bytes. Claims that are not bound are the peer's word, not the hardware's:
// nothing in them may be used. It says nothing about the certificate key;
// Check compares the claims' pubkey-hash with it too.
func ClaimsBound(c *evidence.Claims, rd []byte) (rule string, ok bool) {
	h256 := sha256.Sum256(c.Raw)
	if zeroPadded(rd, h256[:]) {
		return evidence.RuleClaimsSHA256, true
	}
	h384 := sha512.Sum384(c.Raw)
	if zeroPadded(rd, h384[:]) {
		return evidence.RuleClaimsSHA384, true
	}
	return evidence.RuleClaimsSHA256, false
}

// claimsBindingDetail explains a claims buffer that report data does not
// bind, with the expected and actual values.
func claimsBindingDetail(c *evidence.Claims, rd []byte) string {
	h256 := sha256.Sum256(c.Raw)
	return fmt.Sprintf("report_data: want SHA-256(claims-buffer) %x followed by zeros, got %s", h256, hex.EncodeToString(rd))
}

func checkClaims(c *evidence.Claims, rd, spki []byte) evidence.Binding {
	if want := c.PubKeyHashAlg.Sum(spki); !bytes.Equal(want, c.PubKeyHash) {
		return evidence.Binding{Status: evidence.BindingMismatch, Rule: evidence.RuleClaimsSHA256,
			Detail: fmt.Sprintf("pubkey-hash: claims name %s:%x, the certificate key hashes to %x", c.PubKeyHashAlg, c.PubKeyHash, want)}
	}
	switch rule, ok := ClaimsBound(c, rd); {
	case !ok:
		return evidence.Binding{Status: evidence.BindingMismatch, Rule: rule, Detail: claimsBindingDetail(c, rd)}
	case rule == evidence.RuleClaimsSHA384:
		return evidence.Binding{Status: evidence.BindingOK, Rule: rule, Detail: "report_data = SHA-384(claims-buffer) (Intel SGX SDK TDX convention); pubkey-hash matches the certificate key"}
	default:
		return evidence.Binding{Status: evidence.BindingOK, Rule: rule, Detail: "report_data = SHA-256(claims-buffer); pubkey-hash matches the certificate key"}
	}
}

func checkOECustomClaims(custom, rd, spki []byte) evidence.Binding {
	h := sha256.Sum256(custom)
	if !zeroPadded(rd, h[:]) {
		return evidence.Binding{Status: evidence.BindingMismatch, Rule: evidence.RuleOECustomClaims,
			Detail: fmt.Sprintf("report_data: want SHA-256(custom claims) %x followed by zeros, got %s", h, hex.EncodeToString(rd))}
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	if bytes.Equal(bytes.TrimSuffix(custom, []byte{0}), pemKey) {
		return evidence.Binding{Status: evidence.BindingOK, Rule: evidence.RuleOECustomClaims, Detail: "custom claims = the certificate's PEM public key; report_data = SHA-256(custom claims)"}
	}
	return evidence.Binding{Status: evidence.BindingMismatch, Rule: evidence.RuleOECustomClaims,
		Detail: fmt.Sprintf("custom claims (%d bytes) are not the certificate's PEM public key", len(custom))}
}

// checkKeyDigest checks the legacy rules where report_data is a digest of
// the key itself.
func checkKeyDigest(rd []byte, cert *x509.Certificate, f evidence.Format) evidence.Binding {
	spkiHash := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	if zeroPadded(rd, spkiHash[:]) {
		return evidence.Binding{Status: evidence.BindingOK, Rule: evidence.RuleSPKISHA256, Detail: "report_data = SHA-256(SubjectPublicKeyInfo)"}
	}
	if rsaKey, ok := cert.PublicKey.(*rsa.PublicKey); ok {
		h := sha256.Sum256(x509.MarshalPKCS1PublicKey(rsaKey))
		if zeroPadded(rd, h[:]) {
			return evidence.Binding{Status: evidence.BindingOK, Rule: evidence.RulePKCS1SHA256, Detail: "report_data = SHA-256(PKCS#1 RSAPublicKey)"}
		}
	}
	if f == evidence.FormatOpenEnclave {
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: cert.RawSubjectPublicKeyInfo})
		h := sha256.Sum256(append(pemKey, 0))
		if zeroPadded(rd, h[:]) {
			return evidence.Binding{Status: evidence.BindingOK, Rule: evidence.RulePEMSHA256, Detail: "report_data = SHA-256(PEM public key ‖ NUL)"}
		}
	}
	return evidence.Binding{Status: evidence.BindingMismatch, Rule: evidence.RuleSPKISHA256,
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
