package amd

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unsafe"

	"github.com/ratls/ratls/evidence/snp"
)

// checkError is a failed check's detail and class.
type checkError struct {
	class  error
	detail string
}

func (e *checkError) Error() string { return e.detail }
func (e *checkError) Unwrap() error { return e.class }

func errorf(class error, format string, args ...any) *checkError {
	return &checkError{class: class, detail: fmt.Sprintf(format, args...)}
}

// OIDs of the AMD VCEK/VLEK certificate extensions (arc 1.3.6.1.4.1.3704.1).
var (
	oidProductName   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 2}
	oidBootloaderSPL = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 1}
	oidTEESPL        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 2}
	oidSNPSPL        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 3}
	oidSPL4          = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 4} // .3.4 to .3.7
	oidMicrocodeSPL  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 8}
	oidFMCSPL        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 9}
	oidHWID          = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 4}
	oidCSPID         = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 5}
)

// Bits of certExtensions.have for the SPLs the Milan/Genoa comparison needs.
const (
	haveBL = 1 << iota
	haveTEE
	haveSNP
	haveUcode
	haveAllTCB = haveBL | haveTEE | haveSNP | haveUcode
)

// certExtensions are the AMD extensions of a VCEK or VLEK certificate.
type certExtensions struct {
	productName string // productName1, e.g. "Milan-B0"; "" when absent
	tcb         CertTCB
	have        int    // which required SPLs are present
	hwID        []byte // VCEK only: 64 bytes (Milan, Genoa) or 8 (Turin)
	cspID       string // VLEK only
}

// parseExtensions decodes the AMD extensions of c. Extensions it does not
// know are ignored; known ones must be well-formed.
func parseExtensions(c *x509.Certificate) (*certExtensions, error) {
	e := &certExtensions{}
	for _, x := range c.Extensions {
		id := x.Id
		var err error
		switch {
		case id.Equal(oidProductName):
			e.productName, err = ia5(x.Value)
		case id.Equal(oidBootloaderSPL):
			e.tcb.Bootloader, err = spl(x.Value)
			e.have |= haveBL
		case id.Equal(oidTEESPL):
			e.tcb.TEE, err = spl(x.Value)
			e.have |= haveTEE
		case id.Equal(oidSNPSPL):
			e.tcb.SNP, err = spl(x.Value)
			e.have |= haveSNP
		case id.Equal(oidMicrocodeSPL):
			e.tcb.Microcode, err = spl(x.Value)
			e.have |= haveUcode
		case id.Equal(oidFMCSPL):
			e.tcb.FMC, err = spl(x.Value)
			e.tcb.HasFMC = true
		case len(id) == len(oidSPL4) && id[:len(id)-1].Equal(oidSPL4[:len(id)-1]) && id[len(id)-1] >= 4 && id[len(id)-1] <= 7:
			e.tcb.SPL4to7[id[len(id)-1]-4], err = spl(x.Value)
		case id.Equal(oidHWID):
			// The value is the raw chip ID, not a DER OCTET STRING.
			if n := len(x.Value); n != 64 && n != 8 {
				err = fmt.Errorf("want 64 or 8 bytes, got %d", n)
			}
			e.hwID = x.Value
		case id.Equal(oidCSPID):
			e.cspID, err = ia5(x.Value)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("certificate extension %s: %v", id, err)
		}
	}
	return e, nil
}

// spl decodes a DER INTEGER in 0..255.
func spl(b []byte) (uint8, error) {
	var n int64
	rest, err := asn1.Unmarshal(b, &n)
	if err != nil {
		return 0, err
	}
	if len(rest) != 0 {
		return 0, fmt.Errorf("%d trailing bytes", len(rest))
	}
	if n < 0 || n > 255 {
		return 0, fmt.Errorf("security patch level: want 0..255, got %d", n)
	}
	return uint8(n), nil
}

// ia5 decodes a DER IA5String of at most 256 ASCII bytes. (encoding/asn1
// would accept any string type when decoding into a string.)
func ia5(b []byte) (string, error) {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(b, &v)
	if err != nil {
		return "", err
	}
	if len(rest) != 0 {
		return "", fmt.Errorf("%d trailing bytes", len(rest))
	}
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagIA5String || v.IsCompound {
		return "", fmt.Errorf("want an IA5String (tag 22), got class %d tag %d", v.Class, v.Tag)
	}
	if len(v.Bytes) > 256 {
		return "", fmt.Errorf("string of %d bytes: want at most 256", len(v.Bytes))
	}
	for _, c := range v.Bytes {
		if c >= 0x80 {
			return "", fmt.Errorf("IA5String holds non-ASCII byte 0x%02x", c)
		}
	}
	return string(v.Bytes), nil
}

// certProduct returns the product a certificate's productName extension
// names ("Milan-B0" names Milan), "" when it has none.
func certProduct(c *x509.Certificate) (product, name string, err error) {
	for _, x := range c.Extensions {
		if !x.Id.Equal(oidProductName) {
			continue
		}
		if name, err = ia5(x.Value); err != nil {
			return "", "", fmt.Errorf("certificate productName extension: %v", err)
		}
		product, _, _ = strings.Cut(name, "-")
		return product, name, nil
	}
	return "", "", nil
}

// verifiedIssuer is an ASK or ASVK whose signature by a trusted ARK, and
// the ARK's self-signature, have been checked. It is verified once, cached
// by the exact certificates it was verified from, and shared by every chip
// it certifies: a new chip costs its own certificate's signature only.
type verifiedIssuer struct {
	intermediate, root *x509.Certificate
	anchor             Anchor
	window             Window // intersection of the intermediate's and the ARK's validity
}

// leafFacts are what checks and results use of a VCEK or VLEK certificate;
// the certificate itself is not kept.
type leafFacts struct {
	cn                  string
	serial              *big.Int
	notBefore, notAfter time.Time
}

// verifiedChain is a VCEK or VLEK certificate whose signatures have been
// checked up to a trusted ARK. Signatures do not depend on time, so it is
// cached by a hash of the exact certificate bytes; validity and revocation
// are checked on every use.
type verifiedChain struct {
	*verifiedIssuer
	leaf   leafFacts
	ext    *certExtensions
	key    *ecdsa.PublicKey
	window Window // intersection of the three certificates' validity
}

// Estimated memory of a cached chip: the structures, the extensions with a
// 64-byte hwID, the P-384 key (two big.Int coordinates) and the serial
// number, rounded up as the allocator does (measured by TestChipMemory).
const chainBaseSize = int64(unsafe.Sizeof(verifiedChain{})+unsafe.Sizeof(certExtensions{})) + 64 +
	int64(unsafe.Sizeof(ecdsa.PublicKey{})) + 2*(int64(unsafe.Sizeof(big.Int{}))+48) + int64(unsafe.Sizeof(big.Int{})) + 128

func (c *verifiedChain) size() int64 {
	return chainBaseSize + int64(len(c.leaf.cn)+len(c.ext.productName)+len(c.ext.cspID)) + int64(len(c.leaf.serial.Bits()))*8
}

// roleNames names the certificate that signs reports and its issuer.
func roleNames(kind snp.SigningKey, product string) (leaf, issuer, issuerCN string) {
	if kind == snp.SigningKeyVLEK {
		return "VLEK", "ASVK", asvkName(product)
	}
	return "VCEK", "ASK", askName(product)
}

// chainKey identifies what a verification of certs for product and kind
// depends on, by a hash of the exact bytes.
func chainKey(product string, kind snp.SigningKey, certs []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	h.Write(append([]byte(product), 0, byte(kind)))
	for _, c := range certs {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(c.Raw))))
		h.Write(c.Raw)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// verifyChain checks certs (VCEK or VLEK, then optionally its ASK or ASVK,
// then optionally the ARK) against the trusted ARK of product. Missing
// intermediates are taken from the embedded AMD certificates. The issuer
// and the ARK are verified once for all the chips they certify.
func (v *Verifier) verifyChain(product string, kind snp.SigningKey, certs []*x509.Certificate) (*verifiedChain, error) {
	leafRole, issuerRole, _ := roleNames(kind, product)
	key := chainKey(product, kind, certs[1:])
	iss, ok := v.issuers.Get(key)
	if !ok {
		var err error
		if iss, err = v.verifyIssuer(product, kind, certs); err != nil {
			return nil, err
		}
		v.issuers.Add(key, iss, int64(len(iss.intermediate.Raw)+len(iss.root.Raw))*3)
	}
	leaf, inter := certs[0], iss.intermediate
	if err := checkIssued(leafRole, leaf, inter, issuerRole); err != nil {
		return nil, err
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		return nil, errorf(ErrMalformed, "%s public key: want ECDSA P-384, got %T", leafRole, leaf.PublicKey)
	}
	ext, err := parseExtensions(leaf)
	if err != nil {
		return nil, errorf(ErrMalformed, "%s %v", leafRole, err)
	}
	ext.hwID = bytes.Clone(ext.hwID) // not the certificate's bytes, which are not kept
	return &verifiedChain{verifiedIssuer: iss, ext: ext, key: pub,
		leaf:   leafFacts{cn: leaf.Subject.CommonName, serial: leaf.SerialNumber, notBefore: leaf.NotBefore, notAfter: leaf.NotAfter},
		window: Window{From: leaf.NotBefore, Until: leaf.NotAfter}.Intersect(iss.window)}, nil
}

// verifyIssuer checks the issuer of certs[0] (certs[1], or the embedded
// ASK or ASVK of product) and its ARK (certs[2], or a trusted ARK of
// product that signed the issuer).
func (v *Verifier) verifyIssuer(product string, kind snp.SigningKey, certs []*x509.Certificate) (*verifiedIssuer, error) {
	leafRole, issuerRole, issuerCN := roleNames(kind, product)
	var inter, root *x509.Certificate
	if len(certs) > 1 {
		inter = certs[1]
		if inter.Subject.CommonName != issuerCN {
			return nil, errorf(ErrChain, "%s: want the %s %q, got %q (a %s must chain to the %s of its product)",
				issuerRole, issuerRole, issuerCN, inter.Subject.CommonName, leafRole, issuerRole)
		}
	} else if v.roots.amd {
		if inter = genuineASK(product); kind == snp.SigningKeyVLEK {
			inter = genuineASVK(product)
		}
	}
	if inter == nil {
		return nil, errorf(ErrChain, "no %s given for the %s and the embedded AMD certificates are disabled", issuerRole, leafRole)
	}
	if len(certs) > 2 {
		r, err := v.roots.anchor(product, certs[2])
		if err != nil {
			return nil, errorf(ErrChain, "%v", err)
		}
		root = r
	} else {
		for _, r := range v.roots.rootsFor(product) {
			if bytes.Equal(r.RawSubject, inter.RawIssuer) && inter.CheckSignatureFrom(r) == nil {
				root = r
				break
			}
		}
		if root == nil {
			return nil, errorf(ErrChain, "%s %q (issuer %q) is not signed by a trusted %s root", issuerRole,
				inter.Subject.CommonName, inter.Issuer.CommonName, product)
		}
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		return nil, errorf(ErrChain, "ARK %q is not self-signed: %v", root.Subject.CommonName, err)
	}
	if err := checkIssued(issuerRole, inter, root, "ARK"); err != nil {
		return nil, err
	}
	return &verifiedIssuer{intermediate: inter, root: root, anchor: v.roots.describe(root, product),
		window: Window{From: inter.NotBefore, Until: inter.NotAfter}.Intersect(Window{From: root.NotBefore, Until: root.NotAfter})}, nil
}

// checkIssued checks that by (whose role is issuerTag) issued and signed
// cert (whose role is role) with RSASSA-PSS and SHA-384.
func checkIssued(role string, cert, by *x509.Certificate, issuerTag string) error {
	if cert.SignatureAlgorithm != x509.SHA384WithRSAPSS {
		return errorf(ErrChain, "%s signature algorithm: want RSASSA-PSS with SHA-384, got %v", role, cert.SignatureAlgorithm)
	}
	if !bytes.Equal(cert.RawIssuer, by.RawSubject) {
		return errorf(ErrChain, "%s issuer: want %q, got %q", role, by.Subject.CommonName, cert.Issuer.CommonName)
	}
	if err := cert.CheckSignatureFrom(by); err != nil {
		return errorf(ErrChain, "%s %q not signed by the %s %q: %v", role, cert.Subject.CommonName,
			issuerTag, by.Subject.CommonName, err)
	}
	return nil
}

// validityError names the first certificate of the chain that is not valid
// at now.
func (c *verifiedChain) validityError(kind snp.SigningKey, product string, now time.Time) error {
	leafRole, issuerRole, _ := roleNames(kind, product)
	for _, x := range []struct {
		role, cn            string
		notBefore, notAfter time.Time
	}{
		{leafRole, c.leaf.cn, c.leaf.notBefore, c.leaf.notAfter},
		{issuerRole, c.intermediate.Subject.CommonName, c.intermediate.NotBefore, c.intermediate.NotAfter},
		{"ARK", c.root.Subject.CommonName, c.root.NotBefore, c.root.NotAfter},
	} {
		if now.Before(x.notBefore) || now.After(x.notAfter) {
			return errorf(ErrValidity, "%s %q valid %s to %s, verification time %s", x.role, x.cn,
				x.notBefore.UTC().Format(time.RFC3339), x.notAfter.UTC().Format(time.RFC3339),
				now.UTC().Format(time.RFC3339))
		}
	}
	return nil
}
