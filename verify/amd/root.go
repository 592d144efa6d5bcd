package amd

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/pem"
	"fmt"

	"github.com/ratls/ratls/evidence/snp"
)

// The AMD KDS cert_chain responses (ASK or ASVK first, then the ARK) for
// every product, as served by https://kdsintf.amd.com/{vcek,vlek}/v1/{product}/cert_chain.
//
//go:embed roots/*.pem
var rootFiles embed.FS

// arkSHA256 pins the AMD Root Key certificate of each product by the
// SHA-256 of its DER encoding. The embedded certificates must match.
var arkSHA256 = map[string]string{
	snp.ProductMilan: "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
	snp.ProductGenoa: "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
	snp.ProductTurin: "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
}

// Intermediates are pinned too, so an embedded file that was tampered with
// fails at start-up rather than at the first verification.
var (
	askSHA256 = map[string]string{
		snp.ProductMilan: "67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b",
		snp.ProductGenoa: "5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521",
		snp.ProductTurin: "5b77ef5fe7a7a004fd9032668fba9d0fda22f88c4442069a479636a6ae3b3185",
	}
	asvkSHA256 = map[string]string{
		snp.ProductMilan: "c5e081f59b7efab1fe2f8b505e159704e72f29cab7ef7cf628a05a42439082f5",
		snp.ProductGenoa: "197e610743a917d6b9bb982a5a9226ccc0a15b611be0619e626aca9151457372",
		snp.ProductTurin: "104e10a8bd060a3c20a434261a57d0588fd65a88915b4f65b08bdecaf8df1a3c",
	}
)

// productRoots is the embedded AMD PKI of one product.
type productRoots struct {
	ark  *x509.Certificate // AMD Root Key, self-signed
	ask  *x509.Certificate // AMD SEV Signing Key, issues VCEKs
	asvk *x509.Certificate // AMD SEV VLEK Signing Key, issues VLEKs
}

var amdRoots = loadRoots()

func loadRoots() map[string]*productRoots {
	files := map[string][2]string{ // product: VCEK chain file, VLEK chain file
		snp.ProductMilan: {"ask_ark_milan.pem", "ask_ark_milan_vlek.pem"},
		snp.ProductGenoa: {"ask_ark_genoa.pem", "ask_ark_genoa_vlek.pem"},
		snp.ProductTurin: {"ask_ark_turin_vcek.pem", "ask_ark_turin_vlek.pem"},
	}
	out := make(map[string]*productRoots)
	for product, f := range files {
		ask, ark := mustLoadPair(f[0], askSHA256[product], arkSHA256[product])
		asvk, ark2 := mustLoadPair(f[1], asvkSHA256[product], arkSHA256[product])
		if !bytes.Equal(ark.Raw, ark2.Raw) {
			panic("amd: embedded ARK differs between " + f[0] + " and " + f[1])
		}
		out[product] = &productRoots{ark: ark, ask: ask, asvk: asvk}
	}
	return out
}

// mustLoadPair reads an embedded cert_chain file (intermediate, then ARK)
// and panics unless both certificates match their pins.
func mustLoadPair(name, wantIntermediate, wantARK string) (intermediate, ark *x509.Certificate) {
	b, err := rootFiles.ReadFile("roots/" + name)
	if err != nil {
		panic("amd: embedded root file: " + err.Error())
	}
	var certs []*x509.Certificate
	for len(b) > 0 {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			panic("amd: embedded " + name + ": " + err.Error())
		}
		certs = append(certs, c)
	}
	if len(certs) != 2 {
		panic(fmt.Sprintf("amd: embedded %s: want 2 certificates, got %d", name, len(certs)))
	}
	for i, want := range []string{wantIntermediate, wantARK} {
		if got := derHash(certs[i]); got != want {
			panic(fmt.Sprintf("amd: embedded %s certificate %d: SHA-256 want %s, got %s", name, i+1, want, got))
		}
	}
	return certs[0], certs[1]
}

// genuineARK returns the embedded AMD Root Key certificate of product
// ("Milan", "Genoa" or "Turin"), or nil for an unknown product.
func genuineARK(product string) *x509.Certificate {
	if p := amdRoots[product]; p != nil {
		return p.ark
	}
	return nil
}

// genuineASK returns the embedded AMD SEV Signing Key certificate (the
// VCEK issuer) of product, or nil for an unknown product.
func genuineASK(product string) *x509.Certificate {
	if p := amdRoots[product]; p != nil {
		return p.ask
	}
	return nil
}

// genuineASVK returns the embedded AMD SEV VLEK Signing Key certificate
// (the VLEK issuer) of product, or nil for an unknown product.
func genuineASVK(product string) *x509.Certificate {
	if p := amdRoots[product]; p != nil {
		return p.asvk
	}
	return nil
}

func derHash(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	return hex.EncodeToString(h[:])
}

func spkiHash(c *x509.Certificate) string {
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(h[:])
}

// Anchor describes the trust anchor (ARK) a chain ended in.
type Anchor struct {
	// Subject is the ARK's subject common name, e.g. "ARK-Milan".
	Subject string `json:"subject"`
	// SPKISHA256 is the SHA-256 of its SubjectPublicKeyInfo (hex).
	SPKISHA256 string `json:"spki_sha256"`
	// AMD is true for the genuine, embedded AMD root of the product.
	AMD bool `json:"amd"`
}

// arkName and the intermediate names are the subject common names AMD uses
// (and that test PKIs given as extra roots must use): they tie a
// certificate to its product and to its role.
func arkName(product string) string  { return "ARK-" + product }
func askName(product string) string  { return "SEV-" + product }
func asvkName(product string) string { return "SEV-VLEK-" + product }

// trustStore holds the roots a Verifier accepts.
type trustStore struct {
	amd   bool
	extra []*x509.Certificate
}

// rootsFor returns the trusted ARKs of product: the genuine one first.
func (ts *trustStore) rootsFor(product string) []*x509.Certificate {
	var out []*x509.Certificate
	if ark := genuineARK(product); ark != nil && ts.amd {
		out = append(out, ark)
	}
	for _, r := range ts.extra {
		if r.Subject.CommonName == arkName(product) {
			out = append(out, r)
		}
	}
	return out
}

// anchor returns the trusted root of product with the same public key and
// subject as c, which the caller supplied as the chain's root.
func (ts *trustStore) anchor(product string, c *x509.Certificate) (*x509.Certificate, error) {
	roots := ts.rootsFor(product)
	for _, r := range roots {
		if !bytes.Equal(r.RawSubjectPublicKeyInfo, c.RawSubjectPublicKeyInfo) || !bytes.Equal(r.RawSubject, c.RawSubject) {
			continue
		}
		// The supplied root must be the trusted one, or a correctly
		// self-signed certificate of its key: a copy with a corrupted
		// body or signature is refused.
		if bytes.Equal(r.Raw, c.Raw) {
			return r, nil
		}
		if !bytes.Equal(c.RawIssuer, c.RawSubject) {
			return nil, fmt.Errorf("root %q has the key of the trusted %s root but is not self-issued (issuer %q)", c.Subject.CommonName, product, c.Issuer.CommonName)
		}
		if err := c.CheckSignatureFrom(c); err != nil {
			return nil, fmt.Errorf("root %q has the key of the trusted %s root but is not a copy of it and its self-signature does not verify (corrupted or forged): %w", c.Subject.CommonName, product, err)
		}
		return r, nil
	}
	want := "none configured"
	if len(roots) > 0 {
		want = fmt.Sprintf("%q with key SHA-256 %s", roots[0].Subject.CommonName, spkiHash(roots[0]))
		if len(roots) > 1 {
			want += fmt.Sprintf(" or one of %d configured roots", len(roots)-1)
		}
	}
	return nil, fmt.Errorf("root %q with key SHA-256 %s is not a trusted %s root (want %s)",
		c.Subject.CommonName, spkiHash(c), product, want)
}

func (ts *trustStore) describe(r *x509.Certificate, product string) Anchor {
	return Anchor{Subject: r.Subject.CommonName, SPKISHA256: spkiHash(r), AMD: ts.amd && r == genuineARK(product)}
}
