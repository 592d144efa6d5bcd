package ratls

import (
	"bytes"
	"testing"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/cmw"
)

// Seeds are in testdata/fuzz/<FuzzName>/: a genuine cmw_attestation with
// TDX evidence, an EAR record, JSON and malformed ones.

func FuzzParseCMWAttestation(f *testing.F) {
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseCMWAttestation(data)
		if err != nil {
			return
		}
		if c.Kind != cmw.KindRecord {
			t.Fatalf("a %s parsed", c.Kind)
		}
		// What parses re-encodes, and the evidence path never panics.
		b, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := marshalCMWAttestation(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseCMWAttestation(again); err != nil {
			t.Fatalf("re-encoded cmw_attestation does not parse: %v", err)
		}
		evidence.ParseRaw(c.Value)
	})
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{frameRequest, 0, 0, 0})
	f.Add([]byte{frameError, 0, 0, 2, 'n', 'o'})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, want := range []byte{frameRequest, frameAuthenticator, frameDone} {
			body, err := readFrame(bytes.NewReader(b), want)
			if err == nil && (b[0] != want || len(body) != int(b[1])<<16|int(b[2])<<8|int(b[3])) {
				t.Fatalf("frame %x read as %d with %d bytes", b[:4], want, len(body))
			}
		}
	})
}
