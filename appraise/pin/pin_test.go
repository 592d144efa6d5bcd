package pin

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/testing/dcaptest"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path("trustee-cvm", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pinRaw(t *testing.T, raw []byte) (*Result, error) {
	t.Helper()
	items, err := evidence.ParseRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	return FromEvidence(items[0], raw)
}

// readBack checks that the policy is one the strict reader accepts.
func readBack(t *testing.T, p *appraise.Policy) *appraise.Policy {
	t.Helper()
	b, _ := json.Marshal(p)
	q, err := appraise.ReadPolicy(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestAzureSNP(t *testing.T) {
	res, err := pinRaw(t, read(t, "az-snp-vtpm/evidence-v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	p := readBack(t, res.Policy)
	// Values from EXPECTED.json.
	if p.SNP == nil || p.SNP.Measurement[0] != "5b0ce64ad1c1f6375dbda5f760b98526ca1bcf91b8195091afc28e7b024251d68fe32e05af34048d6607678cd23283ff" ||
		*p.SNP.MinTCB != (appraise.SNPTCB{Bootloader: 4, TEE: 0, SNP: 24, Microcode: 219}) {
		t.Errorf("sev_snp %+v", p.SNP)
	}
	if p.VTPM == nil || len(p.VTPM.PCRs) != 10 || p.VTPM.PCRs["0"][0] != "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7" || p.VTPM.PCRs["10"] != nil {
		t.Errorf("vtpm %+v", p.VTPM)
	}
	md := res.Markdown("p.json", "ev.json", nil)
	if !strings.Contains(md, "| `vtpm.pcrs[7]` |") || !strings.Contains(md, "without verifying it") {
		t.Errorf("explanation:\n%s", md)
	}
}

// A TD with its event log: MRTD and the log's facts are pinned; a log that
// does not replay to the quote is refused.
func TestTDXWithLog(t *testing.T) {
	pki, err := dcaptest.New(dcaptest.Options{Now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := pki.DefaultPlatform(true)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []string{ // the OVMF vector's replay (EXPECTED.json)
		"8566f998798db09443b244c62de9a3041fb02e2e6936c4396d784bba2e90177329ec5aba3bb484404f2ab9cc90abe193",
		"775b9f6bfe99f8a31396f0d0218e67ffa796d3b96ccf961cbb0deba48c79c00f082cda1a5567c1c16305f1fc210c13c6",
		"94eaf7a7bf398ed8d888c91057ae0261802e4f3df084213a76ca7f0b5055ac9d2241de43cd58d9e8b49c503bbf25f34a",
	} {
		b, _ := hex.DecodeString(r)
		copy(pl.QuoteOptions.TD.RTMR[i][:], b)
	}
	q, err := pl.NewQuote([64]byte{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := pinRaw(t, evidence.TrusteeTDX(q, read(t, "CCEL_data_ovmf")))
	if err != nil {
		t.Fatal(err)
	}
	p := readBack(t, res.Policy)
	m := p.MeasuredBoot
	if p.TDX.MRTD[0] != hex.EncodeToString(pl.QuoteOptions.TD.MRTD[:]) || p.TDX.RTMR0 != nil || m == nil ||
		m.Kernel[0] != "a2ccae1e7d6c668ca325bb09c882d8ce44d26d714ba6f58d2e8083fe291a704646afe24a2368bca3341728d78ec80a80" ||
		len(m.CmdlineDigest) != 1 || m.RequireSecureBoot {
		t.Errorf("tdx %+v measured_boot %+v", p.TDX, m)
	}
	if _, err := pinRaw(t, evidence.TrusteeTDX(q, read(t, "CCEL_data_grub"))); err == nil || !strings.Contains(err.Error(), "refusing to pin") {
		t.Errorf("a log of another boot: %v", err)
	}
}

// Without a log, the RTMRs themselves are pinned (but not RTMR3).
func TestTDXWithoutLog(t *testing.T) {
	res, err := pinRaw(t, read(t, "az-tdx-vtpm/td-quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	p := readBack(t, res.Policy)
	if p.TDX.MRTD[0] != "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b" || len(p.TDX.RTMR2) != 1 || p.TDX.RTMR3 != nil {
		t.Errorf("tdx %+v", p.TDX)
	}
}
