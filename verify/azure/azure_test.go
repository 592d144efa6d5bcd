package azure

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence/azure"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/verify/amd"
	"github.com/ratls/ratls/verify/checks"
	"github.com/ratls/ratls/verify/intel"
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

func pinned(t testing.TB, s string) time.Time {
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// looseEvidence assembles evidence from the loose files of a vector folder.
func looseEvidence(t testing.TB, dir string, mutateHCL func([]byte)) *azure.Evidence {
	t.Helper()
	raw := bytes.Clone(read(t, dir+"/hcl-report.bin"))
	if mutateHCL != nil {
		mutateHCL(raw)
	}
	hcl, err := azure.ParseHCLReport(raw)
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Signature, Message string
		PCRs               []string
	}
	json.Unmarshal(read(t, dir+"/tpm-quote-v1.json"), &j)
	msg, _ := hex.DecodeString(j.Message)
	sig, _ := hex.DecodeString(j.Signature)
	var pcrs [][]byte
	for _, p := range j.PCRs {
		b, _ := hex.DecodeString(p)
		pcrs = append(pcrs, b)
	}
	q, err := azure.ParseTPMQuote(msg, sig, pcrs)
	if err != nil {
		t.Fatal(err)
	}
	ev := &azure.Evidence{Version: 1, HCL: hcl, Quote: q}
	if dir == "az-snp-vtpm" {
		blk, _ := pem.Decode(read(t, dir+"/vcek.pem"))
		ev.VCEK = blk.Bytes
	} else {
		ev.TDQuoteRaw = read(t, dir+"/td-quote.bin")
		if ev.TDQuote, err = quote.Parse(ev.TDQuoteRaw); err != nil {
			t.Fatal(err)
		}
	}
	return ev
}

func parseEvidence(t testing.TB, name string) *azure.Evidence {
	t.Helper()
	ev, err := azure.Parse(read(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// offline verifiers: AMD's and Intel's genuine roots, no CRL and no TCB
// collateral (none is in the vectors).
var (
	amdVerifier   = amd.NewVerifier(nil)
	intelVerifier = intel.NewVerifier(nil)
)

func options(t testing.TB, at string) Options {
	return Options{Now: pinned(t, at), AMD: amdVerifier, AMDProduct: "Milan", Intel: intelVerifier}
}

// hardwareFailures names the hardware checks that failed.
func hardwareFailures(r *Result) []string {
	var l checks.List
	if r.SNP != nil {
		l = r.SNP.Checks
	}
	if r.TDX != nil {
		l = r.TDX.Checks
	}
	var out []string
	for _, c := range l.Failed() {
		out = append(out, c.Name)
	}
	return out
}

// What the vectors cannot show offline: SEV-SNP revocation (no CRL) and the
// TDX TCB (no collateral). Everything else must pass.
var (
	snpOffline = []string{amd.CheckCRL}
	tdxOffline = []string{intel.CheckCollateral, intel.CheckRootCRL, intel.CheckPCKCRL, intel.CheckRevocation, intel.CheckTCBInfoSignature,
		intel.CheckTCBInfoValidity, intel.CheckTCBInfoMatch, intel.CheckQEIDSignature, intel.CheckQEIDValidity, intel.CheckQEIDMatch, intel.CheckTCBLevel, intel.CheckTDXModule}
)

// Every Azure vector verifies as EXPECTED.json says: attestation key
// signature, PCR digest, runtime data binding, hardware report signature
// and chain; only what needs collateral the vectors lack is left.
func TestVectors(t *testing.T) {
	for _, c := range []struct {
		name    string
		ev      func(t *testing.T) *azure.Evidence
		at      string
		offline []string
		pcr0    string
	}{
		{"trustee-az-snp-vtpm-hcl-milan", func(t *testing.T) *azure.Evidence { return looseEvidence(t, "az-snp-vtpm", nil) }, "2023-05-03T21:22:19Z", snpOffline, "f3a7e99a5f819a034386bce753a48a73cfdaa0bea0ecfc124bedbf5a8c4799be"},
		{"trustee-az-snp-vtpm-evidence-v1", func(t *testing.T) *azure.Evidence { return parseEvidence(t, "az-snp-vtpm/evidence-v1.json") }, "2025-01-29T16:26:55Z", snpOffline, "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced"},
		{"trustee-az-snp-vtpm-evidence-v2", func(t *testing.T) *azure.Evidence { return parseEvidence(t, "az-snp-vtpm/evidence-v2.json") }, "2025-01-29T16:33:43Z", snpOffline, "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7"},
		{"trustee-az-tdx-vtpm-hcl", func(t *testing.T) *azure.Evidence { return looseEvidence(t, "az-tdx-vtpm", nil) }, "2023-09-13T22:00:51Z", tdxOffline, "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273"},
		{"trustee-az-tdx-vtpm-evidence-v1", func(t *testing.T) *azure.Evidence { return parseEvidence(t, "az-tdx-vtpm/evidence-v1.json") }, "2023-09-13T22:00:51Z", tdxOffline, "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := c.ev(t)
			r, err := Verify(context.Background(), ev, options(t, c.at))
			for _, name := range Required {
				if got, ok := r.Checks.Get(name); !ok || (got.State != checks.Passed && name != CheckHardwareReport) {
					t.Errorf("%s: %+v", name, got)
				}
			}
			if ev.Version == 2 {
				if got, _ := r.Checks.Get(CheckUserData); got.State != checks.Passed {
					t.Errorf("user data: %+v", got)
				}
			}
			if failed := hardwareFailures(r); len(failed) == 0 || slices.ContainsFunc(failed, func(n string) bool { return !slices.Contains(c.offline, n) }) {
				t.Errorf("hardware checks failed: %v (only %v may, for want of collateral)", failed, c.offline)
			}
			if err == nil || !errors.Is(err, ErrHardware) {
				t.Errorf("err %v", err)
			}
			if hex.EncodeToString(r.PCRs[0]) != c.pcr0 || len(r.PCRs) != 24 {
				t.Errorf("PCR0 %x (%d PCRs), want %s", r.PCRs[0], len(r.PCRs), c.pcr0)
			}
		})
	}
}

// failedCheck returns the Azure check that failed, if exactly one did.
func failedCheck(t *testing.T, r *Result) string {
	t.Helper()
	var names []string
	for _, c := range r.Checks.Failed() {
		if c.Name != CheckHardwareReport {
			names = append(names, c.Name)
		}
	}
	if len(names) != 1 {
		t.Fatalf("failed checks %v, want exactly one", names)
	}
	return names[0]
}

// Each attack is refused by the check that guards against it.
func TestAttacks(t *testing.T) {
	ctx := context.Background()
	snpAt := "2023-05-03T21:22:19Z"
	t.Run("quote signed by another vTPM's key", func(t *testing.T) {
		// The legacy quote: a well-formed quote with the right nonce,
		// signed by another vTPM (EXPECTED: REJECT).
		ev := looseEvidence(t, "az-snp-vtpm", nil)
		pcrs := make([][]byte, 9)
		for i := range pcrs {
			pcrs[i] = make([]byte, 32)
		}
		q, err := azure.ParseTPMQuote(read(t, "az-snp-vtpm/tpm-quote.msg"), read(t, "az-snp-vtpm/tpm-quote.sig"), pcrs)
		if err != nil {
			t.Fatal(err)
		}
		ev.Quote = q
		r, _ := Verify(ctx, ev, options(t, snpAt))
		if got, _ := r.Checks.Get(CheckQuoteSignature); got.State != checks.Failed || r.PCRs != nil {
			t.Errorf("signature check %+v, PCRs %v", got, r.PCRs)
		}
	})
	t.Run("signature byte flipped", func(t *testing.T) {
		ev := looseEvidence(t, "az-snp-vtpm", nil)
		ev.Quote.Signature = bytes.Clone(ev.Quote.Signature)
		ev.Quote.Signature[0] ^= 1
		r, _ := Verify(ctx, ev, options(t, snpAt))
		if n := failedCheck(t, r); n != CheckQuoteSignature {
			t.Errorf("failed %s", n)
		}
	})
	t.Run("PCR value changed", func(t *testing.T) {
		ev := looseEvidence(t, "az-snp-vtpm", nil)
		ev.Quote.PCRs[0] = bytes.Clone(ev.Quote.PCRs[0])
		ev.Quote.PCRs[0][0] ^= 1
		r, _ := Verify(ctx, ev, options(t, snpAt))
		if n := failedCheck(t, r); n != CheckPCRDigest || r.PCRs != nil {
			t.Errorf("failed %s, PCRs %v", n, r.PCRs)
		}
	})
	t.Run("runtime data not matching the SNP report data", func(t *testing.T) {
		// Trustee's test: HCL byte 0x06e0 += 1 (a runtime data JSON digit).
		ev := looseEvidence(t, "az-snp-vtpm", func(b []byte) { b[0x06e0]++ })
		r, _ := Verify(ctx, ev, options(t, snpAt))
		if n := failedCheck(t, r); n != CheckRuntimeData {
			t.Errorf("failed %s", n)
		}
	})
	t.Run("runtime data not matching the TD quote's report data", func(t *testing.T) {
		ev := looseEvidence(t, "az-tdx-vtpm", func(b []byte) { b[0x0880]++ })
		r, _ := Verify(ctx, ev, options(t, "2023-09-13T22:00:51Z"))
		if n := failedCheck(t, r); n != CheckRuntimeData {
			t.Errorf("failed %s", n)
		}
	})
	t.Run("TD quote of another TD report", func(t *testing.T) {
		// The HCL's TDREPORT says another MROWNER (TDREPORT byte 0x290 = TDINFO + 0x90).
		ev := looseEvidence(t, "az-tdx-vtpm", func(b []byte) { b[0x20+0x290] ^= 1 })
		r, _ := Verify(ctx, ev, options(t, "2023-09-13T22:00:51Z"))
		if n := failedCheck(t, r); n != CheckTDReport {
			t.Errorf("failed %s", n)
		}
	})
	t.Run("SNP report changed", func(t *testing.T) {
		// Trustee's test: byte 0x01a6 (REPORTED_TCB's SNP SVN) = 0.
		ev := looseEvidence(t, "az-snp-vtpm", func(b []byte) { b[0x01a6] = 0 })
		r, err := Verify(ctx, ev, options(t, snpAt))
		failed := hardwareFailures(r)
		if !errors.Is(err, ErrHardware) || !slices.Contains(failed, amd.CheckSignature) {
			t.Errorf("hardware failures %v", failed)
		}
	})
	t.Run("user-data not carrying the nonce", func(t *testing.T) {
		ev := parseEvidence(t, "az-snp-vtpm/evidence-v2.json")
		ev.Quote.Attest.ExtraData.Buffer = []byte("123abc")
		r, _ := Verify(ctx, ev, options(t, "2025-01-29T16:33:43Z"))
		if got, _ := r.Checks.Get(CheckUserData); got.State != checks.Failed {
			t.Errorf("user data %+v", got)
		}
	})
}
