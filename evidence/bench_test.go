package evidence

import (
	"testing"

	"github.com/ratls/ratls/internal/testvectors"
)

// BenchmarkFromCertificate parses a real interoperable RA-TLS certificate's
// evidence (quote and claims); keybinding's BenchmarkCheck measures the key
// binding check.
func BenchmarkFromCertificate(b *testing.B) {
	cert := readPEMCert(b, testvectors.Path("ratls-certs/rats-rs_demo-sgx-cert.pem"))
	b.ReportAllocs()
	for b.Loop() {
		ce, err := FromCertificate(cert)
		if err != nil {
			b.Fatal(err)
		}
		if len(ce.Items) != 1 || ce.Items[0].Claims == nil {
			b.Fatal("evidence")
		}
	}
}
