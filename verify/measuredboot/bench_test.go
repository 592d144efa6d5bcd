package measuredboot

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/ratls/ratls/evidence/eventlog"
)

// ccel1MB is a 1 MiB CC event log area: the OVMF+shim+GRUB vector's events
// repeated until the log fills 1 MiB, then 0xFF padding, as firmware leaves
// it. It returns the log and the RTMRs it replays to.
func ccel1MB(b *testing.B) ([]byte, Bank) {
	grub := readLog(b, "CCEL_data_grub")
	log := grub.Marshal()
	for done := false; !done; {
		for i := range grub.Events {
			next := eventlog.AppendEvent(log, &grub.Events[i])
			if len(next) > 1<<20-8 {
				done = true
				break
			}
			log = next
		}
	}
	area := make([]byte, 1<<20)
	copy(area, log)
	for i := len(log); i < len(area); i++ {
		area[i] = 0xFF
	}
	l, err := eventlog.Parse(area)
	if err != nil {
		b.Fatal(err)
	}
	regs, err := Replay(l.Events, eventlog.SHA384, false)
	if err != nil {
		b.Fatal(err)
	}
	var rtmr [4][48]byte
	for i := range rtmr {
		copy(rtmr[i][:], regs[uint32(i+1)])
	}
	return area, TDX(rtmr)
}

// BenchmarkReplayCCEL1MB parses a 1 MiB CC event log, replays it into the
// four RTMRs and extracts its facts: what verifying a TD quote's log costs.
// Its floor is BenchmarkCCEL1MBFloor.
func BenchmarkReplayCCEL1MB(b *testing.B) {
	area, bank := ccel1MB(b)
	l, _ := eventlog.Parse(area)
	b.ReportMetric(float64(len(l.Events)), "events")
	b.SetBytes(int64(len(area)))
	b.ReportAllocs()
	for b.Loop() {
		l, err := eventlog.Parse(area)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Verify(l, nil, bank); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCCEL1MBFloor is the budget of BenchmarkReplayCCEL1MB: one ECDSA
// P-256 verification per 100 events of the same log.
func BenchmarkCCEL1MBFloor(b *testing.B) {
	area, _ := ccel1MB(b)
	l, _ := eventlog.Parse(area)
	n := (len(l.Events) + 99) / 100
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("floor"))
	sig, _ := ecdsa.SignASN1(rand.Reader, key, digest[:])
	b.ReportMetric(float64(n), "verifications")
	for b.Loop() {
		for range n {
			if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
				b.Fatal("signature does not verify")
			}
		}
	}
}

// BenchmarkReplayCCEL1MBFacts is BenchmarkReplayCCEL1MB plus extracting
// the boot facts, which a verifier does only when its policy reads them.
func BenchmarkReplayCCEL1MBFacts(b *testing.B) {
	area, bank := ccel1MB(b)
	b.SetBytes(int64(len(area)))
	b.ReportAllocs()
	for b.Loop() {
		l, err := eventlog.Parse(area)
		if err != nil {
			b.Fatal(err)
		}
		r, err := Verify(l, nil, bank)
		if err != nil || r.Facts() == nil {
			b.Fatal(err)
		}
	}
}
