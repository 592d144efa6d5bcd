// Package dcapvectors reads the Intel DCAP vectors of the shared testdata
// tree (package testvectors) as their EXPECTED.json describes them: quotes
// and the collateral assembled from their files. It is apart from
// testvectors because it needs collateral/pcs, whose own tests use
// testvectors.
package dcapvectors

import (
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/internal/testvectors"
)

// Quote reads a quote vector: raw bytes, or hex text (with or without
// "0x") when encoding is "hex", as EXPECTED.json names it.
func Quote(tb testing.TB, path, encoding string) []byte {
	tb.Helper()
	b := readFile(tb, path)
	if encoding != "hex" {
		return b
	}
	d, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"))
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return d
}

// PEMChain reads the certificates of PEM files, in order.
func PEMChain(tb testing.TB, paths ...string) []*x509.Certificate {
	tb.Helper()
	var out []*x509.Certificate
	for _, p := range paths {
		c, err := pcs.ParsePEMChain(readFile(tb, p))
		if err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		out = append(out, c...)
	}
	return out
}

// IntelCollateral assembles the Intel collateral of a vector folder as its
// EXPECTED.json describes it: spec names the files of each item (a
// dcap-qvl JSON bundle, or "tcb", "qe", "rootcrl", "pckcrl" and an
// "extra_chain" that may issue the PCK CRL), signChain the TCB signing
// chain. A chain of one certificate is completed with Intel's root, and
// the PCK CRL's issuer is found among the vector's chain and Intel's PCK
// CAs by name and signature.
func IntelCollateral(tb testing.TB, folder string, spec map[string]string, signChain string) *pcs.Collateral {
	tb.Helper()
	dir := testvectors.Path(folder)
	if f := spec["dcapqvl"]; f != "" {
		c, err := pcs.ParseDCAPQVLJSON(readFile(tb, filepath.Join(dir, f)))
		if err != nil {
			tb.Fatal(err)
		}
		return c
	}
	roots := testvectors.Path("intel-roots")
	c := &pcs.Collateral{Source: folder}
	signer := PEMChain(tb, filepath.Join(dir, signChain))
	if len(signer) == 1 {
		signer = append(signer, PEMChain(tb, filepath.Join(roots, "Intel_SGX_Root_CA.pem"))...)
	}
	var err error
	if f := spec["tcb"]; f != "" {
		if c.TCBInfo, err = pcs.ParseTCBInfo(readFile(tb, filepath.Join(dir, f))); err != nil {
			tb.Fatal(err)
		}
		c.TCBInfoIssuerChain = signer
	}
	if f := spec["qe"]; f != "" {
		if c.QEIdentity, err = pcs.ParseEnclaveIdentity(readFile(tb, filepath.Join(dir, f))); err != nil {
			tb.Fatal(err)
		}
		c.QEIdentityIssuerChain = signer
	}
	if f := spec["rootcrl"]; f != "" {
		if c.RootCACRL, err = pcs.ParseCRL(readFile(tb, filepath.Join(dir, f))); err != nil {
			tb.Fatal(err)
		}
	}
	if f := spec["pckcrl"]; f != "" {
		if c.PCKCRL, err = pcs.ParseCRL(readFile(tb, filepath.Join(dir, f))); err != nil {
			tb.Fatal(err)
		}
		// The CRL's issuer: the vector's own chain, else Intel's PCK CAs.
		candidates := PEMChain(tb, filepath.Join(roots, "Intel_SGX_PCK_Platform_CA.pem"), filepath.Join(roots, "Intel_SGX_PCK_Processor_CA.pem"))
		if f := spec["extra_chain"]; f != "" {
			candidates = append(PEMChain(tb, filepath.Join(dir, f)), candidates...)
		}
		for _, ca := range candidates {
			if ca.Subject.String() == c.PCKCRL.Issuer.String() && c.PCKCRL.CheckSignatureFrom(ca) == nil {
				c.PCKCRLIssuerChain = []*x509.Certificate{ca, signer[len(signer)-1]}
				break
			}
		}
		if c.PCKCRLIssuerChain == nil {
			tb.Fatalf("%s: no issuer found for the PCK CRL", folder)
		}
	}
	return c
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
