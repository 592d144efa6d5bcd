package exportedauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"
)

// signatureContext is the context string of an authenticator's
// CertificateVerify (RFC 9261 Section 5.2.2).
const signatureContext = "Exported Authenticator"

// DefaultSignatureSchemes are the TLS 1.3 schemes this package signs and
// verifies, in the order requests built with it prefer them.
var DefaultSignatureSchemes = []tls.SignatureScheme{
	tls.ECDSAWithP256AndSHA256, tls.Ed25519, tls.ECDSAWithP384AndSHA384, tls.ECDSAWithP521AndSHA512,
	tls.PSSWithSHA256, tls.PSSWithSHA384, tls.PSSWithSHA512,
}

// signedContent is what an authenticator's CertificateVerify signs: 64
// spaces, the context string, a zero byte and the transcript hash.
func signedContent(transcriptHash []byte) []byte {
	b := make([]byte, 0, 64+len(signatureContext)+1+len(transcriptHash))
	for range 64 {
		b = append(b, 0x20)
	}
	b = append(b, signatureContext...)
	b = append(b, 0)
	return append(b, transcriptHash...)
}

// schemeFits reports whether scheme is a TLS 1.3 scheme usable with pub.
// TLS 1.3 ties each ECDSA scheme to one curve and allows RSA only with PSS
// (RFC 8446 Section 4.2.3); RSASSA-PKCS1-v1_5 and SHA-1 are excluded.
func schemeFits(scheme tls.SignatureScheme, pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch scheme {
		case tls.ECDSAWithP256AndSHA256:
			return k.Curve == elliptic.P256()
		case tls.ECDSAWithP384AndSHA384:
			return k.Curve == elliptic.P384()
		case tls.ECDSAWithP521AndSHA512:
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return scheme == tls.Ed25519
	case *rsa.PublicKey:
		switch scheme {
		case tls.PSSWithSHA256, tls.PSSWithSHA384, tls.PSSWithSHA512:
			return true
		}
	}
	return false
}

func schemeHash(scheme tls.SignatureScheme) crypto.Hash {
	switch scheme {
	case tls.ECDSAWithP256AndSHA256, tls.PSSWithSHA256:
		return crypto.SHA256
	case tls.ECDSAWithP384AndSHA384, tls.PSSWithSHA384:
		return crypto.SHA384
	case tls.ECDSAWithP521AndSHA512, tls.PSSWithSHA512:
		return crypto.SHA512
	}
	return 0 // Ed25519 signs the message itself
}

// chooseScheme picks the first of the peer's schemes (its order of
// preference) that key can sign with.
func chooseScheme(peer []tls.SignatureScheme, pub crypto.PublicKey) (tls.SignatureScheme, bool) {
	for _, s := range peer {
		if schemeFits(s, pub) {
			return s, true
		}
	}
	return 0, false
}

func sign(key crypto.Signer, scheme tls.SignatureScheme, content []byte) ([]byte, error) {
	h := schemeHash(scheme)
	var opts crypto.SignerOpts = h
	msg := content
	if h != 0 {
		d := h.New()
		d.Write(content)
		msg = d.Sum(nil)
	}
	if _, ok := key.Public().(*rsa.PublicKey); ok {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	return key.Sign(rand.Reader, msg, opts)
}

func verifySignature(pub crypto.PublicKey, scheme tls.SignatureScheme, content, sig []byte) error {
	if !schemeFits(scheme, pub) {
		return fmt.Errorf("scheme %s cannot be used with a %T key in TLS 1.3", scheme, pub)
	}
	h := schemeHash(scheme)
	msg := content
	if h != 0 {
		d := h.New()
		d.Write(content)
		msg = d.Sum(nil)
	}
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, msg, sig)
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, msg, sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPSS(k, h, msg, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	}
	if !ok {
		return errors.New("signature does not verify with the certificate's key")
	}
	return nil
}
