package eventlog_test

import (
	"fmt"
	"log"

	"github.com/ratls/ratls/evidence/eventlog"
)

// Parse reads a crypto-agile event log, such as a TDX guest's CCEL or a
// vTPM's binary_bios_measurements. Nothing in it is trusted until
// verify/measuredboot has replayed it into the registers a TEE signed.
func ExampleParse() {
	// A small log: the header, then two events of a TDX guest's loader
	// extending RTMR1 (CC measurement-register index 2).
	b := eventlog.AppendHeader(nil, []eventlog.Alg{eventlog.SHA384})
	for _, data := range []string{"kernel /vmlinuz", "console=ttyS0 ro\x00"} {
		e := eventlog.NewEvent(2, eventlog.EvIPL, []byte(data), eventlog.SHA384)
		b = eventlog.AppendEvent(b, &e)
	}

	l, err := eventlog.Parse(b)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range l.Events {
		fmt.Printf("%d %s %q sha384:%x...\n", e.Index, e.Type, eventlog.Text(e.Data), e.Digest(eventlog.SHA384)[:4])
	}
	// Output:
	// 2 EV_IPL "kernel /vmlinuz" sha384:50647e6a...
	// 2 EV_IPL "console=ttyS0 ro" sha384:b01b4f02...
}
