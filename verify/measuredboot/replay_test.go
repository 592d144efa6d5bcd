package measuredboot

import (
	"fmt"
	"testing"

	"github.com/ratls/ratls/evidence/eventlog"
)

func TestPCRSetOrdersSparseIndexes(t *testing.T) {
	b := PCRSet(eventlog.SHA256, map[int][]byte{7: {7}, 0: {0}, 14: {14}})
	if !b.TPM || b.Alg != eventlog.SHA256 || len(b.Registers) != 3 {
		t.Fatalf("%+v", b)
	}
	for i, want := range []uint32{0, 7, 14} {
		r := b.Registers[i]
		if r.Index != want || r.Name != fmt.Sprintf("PCR%d", want) || r.Value[0] != byte(want) {
			t.Errorf("register %d: %+v", i, r)
		}
	}
}
