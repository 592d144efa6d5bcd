package intel

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"

	"github.com/ratls/ratls/testing/dcaptest"
)

// replaceRoot returns a PEM chain whose last certificate is root (DER).
func replaceRoot(t *testing.T, chainPEM, root []byte) []byte {
	t.Helper()
	var blocks [][]byte
	for rest := chainPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		blocks = append(blocks, b.Bytes)
	}
	if len(blocks) < 2 {
		t.Fatalf("chain has %d certificates", len(blocks))
	}
	blocks[len(blocks)-1] = root
	var out []byte
	for _, b := range blocks {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b})...)
	}
	return out
}

// corruptSignature flips a bit near the end of a certificate: inside the
// ECDSA signature's s value, which the DER parser does not look into.
func corruptSignature(t *testing.T, der []byte) []byte {
	t.Helper()
	b := bytes.Clone(der)
	b[len(b)-5] ^= 0x01
	if _, err := x509.ParseCertificate(b); err != nil {
		t.Fatalf("corrupted certificate no longer parses: %v", err)
	}
	return b
}

// corruptValidity changes the last second digit of the root's notBefore,
// keeping its key: the body no longer matches the signature.
func corruptValidity(t *testing.T, root *x509.Certificate) []byte {
	t.Helper()
	enc := []byte(root.NotBefore.UTC().Format("060102150405Z")) // UTCTime
	i := bytes.Index(root.Raw, enc)
	if i < 0 {
		t.Fatal("notBefore not found in the root certificate")
	}
	b := bytes.Clone(root.Raw)
	b[i+len(enc)-2] ^= 0x01 // a digit stays a digit
	c, err := x509.ParseCertificate(b)
	if err != nil {
		t.Fatalf("corrupted certificate no longer parses: %v", err)
	}
	if c.NotBefore.Equal(root.NotBefore) || !bytes.Equal(c.RawSubjectPublicKeyInfo, root.RawSubjectPublicKeyInfo) {
		t.Fatal("corruption did not change notBefore or changed the key")
	}
	return b
}

// reissueRoot signs a new root certificate with the root's key, as Intel
// re-issued its root: same key and name, another serial and validity.
func reissueRoot(t *testing.T, p *dcaptest.PKI, change func(*x509.Certificate)) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(4242),
		Subject:               p.Root.Subject,
		NotBefore:             p.Now.AddDate(-1, 0, -10),
		NotAfter:              p.Now.AddDate(30, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            1,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId:          p.Root.SubjectKeyId,
	}
	tmpl.Subject.ExtraNames = nil
	parent := tmpl
	if change != nil {
		parent = &x509.Certificate{}
		*parent = *tmpl
		change(tmpl)
	}
	der, err := x509.CreateCertificate(nil, tmpl, parent, p.Root.PublicKey, p.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// The root certificate a quote carries must be the trusted root itself, or
// a correctly self-signed certificate of its key. A corrupted root refuses
// the chain, even though its key is the trusted one.
func TestQuoteRootCertificate(t *testing.T) {
	otherName := func(c *x509.Certificate) {
		c.Subject = pkix.Name{CommonName: "Not The Root", Organization: []string{"Elsewhere"}}
	}
	for _, tc := range []struct {
		name string
		root func(t *testing.T, p *dcaptest.PKI) []byte
		ok   bool
	}{
		{"the trusted root", func(t *testing.T, p *dcaptest.PKI) []byte { return p.Root.Raw }, true},
		{"re-issued with the same key", func(t *testing.T, p *dcaptest.PKI) []byte { return reissueRoot(t, p, nil) }, true},
		{"signature corrupted", func(t *testing.T, p *dcaptest.PKI) []byte { return corruptSignature(t, p.Root.Raw) }, false},
		{"body corrupted", func(t *testing.T, p *dcaptest.PKI) []byte { return corruptValidity(t, p.Root) }, false},
		{"re-issued root corrupted", func(t *testing.T, p *dcaptest.PKI) []byte { return corruptSignature(t, reissueRoot(t, p, nil)) }, false},
		{"signed by the root key but issued to another name", func(t *testing.T, p *dcaptest.PKI) []byte { return reissueRoot(t, p, otherName) }, false},
	} {
		for _, tdx := range []bool{false, true} {
			c := newPlatformCase(t, tdx)
			root := tc.root(t, c.pki)
			c.pl.QuoteOptions.CertChainPEM = append(replaceRoot(t, c.pl.QuoteOptions.PCK.ChainPEM, root), 0)
			r, err := c.verify(t)
			switch {
			case tc.ok && err != nil:
				t.Errorf("%s (tdx=%v): %v", tc.name, tdx, err)
			case !tc.ok && !hasFailure(r, CheckPCKChain, ErrChain):
				t.Errorf("%s (tdx=%v): want %s to fail with ErrChain, got %v", tc.name, tdx, CheckPCKChain, err)
			}
		}
	}
}

// The same holds for the roots of the collateral's issuer chains.
func TestCollateralRootCertificates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		chain func(col *dcaptest.Collateral) *[]byte
		check string
	}{
		{"TCB Info", func(col *dcaptest.Collateral) *[]byte { return &col.TCBInfoIssuerChain }, CheckTCBInfoSignature},
		{"QE Identity", func(col *dcaptest.Collateral) *[]byte { return &col.QEIdentityIssuerChain }, CheckQEIDSignature},
		{"PCK CRL", func(col *dcaptest.Collateral) *[]byte { return &col.PCKCRLIssuerChain }, CheckPCKCRL},
	} {
		for _, bad := range []struct {
			name string
			root func(t *testing.T, p *dcaptest.PKI) []byte
		}{
			{"signature corrupted", func(t *testing.T, p *dcaptest.PKI) []byte { return corruptSignature(t, p.Root.Raw) }},
			{"body corrupted", func(t *testing.T, p *dcaptest.PKI) []byte { return corruptValidity(t, p.Root) }},
		} {
			c := newPlatformCase(t, true)
			c.changeCollateral = func(t *testing.T, col *dcaptest.Collateral) {
				p := tc.chain(col)
				*p = replaceRoot(t, *p, bad.root(t, c.pki))
			}
			r, err := c.verify(t)
			if !hasFailure(r, tc.check, ErrChain) {
				t.Errorf("%s issuer chain, root %s: want %s to fail with ErrChain, got %v", tc.name, bad.name, tc.check, err)
			}
		}
		// A re-issued root is fine there too.
		c := newPlatformCase(t, false)
		c.changeCollateral = func(t *testing.T, col *dcaptest.Collateral) {
			p := tc.chain(col)
			*p = replaceRoot(t, *p, reissueRoot(t, c.pki, nil))
		}
		if _, err := c.verify(t); err != nil {
			t.Errorf("%s issuer chain with a re-issued root: %v", tc.name, err)
		}
	}
}

// Each distinct root certificate has its self-signature checked once.
func TestRootCheckedOnce(t *testing.T) {
	c := newPlatformCase(t, false)
	reissued, err := x509.ParseCertificate(reissueRoot(t, c.pki, nil))
	if err != nil {
		t.Fatal(err)
	}
	ts := c.v.roots
	for range 3 {
		if _, _, err := ts.anchor(reissued); err != nil {
			t.Fatal(err)
		}
	}
	if ts.selfSigChecks.Load() != 1 {
		t.Errorf("self-signature checks: want 1, got %d", ts.selfSigChecks.Load())
	}
	// The trusted root itself needs none.
	if _, _, err := ts.anchor(c.pki.Root); err != nil || ts.selfSigChecks.Load() != 1 {
		t.Errorf("trusted root: %v, %d self-signature checks", err, ts.selfSigChecks.Load())
	}
}
