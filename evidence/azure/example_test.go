package azure_test

import (
	"fmt"
	"log"

	"github.com/ratls/ratls/evidence/azure"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/testing/azuretest"
)

// The HCL report of an Azure confidential VM holds the hardware report (a
// TDREPORT here) and the runtime data naming the vTPM's attestation key.
// ParseHCLReport only parses; verify/azure checks that the hardware report
// carries the runtime data's hash and that the TPM quote is signed by that
// key. The report is built by package testing/azuretest here.
func ExampleParseHCLReport() {
	ak, err := azuretest.NewKey()
	if err != nil {
		log.Fatal(err)
	}
	runtime := azuretest.RuntimeData(&ak.PublicKey, []byte("nonce-01"))
	raw := azuretest.HCLReport(&quote.TDReportBody{}, runtime)

	r, err := azure.ParseHCLReport(raw)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("TDX:", r.ReportType == azure.ReportTypeTDX, "hash type", r.HashType)
	key, err := r.AttestationKey()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("attestation key:", key.N.BitLen(), "bit RSA, the one named:", key.Equal(&ak.PublicKey))
	fmt.Println("user data:", r.Runtime.UserData[:16]+"...")
	// Output:
	// TDX: true hash type 1
	// attestation key: 2048 bit RSA, the one named: true
	// user data: 6e6f6e63652d3031...
}
