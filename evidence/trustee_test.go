package evidence

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/ratls/ratls/internal/testvectors"
)

func readCVM(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path("trustee-cvm", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Trustee's TDX evidence JSON gives a TDX quote item carrying its CC event
// log; Azure vTPM evidence JSON gives an azure-vtpm item.
func TestParseRawTrusteeJSON(t *testing.T) {
	q := readCVM(t, "az-tdx-vtpm/td-quote.bin")
	log := readCVM(t, "CCEL_data_ovmf")
	items, err := ParseRaw(TrusteeTDX(q, log))
	if err != nil {
		t.Fatal(err)
	}
	it := items[0]
	if len(items) != 1 || it.Format != FormatTrustee || it.TEE != TEETDX || it.Quote == nil || !bytes.Equal(it.EventLog, log) {
		t.Fatalf("item %s %s %s, event log %d bytes", it.Format, it.Kind, it.TEE, len(it.EventLog))
	}
	items, err = ParseRaw(TrusteeTDX(q, nil))
	if err != nil || items[0].EventLog != nil {
		t.Fatalf("without a log: %v, %d-byte log", err, len(items[0].EventLog))
	}
	for _, name := range []string{"az-snp-vtpm/evidence-v1.json", "az-snp-vtpm/evidence-v2.json", "az-tdx-vtpm/evidence-v1.json"} {
		items, err := ParseRaw(readCVM(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		it := items[0]
		want := TEESEVSNP
		if strings.HasPrefix(name, "az-tdx") {
			want = TEETDX
		}
		if it.Kind != KindAzureVTPM || it.TEE != want || it.Azure == nil || string(it.ReportData()) != string(it.Azure.Quote.Nonce()) {
			t.Errorf("%s: %s %s", name, it.Kind, it.TEE)
		}
	}
	// A CMW collection labelled "quote" is still a CMW, and so is one with
	// other keys; duplicate keys are refused.
	for _, cmw := range []string{`{"quote":["application/vnd.x","AAAA"]}`, `{"__cmwc_t":"tag:x","quote":"AAAA"}`, `{"quote":"AAAA","aa_eventlog":"x"}`} {
		if looksLikeTrusteeTDX([]byte(cmw)) {
			t.Errorf("%s taken for Trustee evidence", cmw)
		}
	}
	if _, err := ParseRaw([]byte(`{"quote":"AAAA","quote":"AAAA"}`)); err == nil {
		t.Error("duplicate key accepted")
	}
}
