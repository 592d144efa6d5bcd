package quote

import "testing"

func benchmarkParse(b *testing.B, raw []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseSGXv3 parses a production SGX quote v3 (mobilecoin-sgx).
func BenchmarkParseSGXv3(b *testing.B) { benchmarkParse(b, v3Quote(b)) }

// BenchmarkParseTDXv4 parses a production TDX quote v4 (trustee-dcap).
func BenchmarkParseTDXv4(b *testing.B) { benchmarkParse(b, v4Quote(b)) }

// BenchmarkParseTDXv5 parses a production TDX quote v5 with a TDX 1.5 body.
func BenchmarkParseTDXv5(b *testing.B) { benchmarkParse(b, v5Quote(b)) }

func BenchmarkParseReport2(b *testing.B) {
	raw := realignedTDReport(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseReport2(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalTDXv4(b *testing.B) {
	q := mustParse(b, v4Quote(b))
	b.ReportAllocs()
	for b.Loop() {
		_ = q.Marshal()
	}
}

func BenchmarkPCKChainDER(b *testing.B) {
	q := mustParse(b, v4Quote(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := q.Signature.Certification.PCKChainDER(); err != nil {
			b.Fatal(err)
		}
	}
}
