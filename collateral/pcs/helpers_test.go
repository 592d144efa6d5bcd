package pcs

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/internal/testvectors"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path(path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readQuote reads a quote file of a vector; "hex" files hold hex text,
// optionally 0x-prefixed.
func readQuote(t testing.TB, folder, name, encoding string) []byte {
	t.Helper()
	b := readFile(t, filepath.Join(folder, name))
	if encoding == "hex" {
		s := strings.TrimPrefix(strings.TrimSpace(string(b)), "0x")
		d, err := hex.DecodeString(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return d
	}
	return b
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
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

func mustCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	b := readFile(t, path)
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// expectedFile mirrors the parts of a vector folder's EXPECTED.json that
// these tests use.
type expectedFile struct {
	Folder  string           `json:"folder"`
	Vectors []expectedVector `json:"vectors"`
}

type expectedVector struct {
	ID              string            `json:"id"`
	Quote           string            `json:"quote"`
	Encoding        string            `json:"encoding"`
	Collateral      map[string]string `json:"collateral"`
	TCBSigningChain *string           `json:"tcb_signing_chain"`
	PinnedTime      *string           `json:"pinned_time"`
	Computed        expectedComputed  `json:"computed"`
}

type expectedComputed struct {
	QuoteVersion int    `json:"quote_version"`
	TEEType      string `json:"tee_type"`
	BodyType     *int   `json:"body_type"`
	PCKChain     []struct {
		SubjectCN string `json:"subject_cn"`
		SHA256    string `json:"sha256"`
	} `json:"pck_chain"`
	FMSPC      *string `json:"fmspc"`
	PCEID      *string `json:"pceid"`
	PCKPCESVN  *int    `json:"pck_pcesvn"`
	PCKCPUSVN  *string `json:"pck_cpusvn"`
	PCKSGXType *int    `json:"pck_sgx_type"`
	TEETCBSVN  *string `json:"tee_tcb_svn"`
	TEETCBSVN2 *string `json:"tee_tcb_svn2"`
	QEISVSVN   *int    `json:"qe_isvsvn"`
	QEISVProd  *int    `json:"qe_isvprodid"`
	QEMRSigner *string `json:"qe_mrsigner"`

	TCBInfo *struct {
		ID         *string `json:"id"`
		Version    uint32  `json:"version"`
		FMSPC      string  `json:"fmspc"`
		IssueDate  string  `json:"issueDate"`
		NextUpdate string  `json:"nextUpdate"`
		EvalNum    uint32  `json:"tcbEvaluationDataNumber"`
		SigValid   bool    `json:"sig_valid"`
	} `json:"tcb_info"`
	QEIdentity *struct {
		ID         string `json:"id"`
		Version    uint32 `json:"version"`
		IssueDate  string `json:"issueDate"`
		NextUpdate string `json:"nextUpdate"`
		EvalNum    uint32 `json:"tcbEvaluationDataNumber"`
		SigValid   bool   `json:"sig_valid"`
	} `json:"qe_identity"`
	RootCACRL *expectedCRL `json:"root_ca_crl"`
	PCKCRL    *expectedCRL `json:"pck_crl"`

	PlatformTCBStatus  *string           `json:"platform_tcb_status"`
	PlatformAdvisories []string          `json:"platform_advisories"`
	PlatformTCBDate    *string           `json:"platform_tcbDate"`
	TDXModule          []json.RawMessage `json:"tdx_module"`
	QETCBStatus        *string           `json:"qe_tcb_status"`
	FinalTCBStatus     *string           `json:"final_tcb_status"`
}

type expectedCRL struct {
	Issuer       string `json:"issuer"`
	ThisUpdate   string `json:"thisUpdate"`
	NextUpdate   string `json:"nextUpdate"`
	RevokedCount int    `json:"revoked_count"`
	SigValid     bool   `json:"sig_valid"`
}

// vectorFolders are the copied vector folders with DCAP quotes.
var vectorFolders = []string{"dcap-qvl", "zkdcap", "trustee-dcap", "go-tdx-guest", "mobilecoin-sgx", "intel-qvl-sample-testroot"}

func loadExpected(t testing.TB, folder string) []expectedVector {
	t.Helper()
	var e expectedFile
	if err := json.Unmarshal(readFile(t, filepath.Join(folder, "EXPECTED.json")), &e); err != nil {
		t.Fatalf("%s/EXPECTED.json: %v", folder, err)
	}
	return e.Vectors
}

// leafFromQuote returns the first PEM certificate embedded in a quote's
// certification data (the PCK leaf of a type 5 chain).
func leafFromQuote(t testing.TB, quote []byte) *x509.Certificate {
	t.Helper()
	i := bytes.Index(quote, []byte("-----BEGIN CERTIFICATE-----"))
	if i < 0 {
		return nil
	}
	blk, _ := pem.Decode(quote[i:])
	if blk == nil {
		t.Fatal("quote: invalid PEM certificate")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// quoteFields are the quote fields TCB evaluation needs, read at the
// offsets of docs/formats.md, "DCAP quotes".
type quoteFields struct {
	teeTCBSVN  [16]byte
	teeTCBSVN2 *[16]byte
	qeReport   EnclaveReport
	// seam holds MRSIGNERSEAM and SEAMATTRIBUTES of a TD report.
	mrSignerSeam   [48]byte
	seamAttributes [8]byte
}

func parseQuoteFields(t testing.TB, q []byte) quoteFields {
	t.Helper()
	le16 := func(off int) int { return int(binary.LittleEndian.Uint16(q[off:])) }
	le32 := func(off int) int { return int(binary.LittleEndian.Uint32(q[off:])) }
	var f quoteFields
	var qeOff int
	switch ver := le16(0); ver {
	case 3: // header 48 | SGX body 384 | sig len 4 | sig 64 | att key 64 | QE report
		qeOff = 48 + 384 + 4 + 128
	case 4, 5:
		body, bodySize := 48, 584
		if ver == 5 { // body type u16 @48, size u32 @50, body @54
			body, bodySize = 54, le32(50)
		}
		if le32(4) == 0x81 {
			td := q[body:]
			copy(f.teeTCBSVN[:], td[0:16])
			copy(f.mrSignerSeam[:], td[64:112])
			copy(f.seamAttributes[:], td[112:120])
			if bodySize == 648 {
				f.teeTCBSVN2 = new([16]byte)
				copy(f.teeTCBSVN2[:], td[584:600])
			}
		}
		sig := body + bodySize + 4
		if typ := le16(sig + 128); typ != 6 {
			t.Fatalf("quote: outer certification data type %d, want 6", typ)
		}
		qeOff = sig + 128 + 6
	default:
		t.Fatalf("quote version %d", ver)
	}
	r := q[qeOff : qeOff+384]
	f.qeReport.MiscSelect = binary.LittleEndian.Uint32(r[16:])
	copy(f.qeReport.Attributes[:], r[48:64])
	copy(f.qeReport.MRSigner[:], r[128:160])
	f.qeReport.ISVProdID = binary.LittleEndian.Uint16(r[256:])
	f.qeReport.ISVSVN = binary.LittleEndian.Uint16(r[258:])
	return f
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

func hexs(b []byte) string { return hex.EncodeToString(b) }
