package rtmr_test

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ratls/ratls/attest/rtmr"
	"github.com/ratls/ratls/evidence/eventlog"
	"github.com/ratls/ratls/verify/measuredboot"
)

// registers stands in for a TDX guest's measurement-register directory
// (rtmr.Dir(rtmr.DefaultRoot) on Linux 6.16+): writing a digest to an RTMR
// extends it, R = SHA-384(R || digest), as the kernel does.
type registers map[string][]byte

func (r registers) List() ([]string, error) {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}
func (r registers) Read(name string) ([]byte, error) { return bytes.Clone(r[name]), nil }
func (r registers) Writable(name string) bool        { return strings.HasPrefix(name, "rtmr") }
func (r registers) Write(name string, digest []byte) error {
	r[name] = eventlog.SHA384.Sum(append(r[name], digest...))
	return nil
}

// A workload records what it loads at run time in RTMR3 and in the runtime
// event log; a verifier replays the log (verify/measuredboot, through
// ratls.VerifyEvidence with the log sent beside the quote) and a policy's
// measured_boot.runtime_events can then require the events.
func ExampleExtender_Extend() {
	regs := registers{}
	for i := range 4 {
		regs[fmt.Sprintf("rtmr%d:sha384", i)] = make([]byte, 48)
	}
	dir, err := os.MkdirTemp("", "ratls-rtmr")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	logPath := filepath.Join(dir, "runtime-eventlog") // rtmr.DefaultLog in a real TD

	x, err := rtmr.NewExtender(regs, "rtmr3", logPath)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := x.Extend("example.com/app", "load-model", "sha256:5f1e..."); err != nil {
		log.Fatal(err)
	}

	// The verifier's side: the log replays to the register the quote shows.
	raw, err := os.ReadFile(logPath)
	if err != nil {
		log.Fatal(err)
	}
	l, err := eventlog.Parse(raw)
	if err != nil {
		log.Fatal(err)
	}
	var signed [4][48]byte
	copy(signed[3][:], regs["rtmr3:sha384"])
	res, err := measuredboot.Verify(nil, l, measuredboot.TDX(signed))
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range res.Facts().Runtime {
		fmt.Println(e.Register, e.Domain, e.Operation, e.Content)
	}
	// Output:
	// RTMR3 example.com/app load-model sha256:5f1e...
}
