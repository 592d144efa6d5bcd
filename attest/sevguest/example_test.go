package sevguest_test

import (
	"crypto/tls"
	"errors"
	"log"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/sevguest"
)

// In an SEV-SNP guest whose kernel predates configfs-tsm (use attest/tsm
// where it exists), a server gets its reports from /dev/sev-guest. Under
// an SVSM the guest runs at VMPL 2, and the report must say so. The example
// needs such a guest, so it is not run.
func ExampleNew() {
	att, err := sevguest.New(sevguest.Options{VMPL: 0})
	if errors.Is(err, sevguest.ErrUnavailable) {
		log.Fatal("no /dev/sev-guest: not an SEV-SNP guest, or the sev-guest module is not loaded")
	} else if err != nil {
		log.Fatal(err)
	}

	// Verifiers fetch the VCEK from AMD's KDS: the report carries none.
	iss := ratls.NewIssuer(att, nil)
	ln, err := tls.Listen("tcp", ":8443", ratls.ServerConfig(iss, nil))
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	// serve ln
}
