package pcs

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPCKExtensionsVectors parses the PCK leaf certificate of every quote
// vector (the PEM chain embedded in the quote, or the external chain of the
// cert-type-1 sample) and compares it with EXPECTED.json.
func TestPCKExtensionsVectors(t *testing.T) {
	n := 0
	for _, folder := range vectorFolders {
		for _, v := range loadExpected(t, folder) {
			c := v.Computed
			if c.FMSPC == nil {
				continue // the synthetic TDX sample has no readable chain
			}
			t.Run(v.ID, func(t *testing.T) {
				var leaf *x509.Certificate
				if p, ok := v.Collateral["extra_chain"]; ok {
					chain, err := ParsePEMChain(readFile(t, filepath.Join(folder, p)))
					if err != nil {
						t.Fatal(err)
					}
					leaf = chain[0]
				} else {
					leaf = leafFromQuote(t, readQuote(t, folder, v.Quote, v.Encoding))
				}
				if leaf == nil {
					t.Fatal("no PCK certificate found")
				}
				if leaf.Subject.CommonName != c.PCKChain[0].SubjectCN {
					t.Errorf("leaf CN %q, want %q", leaf.Subject.CommonName, c.PCKChain[0].SubjectCN)
				}
				ext, err := ParsePCKExtensions(leaf)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := strings.ToUpper(hexs(ext.FMSPC[:])), *c.FMSPC; got != want {
					t.Errorf("FMSPC %s, want %s", got, want)
				}
				if got := hexs(ext.PCEID[:]); got != *c.PCEID {
					t.Errorf("PCEID %s, want %s", got, *c.PCEID)
				}
				if int(ext.TCB.PCESVN) != *c.PCKPCESVN {
					t.Errorf("PCESVN %d, want %d", ext.TCB.PCESVN, *c.PCKPCESVN)
				}
				if got := hexs(ext.TCB.CompSVN[:]); got != *c.PCKCPUSVN {
					t.Errorf("TCB components %s, want %s", got, *c.PCKCPUSVN)
				}
				if int(ext.SGXType) != *c.PCKSGXType {
					t.Errorf("SGX type %d, want %d", ext.SGXType, *c.PCKSGXType)
				}
				ca, err := CAType(leaf)
				if err != nil {
					t.Fatal(err)
				}
				wantCA := map[string]CA{cnPlatformCA: CAPlatform, cnProcessorCA: CAProcessor}[c.PCKChain[1].SubjectCN]
				if ca != wantCA {
					t.Errorf("CA type %q, want %q (issuer %s)", ca, wantCA, c.PCKChain[1].SubjectCN)
				}
				if (ext.PlatformInstanceID != nil) != (ca == CAPlatform) || (ext.Configuration != nil) != (ca == CAPlatform) {
					t.Errorf("platform-only entries present=%v for CA %s", ext.PlatformInstanceID != nil, ca)
				}
				// Round trip through the encoder.
				der, err := ext.marshal()
				if err != nil {
					t.Fatal(err)
				}
				again, err := parsePCKExtensionsDER(der)
				if err != nil {
					t.Fatalf("re-parse: %v", err)
				}
				if !pckEqual(ext, again) {
					t.Errorf("round trip changed the extensions: %+v vs %+v", ext, again)
				}
			})
			n++
		}
	}
	if n != 19 {
		t.Fatalf("%d PCK certificates checked, want the 19 vectors with an FMSPC", n)
	}
}

func pckEqual(a, b *PCKExtensions) bool {
	if a.PPID != b.PPID || a.TCB != b.TCB || a.PCEID != b.PCEID || a.FMSPC != b.FMSPC || a.SGXType != b.SGXType {
		return false
	}
	if (a.PlatformInstanceID == nil) != (b.PlatformInstanceID == nil) || (a.Configuration == nil) != (b.Configuration == nil) {
		return false
	}
	if a.PlatformInstanceID != nil && *a.PlatformInstanceID != *b.PlatformInstanceID {
		return false
	}
	return a.Configuration == nil || *a.Configuration == *b.Configuration
}

// vectorCollateral is the collateral of one EXPECTED.json vector.
type vectorCollateral struct {
	tcb     *TCBInfo
	qe      *EnclaveIdentity
	signer  *x509.Certificate
	pckCRL  *x509.RevocationList
	rootCRL *x509.RevocationList
	dcapqvl *Collateral
}

func loadVectorCollateral(t *testing.T, folder string, v expectedVector) vectorCollateral {
	t.Helper()
	var vc vectorCollateral
	var err error
	if p, ok := v.Collateral["dcapqvl"]; ok {
		c, err := ParseDCAPQVLJSON(readFile(t, filepath.Join(folder, p)))
		if err != nil {
			t.Fatal(err)
		}
		vc = vectorCollateral{tcb: c.TCBInfo, qe: c.QEIdentity, signer: c.TCBInfoIssuerChain[0],
			pckCRL: c.PCKCRL, rootCRL: c.RootCACRL, dcapqvl: c}
		if c.TCBInfo.Body() == nil || !bytes.Contains(c.TCBInfo.Body(), c.TCBInfo.Raw) {
			t.Error("Body does not contain Raw")
		}
		return vc
	}
	if p, ok := v.Collateral["tcb"]; ok {
		if vc.tcb, err = ParseTCBInfo(readFile(t, filepath.Join(folder, p))); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	if p, ok := v.Collateral["qe"]; ok {
		if vc.qe, err = ParseEnclaveIdentity(readFile(t, filepath.Join(folder, p))); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	for key, dst := range map[string]**x509.RevocationList{"pckcrl": &vc.pckCRL, "rootcrl": &vc.rootCRL} {
		if p, ok := v.Collateral[key]; ok {
			if *dst, err = ParseCRL(readFile(t, filepath.Join(folder, p))); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
		}
	}
	if v.TCBSigningChain != nil {
		chain, err := ParsePEMChain(readFile(t, filepath.Join(folder, *v.TCBSigningChain)))
		if err != nil {
			t.Fatal(err)
		}
		vc.signer = chain[0]
	}
	return vc
}

// TestCollateralVectors checks every vector that ships collateral: parsed
// fields, signatures, validity at the pinned time and CRL contents.
func TestCollateralVectors(t *testing.T) {
	n := 0
	for _, folder := range vectorFolders {
		for _, v := range loadExpected(t, folder) {
			c := v.Computed
			if len(v.Collateral) == 0 || c.TCBInfo == nil {
				continue
			}
			n++
			t.Run(v.ID, func(t *testing.T) {
				vc := loadVectorCollateral(t, folder, v)
				now := mustTime(t, *v.PinnedTime)

				ti, want := vc.tcb, c.TCBInfo
				wantID := TCBInfoIDSGX // version 2 has no id and is SGX (QVL)
				if want.ID != nil {
					wantID = *want.ID
				}
				if ti.ID != wantID || ti.Version != want.Version || !strings.EqualFold(hexs(ti.FMSPC[:]), want.FMSPC) ||
					!ti.IssueDate.Equal(mustTime(t, want.IssueDate)) || !ti.NextUpdate.Equal(mustTime(t, want.NextUpdate)) ||
					ti.TCBEvaluationDataNumber != want.EvalNum {
					t.Errorf("TCB Info %s v%d %x %s..%s #%d, want %+v", ti.ID, ti.Version, ti.FMSPC, ti.IssueDate, ti.NextUpdate, ti.TCBEvaluationDataNumber, *want)
				}
				if err := ti.CheckSignature(vc.signer); (err == nil) != want.SigValid {
					t.Errorf("TCB Info signature: %v, want valid=%v", err, want.SigValid)
				}
				if err := ti.ValidAt(now); err != nil {
					t.Errorf("TCB Info at pinned time: %v", err)
				}
				if err := ti.ValidAt(ti.NextUpdate.Add(time.Second)); !errors.Is(err, ErrExpired) {
					t.Errorf("TCB Info after nextUpdate: %v, want ErrExpired", err)
				}
				if err := ti.ValidAt(ti.IssueDate.Add(-time.Second)); !errors.Is(err, ErrNotYetValid) {
					t.Errorf("TCB Info before issueDate: %v, want ErrNotYetValid", err)
				}

				if wq := c.QEIdentity; wq != nil {
					q := vc.qe
					if q.ID != wq.ID || q.Version != wq.Version || !q.IssueDate.Equal(mustTime(t, wq.IssueDate)) ||
						!q.NextUpdate.Equal(mustTime(t, wq.NextUpdate)) || q.TCBEvaluationDataNumber != wq.EvalNum {
						t.Errorf("QE identity %s v%d %s..%s #%d, want %+v", q.ID, q.Version, q.IssueDate, q.NextUpdate, q.TCBEvaluationDataNumber, *wq)
					}
					// The QE identity is signed by the same TCB signing key.
					if err := q.CheckSignature(vc.signer); (err == nil) != wq.SigValid {
						t.Errorf("QE identity signature: %v, want valid=%v", err, wq.SigValid)
					}
					if err := q.ValidAt(now); err != nil {
						t.Errorf("QE identity at pinned time: %v", err)
					}
				}
				checkCRL(t, "root CA CRL", vc.rootCRL, c.RootCACRL)
				checkCRL(t, "PCK CRL", vc.pckCRL, c.PCKCRL)
			})
		}
	}
	if n < 10 {
		t.Fatalf("only %d vectors with collateral", n)
	}
}

func checkCRL(t *testing.T, what string, crl *x509.RevocationList, want *expectedCRL) {
	t.Helper()
	if want == nil {
		return
	}
	if crl == nil {
		t.Errorf("%s: missing", what)
		return
	}
	wantCN := want.Issuer[strings.LastIndex(want.Issuer, "CN=")+3:]
	if crl.Issuer.CommonName != wantCN || !crl.ThisUpdate.Equal(mustTime(t, want.ThisUpdate)) ||
		!crl.NextUpdate.Equal(mustTime(t, want.NextUpdate)) || len(crl.RevokedCertificateEntries) != want.RevokedCount {
		t.Errorf("%s: %s %s..%s %d revoked, want %+v", what, crl.Issuer.CommonName, crl.ThisUpdate, crl.NextUpdate,
			len(crl.RevokedCertificateEntries), *want)
	}
}

// TestTCBEvaluationVectors evaluates every vector with collateral as Intel's
// QVL does and compares the platform, module, QE and final statuses with
// EXPECTED.json. The TCB inputs are the PCK certificate's SGX extensions and
// the quote's TEE_TCB_SVN and QE report, read at the offsets of docs/formats.md, "DCAP quotes".
func TestTCBEvaluationVectors(t *testing.T) {
	n := 0
	for _, folder := range vectorFolders {
		for _, v := range loadExpected(t, folder) {
			c := v.Computed
			if len(v.Collateral) == 0 || c.FinalTCBStatus == nil {
				continue
			}
			n++
			t.Run(v.ID, func(t *testing.T) {
				vc := loadVectorCollateral(t, folder, v)
				quote := readQuote(t, folder, v.Quote, v.Encoding)
				var leaf *x509.Certificate
				if p, ok := v.Collateral["extra_chain"]; ok {
					chain, err := ParsePEMChain(readFile(t, filepath.Join(folder, p)))
					if err != nil {
						t.Fatal(err)
					}
					leaf = chain[0]
				} else {
					leaf = leafFromQuote(t, quote)
				}
				ext, err := ParsePCKExtensions(leaf)
				if err != nil {
					t.Fatal(err)
				}
				if err := vc.tcb.CheckPCK(ext); err != nil {
					t.Fatal(err)
				}
				other := *ext
				other.FMSPC[5] ^= 1
				if err := vc.tcb.CheckPCK(&other); !errors.Is(err, ErrTCBInfoMismatch) {
					t.Errorf("CheckPCK with another FMSPC: %v", err)
				}
				other = *ext
				other.PCEID[0] ^= 1
				if err := vc.tcb.CheckPCK(&other); !errors.Is(err, ErrTCBInfoMismatch) {
					t.Errorf("CheckPCK with another PCE-ID: %v", err)
				}
				qf := parseQuoteFields(t, quote)
				// Cross-check the offsets with EXPECTED.json.
				if int(qf.qeReport.ISVSVN) != *c.QEISVSVN || int(qf.qeReport.ISVProdID) != *c.QEISVProd ||
					hexs(qf.qeReport.MRSigner[:]) != *c.QEMRSigner {
					t.Fatalf("QE report isvsvn %d isvprodid %d mrsigner %x, want %d %d %s",
						qf.qeReport.ISVSVN, qf.qeReport.ISVProdID, qf.qeReport.MRSigner, *c.QEISVSVN, *c.QEISVProd, *c.QEMRSigner)
				}

				noMatch := strings.HasPrefix(*c.PlatformTCBStatus, "NO_MATCHING_TCB_LEVEL")
				var platform Status
				var level *TCBLevel
				switch c.TEEType {
				case "SGX":
					level, err = vc.tcb.MatchSGX(ext.TCB.CompSVN, ext.TCB.PCESVN)
					if err == nil {
						platform = level.TCBStatus
					}
				case "TDX":
					if hexs(qf.teeTCBSVN[:]) != *c.TEETCBSVN {
						t.Fatalf("TEE_TCB_SVN %x, want %s", qf.teeTCBSVN, *c.TEETCBSVN)
					}
					var res *TDXTCBResult
					res, err = vc.tcb.MatchTDX(ext.TCB.CompSVN, ext.TCB.PCESVN, qf.teeTCBSVN)
					if err == nil {
						level, platform = res.TDXLevel, res.Status
						checkModule(t, res, c.TDXModule)
						if err := res.Module.Check(qf.mrSignerSeam, qf.seamAttributes); err != nil {
							t.Errorf("TDX module identity: %v", err)
						}
						if qf.teeTCBSVN2 != nil {
							if hexs(qf.teeTCBSVN2[:]) != *c.TEETCBSVN2 {
								t.Fatalf("TEE_TCB_SVN2 %x, want %s", qf.teeTCBSVN2, *c.TEETCBSVN2)
							}
							qeStatus := Status("")
							if c.QETCBStatus != nil {
								qeStatus = Status(*c.QETCBStatus)
							}
							if platform, err = vc.tcb.RelaunchStatus(res, *qf.teeTCBSVN2, qeStatus); err != nil {
								t.Fatal(err)
							}
						}
					}
				default:
					t.Fatalf("TEE %s", c.TEEType)
				}
				if noMatch {
					if !errors.Is(err, ErrNoTCBLevel) {
						t.Fatalf("match: %v, want ErrNoTCBLevel", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("match: %v", err)
				}
				if string(level.TCBStatus) != *c.PlatformTCBStatus {
					t.Errorf("platform level status %s, want %s", level.TCBStatus, *c.PlatformTCBStatus)
				}
				if !slices.Equal(level.AdvisoryIDs, c.PlatformAdvisories) && (len(level.AdvisoryIDs) != 0 || len(c.PlatformAdvisories) != 0) {
					t.Errorf("advisories %v, want %v", level.AdvisoryIDs, c.PlatformAdvisories)
				}
				if !level.TCBDate.Equal(mustTime(t, *c.PlatformTCBDate)) {
					t.Errorf("tcbDate %s, want %s", level.TCBDate, *c.PlatformTCBDate)
				}

				qe := Status("")
				if vc.qe != nil {
					// EXPECTED.json of the Intel sample notes a MISCSELECT
					// mismatch from reading the identity's hex as a
					// big-endian integer; QVL reads it in the report's byte
					// order (swapBytes(toUint32(...))), which matches, and the
					// expected QE status is UpToDate.
					ql, err := vc.qe.MatchQE(qf.qeReport)
					if err != nil {
						t.Fatalf("MatchQE: %v", err)
					}
					qe = ql.TCBStatus
					if string(qe) != *c.QETCBStatus {
						t.Errorf("QE status %s, want %s", qe, *c.QETCBStatus)
					}
				}
				final, err := ConvergeStatus(platform, qe)
				if err != nil {
					t.Fatal(err)
				}
				if string(final) != *c.FinalTCBStatus {
					t.Errorf("final status %s, want %s", final, *c.FinalTCBStatus)
				}
			})
		}
	}
	if n < 10 {
		t.Fatalf("only %d vectors evaluated", n)
	}
}

func checkModule(t *testing.T, res *TDXTCBResult, want []json.RawMessage) {
	t.Helper()
	if len(want) == 0 {
		if res.ModuleIdentity != nil || res.ModuleStatus != StatusUpToDate {
			t.Errorf("module identity %v status %s, want none/UpToDate", res.ModuleIdentity, res.ModuleStatus)
		}
		return
	}
	var status, id string
	if err := json.Unmarshal(want[0], &status); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want[1], &id); err != nil {
		t.Fatal(err)
	}
	if res.ModuleIdentity == nil || res.ModuleIdentity.ID != id || string(res.ModuleStatus) != status {
		t.Errorf("module %+v status %s, want %s %s", res.ModuleIdentity, res.ModuleStatus, id, status)
	}
}

// signedFile is a TCB Info or Enclave Identity file and the certificate
// that signed it.
type signedFile struct {
	file, signer string
	identity     bool
	valid        bool
}

// allSignedFiles lists every TCB Info / Enclave Identity file of the copied
// vectors. Signers follow EXPECTED.json's tcb_signing_chain (the 2018 and 2025
// TCB signing certificates share one key); the Intel QVL samples are signed
// under the test root's chain. Intel's documentation examples in
// mobilecoin-sgx do not verify (PROVENANCE.md).
var allSignedFiles = []signedFile{
	{"zkdcap/tcbinfov3_00806f050000.json", "intel-roots/Intel_SGX_TCB_Signing_2018-2025.pem", false, true},
	{"zkdcap/tcbinfov3_00906ED50000.json", "intel-roots/Intel_SGX_TCB_Signing_2018-2025.pem", false, true},
	{"zkdcap/qeidentityv2_sgx.json", "intel-roots/Intel_SGX_TCB_Signing_2018-2025.pem", true, true},
	{"zkdcap/qeidentityv2_tdx.json", "intel-roots/Intel_SGX_TCB_Signing_2018-2025.pem", true, true},
	{"trustee-dcap/tcbInfo.json", "intel-roots/Intel_SGX_TCB_Signing_2025-2032.pem", false, true},
	{"trustee-dcap/enclaveIdentity.json", "intel-roots/Intel_SGX_TCB_Signing_2025-2032.pem", true, true},
	{"go-tdx-guest/sample_tcbInfo_response.json", "intel-roots/Intel_SGX_TCB_Signing_2018-2025.pem", false, true},
	{"go-tdx-guest/sample_qeIdentity_response.json", "intel-roots/Intel_SGX_TCB_Signing_2018-2025.pem", true, true},
	{"go-tdx-guest/sample_tcbinfo_response_v5.json", "intel-roots/Intel_SGX_TCB_Signing_2025-2032.pem", false, true},
	{"mobilecoin-sgx/fmspc_00906ED50000_2023_07_12.json", "mobilecoin-sgx/tcb_signer.pem", false, true},
	{"mobilecoin-sgx/qe_identity.json", "mobilecoin-sgx/tcb_signer.pem", true, true},
	{"mobilecoin-sgx/example_tcb.json", "mobilecoin-sgx/tcb_signer.pem", false, false},
	{"mobilecoin-sgx/example_qe_identity.json", "mobilecoin-sgx/tcb_signer.pem", true, false},
	{"intel-qvl-sample-testroot/sgx/tcbInfo.json", "intel-qvl-sample-testroot/sgx/tcbSignChain.pem", false, true},
	{"intel-qvl-sample-testroot/sgx/qeIdentity.json", "intel-qvl-sample-testroot/sgx/tcbSignChain.pem", true, true},
	{"intel-qvl-sample-testroot/sgx/qveIdentity.json", "intel-qvl-sample-testroot/sgx/tcbSignChain.pem", true, true},
	{"intel-qvl-sample-testroot/tdx/tcbInfo.json", "intel-qvl-sample-testroot/tdx/tcbSignChain.pem", false, true},
	{"intel-qvl-sample-testroot/tdx/qeIdentity.json", "intel-qvl-sample-testroot/tdx/tcbSignChain.pem", true, true},
}

func signerOf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	chain, err := ParsePEMChain(readFile(t, path))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	// The Intel TDX sample lists the root first.
	for _, c := range chain {
		if c.Subject.CommonName == cnTCBSigning {
			return c
		}
	}
	t.Fatalf("%s: no %q certificate", path, cnTCBSigning)
	return nil
}

// TestSignedFiles parses every TCB Info and Enclave Identity file and checks
// its signature, and that any changed byte breaks it.
func TestSignedFiles(t *testing.T) {
	for _, f := range allSignedFiles {
		t.Run(f.file, func(t *testing.T) {
			body := readFile(t, f.file)
			signer := signerOf(t, f.signer)
			var raw, sig []byte
			var check func(raw, sig []byte) error
			if f.identity {
				e, err := ParseEnclaveIdentity(body)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(e.Body(), body) {
					t.Error("Body differs from the parsed bytes")
				}
				raw, sig = e.Raw, e.Signature
				check = func(raw, sig []byte) error {
					c := *e
					c.Raw, c.Signature = raw, sig
					return c.CheckSignature(signer)
				}
			} else {
				ti, err := ParseTCBInfo(body)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(ti.Body(), body) {
					t.Error("Body differs from the parsed bytes")
				}
				raw, sig = ti.Raw, ti.Signature
				check = func(raw, sig []byte) error {
					c := *ti
					c.Raw, c.Signature = raw, sig
					return c.CheckSignature(signer)
				}
			}
			if !bytes.Contains(body, raw) || raw[0] != '{' {
				t.Fatal("Raw is not a verbatim slice of the body")
			}
			err := check(raw, sig)
			if (err == nil) != f.valid {
				t.Fatalf("signature: %v, want valid=%v", err, f.valid)
			}
			if !f.valid {
				if !errors.Is(err, ErrSignature) {
					t.Fatalf("signature error %v, want ErrSignature", err)
				}
				return
			}
			for _, i := range []int{0, len(raw) / 3, len(raw) / 2, len(raw) - 1} {
				if err := check(flip(raw, i), sig); !errors.Is(err, ErrSignature) {
					t.Errorf("raw byte %d flipped: %v, want ErrSignature", i, err)
				}
			}
			for _, i := range []int{0, 31, 32, 63} {
				if err := check(raw, flip(sig, i)); !errors.Is(err, ErrSignature) {
					t.Errorf("signature byte %d flipped: %v, want ErrSignature", i, err)
				}
			}
		})
	}
}

// TestSignatureHexCaseChange changes the case of one hex digit of the FMSPC
// inside a real body: the document still parses to the same values, but the
// signed bytes differ, so the signature must fail.
func TestSignatureHexCaseChange(t *testing.T) {
	body := readFile(t, "zkdcap/tcbinfov3_00806f050000.json")
	signer := mustCert(t, "intel-roots/Intel_SGX_TCB_Signing_2018-2025.pem")
	changed := bytes.Replace(body, []byte(`"fmspc":"00806f050000"`), []byte(`"fmspc":"00806F050000"`), 1)
	if bytes.Equal(changed, body) {
		t.Fatal("fmspc not found")
	}
	ti, err := ParseTCBInfo(changed)
	if err != nil {
		t.Fatal(err)
	}
	if err := ti.CheckSignature(signer); !errors.Is(err, ErrSignature) {
		t.Fatalf("CheckSignature: %v, want ErrSignature", err)
	}
	// Wrong signer: the root CA key.
	orig, err := ParseTCBInfo(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := orig.CheckSignature(mustCert(t, "intel-roots/Intel_SGX_Root_CA.der")); !errors.Is(err, ErrSignature) {
		t.Fatalf("CheckSignature with the root key: %v, want ErrSignature", err)
	}
	if err := orig.CheckSignature(nil); err == nil {
		t.Fatal("CheckSignature(nil) succeeded")
	}
}

// TestZkdcapQVCollateral reads zkdcap's serialized collateral (six
// little-endian u32 lengths, then TCB Info JSON, QE identity JSON, root
// certificate, TCB signing certificate, root CRL, PCK CRL) and checks it.
func TestZkdcapQVCollateral(t *testing.T) {
	b := readFile(t, "zkdcap/qv_collateral.bin")
	var parts [][]byte
	off := 24
	for i := 0; i < 6; i++ {
		n := int(binary.LittleEndian.Uint32(b[4*i:]))
		parts = append(parts, b[off:off+n])
		off += n
	}
	if off != len(b) {
		t.Fatalf("lengths cover %d of %d bytes", off, len(b))
	}
	signer, err := x509.ParseCertificate(parts[3])
	if err != nil {
		t.Fatal(err)
	}
	ti, err := ParseTCBInfo(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	if ti.ID != TCBInfoIDSGX || hexs(ti.FMSPC[:]) != "00906ed50000" {
		t.Errorf("TCB Info %s %x", ti.ID, ti.FMSPC)
	}
	if err := ti.CheckSignature(signer); err != nil {
		t.Error(err)
	}
	qe, err := ParseEnclaveIdentity(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := qe.CheckSignature(signer); err != nil {
		t.Error(err)
	}
	root, err := x509.ParseCertificate(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts[4:] {
		if _, err := ParseCRL(p); err != nil {
			t.Error(err)
		}
	}
	rootCRL, _ := ParseCRL(parts[4])
	if err := rootCRL.CheckSignatureFrom(root); err != nil {
		t.Errorf("root CRL signature: %v", err)
	}
}

// TestIntelSampleMiscselectByteOrder pins the byte order of an Enclave
// Identity's miscselect: the hex string is the report's bytes, so the Intel
// sample identity "D182B18C" matches a report whose MISCSELECT bytes are
// d1 82 b1 8c (little-endian 0x8CB182D1), and not 0xD182B18C.
func TestIntelSampleMiscselectByteOrder(t *testing.T) {
	qe, err := ParseEnclaveIdentity(readFile(t, "intel-qvl-sample-testroot/sgx/qeIdentity.json"))
	if err != nil {
		t.Fatal(err)
	}
	qf := parseQuoteFields(t, readFile(t, "intel-qvl-sample-testroot/sgx/quote.dat"))
	if qf.qeReport.MiscSelect != 0x8CB182D1 {
		t.Fatalf("quote QE MISCSELECT %#x", qf.qeReport.MiscSelect)
	}
	if _, err := qe.MatchQE(qf.qeReport); err != nil {
		t.Fatalf("MatchQE: %v", err)
	}
	r := qf.qeReport
	r.MiscSelect = 0xD182B18C
	var me *IdentityMismatchError
	if _, err := qe.MatchQE(r); !errors.As(err, &me) || me.Field != "MISCSELECT" {
		t.Fatalf("big-endian MISCSELECT: %v, want MISCSELECT mismatch", err)
	}
}

// TestCRLVectors parses every CRL of the vectors and checks its signature
// with the issuing CA.
func TestCRLVectors(t *testing.T) {
	root := mustCert(t, "intel-roots/Intel_SGX_Root_CA.der")
	platform := mustCert(t, "intel-roots/Intel_SGX_PCK_Platform_CA.pem")
	processor := mustCert(t, "intel-roots/Intel_SGX_PCK_Processor_CA.pem")
	testChain, err := ParsePEMChain(readFile(t, "intel-qvl-sample-testroot/sgx/_fullchain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	tdxChain, err := ParsePEMChain(readFile(t, "intel-qvl-sample-testroot/tdx/pckSignChain.pem")) // root first
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file   string
		issuer *x509.Certificate
	}{
		{"intel-roots/IntelSGXRootCA_crl_2023-04-03.der", root},
		{"intel-roots/IntelSGXRootCA_crl_2024-03-20.der", root},
		{"intel-roots/IntelSGXRootCA_crl_2025-03-20.der", root},
		{"zkdcap/intel_root_ca_crl.der", root},
		{"zkdcap/pck_platform_crl.der", platform},
		{"zkdcap/pck_processor_crl.der", processor},
		{"go-tdx-guest/pckcrl.der", platform},
		{"go-tdx-guest/rootcrl.der", root},
		{"mobilecoin-sgx/processor_crl.der", processor},
		{"mobilecoin-sgx/root_crl.der", root},
		{"intel-qvl-sample-testroot/sgx/rootCaCrl.der", testChain[2]},
		{"intel-qvl-sample-testroot/sgx/intermediateCaCrl.der", testChain[1]},
		{"intel-qvl-sample-testroot/tdx/rootCaCrl.der", tdxChain[0]},
		{"intel-qvl-sample-testroot/tdx/intermediateCaCrl.der", tdxChain[1]},
	} {
		der := readFile(t, c.file)
		for _, form := range []struct {
			name string
			b    []byte
		}{
			{"der", der},
			{"pem", encodeCRLPEM(&x509.RevocationList{Raw: der})},
			{"hex", []byte(hexs(der) + "\n")},
			{"HEX", []byte(strings.ToUpper(hexs(der)))},
		} {
			crl, err := ParseCRL(form.b)
			if err != nil {
				t.Errorf("%s (%s): %v", c.file, form.name, err)
				continue
			}
			if !bytes.Equal(crl.Raw, der) {
				t.Errorf("%s (%s): Raw differs", c.file, form.name)
			}
			if err := crl.CheckSignatureFrom(c.issuer); err != nil {
				t.Errorf("%s: signature: %v", c.file, err)
			}
		}
	}
}
