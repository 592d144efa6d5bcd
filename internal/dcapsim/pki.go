package dcapsim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

// Names of the two PCK certificate authorities, as used by Intel's PCS in
// the "ca" query parameter and in CRL distribution point URLs.
const (
	CAPlatform  = "platform"
	CAProcessor = "processor"
)

// Defaults of [Options].
const (
	DefaultCommonNamePrefix = "Test SGX"
	DefaultOrganization     = "Test Corporation"
	DefaultRootCRLURL       = "https://certificates.example.com/TestSGXRootCA.der"
	DefaultPCKCRLURLBase    = "https://api.example.com/sgx/certification/v4/pckcrl"
)

// Validity is a certificate validity period. A zero field takes the
// documented default.
type Validity struct {
	NotBefore, NotAfter time.Time
}

// Options configures [New]. The zero value is usable.
type Options struct {
	// Now is the reference time everything is valid around. Zero means
	// the current time, truncated to the second.
	Now time.Time
	// Rand supplies key material, serial numbers, PPIDs and QE IDs. Nil means
	// crypto/rand. With a deterministic reader all output is
	// deterministic, since signatures use RFC 6979.
	Rand io.Reader
	// CommonNamePrefix starts every certificate common name, which then
	// reads "<prefix> Root CA", "<prefix> PCK Platform CA",
	// "<prefix> PCK Processor CA", "<prefix> TCB Signing" and
	// "<prefix> PCK Certificate". Default [DefaultCommonNamePrefix].
	CommonNamePrefix string
	// Organization is the O attribute of every certificate. Default
	// [DefaultOrganization]. The other name attributes are those of
	// Intel's certificates: L=Santa Clara, ST=CA, C=US.
	Organization string
	// RootValidity defaults to Now-1y .. Now+20y.
	RootValidity Validity
	// CAValidity (both PCK CAs) defaults to Now-1y .. Now+15y.
	CAValidity Validity
	// TCBSignerValidity defaults to Now-1y .. Now+7y.
	TCBSignerValidity Validity
	// RootCRLURL is the CRL distribution point of the root and of the
	// certificates it issues. Default [DefaultRootCRLURL].
	RootCRLURL string
	// PCKCRLURLBase is the PCK CRL endpoint named in PCK certificates,
	// completed with "?ca=platform&encoding=der" or
	// "?ca=processor&encoding=der". Default [DefaultPCKCRLURLBase].
	PCKCRLURLBase string
}

// PKI is a test imitation of Intel's SGX provisioning PKI: a root CA, the
// two PCK CAs it issues (platform and processor) and a TCB signing
// certificate for TCB Info and enclave identities. All keys are ECDSA P-256
// and all signatures ECDSA with SHA-256, as Intel's.
//
// Methods may be called concurrently if the random source allows it
// (crypto/rand does; math/rand/v2 generators do not).
type PKI struct {
	// Root is self-signed, CA with path length 1, like "Intel SGX Root CA".
	Root    *x509.Certificate
	RootKey *ecdsa.PrivateKey
	// PlatformCA and ProcessorCA issue PCK certificates and PCK CRLs
	// (CA with path length 0).
	PlatformCA, ProcessorCA       *x509.Certificate
	PlatformCAKey, ProcessorCAKey *ecdsa.PrivateKey
	// TCBSigner signs TCB Info and enclave identities, like
	// "Intel SGX TCB Signing"; it is issued by Root.
	TCBSigner    *x509.Certificate
	TCBSignerKey *ecdsa.PrivateKey
	// Now is the reference time everything is valid around.
	Now time.Time

	rand          io.Reader
	prefix, org   string
	rootCRLURL    string
	pckCRLURLBase string
}

// New creates the root, both PCK CAs and the TCB signer.
func New(opts Options) (*PKI, error) {
	p := &PKI{
		Now:           opts.Now.UTC().Truncate(time.Second),
		rand:          opts.Rand,
		prefix:        opts.CommonNamePrefix,
		org:           opts.Organization,
		rootCRLURL:    opts.RootCRLURL,
		pckCRLURLBase: opts.PCKCRLURLBase,
	}
	if opts.Now.IsZero() {
		p.Now = time.Now().UTC().Truncate(time.Second)
	}
	if p.rand == nil {
		p.rand = rand.Reader
	}
	if p.prefix == "" {
		p.prefix = DefaultCommonNamePrefix
	}
	if p.org == "" {
		p.org = DefaultOrganization
	}
	if p.rootCRLURL == "" {
		p.rootCRLURL = DefaultRootCRLURL
	}
	if p.pckCRLURLBase == "" {
		p.pckCRLURLBase = DefaultPCKCRLURLBase
	}

	var err error
	rootValidity := p.validity(opts.RootValidity, -1, 20)
	p.Root, p.RootKey, err = p.issue(certSpec{
		commonName: p.prefix + " Root CA",
		validity:   rootValidity,
		ca:         true,
		pathLen:    1,
		crlURL:     p.rootCRLURL,
	}, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("dcaptest: root CA: %w", err)
	}
	caValidity := p.validity(opts.CAValidity, -1, 15)
	p.PlatformCA, p.PlatformCAKey, err = p.issue(certSpec{
		commonName: p.prefix + " PCK Platform CA",
		validity:   caValidity,
		ca:         true,
		crlURL:     p.rootCRLURL,
	}, p.Root, p.RootKey)
	if err != nil {
		return nil, fmt.Errorf("dcaptest: PCK platform CA: %w", err)
	}
	p.ProcessorCA, p.ProcessorCAKey, err = p.issue(certSpec{
		commonName: p.prefix + " PCK Processor CA",
		validity:   caValidity,
		ca:         true,
		crlURL:     p.rootCRLURL,
	}, p.Root, p.RootKey)
	if err != nil {
		return nil, fmt.Errorf("dcaptest: PCK processor CA: %w", err)
	}
	p.TCBSigner, p.TCBSignerKey, err = p.issue(certSpec{
		commonName: p.prefix + " TCB Signing",
		validity:   p.validity(opts.TCBSignerValidity, -1, 7),
		crlURL:     p.rootCRLURL,
	}, p.Root, p.RootKey)
	if err != nil {
		return nil, fmt.Errorf("dcaptest: TCB signing certificate: %w", err)
	}
	return p, nil
}

// validity fills the zero fields of v with Now shifted by the given
// numbers of years.
func (p *PKI) validity(v Validity, yearsBefore, yearsAfter int) Validity {
	if v.NotBefore.IsZero() {
		v.NotBefore = p.Now.AddDate(yearsBefore, 0, 0)
	}
	if v.NotAfter.IsZero() {
		v.NotAfter = p.Now.AddDate(yearsAfter, 0, 0)
	}
	return v
}

// PCKCA returns the PCK CA certificate and key named by ca ("" means
// [CAPlatform]).
func (p *PKI) PCKCA(ca string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	switch ca {
	case CAPlatform, "":
		return p.PlatformCA, p.PlatformCAKey, nil
	case CAProcessor:
		return p.ProcessorCA, p.ProcessorCAKey, nil
	}
	return nil, nil, fmt.Errorf("dcaptest: PCK CA: want %q or %q, got %q", CAPlatform, CAProcessor, ca)
}

// RootPEM returns the root certificate in PEM form.
func (p *PKI) RootPEM() []byte { return certPEM(p.Root) }

// TCBIssuerChainPEM returns the issuer chain PCS sends with TCB Info and
// enclave identities: the TCB signing certificate, then the root, in PEM.
func (p *PKI) TCBIssuerChainPEM() []byte {
	return append(certPEM(p.TCBSigner), certPEM(p.Root)...)
}

// PCKCRLIssuerChainPEM returns the issuer chain of a PCK CRL: the PCK CA
// named by ca, then the root, in PEM.
func (p *PKI) PCKCRLIssuerChainPEM(ca string) ([]byte, error) {
	cert, _, err := p.PCKCA(ca)
	if err != nil {
		return nil, err
	}
	return append(certPEM(cert), certPEM(p.Root)...), nil
}

// RootCRL returns a DER CRL issued by the root that revokes the given
// serial numbers. Zero times default to Now-24h and thisUpdate+30 days.
func (p *PKI) RootCRL(revoked []*big.Int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	return p.crl(p.Root, p.RootKey, revoked, thisUpdate, nextUpdate)
}

// PCKCRL returns a DER CRL issued by the PCK CA named by ca ("platform" or
// "processor") that revokes the given serial numbers. Zero times default to
// Now-24h and thisUpdate+30 days.
func (p *PKI) PCKCRL(ca string, revoked []*big.Int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	cert, key, err := p.PCKCA(ca)
	if err != nil {
		return nil, err
	}
	return p.crl(cert, key, revoked, thisUpdate, nextUpdate)
}

// Object identifiers used in certificates and CRLs.
var (
	oidCommonName       = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidOrganization     = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidLocality         = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidProvince         = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidCountry          = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidSubjectKeyID     = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidCRLNumber        = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidCRLReason        = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidCRLDistribution  = asn1.ObjectIdentifier{2, 5, 29, 31}
	oidAuthorityKeyID   = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidECDSAWithSHA256  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
)

// certSpec describes a certificate to issue.
type certSpec struct {
	commonName string
	validity   Validity
	ca         bool
	pathLen    int
	crlURL     string
	key        *ecdsa.PrivateKey // nil: generate
	extra      []pkix.Extension  // appended after the standard extensions
}

// issue creates a certificate signed by parent (self-signed when parent is
// nil). Every extension is passed through ExtraExtensions so that their
// order and encoding are Intel's, not crypto/x509's: authority key ID, CRL
// distribution points, subject key ID, key usage (critical), basic
// constraints (critical), then spec.extra.
func (p *PKI) issue(spec certSpec, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key := spec.key
	if key == nil {
		var err error
		if key, err = p.newKey(); err != nil {
			return nil, nil, err
		}
	}
	subject, err := p.distinguishedName(spec.commonName)
	if err != nil {
		return nil, nil, err
	}
	ski, err := subjectKeyID(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	// Intel's root uses its key identifier as serial number and as
	// authority key identifier.
	serial, aki := new(big.Int).SetBytes(ski), ski
	if parent != nil {
		aki = parent.SubjectKeyId
		if serial, err = p.serialNumber(); err != nil {
			return nil, nil, err
		}
	}

	exts := make([]pkix.Extension, 0, 5+len(spec.extra))
	for _, build := range []func() (pkix.Extension, error){
		func() (pkix.Extension, error) { return authorityKeyIDExtension(aki) },
		func() (pkix.Extension, error) { return crlDistributionPointsExtension(spec.crlURL) },
		func() (pkix.Extension, error) { return subjectKeyIDExtension(ski) },
		func() (pkix.Extension, error) { return keyUsageExtension(spec.ca) },
		func() (pkix.Extension, error) { return basicConstraintsExtension(spec.ca, spec.pathLen) },
	} {
		ext, err := build()
		if err != nil {
			return nil, nil, err
		}
		exts = append(exts, ext)
	}
	exts = append(exts, spec.extra...)

	tmpl := &x509.Certificate{
		SerialNumber:       serial,
		RawSubject:         subject,
		NotBefore:          spec.validity.NotBefore.UTC().Truncate(time.Second),
		NotAfter:           spec.validity.NotAfter.UTC().Truncate(time.Second),
		SignatureAlgorithm: x509.ECDSAWithSHA256,
		ExtraExtensions:    exts,
	}
	signer := parentKey
	if parent == nil {
		parent, signer = tmpl, key
	}
	// A nil random source makes crypto/ecdsa sign deterministically.
	der, err := x509.CreateCertificate(nil, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// distinguishedName encodes CN, O, L, ST, C in that order, as Intel's
// names are: UTF8String values except the PrintableString country.
func (p *PKI) distinguishedName(commonName string) ([]byte, error) {
	type attribute struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	attrs := []struct {
		oid   asn1.ObjectIdentifier
		value string
		tag   int
	}{
		{oidCommonName, commonName, asn1.TagUTF8String},
		{oidOrganization, p.org, asn1.TagUTF8String},
		{oidLocality, "Santa Clara", asn1.TagUTF8String},
		{oidProvince, "CA", asn1.TagUTF8String},
		{oidCountry, "US", asn1.TagPrintableString},
	}
	rdns := make([]asn1.RawValue, 0, len(attrs))
	for _, a := range attrs {
		b, err := asn1.Marshal(attribute{a.oid, asn1.RawValue{Tag: a.tag, Bytes: []byte(a.value)}})
		if err != nil {
			return nil, err
		}
		rdns = append(rdns, asn1.RawValue{Tag: asn1.TagSet, IsCompound: true, Bytes: b})
	}
	return asn1.Marshal(rdns)
}

func authorityKeyIDExtension(id []byte) (pkix.Extension, error) {
	v, err := asn1.Marshal(struct {
		ID []byte `asn1:"optional,tag:0"`
	}{id})
	return pkix.Extension{Id: oidAuthorityKeyID, Value: v}, err
}

func subjectKeyIDExtension(id []byte) (pkix.Extension, error) {
	v, err := asn1.Marshal(id)
	return pkix.Extension{Id: oidSubjectKeyID, Value: v}, err
}

// crlDistributionPointsExtension encodes one distribution point with a
// full name made of one URI.
func crlDistributionPointsExtension(url string) (pkix.Extension, error) {
	uri, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(url)})
	if err != nil {
		return pkix.Extension{}, err
	}
	fullName, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: uri})
	if err != nil {
		return pkix.Extension{}, err
	}
	pointName := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: fullName}
	point, err := asn1.Marshal([]asn1.RawValue{pointName})
	if err != nil {
		return pkix.Extension{}, err
	}
	v, err := asn1.Marshal([]asn1.RawValue{{FullBytes: point}})
	return pkix.Extension{Id: oidCRLDistribution, Value: v}, err
}

// keyUsageExtension encodes Intel's key usages: certSign and cRLSign for
// CAs, digitalSignature and nonRepudiation otherwise.
func keyUsageExtension(ca bool) (pkix.Extension, error) {
	bits := asn1.BitString{Bytes: []byte{0xc0}, BitLength: 2} // digitalSignature, nonRepudiation
	if ca {
		bits = asn1.BitString{Bytes: []byte{0x06}, BitLength: 7} // keyCertSign, cRLSign
	}
	v, err := asn1.Marshal(bits)
	return pkix.Extension{Id: oidKeyUsage, Critical: true, Value: v}, err
}

func basicConstraintsExtension(ca bool, pathLen int) (pkix.Extension, error) {
	v := []byte{0x30, 0x00} // cA FALSE is the DER default, hence omitted
	if ca {
		var err error
		v, err = asn1.Marshal(struct {
			CA      bool
			PathLen int
		}{true, pathLen})
		if err != nil {
			return pkix.Extension{}, err
		}
	}
	return pkix.Extension{Id: oidBasicConstraints, Critical: true, Value: v}, nil
}

// subjectKeyID is the SHA-1 of the public key bits (RFC 5280 method 1).
func subjectKeyID(pub *ecdsa.PublicKey) ([]byte, error) {
	b, err := pub.Bytes()
	if err != nil {
		return nil, err
	}
	h := sha1.Sum(b)
	return h[:], nil
}

// newKey derives a P-256 key from p.rand, retrying the rare scalars that
// are out of range, so that a deterministic reader gives deterministic keys
// (crypto/ecdsa.GenerateKey ignores custom readers).
func (p *PKI) newKey() (*ecdsa.PrivateKey, error) {
	var b [32]byte
	for range 64 {
		if _, err := io.ReadFull(p.rand, b[:]); err != nil {
			return nil, fmt.Errorf("dcaptest: reading key material: %w", err)
		}
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), b[:]); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("dcaptest: random source gives no valid P-256 scalar")
}

// NewKey returns a fresh P-256 key drawn from the PKI's random source, for
// attestation keys and PCK keys chosen by the caller.
func (p *PKI) NewKey() (*ecdsa.PrivateKey, error) { return p.newKey() }

// serialNumber returns a positive 160-bit random serial. Like Intel's, it
// encodes in 21 bytes when the top bit is set.
func (p *PKI) serialNumber() (*big.Int, error) {
	b := make([]byte, 20)
	if _, err := io.ReadFull(p.rand, b); err != nil {
		return nil, fmt.Errorf("dcaptest: reading serial number: %w", err)
	}
	n := new(big.Int).SetBytes(b)
	if n.Sign() == 0 {
		n.SetInt64(1)
	}
	return n, nil
}

// randomBytes fills b from p.rand.
func (p *PKI) randomBytes(b []byte) error {
	if _, err := io.ReadFull(p.rand, b); err != nil {
		return fmt.Errorf("dcaptest: reading random bytes: %w", err)
	}
	return nil
}

// signASN1 signs SHA-256(msg) deterministically (RFC 6979) and returns the
// DER signature.
func signASN1(key *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	return key.Sign(nil, h[:], crypto.SHA256)
}

// signRaw signs SHA-256(msg) and returns r||s as two 32-byte big-endian
// integers, the form used in quotes and collateral.
func signRaw(key *ecdsa.PrivateKey, msg []byte) ([64]byte, error) {
	var out [64]byte
	der, err := signASN1(key, msg)
	if err != nil {
		return out, err
	}
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 {
		return out, fmt.Errorf("dcaptest: decoding ECDSA signature: %v", err)
	}
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return out, nil
}

// rawPublicKey returns the 64-byte X||Y form of a P-256 public key.
func rawPublicKey(pub *ecdsa.PublicKey) ([64]byte, error) {
	var out [64]byte
	b, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		return out, err
	}
	if len(b) != 65 {
		return out, fmt.Errorf("dcaptest: attestation key: want a P-256 key (65-byte point), got %d bytes", len(b))
	}
	copy(out[:], b[1:])
	return out, nil
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// crl encodes a version 2 CRL the way Intel's are: entries revoked at
// thisUpdate with reason keyCompromise, then the CRL number (1) and the
// authority key identifier, in that order. crypto/x509 would put the two
// extensions the other way round, so the list is assembled here.
func (p *PKI) crl(issuer *x509.Certificate, key *ecdsa.PrivateKey, revoked []*big.Int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	if thisUpdate.IsZero() {
		thisUpdate = p.Now.Add(-24 * time.Hour)
	}
	if nextUpdate.IsZero() {
		nextUpdate = thisUpdate.Add(30 * 24 * time.Hour)
	}
	thisUpdate = thisUpdate.UTC().Truncate(time.Second)
	nextUpdate = nextUpdate.UTC().Truncate(time.Second)

	type revokedCert struct {
		Serial     *big.Int
		Date       time.Time
		Extensions []pkix.Extension
	}
	type tbsCertList struct {
		Version    int
		Signature  pkix.AlgorithmIdentifier
		Issuer     asn1.RawValue
		ThisUpdate time.Time
		NextUpdate time.Time
		Revoked    []revokedCert    `asn1:"optional"`
		Extensions []pkix.Extension `asn1:"optional,explicit,tag:0"`
	}
	type certList struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}

	reason, err := asn1.Marshal(asn1.Enumerated(1)) // keyCompromise
	if err != nil {
		return nil, err
	}
	var entries []revokedCert // nil when empty: the field is then omitted
	for i, serial := range revoked {
		if serial == nil || serial.Sign() <= 0 {
			return nil, fmt.Errorf("dcaptest: CRL entry %d: want a positive serial number, got %v", i, serial)
		}
		entries = append(entries, revokedCert{
			Serial:     serial,
			Date:       thisUpdate,
			Extensions: []pkix.Extension{{Id: oidCRLReason, Value: reason}},
		})
	}
	number, err := asn1.Marshal(big.NewInt(1))
	if err != nil {
		return nil, err
	}
	aki, err := authorityKeyIDExtension(issuer.SubjectKeyId)
	if err != nil {
		return nil, err
	}
	alg := pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}
	tbs, err := asn1.Marshal(tbsCertList{
		Version:    1, // v2
		Signature:  alg,
		Issuer:     asn1.RawValue{FullBytes: issuer.RawSubject},
		ThisUpdate: thisUpdate,
		NextUpdate: nextUpdate,
		Revoked:    entries,
		Extensions: []pkix.Extension{{Id: oidCRLNumber, Value: number}, aki},
	})
	if err != nil {
		return nil, err
	}
	sig, err := signASN1(key, tbs)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(certList{
		TBS:       asn1.RawValue{FullBytes: tbs},
		Algorithm: alg,
		Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
}
