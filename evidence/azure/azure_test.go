package azure

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratls/ratls/internal/testvectors"
)

var vectors = testvectors.Path("trustee-cvm")

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectors, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// expectedVector is the part of EXPECTED.json these tests compare with.
type expectedVector struct {
	ID         string `json:"id"`
	Evidence   string `json:"evidence"`
	HCLReport  string `json:"hcl_report"`
	TPMQuote   string `json:"tpm_quote"`
	ReportData string `json:"expected_report_data_hex"`
	Computed   struct {
		HCL struct {
			HeaderVersion uint32 `json:"header_version"`
			ReportType    string `json:"report_type"`
			VarSize       int    `json:"variable_data_size"`
		} `json:"hcl"`
		RuntimeSHA256 string `json:"runtime_data_sha256"`
		AK            struct {
			ModulusSHA256 string `json:"modulus_sha256"`
		} `json:"ak"`
		TPMQuote struct {
			Attest struct {
				ExtraData string `json:"extra_data"`
				PCRDigest string `json:"pcr_digest"`
				Bytes     int    `json:"bytes_parsed"`
			} `json:"tpms_attest"`
		} `json:"tpm_quote"`
		Runtime struct {
			VM struct {
				VMUniqueID string `json:"vmUniqueId"`
			} `json:"vm_configuration"`
		} `json:"runtime_data"`
	} `json:"computed"`
}

func loadExpected(t testing.TB) []expectedVector {
	var e struct {
		Vectors []expectedVector `json:"vectors"`
	}
	if err := json.Unmarshal(read(t, "EXPECTED.json"), &e); err != nil {
		t.Fatal(err)
	}
	var out []expectedVector
	for _, v := range e.Vectors {
		if v.Evidence != "" || v.HCLReport != "" {
			out = append(out, v)
		}
	}
	return out
}

// looseQuote reads a tpm-quote-v1.json.
func looseQuote(t testing.TB, name string) *TPMQuote {
	var j struct {
		Signature, Message string
		PCRs               []string
	}
	if err := json.Unmarshal(read(t, name), &j); err != nil {
		t.Fatal(err)
	}
	msg, _ := hex.DecodeString(j.Message)
	sig, _ := hex.DecodeString(j.Signature)
	var pcrs [][]byte
	for _, p := range j.PCRs {
		b, _ := hex.DecodeString(p)
		pcrs = append(pcrs, b)
	}
	q, err := ParseTPMQuote(msg, sig, pcrs)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// Every Azure vector parses to what EXPECTED.json says: HCL header, the
// runtime data's hash, the attestation key, the TPM quote's nonce and PCR
// digest.
func TestVectors(t *testing.T) {
	vs := loadExpected(t)
	if len(vs) != 5 {
		t.Fatalf("%d Azure vectors in EXPECTED.json, want 5", len(vs))
	}
	for _, v := range vs {
		t.Run(v.ID, func(t *testing.T) {
			var hcl *HCLReport
			var q *TPMQuote
			if v.Evidence != "" {
				e, err := Parse(read(t, v.Evidence))
				if err != nil {
					t.Fatal(err)
				}
				hcl, q = e.HCL, e.Quote
				if e.TEE() == "sev_snp" && len(e.VCEK) == 0 || e.TEE() == "tdx" && e.TDQuote == nil {
					t.Errorf("%s evidence without its hardware endorsement", e.TEE())
				}
			} else {
				var err error
				if hcl, err = ParseHCLReport(read(t, v.HCLReport)); err != nil {
					t.Fatal(err)
				}
				q = looseQuote(t, v.TPMQuote)
			}
			c := v.Computed
			wantType := map[string]uint32{"SNP": ReportTypeSNP, "TDX": ReportTypeTDX}[c.HCL.ReportType]
			if hcl.Version != c.HCL.HeaderVersion || hcl.ReportType != wantType || len(hcl.RuntimeData) != c.HCL.VarSize {
				t.Errorf("HCL version %d type %d runtime data %d bytes, want %+v", hcl.Version, hcl.ReportType, len(hcl.RuntimeData), c.HCL)
			}
			if sum := sha256.Sum256(hcl.RuntimeData); hex.EncodeToString(sum[:]) != c.RuntimeSHA256 {
				t.Errorf("runtime data SHA-256 %x, want %s", sum, c.RuntimeSHA256)
			}
			if !bytes.HasPrefix(hcl.ReportData(), unhex(t, c.RuntimeSHA256)) {
				t.Errorf("report data %x does not start with the runtime data's hash", hcl.ReportData())
			}
			ak, err := hcl.AttestationKey()
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(ak.N.Bytes()); hex.EncodeToString(sum[:]) != c.AK.ModulusSHA256 || ak.E != 65537 {
				t.Errorf("AK modulus SHA-256 %x e %d, want %s", sum, ak.E, c.AK.ModulusSHA256)
			}
			if hcl.Runtime.VMConfiguration.VMUniqueID != c.Runtime.VM.VMUniqueID {
				t.Errorf("vmUniqueId %q, want %q", hcl.Runtime.VMConfiguration.VMUniqueID, c.Runtime.VM.VMUniqueID)
			}
			if hex.EncodeToString(q.Nonce()) != c.TPMQuote.Attest.ExtraData || hex.EncodeToString(q.Nonce()) != v.ReportData {
				t.Errorf("nonce %x, want %s", q.Nonce(), c.TPMQuote.Attest.ExtraData)
			}
			if hex.EncodeToString(q.PCRDigest()) != c.TPMQuote.Attest.PCRDigest || !bytes.Equal(q.ComputePCRDigest(), q.PCRDigest()) {
				t.Errorf("PCR digest %x (computed %x), want %s", q.PCRDigest(), q.ComputePCRDigest(), c.TPMQuote.Attest.PCRDigest)
			}
			if len(q.Selected) != 24 || len(q.Message) != c.TPMQuote.Attest.Bytes {
				t.Errorf("%d PCRs selected, message %d bytes", len(q.Selected), len(q.Message))
			}
		})
	}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The legacy quote selects PCRs 0-7 and 14 (bitmap ff4000).
func TestLegacyQuoteSelection(t *testing.T) {
	_, err := ParseTPMQuote(read(t, "az-snp-vtpm/tpm-quote.msg"), read(t, "az-snp-vtpm/tpm-quote.sig"), nil)
	if err == nil || !strings.Contains(err.Error(), "0 PCR values for 9 selected PCRs") {
		t.Fatalf("ParseTPMQuote without PCR values: %v", err)
	}
	pcrs := make([][]byte, 9)
	for i := range pcrs {
		pcrs[i] = make([]byte, 32)
	}
	q, err := ParseTPMQuote(read(t, "az-snp-vtpm/tpm-quote.msg"), read(t, "az-snp-vtpm/tpm-quote.sig"), pcrs)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 14}; len(q.Selected) != 9 || q.Selected[8] != 14 {
		t.Errorf("selected %v, want %v", q.Selected, want)
	}
}

func TestMalformed(t *testing.T) {
	hcl := read(t, "az-snp-vtpm/hcl-report.bin")
	msg := read(t, "az-snp-vtpm/tpm-quote.msg")
	mutate := func(b []byte, f func([]byte) []byte) []byte { return f(bytes.Clone(b)) }
	hclCases := map[string][]byte{
		"short":                        hcl[:100],
		"signature":                    mutate(hcl, func(b []byte) []byte { b[0] = 'X'; return b }),
		"runtime data size too large":  mutate(hcl, func(b []byte) []byte { binary.LittleEndian.PutUint32(b[0x4D0:], 5000); return b }),
		"report size disagrees":        mutate(hcl, func(b []byte) []byte { b[8]++; return b }),
		"bytes after the runtime data": mutate(hcl, func(b []byte) []byte { b[len(b)-1] = 1; return b }),
		"unknown report type":          mutate(hcl, func(b []byte) []byte { b[0x4C8] = 3; return b }),
		"runtime data not JSON":        mutate(hcl, func(b []byte) []byte { b[0x4D4] = 'x'; return b }),
	}
	for name, b := range hclCases {
		if _, err := ParseHCLReport(b); !errors.Is(err, ErrFormat) {
			t.Errorf("HCL report, %s: %v", name, err)
		}
	}
	quoteCases := map[string][]byte{
		"trailing byte": append(bytes.Clone(msg), 0),
		"truncated":     msg[:60],
		"magic":         mutate(msg, func(b []byte) []byte { b[0] = 0; return b }),
		"not a quote":   mutate(msg, func(b []byte) []byte { b[5] = 0x17; return b }),
	}
	for name, b := range quoteCases {
		if _, err := ParseTPMQuote(b, nil, nil); !errors.Is(err, ErrFormat) {
			t.Errorf("TPM quote, %s: %v", name, err)
		}
	}
	ev := read(t, "az-snp-vtpm/evidence-v1.json")
	for name, b := range map[string][]byte{
		"version 0":       []byte(`{"quote":{},"report":[],"vcek":""}`),
		"version 3":       bytes.Replace(ev, []byte(`"version": 1`), []byte(`"version": 3`), 1),
		"unknown key":     bytes.Replace(ev, []byte(`"version": 1`), []byte(`"version": 1, "extra": 1`), 1),
		"duplicate key":   bytes.Replace(ev, []byte(`"version": 1`), []byte(`"version": 1, "version": 2`), 1),
		"td_quote on SNP": bytes.Replace(ev, []byte(`"version": 1`), []byte(`"version": 1, "td_quote": "AAAA"`), 1),
	} {
		if _, err := Parse(b); !errors.Is(err, ErrFormat) {
			t.Errorf("evidence, %s: %v", name, err)
		}
	}
	if !LooksLike(ev) || LooksLike([]byte(`{"__cmwc_t":"x"}`)) || LooksLike([]byte(`[1]`)) {
		t.Error("LooksLike")
	}
}
