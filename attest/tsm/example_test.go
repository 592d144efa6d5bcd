package tsm_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/tsm"
)

// In a confidential VM (TDX, SEV-SNP or Arm CCA on Linux 6.7+), a server
// gets its evidence through configfs-tsm and serves RA-TLS with it. The
// example needs such a VM, so it is not run.
func ExampleNew() {
	att, err := tsm.New(tsm.Options{})
	if errors.Is(err, tsm.ErrUnavailable) {
		log.Fatal("not a confidential VM with configfs-tsm (see attest/detect)")
	} else if err != nil {
		log.Fatal(err)
	}
	provider, err := att.Provider(context.Background()) // tdx_guest, sev_guest or arm_cca_guest
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("attesting with", provider)

	iss := ratls.NewIssuer(att, nil) // issues, caches and renews the RA-TLS certificate
	ln, err := tls.Listen("tcp", ":8443", ratls.ServerConfig(iss, nil))
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	// serve ln
}
