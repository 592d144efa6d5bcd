package keybinding_test

import (
	"testing"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/keybinding"
)

// BenchmarkCheck checks the key binding of a real interoperable RA-TLS
// certificate's evidence (claims buffer hashes and comparisons); parsing is
// evidence's BenchmarkFromCertificate.
func BenchmarkCheck(b *testing.B) {
	cert := readPEMCert(b, ratsRSCertFile)
	it := onlyItem(b, cert)
	b.ReportAllocs()
	for b.Loop() {
		if keybinding.Check(it, cert).Status != evidence.BindingOK {
			b.Fatal("binding")
		}
	}
}
