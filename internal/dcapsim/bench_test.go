package dcapsim

import "testing"

func BenchmarkNewQuote(b *testing.B) {
	p := newTestPKI(b)
	for _, tdx := range []bool{false, true} {
		pl, err := p.DefaultPlatform(tdx)
		if err != nil {
			b.Fatal(err)
		}
		name := map[bool]string{false: "SGX-v3", true: "TDX-v4"}[tdx]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pl.NewQuote([64]byte{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCollateral(b *testing.B) {
	p := newTestPKI(b)
	pl, err := p.DefaultPlatform(true)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pl.Collateral(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewPCK(b *testing.B) {
	p := newTestPKI(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.NewPCK(PCKOptions{CA: CAPlatform}); err != nil {
			b.Fatal(err)
		}
	}
}
