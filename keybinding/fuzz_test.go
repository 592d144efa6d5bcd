package keybinding_test

import (
	"crypto/x509"
	"testing"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/keybinding"
)

// FuzzCheck checks the binding of every item of mutated certificates. Seeds
// come from the committed corpus in testdata/fuzz and the real
// certificates; `make test` runs them, `make fuzz` explores further.
func FuzzCheck(f *testing.F) {
	for _, p := range []string{ratsRSCertFile, ratsTLSLegacyFile} {
		f.Add(readPEMCert(f, p).Raw)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		ce, err := evidence.FromCertificate(cert)
		if err != nil {
			return
		}
		for _, it := range ce.Items {
			b := keybinding.Check(it, cert)
			if b.Status == "" {
				t.Fatal("binding without a status")
			}
			if b.Status == evidence.BindingOK && b.Rule == "" {
				t.Fatal("binding ok under no rule")
			}
			if b := keybinding.Check(it, nil); b.Status != evidence.BindingNotApplicable {
				t.Fatalf("binding without a certificate: got %s", b.Status)
			}
		}
	})
}
