package dcapsim

import (
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"slices"
	"time"
)

// OIDSGXExtensions is the Intel SGX Extensions certificate extension of
// PCK certificates.
var OIDSGXExtensions = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}

// SGX types carried in the PCK certificate (OID suffix .5).
const (
	SGXTypeStandard              = 0
	SGXTypeScalable              = 1
	SGXTypeScalableWithIntegrity = 2
)

// PlatformConfiguration is the Configuration entry (OID suffix .7) of PCK
// certificates issued by the platform CA.
type PlatformConfiguration struct {
	DynamicPlatform bool
	CachedKeys      bool
	SMTEnabled      bool
}

// PCKOptions describes a PCK certificate.
type PCKOptions struct {
	// CA is [CAPlatform] (default) or [CAProcessor].
	CA string
	// FMSPC and PCEID identify the platform family and the PCE.
	FMSPC [6]byte
	PCEID [2]byte
	// CompSVN are the 16 SGX TCB component SVNs and PCESVN the PCE SVN
	// of the certified TCB level (TCBm).
	CompSVN [16]uint8
	PCESVN  uint16
	// CPUSVN is the raw CPU SVN of the certified TCB level. Zero means
	// CompSVN as bytes, which is what real certificates carry.
	CPUSVN [16]byte
	// PPID is the platform provisioning ID; zero means random.
	PPID [16]byte
	// SGXType is one of SGXTypeStandard, SGXTypeScalable,
	// SGXTypeScalableWithIntegrity.
	SGXType int
	// PlatformInstanceID (zero means random) and Configuration are written
	// only when CA is the platform CA, as in Intel's certificates.
	PlatformInstanceID [16]byte
	Configuration      PlatformConfiguration
	// NotBefore and NotAfter default to Now-30d and Now+7y.
	NotBefore, NotAfter time.Time
	// Key is the PCK key; nil means a new one.
	Key *ecdsa.PrivateKey
	// ExtensionValue, when non-nil, replaces the DER value of the SGX
	// extension, for tests of malformed extensions.
	ExtensionValue []byte
}

// PCK is a PCK certificate with its key and chain.
type PCK struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// ChainPEM is the PCK certificate, its CA and the root, in PEM: the
	// content of quote certification data type 5 (without the NUL that
	// quoting enclaves append).
	ChainPEM []byte
	// Options are the options the certificate was made from, with defaults
	// applied (CA, CPUSVN, PPID and PlatformInstanceID filled in).
	Options PCKOptions
}

// NewPCK issues a PCK certificate from the platform or processor CA. Its
// subject is "<prefix> PCK Certificate"; its extensions are, in Intel's
// order, the authority key ID, the CRL distribution point of the CA's PCK
// CRL, the subject key ID, key usage digitalSignature+nonRepudiation
// (critical), basic constraints cA=FALSE (critical) and the SGX extension.
func (p *PKI) NewPCK(o PCKOptions) (*PCK, error) {
	if o.CA == "" {
		o.CA = CAPlatform
	}
	ca, caKey, err := p.PCKCA(o.CA)
	if err != nil {
		return nil, err
	}
	if o.CPUSVN == ([16]byte{}) {
		o.CPUSVN = o.CompSVN
	}
	if o.PPID == ([16]byte{}) {
		if err := p.randomBytes(o.PPID[:]); err != nil {
			return nil, err
		}
	}
	if o.CA == CAPlatform && o.PlatformInstanceID == ([16]byte{}) {
		if err := p.randomBytes(o.PlatformInstanceID[:]); err != nil {
			return nil, err
		}
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = p.Now.AddDate(0, 0, -30)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = p.Now.AddDate(7, 0, 0)
	}
	if o.Key == nil {
		if o.Key, err = p.newKey(); err != nil {
			return nil, err
		}
	}
	ext := o.ExtensionValue
	if ext == nil {
		if ext, err = SGXExtensionValue(o); err != nil {
			return nil, err
		}
	}
	cert, key, err := p.issue(certSpec{
		commonName: p.prefix + " PCK Certificate",
		validity:   Validity{o.NotBefore, o.NotAfter},
		crlURL:     p.pckCRLURLBase + "?ca=" + o.CA + "&encoding=der",
		key:        o.Key,
		extra:      []pkix.Extension{{Id: OIDSGXExtensions, Value: ext}},
	}, ca, caKey)
	if err != nil {
		return nil, fmt.Errorf("dcaptest: PCK certificate: %w", err)
	}
	chain := certPEM(cert)
	chain = append(chain, certPEM(ca)...)
	chain = append(chain, certPEM(p.Root)...)
	return &PCK{Cert: cert, Key: key, ChainPEM: chain, Options: o}, nil
}

// sgxOID returns OIDSGXExtensions extended by arcs.
func sgxOID(arcs ...int) asn1.ObjectIdentifier {
	return append(slices.Clone(OIDSGXExtensions), arcs...)
}

// sgxEntry is one SEQUENCE { OID, value } of the SGX extension.
type sgxEntry struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

// entry encodes SEQUENCE { id, value }.
func entry(id asn1.ObjectIdentifier, value any) (asn1.RawValue, error) {
	v, err := asn1.Marshal(value)
	if err != nil {
		return asn1.RawValue{}, fmt.Errorf("dcaptest: SGX extension entry %v: %w", id, err)
	}
	b, err := asn1.Marshal(sgxEntry{id, asn1.RawValue{FullBytes: v}})
	return asn1.RawValue{FullBytes: b}, err
}

// SGXExtensionValue returns the DER value of the SGX extension for o:
//
//	SEQUENCE {
//	  SEQUENCE { .1 PPID, OCTET STRING (16) }
//	  SEQUENCE { .2 TCB, SEQUENCE {
//	      SEQUENCE { .2.1 .. .2.16 SGX TCB comp SVN, INTEGER } x16
//	      SEQUENCE { .2.17 PCESVN, INTEGER }
//	      SEQUENCE { .2.18 CPUSVN, OCTET STRING (16) } } }
//	  SEQUENCE { .3 PCE-ID, OCTET STRING (2) }
//	  SEQUENCE { .4 FMSPC, OCTET STRING (6) }
//	  SEQUENCE { .5 SGX Type, ENUMERATED }
//	  -- platform CA only:
//	  SEQUENCE { .6 PlatformInstanceID, OCTET STRING (16) }
//	  SEQUENCE { .7 Configuration, SEQUENCE {
//	      SEQUENCE { .7.1 dynamicPlatform, BOOLEAN }
//	      SEQUENCE { .7.2 cachedKeys, BOOLEAN }
//	      SEQUENCE { .7.3 SMTEnabled, BOOLEAN } } }
//	}
//
// Fields are used as given: no defaults are applied, and a zero CPUSVN is
// written as zero.
func SGXExtensionValue(o PCKOptions) ([]byte, error) {
	tcb := make([]asn1.RawValue, 0, 18)
	for i, svn := range o.CompSVN {
		e, err := entry(sgxOID(2, i+1), int(svn))
		if err != nil {
			return nil, err
		}
		tcb = append(tcb, e)
	}
	pcesvn, err := entry(sgxOID(2, 17), int(o.PCESVN))
	if err != nil {
		return nil, err
	}
	cpusvn, err := entry(sgxOID(2, 18), o.CPUSVN[:])
	if err != nil {
		return nil, err
	}
	tcb = append(tcb, pcesvn, cpusvn)

	type idValue struct {
		id    asn1.ObjectIdentifier
		value any
	}
	values := []idValue{
		{sgxOID(1), o.PPID[:]},
		{sgxOID(2), tcb},
		{sgxOID(3), o.PCEID[:]},
		{sgxOID(4), o.FMSPC[:]},
		{sgxOID(5), asn1.Enumerated(o.SGXType)},
	}
	if o.CA == CAPlatform || o.CA == "" {
		config := make([]asn1.RawValue, 0, 3)
		for i, flag := range []bool{o.Configuration.DynamicPlatform, o.Configuration.CachedKeys, o.Configuration.SMTEnabled} {
			e, err := entry(sgxOID(7, i+1), flag)
			if err != nil {
				return nil, err
			}
			config = append(config, e)
		}
		values = append(values, idValue{sgxOID(6), o.PlatformInstanceID[:]}, idValue{sgxOID(7), config})
	}
	entries := make([]asn1.RawValue, 0, len(values))
	for _, v := range values {
		e, err := entry(v.id, v.value)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return asn1.Marshal(entries)
}
