package intel

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/internal/testvectors/dcapvectors"
)

// The real vectors are the repository's shared testdata, each folder with
// its PROVENANCE.md and EXPECTED.json (the independently computed results).
var vectorDir = testvectors.Dir()

type expectedFile struct {
	Vectors []struct {
		ID         string            `json:"id"`
		Quote      string            `json:"quote"`
		Encoding   string            `json:"encoding"`
		Collateral map[string]string `json:"collateral"`
		SignChain  string            `json:"tcb_signing_chain"`
		Pinned     string            `json:"pinned_time"`
		Computed   struct {
			FMSPC       string   `json:"fmspc"`
			Final       string   `json:"final_tcb_status"`
			QE          string   `json:"qe_tcb_status"`
			Advisories  []string `json:"platform_advisories"`
			TCBDate     string   `json:"platform_tcbDate"`
			ValidWindow struct {
				From string `json:"from"`
				To   string `json:"to"`
			} `json:"valid_window"`
		} `json:"computed"`
	} `json:"vectors"`
}

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestVectors verifies every real Intel quote at its pinned time and
// compares the outcome with EXPECTED.json.
func TestVectors(t *testing.T) {
	testRoot := dcapvectors.PEMChain(t, filepath.Join(vectorDir, "intel-qvl-sample-testroot/sgx/trustedRootCaCert.pem"))
	genuine := NewVerifier(nil)
	withTestRoot := NewVerifier(&Config{ExtraRoots: testRoot})
	n := 0
	for _, folder := range []string{"dcap-qvl", "zkdcap", "trustee-dcap", "go-tdx-guest", "mobilecoin-sgx", "intel-qvl-sample-testroot"} {
		var ef expectedFile
		if err := json.Unmarshal(read(t, filepath.Join(vectorDir, folder, "EXPECTED.json")), &ef); err != nil {
			t.Fatal(err)
		}
		for _, vec := range ef.Vectors {
			if vec.ID == "intel-sample-tdx-v4-testroot" {
				continue // synthetic field values and a DER-concatenated chain: see TestTestRootTDXRejected
			}
			n++
			t.Run(vec.ID, func(t *testing.T) {
				q := dcapvectors.Quote(t, filepath.Join(vectorDir, folder, vec.Quote), vec.Encoding)
				now := mustTime(t, vec.Pinned)
				var coll *pcs.Collateral
				if len(vec.Collateral) > 0 {
					coll = dcapvectors.IntelCollateral(t, folder, vec.Collateral, vec.SignChain)
				}
				v, opt := genuine, Options{Now: now, Collateral: coll}
				if folder == "intel-qvl-sample-testroot" {
					// This quote names its platform by PPID; the chain comes separately.
					opt.PCKChainPEM = read(t, filepath.Join(vectorDir, folder, "sgx/_fullchain.pem"))
					// The genuine root must refuse Intel's test-root sample.
					_, err := genuine.VerifyBytes(context.Background(), q, opt)
					if !errors.Is(err, ErrChain) {
						t.Fatalf("test-root quote with the genuine root only: want ErrChain, got %v", err)
					}
					v = withTestRoot
				}
				r, err := v.VerifyBytes(context.Background(), q, opt)
				c := vec.Computed
				if r.FMSPC != strings.ToLower(c.FMSPC) {
					t.Errorf("FMSPC: got %s, want %s", r.FMSPC, c.FMSPC)
				}
				for _, name := range []string{CheckQuoteFormat, CheckPCKChain, CheckQEReportSig, CheckQEReportBinding, CheckQuoteSignature} {
					if !passed(r, name) {
						t.Errorf("check %s did not pass: %v", name, err)
					}
				}
				switch {
				case coll == nil:
					if !errors.Is(err, ErrNoCollateral) || len(r.Failed()) != 1 {
						t.Fatalf("without collateral: want only the collateral check to fail, got %v", err)
					}
				case strings.HasPrefix(c.Final, "NO_MATCHING_TCB_LEVEL"):
					if !errors.Is(err, ErrTCBUnsupported) || r.TCB == nil || r.TCB.Status != TCBStatusNotSupported {
						t.Fatalf("want TCBLevelNotSupported, got %v (%+v)", err, r.TCB)
					}
				default:
					if r.TCB == nil {
						t.Fatalf("no TCB result: %v", err)
					}
					if string(r.TCB.Status) != c.Final {
						t.Errorf("TCB status: got %s, want %s (%v)", r.TCB.Status, c.Final, err)
					}
					if !slices.Equal(r.TCB.AdvisoryIDs, nonNilStrings(c.Advisories)) {
						t.Errorf("advisories: got %v, want %v", r.TCB.AdvisoryIDs, c.Advisories)
					}
					if !r.TCB.Date.Equal(mustTime(t, c.TCBDate)) {
						t.Errorf("tcbDate: got %s, want %s", r.TCB.Date, c.TCBDate)
					}
					if c.QE != "" && string(r.TCB.QEStatus) != c.QE {
						t.Errorf("QE status: got %s, want %s", r.TCB.QEStatus, c.QE)
					}
					complete := len(coll.Missing()) == 0
					if complete && err != nil {
						t.Errorf("complete collateral: unexpected failure %v", err)
					}
					if !complete && !errors.Is(err, ErrNoCollateral) {
						t.Errorf("partial collateral must fail the collateral check, got %v", err)
					}
				}
				if c.ValidWindow.From != "" && (coll == nil || len(coll.Missing()) == 0) {
					if !r.Valid.From.Equal(mustTime(t, c.ValidWindow.From)) || !r.Valid.Until.Equal(mustTime(t, c.ValidWindow.To)) {
						t.Errorf("valid window: got %s..%s, want %s..%s", fmtTime(r.Valid.From), fmtTime(r.Valid.Until), c.ValidWindow.From, c.ValidWindow.To)
					}
				}
			})
		}
	}
	if n < 19 {
		t.Fatalf("only %d vectors ran", n)
	}
}

func passed(r *Result, name string) bool {
	for _, c := range r.Checks {
		if c.Name == name {
			return c.OK
		}
	}
	return false
}

func TestTestRootTDXRejected(t *testing.T) {
	q := read(t, filepath.Join(vectorDir, "intel-qvl-sample-testroot/tdx/quote.dat"))
	_, err := NewVerifier(nil).VerifyBytes(context.Background(), q, Options{Now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err == nil {
		t.Fatal("synthetic test-root TDX quote accepted")
	}
}
