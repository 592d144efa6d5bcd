package snp_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/testing/amdtest"
)

// ParseReport decodes an ATTESTATION_REPORT into named fields; verify/amd
// checks its signature and certificates. A report signed by a test PKI
// stands in for one from /dev/sev-guest or configfs-tsm.
func ExampleParseReport() {
	pki, err := amdtest.New()
	if err != nil {
		log.Fatal(err)
	}
	raw, err := pki.Report(snp.SigningKeyVCEK, [64]byte{'h', 'i'}, func(r *snp.Report) {
		r.Measurement[0] = 0x5a
	})
	if err != nil {
		log.Fatal(err)
	}

	r, err := snp.ParseReport(raw)
	if err != nil {
		log.Fatal(err)
	}
	product, err := r.Product()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("version", r.Version, "product", product, "signed by", r.SignerInfo.SigningKey())
	fmt.Printf("measurement %x..., report data %q\n", r.Measurement[:2], r.ReportData[:2])
	fmt.Println("debug", r.Policy.Debug(), "reported TCB", r.ReportedTCB)
	fmt.Println("re-encodes exactly:", bytes.Equal(r.Marshal(), raw))
	// Output:
	// version 3 product Milan signed by VCEK
	// measurement 5a00..., report data "hi"
	// debug false reported TCB 0x7308000000000003 (bl=3 tee=0 snp=8 ucode=115)
	// re-encodes exactly: true
}
