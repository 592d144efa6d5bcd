// Package amdtest is a throw-away PKI shaped like AMD's SEV-SNP PKI for
// Milan: an ARK, an ASK and an ASVK (RSA, signed with RSASSA-PSS and
// SHA-384, named "ARK-Milan", "SEV-Milan" and "SEV-VLEK-Milan"), a VCEK and
// a VLEK (ECDSA P-384) with AMD's certificate extensions, and reports,
// CRLs and certificate tables signed or built with them. It lets tests
// outside verify/amd forge SEV-SNP evidence; trust it with
// amd.Config{ExtraRoots: []*x509.Certificate{pki.ARK}}.
//
// The package is meant for tests only: keys are kept in memory in the clear.
package amdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/ratls/ratls/evidence/snp"
)

// Validity of every certificate of a PKI.
var (
	NotBefore = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	NotAfter  = time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Serial numbers of the certificates of a PKI.
const (
	SerialARK  = 1
	SerialASK  = 2
	SerialASVK = 3
	SerialVCEK = 4
	SerialVLEK = 5
)

// PKI is a test ARK with its intermediates and endorsement keys. Reports
// carry ChipID and TCB, which the VCEK and VLEK certificates name.
type PKI struct {
	ARK, ASK, ASVK, VCEK, VLEK *x509.Certificate
	ARKKey, ASKKey, ASVKKey    *rsa.PrivateKey
	VCEKKey, VLEKKey           *ecdsa.PrivateKey
	ChipID                     [64]byte
	TCB                        snp.TCBVersion // bl 3, tee 0, snp 8, ucode 115
}

// OIDs of AMD's VCEK/VLEK certificate extensions (1.3.6.1.4.1.3704.1).
var (
	oidProductName = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 2}
	oidSPL         = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3} // .1 to .8
	oidHWID        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 4}
	oidCSPID       = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 5}
)

// New generates a PKI. RSA key generation makes it take a moment: create
// one per test binary.
func New() (*PKI, error) {
	p := &PKI{TCB: snp.TCBVersion(0x7308000000000003)}
	for i := range p.ChipID {
		p.ChipID[i] = byte(i + 1)
	}
	var err error
	for _, k := range []**rsa.PrivateKey{&p.ARKKey, &p.ASKKey, &p.ASVKKey} {
		if *k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
	}
	for _, k := range []**ecdsa.PrivateKey{&p.VCEKKey, &p.VLEKKey} {
		if *k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			return nil, err
		}
	}
	ark := authority(SerialARK, "ARK-Milan")
	if p.ARK, err = create(ark, ark, &p.ARKKey.PublicKey, p.ARKKey); err != nil {
		return nil, err
	}
	if p.ASK, err = create(authority(SerialASK, "SEV-Milan"), p.ARK, &p.ASKKey.PublicKey, p.ARKKey); err != nil {
		return nil, err
	}
	if p.ASVK, err = create(authority(SerialASVK, "SEV-VLEK-Milan"), p.ARK, &p.ASVKKey.PublicKey, p.ARKKey); err != nil {
		return nil, err
	}
	exts, err := p.leafExtensions(false)
	if err != nil {
		return nil, err
	}
	vcek := &x509.Certificate{SerialNumber: big.NewInt(SerialVCEK), Subject: pkix.Name{CommonName: "SEV-VCEK"}, ExtraExtensions: exts}
	if p.VCEK, err = create(vcek, p.ASK, &p.VCEKKey.PublicKey, p.ASKKey); err != nil {
		return nil, err
	}
	if exts, err = p.leafExtensions(true); err != nil {
		return nil, err
	}
	vlek := &x509.Certificate{SerialNumber: big.NewInt(SerialVLEK), Subject: pkix.Name{CommonName: "SEV-VLEK"}, ExtraExtensions: exts}
	if p.VLEK, err = create(vlek, p.ASVK, &p.VLEKKey.PublicKey, p.ASVKKey); err != nil {
		return nil, err
	}
	return p, nil
}

func authority(serial int64, cn string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"ratls test PKI"}},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

func create(tmpl, parent *x509.Certificate, pub, priv any) (*x509.Certificate, error) {
	tmpl.SignatureAlgorithm = x509.SHA384WithRSAPSS
	tmpl.NotBefore, tmpl.NotAfter = NotBefore, NotAfter
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// leafExtensions are AMD's extensions of a VCEK (with hwID) or a VLEK
// (with cspID) issued for p.TCB.
func (p *PKI) leafExtensions(vlek bool) ([]pkix.Extension, error) {
	var exts []pkix.Extension
	add := func(id asn1.ObjectIdentifier, v any, params string) error {
		b, err := asn1.MarshalWithParams(v, params)
		exts = append(exts, pkix.Extension{Id: id, Value: b})
		return err
	}
	if err := add(oidProductName, "Milan-B0", "ia5"); err != nil {
		return nil, err
	}
	tcb := p.TCB.Bytes() // bl, tee, spl4..7, snp, ucode
	for i, b := range []byte{tcb[0], tcb[1], tcb[6], tcb[2], tcb[3], tcb[4], tcb[5], tcb[7]} {
		if err := add(append(append(asn1.ObjectIdentifier{}, oidSPL...), i+1), int(b), ""); err != nil {
			return nil, err
		}
	}
	if vlek {
		return exts, add(oidCSPID, "ratls-test-csp", "ia5")
	}
	return append(exts, pkix.Extension{Id: oidHWID, Value: p.ChipID[:]}), nil
}

// Report returns a version 3 Milan report with reportData, p.ChipID and
// p.TCB, signed by the VCEK or the VLEK. edit, when not nil, changes the
// report before it is signed.
func (p *PKI) Report(key snp.SigningKey, reportData [64]byte, edit func(*snp.Report)) ([]byte, error) {
	signer := p.VCEKKey
	switch key {
	case snp.SigningKeyVCEK:
	case snp.SigningKeyVLEK:
		signer = p.VLEKKey
	default:
		return nil, fmt.Errorf("amdtest: signing key: want VCEK or VLEK, got %s", key)
	}
	rep := &snp.Report{
		Version:       3,
		Policy:        snp.Policy(1<<17 | 1<<16), // the reserved bit, SMT allowed
		SignatureAlgo: snp.SignatureAlgoECDSAP384SHA384,
		CurrentTCB:    p.TCB,
		SignerInfo:    snp.SignerInfo(uint32(key) << 2),
		ReportData:    reportData,
		ReportedTCB:   p.TCB,
		CPUIDFamilyID: 0x19, CPUIDModelID: 0x01, CPUIDStepping: 1, // Milan B1
		ChipID:       p.ChipID,
		CommittedTCB: p.TCB,
		LaunchTCB:    p.TCB,
		CurrentMajor: 1, CurrentMinor: 55, CurrentBuild: 21,
		CommittedMajor: 1, CommittedMinor: 55, CommittedBuild: 21,
	}
	if edit != nil {
		edit(rep)
	}
	digest := sha512.Sum384(rep.SignedData())
	r, s, err := ecdsa.Sign(rand.Reader, signer, digest[:])
	if err != nil {
		return nil, err
	}
	rep.SignatureR, rep.SignatureS = [72]byte{}, [72]byte{}
	// The report stores R and S little-endian.
	for i, b := range r.FillBytes(make([]byte, 48)) {
		rep.SignatureR[47-i] = b
	}
	for i, b := range s.FillBytes(make([]byte, 48)) {
		rep.SignatureS[47-i] = b
	}
	return rep.Marshal(), nil
}

// CRL returns a CRL of the ARK, as KDS serves them, revoking the given
// certificates.
func (p *PKI) CRL(number int64, thisUpdate, nextUpdate time.Time, revoked ...*x509.Certificate) (*x509.RevocationList, error) {
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: thisUpdate, NextUpdate: nextUpdate,
		SignatureAlgorithm: x509.SHA384WithRSAPSS}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, p.ARK, p.ARKKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseRevocationList(der)
}

// GUIDs of the certificate table entries.
const (
	GUIDVCEK = snp.GUIDVCEK
	GUIDVLEK = snp.GUIDVLEK
	GUIDASK  = snp.GUIDASK // the ASK, or the ASVK for a VLEK
	GUIDARK  = snp.GUIDARK
	GUIDCRL  = snp.GUIDCRL
)

// CertTable returns the certificate table a host attaches to an extended
// report (configfs-tsm's auxblob): the VCEK or VLEK, its intermediate, the
// ARK and, when crl is not nil, the CRL.
func (p *PKI) CertTable(key snp.SigningKey, crl *x509.RevocationList) []byte {
	t := &snp.CertTable{VCEK: p.VCEK.Raw, ASK: p.ASK.Raw, ARK: p.ARK.Raw}
	if key == snp.SigningKeyVLEK {
		t.VCEK, t.VLEK, t.ASK = nil, p.VLEK.Raw, p.ASVK.Raw
	}
	if crl != nil {
		t.CRL = crl.Raw
	}
	return t.Marshal()
}
