package azure

import "testing"

// BenchmarkParse reads Trustee's Azure SEV-SNP evidence JSON (8 KB).
func BenchmarkParse(b *testing.B) {
	raw := read(b, "az-snp-vtpm/evidence-v2.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
