package ratls

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/ratls/ratls/evidence"
)

// An Attester produces TEE evidence whose report data is the given 64 bytes.
// Implementations live in the attest packages (real TEEs and a simulator).
type Attester interface {
	Attest(ctx context.Context, reportData [64]byte) (*evidence.Evidence, error)
}

// AttesterFunc adapts a function to the Attester interface.
type AttesterFunc func(ctx context.Context, reportData [64]byte) (*evidence.Evidence, error)

// Attest calls f.
func (f AttesterFunc) Attest(ctx context.Context, reportData [64]byte) (*evidence.Evidence, error) {
	return f(ctx, reportData)
}

// KeyAlgorithm selects the certificate key type.
type KeyAlgorithm string

// Key algorithms. ECDSA P-256 with ecdsa-with-SHA256 is the only choice that
// every peer verifier (Gramine, rats-tls, rats-rs, the Intel SGX SDK)
// accepts, so it is the default.
const (
	KeyECDSAP256 KeyAlgorithm = "ecdsa-p256"
	KeyECDSAP384 KeyAlgorithm = "ecdsa-p384"
	KeyRSA3072   KeyAlgorithm = "rsa-3072"
)

// GenerateKey creates a private key of the given algorithm ("" means P-256).
func GenerateKey(alg KeyAlgorithm) (crypto.Signer, error) {
	switch alg {
	case "", KeyECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	}
	return nil, fmt.Errorf("ratls: unknown key algorithm %q (want %s, %s or %s)", alg, KeyECDSAP256, KeyECDSAP384, KeyRSA3072)
}

// DefaultValidity is the lifetime of a certificate when none is given. It is
// short because evidence describes the TEE at one moment; renew rather than
// stretch it.
const DefaultValidity = 24 * time.Hour

// CertificateOptions controls CreateCertificate. The zero value gives a
// self-signed, interoperable certificate valid for DefaultValidity.
type CertificateOptions struct {
	// Subject defaults to CN=ratls.
	Subject pkix.Name
	// DNSNames are optional subject alternative names. Attested peers check
	// the attested identity, not names, but plain TLS clients may need them.
	DNSNames []string
	// NotBefore defaults to one minute before Now (clock skew); NotAfter to
	// NotBefore + one minute + Validity.
	NotBefore, NotAfter time.Time
	// Validity is used when NotAfter is zero; defaults to DefaultValidity.
	Validity time.Duration
	// Now returns the current time; defaults to time.Now.
	Now func() time.Time

	// PubKeyHash is the claims buffer's pubkey-hash algorithm; default SHA-256.
	PubKeyHash evidence.HashAlg
	// Nonce, when non-nil, is put in the claims buffer's nonce claim.
	Nonce []byte
	// Endorsements, when non-nil, are added as the 2.23.133.5.4.2 extension;
	// when nil, those the attester returned with its evidence (if any).
	Endorsements *evidence.Endorsements
	// LegacyGramine adds Gramine's legacy extension (the mis-encoded OID
	// 1.2.840.113741.1337.6) holding a second quote whose report_data is
	// SHA-256(SubjectPublicKeyInfo), for verifiers older than Gramine 1.8.
	// It requires an attester that produces DCAP quotes.
	LegacyGramine bool

	// Parent and ParentKey issue the certificate from a CA; when nil the
	// certificate is self-signed by its own key.
	Parent    *x509.Certificate
	ParentKey crypto.Signer

	// Rand is the randomness source for the serial number and signature;
	// defaults to crypto/rand.
	Rand io.Reader
}

// CreateCertificate builds an RA-TLS certificate for key: it hashes the
// key's SubjectPublicKeyInfo into a claims buffer, asks att for evidence
// whose report data is SHA-256(claims buffer), and puts
// tag([evidence, claims]) in the non-critical 2.23.133.5.4.9 extension. It
// returns the DER certificate.
//
// The certificate is an end-entity certificate (CA:FALSE). Go's
// CheckSignatureFrom refuses non-CA issuers, so check a self-signed RA-TLS
// certificate's signature with CheckSelfSignature.
func CreateCertificate(ctx context.Context, key crypto.Signer, att Attester, opts *CertificateOptions) ([]byte, error) {
	if key == nil || att == nil {
		return nil, errors.New("ratls: CreateCertificate needs a key and an attester")
	}
	var o CertificateOptions
	if opts != nil {
		o = *opts
	}
	if o.PubKeyHash == 0 {
		o.PubKeyHash = evidence.SHA256
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if (o.Parent == nil) != (o.ParentKey == nil) {
		return nil, errors.New("ratls: CertificateOptions.Parent and ParentKey must be set together")
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("ratls: certificate key: %w", err)
	}

	claims, err := evidence.NewClaims(spki, o.PubKeyHash, o.Nonce)
	if err != nil {
		return nil, fmt.Errorf("ratls: %w", err)
	}
	var rd [64]byte
	h := sha256.Sum256(claims)
	copy(rd[:], h[:])
	ev, err := attest(ctx, att, rd)
	if err != nil {
		return nil, err
	}
	value, err := evidence.EncodeTagged(ev.Tag, ev.Data, claims)
	if err != nil {
		return nil, fmt.Errorf("ratls: %w", err)
	}
	exts := []pkix.Extension{{Id: evidence.OIDTaggedEvidence, Value: value}}

	if o.LegacyGramine {
		if ev.Tag != evidence.TagIntelQuote {
			return nil, fmt.Errorf("ratls: the legacy Gramine extension needs a DCAP quote (tag %d), the attester produced tag %d", evidence.TagIntelQuote, ev.Tag)
		}
		var legacyRD [64]byte
		h := sha256.Sum256(spki)
		copy(legacyRD[:], h[:])
		legacy, err := attest(ctx, att, legacyRD)
		if err != nil {
			return nil, err
		}
		exts = append(exts, pkix.Extension{Id: evidence.OIDGramineLegacyMisencoded, Value: legacy.Data})
	}
	if o.Endorsements == nil {
		o.Endorsements = ev.Endorsements
	}
	if o.Endorsements != nil {
		e, err := o.Endorsements.Marshal()
		if err != nil {
			return nil, fmt.Errorf("ratls: %w", err)
		}
		exts = append(exts, pkix.Extension{Id: evidence.OIDEndorsements, Value: e})
	}

	tmpl, err := certificateTemplate(&o, spki, key.Public())
	if err != nil {
		return nil, err
	}
	tmpl.ExtraExtensions = exts
	parent, signer := tmpl, key
	if o.Parent != nil {
		parent, signer = o.Parent, o.ParentKey
	}
	der, err := x509.CreateCertificate(o.Rand, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("ratls: creating certificate: %w", err)
	}
	return der, nil
}

func attest(ctx context.Context, att Attester, rd [64]byte) (*evidence.Evidence, error) {
	ev, err := att.Attest(ctx, rd)
	if err != nil {
		return nil, fmt.Errorf("ratls: attester: %w", err)
	}
	if ev == nil || len(ev.Data) == 0 {
		return nil, errors.New("ratls: attester returned no evidence")
	}
	return ev, nil
}

func certificateTemplate(o *CertificateOptions, spki []byte, pub crypto.PublicKey) (*x509.Certificate, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	notBefore, notAfter := o.NotBefore, o.NotAfter
	if notBefore.IsZero() {
		notBefore = now().Add(-time.Minute)
	}
	if notAfter.IsZero() {
		v := o.Validity
		if v == 0 {
			v = DefaultValidity
		}
		notAfter = notBefore.Add(time.Minute + v)
	}
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("ratls: certificate validity: NotAfter %s is not after NotBefore %s", notAfter.Format(time.RFC3339), notBefore.Format(time.RFC3339))
	}
	serial, err := rand.Int(o.Rand, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("ratls: serial number: %w", err)
	}
	subject := o.Subject
	if subject.String() == "" {
		subject = pkix.Name{CommonName: "ratls"}
	}
	keyUsage := x509.KeyUsageDigitalSignature
	if _, isRSA := pub.(*rsa.PublicKey); isRSA {
		keyUsage |= x509.KeyUsageKeyEncipherment
	}
	ski := subjectKeyID(spki)
	t := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)), // never zero
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              keyUsage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		SubjectKeyId:          ski,
		DNSNames:              o.DNSNames,
	}
	if o.Parent == nil {
		t.AuthorityKeyId = ski
	}
	return t, nil
}

// subjectKeyID derives a key identifier from the SubjectPublicKeyInfo: the
// leftmost 160 bits of the SHA-256 of the subjectPublicKey bits (RFC 7093 §2).
func subjectKeyID(spki []byte) []byte {
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		h := sha256.Sum256(spki)
		return h[:20]
	}
	h := sha256.Sum256(info.PublicKey.Bytes)
	return h[:20]
}

// CheckSelfSignature verifies that a self-signed certificate is signed by its
// own key. Unlike cert.CheckSignatureFrom(cert), it accepts end-entity
// (CA:FALSE) certificates, which is what RA-TLS certificates are.
func CheckSelfSignature(cert *x509.Certificate) error {
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		return fmt.Errorf("ratls: certificate self-signature: %w", err)
	}
	return nil
}
