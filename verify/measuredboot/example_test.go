package measuredboot_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/ratls/ratls/evidence/eventlog"
	"github.com/ratls/ratls/testing/azuretest"
	"github.com/ratls/ratls/verify/measuredboot"
)

// Verify replays an event log into the registers the TEE signed (here the
// PCRs of a vTPM quote) and, only when every register matches, extracts
// the facts a policy's measured_boot section is written on. The log and
// the PCRs come from package testing/azuretest; in a real verification
// ratls.VerifyEvidence takes them from verified evidence.
func ExampleVerify() {
	raw := azuretest.SampleEventLog(true)
	pcrs, err := azuretest.ReplayPCRs(raw) // what a vTPM quote would vouch for
	if err != nil {
		log.Fatal(err)
	}
	l, err := eventlog.Parse(raw)
	if err != nil {
		log.Fatal(err)
	}

	res, err := measuredboot.Verify(l, nil, measuredboot.PCRs(eventlog.SHA256, pcrs))
	if err != nil {
		log.Fatal(err)
	}
	f := res.Facts()
	fmt.Println("secure boot:", f.SecureBoot.Enabled)
	for _, b := range f.Bootloaders {
		fmt.Println("bootloader:", b.Digest[:16]+"...")
	}
	fmt.Println("kernel:", f.Kernel.Digest[:16]+"...")
	fmt.Println("cmdline:", f.Cmdline.Text)

	// A log that does not replay to the signed registers gives no facts.
	pcrs[9][0] ^= 1
	_, err = measuredboot.Verify(l, nil, measuredboot.PCRs(eventlog.SHA256, pcrs))
	var re *measuredboot.ReplayError
	fmt.Println("tampered:", errors.As(err, &re))
	// Output:
	// secure boot: true
	// bootloader: 4591201782fbffce...
	// bootloader: d1e20b99d4b30be4...
	// kernel: 46b5b19789d43899...
	// cmdline: /vmlinuz-6.8.0-azure root=/dev/sda1 ro console=ttyS0
	// tampered: true
}
