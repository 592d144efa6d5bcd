package azuretest_test

import (
	"fmt"
	"log"

	"github.com/ratls/ratls/evidence/eventlog"
	"github.com/ratls/ratls/testing/azuretest"
)

// SampleEventLog is the UEFI log of a VM booting shim, GRUB and Linux, and
// ReplayPCRs the PCR values a vTPM quote of that boot would show: a test
// changes either to check that a verifier notices.
func ExampleSampleEventLog() {
	raw := azuretest.SampleEventLog(true)
	pcrs, err := azuretest.ReplayPCRs(raw)
	if err != nil {
		log.Fatal(err)
	}
	l, err := eventlog.Parse(raw)
	if err != nil {
		log.Fatal(err)
	}
	touched := map[uint32]bool{}
	for _, e := range l.Events {
		touched[e.Index] = true
	}
	for i := range uint32(10) {
		if touched[i] {
			fmt.Printf("PCR %d: %x...\n", i, pcrs[i][:4])
		}
	}
	// Output:
	// PCR 0: dac580d9...
	// PCR 1: 3d458cfe...
	// PCR 2: 3d458cfe...
	// PCR 3: 3d458cfe...
	// PCR 4: 3f53572b...
	// PCR 5: 550428c2...
	// PCR 6: 3d458cfe...
	// PCR 7: ccd857f8...
	// PCR 8: 14fe1455...
	// PCR 9: 7c714b59...
}
