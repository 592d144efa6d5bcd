// Package differential runs ratls's verifiers side by side with independent
// implementations (google/go-tdx-guest for TDX, google/go-sev-guest for
// SEV-SNP) on the same real vectors. It is a module of its own so that the
// library does not depend on the libraries it is compared with.
package differential

import (
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/internal/testvectors"
)

// The real vectors are the repository's shared testdata, each folder with
// its PROVENANCE.md and EXPECTED.json (the independently computed results).
var vectorDir = testvectors.Dir()

// readAMD reads a vector file of the SEV-SNP comparison, path relative to
// vectorDir.
func readAMD(tb testing.TB, path string) []byte {
	tb.Helper()
	return read(tb, filepath.Join(vectorDir, path))
}

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
func readQuote(t testing.TB, path, encoding string) []byte {
	t.Helper()
	b := read(t, path)
	if encoding == "hex" {
		d, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	return b
}
func pemChain(t testing.TB, paths ...string) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for _, p := range paths {
		c, err := pcs.ParsePEMChain(read(t, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, c...)
	}
	return out
}

// loadCollateral assembles the collateral a vector ships with. Issuer chains
// not stored with the vector come from the genuine Intel certificates in
// intel-roots.
func loadCollateral(t testing.TB, folder string, spec map[string]string, signChain string) *pcs.Collateral {
	t.Helper()
	dir := filepath.Join(vectorDir, folder)
	if f := spec["dcapqvl"]; f != "" {
		c, err := pcs.ParseDCAPQVLJSON(read(t, filepath.Join(dir, f)))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	roots := filepath.Join(vectorDir, "intel-roots")
	rootPEM := filepath.Join(roots, "Intel_SGX_Root_CA.pem")
	c := &pcs.Collateral{Source: folder}
	signer := pemChain(t, filepath.Join(dir, signChain))
	if len(signer) == 1 {
		signer = append(signer, pemChain(t, rootPEM)...)
	}
	var err error
	if f := spec["tcb"]; f != "" {
		if c.TCBInfo, err = pcs.ParseTCBInfo(read(t, filepath.Join(dir, f))); err != nil {
			t.Fatal(err)
		}
		c.TCBInfoIssuerChain = signer
	}
	if f := spec["qe"]; f != "" {
		if c.QEIdentity, err = pcs.ParseEnclaveIdentity(read(t, filepath.Join(dir, f))); err != nil {
			t.Fatal(err)
		}
		c.QEIdentityIssuerChain = signer
	}
	if f := spec["rootcrl"]; f != "" {
		if c.RootCACRL, err = pcs.ParseCRL(read(t, filepath.Join(dir, f))); err != nil {
			t.Fatal(err)
		}
	}
	if f := spec["pckcrl"]; f != "" {
		if c.PCKCRL, err = pcs.ParseCRL(read(t, filepath.Join(dir, f))); err != nil {
			t.Fatal(err)
		}
		// The CRL's issuer: the vector's own chain, else Intel's PCK CAs.
		candidates := pemChain(t, filepath.Join(roots, "Intel_SGX_PCK_Platform_CA.pem"), filepath.Join(roots, "Intel_SGX_PCK_Processor_CA.pem"))
		if f := spec["extra_chain"]; f != "" {
			candidates = append(pemChain(t, filepath.Join(dir, f)), candidates...)
		}
		for _, ca := range candidates {
			if ca.Subject.String() == c.PCKCRL.Issuer.String() && c.PCKCRL.CheckSignatureFrom(ca) == nil {
				c.PCKCRLIssuerChain = []*x509.Certificate{ca, signer[len(signer)-1]}
				break
			}
		}
		if c.PCKCRLIssuerChain == nil {
			t.Fatalf("%s: no issuer found for the PCK CRL", folder)
		}
	}
	return c
}
func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
