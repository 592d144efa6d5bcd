package differential

// Differential tests and benchmarks against google/go-tdx-guest, an
// independent pure-Go TDX quote verifier.
//
// go-tdx-guest reads TDX quote version 4 only: version 5 quotes (TDX 1.5
// bodies) are checked to be refused by it and parsed by ratls, and not
// compared further.
//
// Where the two libraries deliberately differ (VERIFIERS.md E5), the test
// derives go-tdx-guest's verdict from the facts ratls reports instead of
// ignoring the case:
//
//   - go-tdx-guest passes only UpToDate: the matched platform level, the TDX
//     module level (when TEE_TCB_SVN[1] > 0) and the QE Identity level must
//     each be UpToDate. ratls reports any status and leaves acceptance to a
//     policy, so for a ratls success with another status go-tdx-guest must
//     fail naming that status.
//   - go-tdx-guest names the module level's status before the platform
//     level's in its error.
//   - go-tdx-guest takes the first matching level in file order and does not
//     re-sort levels; the PCS serves them sorted, so on real collateral the
//     matched level is the same (checked through the status it names).
//   - go-tdx-guest checks nextUpdate but not issueDate or thisUpdate: before
//     the collateral was issued ratls fails and go-tdx-guest still gives its
//     pinned-time verdict (pinned by the "before-issue" case).
//   - go-tdx-guest compares the FMSPC as text (the PCK certificate's in lower
//     case against the TCB Info's as written), so it refuses genuine TCB Info
//     that spells the FMSPC in upper case, after all its signature checks
//     passed; ratls compares bytes.

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/abi"
	gotdxpcs "github.com/google/go-tdx-guest/pcs"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	gotdx "github.com/google/go-tdx-guest/verify"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/internal/testvectors/dcapvectors"
	"github.com/ratls/ratls/verify/intel"
)

// gotdxFolders are the vector folders holding TDX quotes.
var gotdxFolders = []string{"dcap-qvl", "zkdcap", "go-tdx-guest", "trustee-dcap"}

// gotdxVector is the part of an EXPECTED.json vector these tests read. The
// computed values were produced independently of both libraries and serve
// as a third witness.
type gotdxVector struct {
	ID         string            `json:"id"`
	Quote      string            `json:"quote"`
	Encoding   string            `json:"encoding"`
	Collateral map[string]string `json:"collateral"`
	SignChain  string            `json:"tcb_signing_chain"`
	Pinned     string            `json:"pinned_time"`
	Computed   struct {
		Version    int    `json:"quote_version"`
		TEE        string `json:"tee_type"`
		FMSPC      string `json:"fmspc"`
		PCEID      string `json:"pceid"`
		PCESVN     int    `json:"pck_pcesvn"`
		CPUSVN     string `json:"pck_cpusvn"`
		MRTD       string `json:"mrtd"`
		MRSEAM     string `json:"mrseam"`
		TEETCBSVN  string `json:"tee_tcb_svn"`
		RTMR0      string `json:"rtmr0"`
		ReportData string `json:"report_data"`
		QEISVSVN   int    `json:"qe_isvsvn"`
		QEProdID   int    `json:"qe_isvprodid"`
		QEMRSigner string `json:"qe_mrsigner"`
		Final      string `json:"final_tcb_status"`
	} `json:"computed"`

	folder string
}

// complete reports whether the vector ships TCB Info, QE Identity and both
// CRLs.
func (v *gotdxVector) complete() bool {
	c := v.Collateral
	return c["dcapqvl"] != "" || (c["tcb"] != "" && c["qe"] != "" && c["rootcrl"] != "" && c["pckcrl"] != "")
}

// hasTCB reports whether the vector ships at least TCB Info and QE Identity.
func (v *gotdxVector) hasTCB() bool {
	return v.complete() || (v.Collateral["tcb"] != "" && v.Collateral["qe"] != "")
}

func gotdxTDXVectors(t testing.TB) []*gotdxVector {
	t.Helper()
	var out []*gotdxVector
	for _, folder := range gotdxFolders {
		var ef struct {
			Vectors []*gotdxVector `json:"vectors"`
		}
		if err := json.Unmarshal(read(t, filepath.Join(vectorDir, folder, "EXPECTED.json")), &ef); err != nil {
			t.Fatalf("%s/EXPECTED.json: %v", folder, err)
		}
		for _, v := range ef.Vectors {
			if v.Computed.TEE == "TDX" {
				v.folder = folder
				out = append(out, v)
			}
		}
	}
	return out
}

// TestDifferentialGoTDXGuest compares, on every real TDX quote v4, the facts
// ratls reports with those go-tdx-guest reports: parsed fields, PCK
// certificate extensions and the verification outcome.
func TestDifferentialGoTDXGuest(t *testing.T) {
	var v4, v5, withCollateral int
	for _, vec := range gotdxTDXVectors(t) {
		t.Run(vec.ID, func(t *testing.T) {
			raw := dcapvectors.Quote(t, filepath.Join(vectorDir, vec.folder, vec.Quote), vec.Encoding)
			q, err := quote.Parse(raw)
			if err != nil {
				t.Fatalf("ratls quote.Parse: %v", err)
			}
			if q.Header.Version != uint16(vec.Computed.Version) {
				t.Fatalf("quote version: ratls %d, EXPECTED.json %d", q.Header.Version, vec.Computed.Version)
			}
			pq, gerr := abi.QuoteToProto(raw)
			if q.Header.Version == quote.Version5 {
				v5++
				// go-tdx-guest has no v5 support; nothing to compare.
				if gerr == nil {
					t.Fatalf("go-tdx-guest parsed a v5 quote (%T): extend this test to compare it", pq)
				}
				return
			}
			v4++
			if gerr != nil {
				t.Fatalf("go-tdx-guest abi.QuoteToProto: %v", gerr)
			}
			gq, ok := pq.(*pb.QuoteV4)
			if !ok {
				t.Fatalf("go-tdx-guest returned %T, want *QuoteV4", pq)
			}
			compareParsed(t, q, gq, vec)

			now := mustTime(t, vec.Pinned)
			var coll *pcs.Collateral
			if len(vec.Collateral) > 0 {
				coll = dcapvectors.IntelCollateral(t, vec.folder, vec.Collateral, vec.SignChain)
			}
			verifier := intel.NewVerifier(nil)
			r, rerr := verifier.Verify(t.Context(), q, intel.Options{Now: now, Collateral: coll})
			comparePCK(t, r, gq, vec)

			// Signatures and chain only: go-tdx-guest without collateral,
			// ratls without collateral (only collateral.present may fail).
			t.Run("signatures", func(t *testing.T) {
				r, rerr := verifier.Verify(t.Context(), q, intel.Options{Now: now})
				gerr := gotdx.TdxQuote(gq, &gotdx.Options{Now: now, TrustedRoots: intelRootPool(t)})
				onlyCollateralMissing := errors.Is(rerr, intel.ErrNoCollateral) && len(r.Failed()) == 1
				if onlyCollateralMissing != (gerr == nil) {
					t.Fatalf("disagreement without collateral: ratls %v, go-tdx-guest %v", rerr, gerr)
				}
				if gerr != nil {
					t.Fatalf("both reject a genuine quote: ratls %v, go-tdx-guest %v", rerr, gerr)
				}
			})

			if !vec.hasTCB() {
				return
			}
			withCollateral++
			responses, tcbFMSPC := pcsResponses(t, vec)
			revocations := vec.complete()
			if !revocations {
				// Only TCB Info and QE Identity (no CRLs): go-tdx-guest runs
				// without revocation checks and ratls must report exactly the
				// missing collateral besides its TCB facts.
				if !errors.Is(rerr, intel.ErrNoCollateral) {
					t.Fatalf("partial collateral: ratls must fail %s, got %v", intel.CheckCollateral, rerr)
				}
			}
			gotdxRun := func(now time.Time, gq *pb.QuoteV4) error {
				return gotdx.TdxQuote(gq, &gotdx.Options{
					GetCollateral:    true,
					CheckRevocations: revocations,
					Getter:           responses,
					Now:              now,
					TrustedRoots:     intelRootPool(t),
				})
			}

			t.Run("pinned", func(t *testing.T) {
				gerr := gotdxRun(now, gq)
				compareVerdict(t, r, rerr, gerr, !revocations, tcbFMSPC)
			})

			t.Run("expired", func(t *testing.T) {
				// A day after the TCB Info's nextUpdate: both must refuse.
				later := coll.TCBInfo.NextUpdate.Add(24 * time.Hour)
				_, rerr := verifier.Verify(t.Context(), q, intel.Options{Now: later, Collateral: coll})
				if !errors.Is(rerr, intel.ErrValidity) {
					t.Errorf("ratls after nextUpdate: want ErrValidity, got %v", rerr)
				}
				if gerr := gotdxRun(later, gq); gerr == nil || !strings.Contains(gerr.Error(), "expired") {
					t.Errorf("go-tdx-guest after nextUpdate: want an expiry error, got %v", gerr)
				}
			})

			t.Run("before-issue", func(t *testing.T) {
				// An hour before the TCB Info was issued.
				earlier := coll.TCBInfo.IssueDate.Add(-time.Hour)
				_, rerr := verifier.Verify(t.Context(), q, intel.Options{Now: earlier, Collateral: coll})
				if !errors.Is(rerr, intel.ErrValidity) {
					t.Errorf("ratls before the TCB Info's issueDate: want ErrValidity, got %v", rerr)
				}
				// Known divergence: go-tdx-guest does not read issueDate, so
				// its verdict is the one of the pinned time.
				gPinned, gEarlier := gotdxRun(now, gq), gotdxRun(earlier, gq)
				if (gPinned == nil) != (gEarlier == nil) {
					t.Errorf("go-tdx-guest before issueDate: %v, at the pinned time: %v", gEarlier, gPinned)
				}
			})

			t.Run("tampered-report-data", func(t *testing.T) {
				// One flipped REPORTDATA bit: the quote signature must fail.
				bad := bytes.Clone(raw)
				bad[quote.HeaderSize+quote.TDReportBody10Size-64] ^= 1
				tq, err := quote.Parse(bad)
				if err != nil {
					t.Fatal(err)
				}
				_, rerr := verifier.Verify(t.Context(), tq, intel.Options{Now: now, Collateral: coll})
				if !errors.Is(rerr, intel.ErrSignature) {
					t.Errorf("ratls: want ErrSignature, got %v", rerr)
				}
				tg, err := abi.QuoteToProto(bad)
				if err != nil {
					t.Fatal(err)
				}
				if gerr := gotdxRun(now, tg.(*pb.QuoteV4)); !errors.Is(gerr, gotdx.ErrHashVerificationFail) {
					t.Errorf("go-tdx-guest: want ErrHashVerificationFail, got %v", gerr)
				}
			})
		})
	}
	if v4 < 10 || v5 < 3 || withCollateral < 5 {
		t.Fatalf("too few vectors: %d v4 (%d with collateral), %d v5", v4, withCollateral, v5)
	}
}

// compareParsed checks every field both parsers expose, and the fields
// EXPECTED.json lists.
func compareParsed(t *testing.T, q *quote.Quote, g *pb.QuoteV4, vec *gotdxVector) {
	t.Helper()
	eq := func(field string, ratls, gotdx []byte) {
		t.Helper()
		if !bytes.Equal(ratls, gotdx) {
			t.Errorf("%s: ratls %x, go-tdx-guest %x", field, ratls, gotdx)
		}
	}
	num := func(field string, ratls, gotdx uint64) {
		t.Helper()
		if ratls != gotdx {
			t.Errorf("%s: ratls %d, go-tdx-guest %d", field, ratls, gotdx)
		}
	}
	want := func(field string, got []byte, expected string) {
		t.Helper()
		if expected != "" && hex.EncodeToString(got) != strings.ToLower(expected) {
			t.Errorf("%s: ratls %x, EXPECTED.json %s", field, got, expected)
		}
	}
	le16 := func(v uint16) []byte { return []byte{byte(v), byte(v >> 8)} }

	h, gh := &q.Header, g.GetHeader()
	num("header version", uint64(h.Version), uint64(gh.GetVersion()))
	num("attestation key type", uint64(h.AttKeyType), uint64(gh.GetAttestationKeyType()))
	num("TEE type", uint64(h.TEEType), uint64(gh.GetTeeType()))
	eq("QE SVN", le16(h.QESVN), gh.GetQeSvn())
	eq("PCE SVN", le16(h.PCESVN), gh.GetPceSvn())
	eq("QE vendor ID", h.QEVendorID[:], gh.GetQeVendorId())
	eq("user data", h.UserData[:], gh.GetUserData())

	if q.TD == nil {
		t.Fatal("ratls: no TD body in a TDX quote")
	}
	td, gtd := q.TD, g.GetTdQuoteBody()
	eq("TEE_TCB_SVN", td.TEETCBSVN[:], gtd.GetTeeTcbSvn())
	eq("MRSEAM", td.MRSEAM[:], gtd.GetMrSeam())
	eq("MRSIGNERSEAM", td.MRSignerSEAM[:], gtd.GetMrSignerSeam())
	eq("SEAMATTRIBUTES", td.SEAMAttributes[:], gtd.GetSeamAttributes())
	eq("TDATTRIBUTES", td.TDAttributes[:], gtd.GetTdAttributes())
	eq("XFAM", td.XFAM[:], gtd.GetXfam())
	eq("MRTD", td.MRTD[:], gtd.GetMrTd())
	eq("MRCONFIGID", td.MRConfigID[:], gtd.GetMrConfigId())
	eq("MROWNER", td.MROwner[:], gtd.GetMrOwner())
	eq("MROWNERCONFIG", td.MROwnerConfig[:], gtd.GetMrOwnerConfig())
	if rtmrs := gtd.GetRtmrs(); len(rtmrs) != len(td.RTMR) {
		t.Errorf("RTMR count: ratls %d, go-tdx-guest %d", len(td.RTMR), len(rtmrs))
	} else {
		for i := range rtmrs {
			eq(fmt.Sprintf("RTMR%d", i), td.RTMR[i][:], rtmrs[i])
		}
	}
	eq("REPORTDATA", td.ReportData[:], gtd.GetReportData())
	want("MRTD", td.MRTD[:], vec.Computed.MRTD)
	want("MRSEAM", td.MRSEAM[:], vec.Computed.MRSEAM)
	want("TEE_TCB_SVN", td.TEETCBSVN[:], vec.Computed.TEETCBSVN)
	want("RTMR0", td.RTMR[0][:], vec.Computed.RTMR0)
	want("REPORTDATA", td.ReportData[:], vec.Computed.ReportData)

	s, gs := &q.Signature, g.GetSignedData()
	num("signature data size", uint64(len(q.Raw)-quote.HeaderSize-quote.TDReportBody10Size-4), uint64(g.GetSignedDataSize()))
	num("bytes after the signature data", uint64(len(q.Trailing)), uint64(len(g.GetExtraBytes())))
	eq("quote signature", s.QuoteSignature[:], gs.GetSignature())
	eq("attestation key", s.AttestationKey[:], gs.GetEcdsaAttestationKey())
	gcd := gs.GetCertificationData()
	num("outer certification data type", uint64(s.OuterCertification.Type), uint64(gcd.GetCertificateDataType()))
	num("outer certification data size", uint64(len(s.OuterCertification.Data)), uint64(gcd.GetSize()))
	gqe := gcd.GetQeReportCertificationData()

	qr, gr := &s.QEReport, gqe.GetQeReport()
	eq("QE CPUSVN", qr.CPUSVN[:], gr.GetCpuSvn())
	num("QE MISCSELECT", uint64(qr.MiscSelect), uint64(gr.GetMiscSelect()))
	eq("QE attributes", qr.Attributes[:], gr.GetAttributes())
	eq("QE MRENCLAVE", qr.MREnclave[:], gr.GetMrEnclave())
	eq("QE MRSIGNER", qr.MRSigner[:], gr.GetMrSigner())
	num("QE ISVPRODID", uint64(qr.ISVProdID), uint64(gr.GetIsvProdId()))
	num("QE ISVSVN", uint64(qr.ISVSVN), uint64(gr.GetIsvSvn()))
	eq("QE report data", qr.ReportData[:], gr.GetReportData())
	if gotRaw, err := abi.EnclaveReportToAbiBytes(gr); err != nil {
		t.Errorf("go-tdx-guest QE report encoding: %v", err)
	} else {
		eq("QE report bytes (signed by the PCK key)", s.QEReportRaw, gotRaw)
	}
	want("QE MRSIGNER", qr.MRSigner[:], vec.Computed.QEMRSigner)
	if int(qr.ISVSVN) != vec.Computed.QEISVSVN || int(qr.ISVProdID) != vec.Computed.QEProdID {
		t.Errorf("QE ISVSVN/ISVPRODID: ratls %d/%d, EXPECTED.json %d/%d", qr.ISVSVN, qr.ISVProdID, vec.Computed.QEISVSVN, vec.Computed.QEProdID)
	}
	eq("QE report signature", s.QEReportSignature[:], gqe.GetQeReportSignature())
	eq("QE authentication data", s.QEAuthData, gqe.GetQeAuthData().GetData())
	num("QE authentication data size", uint64(len(s.QEAuthData)), uint64(gqe.GetQeAuthData().GetParsedDataSize()))
	gchain := gqe.GetPckCertificateChainData()
	num("PCK certification data type", uint64(s.Certification.Type), uint64(gchain.GetCertificateDataType()))
	eq("PCK certification data", s.Certification.Data, gchain.GetPckCertChain())
}

// comparePCK compares the PCK certificate extensions go-tdx-guest extracts
// with those ratls reports in Result.PCK.
func comparePCK(t *testing.T, r *intel.Result, g *pb.QuoteV4, vec *gotdxVector) {
	t.Helper()
	if r.PCK == nil {
		t.Fatalf("ratls reported no PCK extensions: %v", r.Failed())
	}
	block, _ := pem.Decode(g.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetPckCertificateChainData().GetPckCertChain())
	if block == nil {
		t.Fatal("go-tdx-guest chain: no PEM block")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ge, err := gotdxpcs.PckCertificateExtensions(leaf)
	if err != nil {
		t.Fatalf("go-tdx-guest PckCertificateExtensions: %v", err)
	}
	p := r.PCK
	for _, c := range []struct {
		field        string
		ratls, gotdx string
	}{
		{"PPID", hex.EncodeToString(p.PPID[:]), ge.PPID},
		{"FMSPC", hex.EncodeToString(p.FMSPC[:]), ge.FMSPC},
		{"PCEID", hex.EncodeToString(p.PCEID[:]), ge.PCEID},
		{"CPUSVN", hex.EncodeToString(p.TCB.CPUSVN[:]), hex.EncodeToString(ge.TCB.CPUSvn)},
		{"TCB components", hex.EncodeToString(p.TCB.CompSVN[:]), hex.EncodeToString(ge.TCB.CPUSvnComponents)},
		{"PCESVN", fmt.Sprint(p.TCB.PCESVN), fmt.Sprint(ge.TCB.PCESvn)},
	} {
		if c.ratls != c.gotdx {
			t.Errorf("PCK %s: ratls %s, go-tdx-guest %s", c.field, c.ratls, c.gotdx)
		}
	}
	if r.FMSPC != strings.ToLower(vec.Computed.FMSPC) || hex.EncodeToString(p.PCEID[:]) != vec.Computed.PCEID ||
		int(p.TCB.PCESVN) != vec.Computed.PCESVN || hex.EncodeToString(p.TCB.CompSVN[:]) != vec.Computed.CPUSVN {
		t.Errorf("PCK FMSPC/PCEID/PCESVN/components: ratls %s/%x/%d/%x, EXPECTED.json %s/%s/%d/%s",
			r.FMSPC, p.PCEID, p.TCB.PCESVN, p.TCB.CompSVN, vec.Computed.FMSPC, vec.Computed.PCEID, vec.Computed.PCESVN, vec.Computed.CPUSVN)
	}
}

// compareVerdict checks go-tdx-guest's verdict against the one that follows
// from ratls's facts under go-tdx-guest's rules (see the file comment).
// partial says no CRLs were given: go-tdx-guest ran without revocation
// checks and ratls's collateral.present and CRL checks failed. tcbFMSPC is
// the fmspc as written in the TCB Info.
func compareVerdict(t *testing.T, r *intel.Result, rerr, gerr error, partial bool, tcbFMSPC string) {
	t.Helper()
	var failed []intel.Check
	tcbUnsupported := false
	for _, c := range r.Failed() {
		switch {
		case partial && (c.Name == intel.CheckCollateral || c.Name == intel.CheckRootCRL || c.Name == intel.CheckPCKCRL || c.Name == intel.CheckRevocation):
		case errors.Is(c.Err(), intel.ErrTCBUnsupported):
			tcbUnsupported = true
		default:
			failed = append(failed, c)
		}
	}
	if len(failed) > 0 {
		// ratls failed before the TCB evaluation: any error will do.
		if gerr == nil {
			t.Fatalf("ratls fails (%v) but go-tdx-guest accepts", rerr)
		}
		t.Logf("both fail: ratls %v; go-tdx-guest %v", rerr, gerr)
		return
	}
	if r.TCB == nil {
		t.Fatalf("ratls reached the TCB evaluation without a TCB result: %v", rerr)
	}
	notUpToDate := func(s pcs.Status) string {
		return fmt.Sprintf("is not %q, found %q", gotdxpcs.TcbComponentStatusUpToDate, s)
	}
	var wantErr string // a substring of go-tdx-guest's error, "" for success
	switch {
	case tcbFMSPC != strings.ToLower(tcbFMSPC):
		// Known divergence: go-tdx-guest compares the FMSPC as text, the
		// PCK certificate's in lower case with the TCB Info's as written,
		// so it refuses TCB Info spelling the FMSPC in upper case. Its
		// check comes after every signature check.
		wantErr = "FMSPC from PCK Certificate"
	case tcbUnsupported && r.TCB.QEStatus == intel.TCBStatusNotSupported:
		// ratls stops at the QE Identity, go-tdx-guest looks at the
		// platform first: only the failure is compared.
		if gerr == nil {
			t.Fatalf("ratls: QE not supported (%v); go-tdx-guest accepts", rerr)
		}
		return
	case tcbUnsupported:
		wantErr = "no matching TCB level found"
	case r.TCB.Level == nil:
		t.Fatalf("ratls passed without a matched TCB level: %+v", r.TCB)
	case r.TCB.ModuleStatus != "" && r.TCB.ModuleStatus != pcs.StatusUpToDate:
		wantErr = "TDX Module TCB Status " + notUpToDate(r.TCB.ModuleStatus)
	case r.TCB.Level.TCBStatus != pcs.StatusUpToDate:
		wantErr = "TCB Status " + notUpToDate(r.TCB.Level.TCBStatus)
	case r.TCB.QEStatus != pcs.StatusUpToDate:
		wantErr = "TCB Status " + notUpToDate(r.TCB.QEStatus)
	}
	switch {
	case wantErr == "" && gerr != nil:
		t.Errorf("ratls: %s (%v); go-tdx-guest refuses: %v", r.TCB.Status, rerr, gerr)
	case wantErr != "" && (gerr == nil || !strings.Contains(gerr.Error(), wantErr)):
		t.Errorf("ratls: %v, TCB %+v; go-tdx-guest: want an error containing %q, got %v", rerr, r.TCB, wantErr, gerr)
	}
	t.Logf("ratls: status %s (platform level %s, module %q, QE %s); go-tdx-guest: %v", r.TCB.Status, levelStatus(r.TCB), r.TCB.ModuleStatus, r.TCB.QEStatus, gerr)
}

func levelStatus(t *intel.TCB) pcs.Status {
	if t.Level == nil {
		return ""
	}
	return t.Level.TCBStatus
}

// pcsGetter is a go-tdx-guest trust.HTTPSGetter serving fixed PCS responses
// from memory, by exact URL.
type pcsGetter map[string]pcsResponse

type pcsResponse struct {
	header map[string][]string
	body   []byte
}

// Get returns the stored response for url, or an error naming the URL.
func (g pcsGetter) Get(url string) (map[string][]string, []byte, error) {
	r, ok := g[url]
	if !ok {
		return nil, nil, fmt.Errorf("no stored PCS response for %s", url)
	}
	return r.header, r.body, nil
}

// pcsResponses builds, from a vector's raw collateral files, the PCS
// responses go-tdx-guest asks for: TCB Info and QE Identity (v4 TDX API),
// the PCK CRL (v4 SGX API) and the Root CA CRL (at the root certificate's
// CRL distribution points), each with its issuer chain header as PCS sends
// it (URL-escaped PEM; names canonicalized as net/http delivers them). It
// also returns the fmspc as the TCB Info spells it.
func pcsResponses(t testing.TB, vec *gotdxVector) (g pcsGetter, tcbFMSPC string) {
	t.Helper()
	dir := filepath.Join(vectorDir, vec.folder)
	roots := filepath.Join(vectorDir, "intel-roots")
	var tcbBody, qeBody, pckCRL, rootCRL []byte
	var tcbChain, qeChain, pckCRLChain string
	if f := vec.Collateral["dcapqvl"]; f != "" {
		var j map[string]string
		if err := json.Unmarshal(read(t, filepath.Join(dir, f)), &j); err != nil {
			t.Fatal(err)
		}
		tcbBody = []byte(`{"tcbInfo":` + j["tcb_info"] + `,"signature":"` + j["tcb_info_signature"] + `"}`)
		qeBody = []byte(`{"enclaveIdentity":` + j["qe_identity"] + `,"signature":"` + j["qe_identity_signature"] + `"}`)
		tcbChain, qeChain, pckCRLChain = j["tcb_info_issuer_chain"], j["qe_identity_issuer_chain"], j["pck_crl_issuer_chain"]
		var err error
		if pckCRL, err = hex.DecodeString(j["pck_crl"]); err != nil {
			t.Fatal(err)
		}
		if rootCRL, err = hex.DecodeString(j["root_ca_crl"]); err != nil {
			t.Fatal(err)
		}
	} else {
		rootPEM := string(read(t, filepath.Join(roots, "Intel_SGX_Root_CA.pem")))
		tcbChain = string(read(t, filepath.Join(dir, vec.SignChain)))
		if strings.Count(tcbChain, "BEGIN CERTIFICATE") == 1 {
			tcbChain += rootPEM
		}
		qeChain = tcbChain
		tcbBody = read(t, filepath.Join(dir, vec.Collateral["tcb"]))
		qeBody = read(t, filepath.Join(dir, vec.Collateral["qe"]))
		if f := vec.Collateral["pckcrl"]; f != "" {
			pckCRL = read(t, filepath.Join(dir, f))
			rootCRL = read(t, filepath.Join(dir, vec.Collateral["rootcrl"]))
			crl, err := x509.ParseRevocationList(pckCRL)
			if err != nil {
				t.Fatal(err)
			}
			ca := "Intel_SGX_PCK_Processor_CA.pem"
			if crl.Issuer.CommonName == "Intel SGX PCK Platform CA" {
				ca = "Intel_SGX_PCK_Platform_CA.pem"
			}
			pckCRLChain = string(read(t, filepath.Join(roots, ca))) + rootPEM
		}
	}

	tcbFMSPC = tcbInfoFMSPC(t, tcbBody)
	g = pcsGetter{
		// go-tdx-guest asks with the PCK certificate's FMSPC, in lower case.
		gotdxpcs.TcbInfoURL(strings.ToLower(tcbFMSPC)): {header: issuerHeader("TCB-Info-Issuer-Chain", tcbChain), body: tcbBody},
		gotdxpcs.QeIdentityURL():                       {header: issuerHeader("SGX-Enclave-Identity-Issuer-Chain", qeChain), body: qeBody},
	}
	if pckCRL != nil {
		crl, err := x509.ParseRevocationList(pckCRL)
		if err != nil {
			t.Fatal(err)
		}
		ca := "processor"
		if crl.Issuer.CommonName == "Intel SGX PCK Platform CA" {
			ca = "platform"
		}
		g[gotdxpcs.PckCrlURL(ca)] = pcsResponse{header: issuerHeader("SGX-PCK-CRL-Issuer-Chain", pckCRLChain), body: pckCRL}
		// go-tdx-guest fetches the Root CA CRL from the distribution points
		// of the root certificate in the QE Identity issuer chain.
		chain, err := pcs.ParsePEMChain([]byte(qeChain))
		if err != nil {
			t.Fatal(err)
		}
		dps := chain[len(chain)-1].CRLDistributionPoints
		if len(dps) == 0 {
			t.Fatal("root certificate without CRL distribution points")
		}
		for _, u := range dps {
			g[u] = pcsResponse{body: rootCRL}
		}
	}
	return g, tcbFMSPC
}

func issuerHeader(name, chainPEM string) map[string][]string {
	return map[string][]string{http.CanonicalHeaderKey(name): {url.QueryEscape(chainPEM)}}
}

// tcbInfoFMSPC returns the fmspc of a TCB Info body as written.
func tcbInfoFMSPC(t testing.TB, body []byte) string {
	t.Helper()
	var v struct {
		TCBInfo struct {
			FMSPC string `json:"fmspc"`
		} `json:"tcbInfo"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v.TCBInfo.FMSPC
}

// benchVectorID is the quote both verifiers check in the comparison
// benchmark: a TDX v4 quote (from dcap-qvl's NEAR test) that is UpToDate
// with its complete collateral, so both libraries succeed and run every
// check. (dcap-qvl's other TDX v4 quote has TCB Info with an upper-case
// FMSPC, which go-tdx-guest refuses.)
const benchVectorID = "near-tdx-v4-20A06F000000"

// benchVector returns the benchmark vector and its raw quote.
func benchVector(b *testing.B) (*gotdxVector, []byte) {
	b.Helper()
	for _, v := range gotdxTDXVectors(b) {
		if v.ID == benchVectorID {
			return v, dcapvectors.Quote(b, filepath.Join(vectorDir, v.folder, v.Quote), v.Encoding)
		}
	}
	b.Fatalf("vector %s not found", benchVectorID)
	return nil, nil
}

// BenchmarkCompareGoTDXGuest verifies the same TDX v4 quote with the same
// in-memory collateral at the same time, from raw bytes to a verdict, with
// ratls (one Verifier reused, as a server runs it) and with go-tdx-guest
// (verify.TdxQuote after abi.QuoteToProto, which keeps nothing between
// calls).
func BenchmarkCompareGoTDXGuest(b *testing.B) {
	vec, raw := benchVector(b)
	now := mustTime(b, vec.Pinned)

	b.Run("ratls", func(b *testing.B) {
		coll := dcapvectors.IntelCollateral(b, vec.folder, vec.Collateral, vec.SignChain)
		v := intel.NewVerifier(nil)
		opt := intel.Options{Now: now, Collateral: coll}
		b.ReportAllocs()
		for b.Loop() {
			q, err := quote.Parse(raw)
			if err != nil {
				b.Fatal(err)
			}
			if r, err := v.Verify(b.Context(), q, opt); err != nil || r.TCB.Status != pcs.StatusUpToDate {
				b.Fatalf("ratls: %v", err)
			}
		}
	})

	b.Run("go-tdx-guest", func(b *testing.B) {
		getter, _ := pcsResponses(b, vec)
		roots := intelRootPool(b)
		b.ReportAllocs()
		for b.Loop() {
			pq, err := abi.QuoteToProto(raw)
			if err != nil {
				b.Fatal(err)
			}
			if err := gotdx.TdxQuote(pq, &gotdx.Options{
				GetCollateral:    true,
				CheckRevocations: true,
				Getter:           getter,
				Now:              now,
				TrustedRoots:     roots,
			}); err != nil {
				b.Fatalf("go-tdx-guest: %v", err)
			}
		}
	})
}

// intelRootPool is the Intel root for go-tdx-guest, passed explicitly: with
// TrustedRoots nil it logs a warning on every call.
func intelRootPool(t testing.TB) *x509.CertPool {
	roots := x509.NewCertPool()
	roots.AddCert(dcapvectors.PEMChain(t, filepath.Join(vectorDir, "intel-roots", "Intel_SGX_Root_CA.pem"))[0])
	return roots
}
