package azure

import (
	"bytes"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// The parsers refuse what they cannot read; none panics.

func FuzzParseHCLReport(f *testing.F) {
	f.Add(read(f, "az-snp-vtpm/hcl-report.bin"))
	f.Add(read(f, "az-tdx-vtpm/hcl-report.bin"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseHCLReport(b)
		if err != nil {
			return
		}
		r.ReportData()
		r.AttestationKey()
	})
}

func FuzzParseTPMQuote(f *testing.F) {
	f.Add(read(f, "az-snp-vtpm/tpm-quote.msg"), uint8(9))
	f.Fuzz(func(t *testing.T, msg []byte, n uint8) {
		pcrs := make([][]byte, n%32)
		for i := range pcrs {
			pcrs[i] = make([]byte, 32)
		}
		q, err := ParseTPMQuote(msg, nil, pcrs)
		if err != nil {
			return
		}
		// Nothing follows the TPMS_ATTEST: it re-encodes to the message.
		if re := tpm2.Marshal(q.Attest); !bytes.Equal(re, msg) {
			t.Fatalf("accepted %x, which re-encodes to %x", msg, re)
		}
		q.Nonce()
		q.PCRDigest()
		q.ComputePCRDigest()
	})
}

func FuzzParse(f *testing.F) {
	f.Add(read(f, "az-snp-vtpm/evidence-v2.json"))
	f.Add(read(f, "az-tdx-vtpm/evidence-v1.json"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, err := Parse(b); err == nil {
			e.TEE()
		}
	})
}
