package snp

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzParseReport checks that ParseReport never panics and that every
// report it accepts re-encodes to exactly its input.
func FuzzParseReport(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.raw)
		for _, version := range []uint32{3, 5} {
			b := bytes.Clone(v.raw)
			binary.LittleEndian.PutUint32(b, version)
			b[0x188], b[0x189] = 0x19, 0x11
			f.Add(b)
		}
		f.Add(v.raw[:ReportSize-1])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReport(b)
		if err != nil {
			if r != nil {
				t.Fatal("non-nil report with an error")
			}
			return
		}
		if out := r.Marshal(); !bytes.Equal(out, b) {
			t.Fatalf("Marshal does not reproduce the input")
		}
		if sd := r.SignedData(); !bytes.Equal(sd, b[:SignedSize]) {
			t.Fatalf("SignedData differs from input[:0x2A0]")
		}
		again, err := ParseReport(r.Marshal())
		if err != nil || *again != *r {
			t.Fatalf("re-parse: %v", err)
		}
		_, _ = r.Product()
		_, _ = r.SignatureDER()
		_ = r.Debug()
		_ = r.ReportedTCB.String()
	})
}
