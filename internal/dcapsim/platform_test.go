package dcapsim

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// --- A small reference TCB evaluation (docs/formats.md, "Intel collateral") ---

type identityLevelDoc struct {
	TCB struct {
		ISVSVN int `json:"isvsvn"`
	} `json:"tcb"`
	TCBStatus string `json:"tcbStatus"`
}

type tcbInfoDoc struct {
	TCBInfo struct {
		FMSPC               string    `json:"fmspc"`
		PCEID               string    `json:"pceId"`
		IssueDate           time.Time `json:"issueDate"`
		NextUpdate          time.Time `json:"nextUpdate"`
		TDXModuleIdentities []struct {
			ID        string             `json:"id"`
			TCBLevels []identityLevelDoc `json:"tcbLevels"`
		} `json:"tdxModuleIdentities"`
		TCBLevels []struct {
			TCB struct {
				SGX []struct {
					SVN int `json:"svn"`
				} `json:"sgxtcbcomponents"`
				PCESVN int `json:"pcesvn"`
				TDX    []struct {
					SVN int `json:"svn"`
				} `json:"tdxtcbcomponents"`
			} `json:"tcb"`
			TCBStatus string `json:"tcbStatus"`
		} `json:"tcbLevels"`
	} `json:"tcbInfo"`
}

type qeIdentityDoc struct {
	EnclaveIdentity struct {
		MiscSelect     string             `json:"miscselect"`
		MiscSelectMask string             `json:"miscselectMask"`
		Attributes     string             `json:"attributes"`
		AttributesMask string             `json:"attributesMask"`
		MRSigner       string             `json:"mrsigner"`
		ISVProdID      int                `json:"isvprodid"`
		IssueDate      time.Time          `json:"issueDate"`
		NextUpdate     time.Time          `json:"nextUpdate"`
		TCBLevels      []identityLevelDoc `json:"tcbLevels"`
	} `json:"enclaveIdentity"`
}

// verdict is the outcome of the reference evaluation.
type verdict struct {
	platform, module, qe string
}

func firstIdentityLevel(levels []identityLevelDoc, svn int) string {
	for _, l := range levels {
		if l.TCB.ISVSVN <= svn {
			return l.TCBStatus
		}
	}
	return "no matching level"
}

func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// evaluate rates a quote with TCB Info and QE identity the way Intel's
// library does, after checking signatures and the PCK chain to root.
func evaluate(t *testing.T, raw, tcbInfoBody, qeIdentityBody []byte, root *x509.Certificate, now time.Time) verdict {
	t.Helper()
	v, err := checkQuote(raw, root, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.ok(); err != nil {
		t.Fatal(err)
	}
	ext, err := decodeSGXExt(sgxExtensionOf(t, v.pck))
	if err != nil {
		t.Fatal(err)
	}
	var info tcbInfoDoc
	if err := json.Unmarshal(tcbInfoBody, &info); err != nil {
		t.Fatal(err)
	}
	ti := info.TCBInfo
	if !strings.EqualFold(ti.FMSPC, hex.EncodeToString(ext.FMSPC)) || !strings.EqualFold(ti.PCEID, hex.EncodeToString(ext.PCEID)) {
		t.Fatalf("TCB Info FMSPC/PCE-ID %s/%s, PCK %x/%x", ti.FMSPC, ti.PCEID, ext.FMSPC, ext.PCEID)
	}
	tdx := v.parts.teeType == 0x81
	var teeTCBSVN []byte
	if tdx {
		bodyAt := 48
		if v.parts.version == 5 {
			bodyAt = 54
		}
		teeTCBSVN = v.parts.signed[bodyAt : bodyAt+16]
	}

	out := verdict{platform: "no matching level"}
levels:
	for _, l := range ti.TCBLevels {
		for i, c := range l.TCB.SGX {
			if ext.CompSVN[i] < c.SVN {
				continue levels
			}
		}
		if ext.PCESVN < l.TCB.PCESVN {
			continue
		}
		if tdx {
			start := 0
			if teeTCBSVN[1] > 0 {
				start = 2
			}
			for i := start; i < len(l.TCB.TDX); i++ {
				if int(teeTCBSVN[i]) < l.TCB.TDX[i].SVN {
					continue levels
				}
			}
		}
		out.platform = l.TCBStatus
		break
	}
	if tdx && teeTCBSVN[1] > 0 {
		id := fmt.Sprintf("TDX_%02X", teeTCBSVN[1])
		out.module = "no module identity " + id
		for _, m := range ti.TDXModuleIdentities {
			if m.ID == id {
				out.module = firstIdentityLevel(m.TCBLevels, int(teeTCBSVN[0]))
			}
		}
	}

	var qe qeIdentityDoc
	if err := json.Unmarshal(qeIdentityBody, &qe); err != nil {
		t.Fatal(err)
	}
	id := qe.EnclaveIdentity
	report := v.parts.qeReport
	misc := binary.LittleEndian.Uint32(report[16:20])
	mask := binary.BigEndian.Uint32(hexBytes(t, id.MiscSelectMask))
	want := binary.BigEndian.Uint32(hexBytes(t, id.MiscSelect))
	attrs, attrMask, wantAttrs := report[48:64], hexBytes(t, id.AttributesMask), hexBytes(t, id.Attributes)
	matches := misc&mask == want &&
		bytes.Equal(report[128:160], hexBytes(t, id.MRSigner)) &&
		int(binary.LittleEndian.Uint16(report[256:258])) == id.ISVProdID
	for i := range attrs {
		matches = matches && attrs[i]&attrMask[i] == wantAttrs[i]
	}
	if !matches {
		out.qe = "identity mismatch"
	} else {
		out.qe = firstIdentityLevel(id.TCBLevels, int(binary.LittleEndian.Uint16(report[258:260])))
	}
	return out
}

// The evaluation reproduces the results recorded for real vectors.
func TestEvaluateControl(t *testing.T) {
	root := readCertPEM(t, "intel-roots", "Intel_SGX_Root_CA.pem")
	for _, tc := range []struct {
		quote, tcbInfo, qeIdentity string
		at                         time.Time
		want                       verdict
	}{
		// Expected statuses and pinned times from zkdcap/PROVENANCE.md.
		{"quote_sgx_v3_00906ed50000.bin", "tcbinfov3_00906ED50000.json", "qeidentityv2_sgx.json",
			time.Date(2025, 1, 21, 11, 24, 46, 0, time.UTC), verdict{"SWHardeningNeeded", "", "UpToDate"}},
		{"quote_tdx_00806f050000.dat", "tcbinfov3_00806f050000.json", "qeidentityv2_tdx.json",
			time.Date(2025, 1, 21, 13, 44, 20, 0, time.UTC), verdict{"OutOfDate", "UpToDate", "UpToDate"}},
	} {
		got := evaluate(t, readTestdata(t, "zkdcap", tc.quote), readTestdata(t, "zkdcap", tc.tcbInfo), readTestdata(t, "zkdcap", tc.qeIdentity), root, tc.at)
		if got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.quote, got, tc.want)
		}
	}
}

func platformVerdict(t *testing.T, pl *Platform) verdict {
	t.Helper()
	raw, err := pl.NewQuote([64]byte{0x5a})
	if err != nil {
		t.Fatal(err)
	}
	c, err := pl.Collateral()
	if err != nil {
		t.Fatal(err)
	}
	p := pl.PKI()
	checkSignedCollateral(t, c.TCBInfo, "tcbInfo", p.TCBSigner)
	checkSignedCollateral(t, c.QEIdentity, "enclaveIdentity", p.TCBSigner)
	return evaluate(t, raw, c.TCBInfo, c.QEIdentity, p.Root, p.Now)
}

func TestDefaultPlatformIsUpToDate(t *testing.T) {
	p := newTestPKI(t)
	for _, tdx := range []bool{false, true} {
		pl, err := p.DefaultPlatform(tdx)
		if err != nil {
			t.Fatal(err)
		}
		if pl.PKI() != p || pl.TDX != tdx {
			t.Fatal("platform does not describe itself")
		}
		want := verdict{StatusUpToDate, "", StatusUpToDate}
		if tdx {
			want.module = StatusUpToDate
		}
		if got := platformVerdict(t, pl); got != want {
			t.Errorf("tdx=%v: %+v, want %+v", tdx, got, want)
		}

		// Everything is valid at Now.
		c, err := pl.Collateral()
		if err != nil {
			t.Fatal(err)
		}
		var info tcbInfoDoc
		var qe qeIdentityDoc
		if json.Unmarshal(c.TCBInfo, &info) != nil || json.Unmarshal(c.QEIdentity, &qe) != nil {
			t.Fatal("collateral does not decode")
		}
		for name, w := range map[string][2]time.Time{
			"TCB Info":    {info.TCBInfo.IssueDate, info.TCBInfo.NextUpdate},
			"QE identity": {qe.EnclaveIdentity.IssueDate, qe.EnclaveIdentity.NextUpdate},
		} {
			if p.Now.Before(w[0]) || !p.Now.Before(w[1]) {
				t.Errorf("%s valid %v .. %v, not at %v", name, w[0], w[1], p.Now)
			}
		}
		pck := pl.QuoteOptions.PCK
		wantCA := map[bool]*x509.Certificate{false: p.ProcessorCA, true: p.PlatformCA}[tdx]
		for _, crl := range []struct {
			der    []byte
			issuer *x509.Certificate
		}{{c.PCKCRL, wantCA}, {c.RootCRL, p.Root}} {
			l, err := x509.ParseRevocationList(crl.der)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.CheckSignatureFrom(crl.issuer); err != nil {
				t.Errorf("CRL of %s: %v", crl.issuer.Subject.CommonName, err)
			}
			if len(l.RevokedCertificateEntries) != 0 || p.Now.Before(l.ThisUpdate) || !p.Now.Before(l.NextUpdate) {
				t.Errorf("CRL of %s: %d entries, %v .. %v", crl.issuer.Subject.CommonName, len(l.RevokedCertificateEntries), l.ThisUpdate, l.NextUpdate)
			}
		}
		if chain := parsePEMCerts(t, c.PCKCRLIssuerChain); !chain[0].Equal(wantCA) {
			t.Errorf("PCK CRL issuer chain starts with %s", chain[0].Subject.CommonName)
		}
		if err := pck.Cert.CheckSignatureFrom(wantCA); err != nil {
			t.Errorf("PCK issuer: %v", err)
		}
		d, err := decodeSGXExt(sgxExtensionOf(t, pck.Cert))
		if err != nil {
			t.Fatal(err)
		}
		// Real TDX PCKs are Scalable with a platform configuration; the
		// SGX baseline models a Standard processor-CA platform.
		if tdx && (d.SGXType != 1 || len(d.Configuration) != 3) || !tdx && (d.SGXType != 0 || d.Configuration != nil) {
			t.Errorf("tdx=%v: SGX type %d configuration %v", tdx, d.SGXType, d.Configuration)
		}
	}
}

func TestPlatformChangeOneThing(t *testing.T) {
	p := newTestPKI(t)
	for _, tc := range []struct {
		name   string
		tdx    bool
		change func(t *testing.T, pl *Platform)
		want   verdict
	}{
		{"SGX level status", false, func(_ *testing.T, pl *Platform) {
			pl.TCBInfoOptions.Levels[0].Status = StatusSWHardeningNeeded
		}, verdict{StatusSWHardeningNeeded, "", StatusUpToDate}},
		{"SGX older PCK", false, func(t *testing.T, pl *Platform) {
			o := pl.QuoteOptions.PCK.Options
			o.CompSVN[0], o.CPUSVN = 20, [16]byte{}
			pck, err := p.NewPCK(o)
			if err != nil {
				t.Fatal(err)
			}
			pl.QuoteOptions.PCK = pck
		}, verdict{StatusOutOfDate, "", StatusUpToDate}},
		{"SGX PCE SVN below all levels", false, func(t *testing.T, pl *Platform) {
			o := pl.QuoteOptions.PCK.Options
			o.PCESVN = 4
			pck, err := p.NewPCK(o)
			if err != nil {
				t.Fatal(err)
			}
			pl.QuoteOptions.PCK = pck
		}, verdict{"no matching level", "", StatusUpToDate}},
		{"SGX QE SVN", false, func(_ *testing.T, pl *Platform) {
			pl.QuoteOptions.QE.ISVSVN = 7
		}, verdict{StatusUpToDate, "", StatusOutOfDate}},
		{"SGX QE signer", false, func(_ *testing.T, pl *Platform) {
			pl.QuoteOptions.QE.MRSigner[0] ^= 1
		}, verdict{StatusUpToDate, "", "identity mismatch"}},
		{"TDX late microcode", true, func(_ *testing.T, pl *Platform) {
			pl.QuoteOptions.TD.TEETCBSVN[2] = 6
		}, verdict{StatusOutOfDate, StatusUpToDate, StatusUpToDate}},
		{"TDX module SVN", true, func(_ *testing.T, pl *Platform) {
			pl.QuoteOptions.TD.TEETCBSVN[0] = 3
		}, verdict{StatusUpToDate, StatusOutOfDate, StatusUpToDate}},
		{"TDX 1.5 quote", true, func(_ *testing.T, pl *Platform) {
			pl.QuoteOptions.Version, pl.QuoteOptions.TDX15 = 5, true
		}, verdict{StatusUpToDate, StatusUpToDate, StatusUpToDate}},
		{"TDX QE identity revoked", true, func(_ *testing.T, pl *Platform) {
			pl.QEIdentityOptions.Levels[0].Status = StatusRevoked
		}, verdict{StatusUpToDate, StatusUpToDate, StatusRevoked}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl, err := p.DefaultPlatform(tc.tdx)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(t, pl)
			if got := platformVerdict(t, pl); got != tc.want {
				t.Errorf("%+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPlatformRevocation(t *testing.T) {
	p := newTestPKI(t)
	pl, err := p.DefaultPlatform(true)
	if err != nil {
		t.Fatal(err)
	}
	serial := pl.QuoteOptions.PCK.Cert.SerialNumber
	pl.PCKCRLRevoked = []*big.Int{serial}
	pl.RootCRLRevoked = []*big.Int{p.PlatformCA.SerialNumber}
	pl.CRLThisUpdate = testNow.Add(-time.Hour)
	pl.CRLNextUpdate = testNow.Add(time.Hour)
	c, err := pl.Collateral()
	if err != nil {
		t.Fatal(err)
	}
	for _, crl := range []struct {
		der    []byte
		serial *big.Int
	}{{c.PCKCRL, serial}, {c.RootCRL, p.PlatformCA.SerialNumber}} {
		l, err := x509.ParseRevocationList(crl.der)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.RevokedCertificateEntries) != 1 || l.RevokedCertificateEntries[0].SerialNumber.Cmp(crl.serial) != 0 {
			t.Errorf("CRL entries: %v", l.RevokedCertificateEntries)
		}
		if !l.ThisUpdate.Equal(pl.CRLThisUpdate) || !l.NextUpdate.Equal(pl.CRLNextUpdate) {
			t.Errorf("CRL dates %v .. %v", l.ThisUpdate, l.NextUpdate)
		}
	}
}

func TestPlatformQuoteReportData(t *testing.T) {
	p := newTestPKI(t)
	for _, tdx := range []bool{false, true} {
		pl, err := p.DefaultPlatform(tdx)
		if err != nil {
			t.Fatal(err)
		}
		rd := [64]byte{1, 2, 3, 62: 4, 63: 5}
		raw, err := pl.NewQuote(rd)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := splitQuote(raw)
		if err != nil {
			t.Fatal(err)
		}
		// report_data is the last 64 bytes of the body in both layouts.
		if got := parts.signed[len(parts.signed)-64:]; !bytes.Equal(got, rd[:]) {
			t.Errorf("tdx=%v: report data %x", tdx, got)
		}
		// The options themselves are left unchanged.
		if pl.QuoteOptions.SGX.ReportData != ([64]byte{}) || pl.QuoteOptions.TD.ReportData != ([64]byte{}) {
			t.Error("NewQuote changed the platform's options")
		}
	}
}

// TestNewMachine checks that machines of a platform have their own PCK
// certificate, key and PPID, that the platform's collateral rates them,
// and that WithFMSPC moves certificate and TCB Info to another FMSPC.
func TestNewMachine(t *testing.T) {
	p := newTestPKI(t)
	pl, err := p.DefaultPlatform(true)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pl.NewMachine()
	if err != nil {
		t.Fatal(err)
	}
	a, b := pl.QuoteOptions, m.QuoteOptions
	if a.PCK.Cert.Equal(b.PCK.Cert) || a.PCK.Key.Equal(b.PCK.Key) || a.AttestationKey.Equal(b.AttestationKey) || a.UserData == b.UserData {
		t.Error("the new machine shares a certificate, a key or a QE ID")
	}
	da, err := decodeSGXExt(sgxExtensionOf(t, a.PCK.Cert))
	if err != nil {
		t.Fatal(err)
	}
	db, err := decodeSGXExt(sgxExtensionOf(t, b.PCK.Cert))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(da.PPID, db.PPID) || bytes.Equal(da.PlatformInstanceID, db.PlatformInstanceID) || !bytes.Equal(da.FMSPC, db.FMSPC) {
		t.Errorf("PPID %x / %x, instance ID %x / %x, FMSPC %x / %x", da.PPID, db.PPID, da.PlatformInstanceID, db.PlatformInstanceID, da.FMSPC, db.FMSPC)
	}
	if got := platformVerdict(t, m); got != (verdict{StatusUpToDate, StatusUpToDate, StatusUpToDate}) {
		t.Errorf("new machine: %+v, want all %s", got, StatusUpToDate)
	}

	f := [6]byte{0x00, 0x80, 0x6f, 0x05, 0x12, 0x34}
	o, err := pl.WithFMSPC(f)
	if err != nil {
		t.Fatal(err)
	}
	do, err := decodeSGXExt(sgxExtensionOf(t, o.QuoteOptions.PCK.Cert))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(do.FMSPC, f[:]) || o.TCBInfoOptions.FMSPC != f || pl.TCBInfoOptions.FMSPC == f {
		t.Errorf("WithFMSPC: certificate FMSPC %x, TCB Info FMSPC %x, original %x", do.FMSPC, o.TCBInfoOptions.FMSPC, pl.TCBInfoOptions.FMSPC)
	}
	if got := platformVerdict(t, o); got != (verdict{StatusUpToDate, StatusUpToDate, StatusUpToDate}) {
		t.Errorf("machine of another FMSPC: %+v, want all %s", got, StatusUpToDate)
	}
}
