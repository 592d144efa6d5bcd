package eventlog

import (
	"testing"
)

// FuzzParse: any input either parses into events that lie inside it and
// decode without panicking, or is refused with an error.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"CCEL_data_ovmf", "CCEL_data_grub", "CCEL_data_csv"} {
		b := readVector(f, name)
		if l, err := Parse(b); err == nil {
			f.Add(b[:l.End])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse(b)
		if err != nil {
			return
		}
		if l.End > len(b) {
			t.Fatalf("end %d past the input's %d bytes", l.End, len(b))
		}
		for _, e := range l.Events {
			if e.Offset >= l.End {
				t.Fatalf("event at %d after the end %d", e.Offset, l.End)
			}
			ParseVariable(e.Data)
			ParseImageLoad(e.Data)
			ParseFirmwareBlob2(e.Data)
			ParseTaggedEvent(e.Data)
			Text(e.Data)
		}
	})
}
