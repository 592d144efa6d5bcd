package dcapsim

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/ratls/ratls/evidence/quote"
)

// fuzzFixture is shared by the fuzz targets: building keys per input would
// dominate the run time.
var fuzzFixture struct {
	once   sync.Once
	pki    *PKI
	pck    *PCK
	attKey *ecdsa.PrivateKey
	err    error
}

func fixture(t testing.TB) (*PKI, *PCK, *ecdsa.PrivateKey) {
	t.Helper()
	f := &fuzzFixture
	f.once.Do(func() {
		if f.pki, f.err = New(Options{Now: testNow, Rand: mrand.NewChaCha8([32]byte{3})}); f.err != nil {
			return
		}
		if f.pck, f.err = f.pki.NewPCK(PCKOptions{CompSVN: [16]uint8{1, 2, 3}, PCESVN: 7}); f.err != nil {
			return
		}
		f.attKey, f.err = f.pki.NewKey()
	})
	if f.err != nil {
		t.Fatal(f.err)
	}
	return f.pki, f.pck, f.attKey
}

// Flags of FuzzNewQuote.
const (
	fuzzTDX = 1 << iota
	fuzzTDX15
	fuzzAuthData
	fuzzOmitNUL
)

// FuzzNewQuote checks that every accepted combination of options gives a
// quote that parses, re-encodes to itself and passes the independent
// signature, binding and chain checks, and that invalid combinations are
// rejected.
func FuzzNewQuote(f *testing.F) {
	for _, v := range []uint8{0, 3, 4, 5} {
		f.Add(v, uint8(0), []byte("report data"), []byte{}, []byte{})
		f.Add(v, uint8(fuzzTDX|fuzzAuthData), []byte{0xff}, []byte{1, 2, 3}, []byte("qe id"))
	}
	f.Add(uint8(5), uint8(fuzzTDX|fuzzTDX15|fuzzOmitNUL), bytes.Repeat([]byte{0xaa}, 64), []byte(nil), []byte{})
	f.Add(uint8(2), uint8(0), []byte{}, []byte{}, []byte{})
	f.Add(uint8(4), uint8(fuzzTDX15), []byte{}, []byte{}, []byte{})

	f.Fuzz(func(t *testing.T, version, flags uint8, reportData, authData, userData []byte) {
		p, pck, attKey := fixture(t)
		tdx, tdx15 := flags&fuzzTDX != 0, flags&fuzzTDX15 != 0
		o := QuoteOptions{
			Version:        int(version % 8),
			TDX:            tdx,
			TDX15:          tdx15,
			QE:             DefaultQE(tdx),
			PCK:            pck,
			AttestationKey: attKey,
			OmitChainNUL:   flags&fuzzOmitNUL != 0,
		}
		var rd [64]byte
		copy(rd[:], reportData)
		o.SGX.ReportData, o.TD.ReportData = rd, rd
		if flags&fuzzAuthData != 0 {
			o.QE.AuthData = append([]byte{}, authData[:min(len(authData), 4096)]...)
		}
		copy(o.UserData[:], userData)

		effective := o.Version
		if effective == 0 {
			effective = 3
			if tdx {
				effective = 4
			}
		}
		valid := effective >= 3 && effective <= 5 && !(tdx && effective == 3) && !(tdx15 && (!tdx || effective != 5))

		raw, err := p.NewQuote(o)
		if !valid {
			if err == nil {
				t.Fatalf("invalid options accepted: version %d tdx %v tdx15 %v", o.Version, tdx, tdx15)
			}
			return
		}
		if err != nil {
			t.Fatalf("valid options rejected: %v", err)
		}
		q, err := quote.Parse(raw)
		if err != nil {
			t.Fatalf("generated quote does not parse: %v", err)
		}
		if !bytes.Equal(q.Marshal(), raw) || q.Trailing != nil {
			t.Fatal("generated quote does not round-trip")
		}
		if int(q.Header.Version) != effective || q.IsTDX() != tdx || q.ReportData() != rd {
			t.Fatalf("header/body: version %d TDX %v report data %x", q.Header.Version, q.IsTDX(), q.ReportData())
		}
		if o.QE.AuthData != nil && !bytes.Equal(q.Signature.QEAuthData, o.QE.AuthData) {
			t.Fatal("QE auth data differs")
		}
		v, err := checkQuote(raw, p.Root, p.Now)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.ok(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzTCBInfo checks that any TCB Info the generator accepts is valid,
// correctly signed JSON that carries the chosen values.
func FuzzTCBInfo(f *testing.F) {
	f.Add(uint8(3), true, "UpToDate", "INTEL-SA-00001", []byte{1, 2, 3}, []byte{0x00, 0x90, 0x6e})
	f.Add(uint8(2), false, "OutOfDate", "", []byte{255}, []byte{})
	f.Add(uint8(0), false, "", "<script>&\"\\", []byte{}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(uint8(2), true, "x", "y", []byte{}, []byte{})
	f.Add(uint8(4), false, "\xff", "\u2028", []byte{}, []byte{})

	f.Fuzz(func(t *testing.T, version uint8, tdx bool, status, advisory string, comps, fmspc []byte) {
		p, _, _ := fixture(t)
		o := TCBInfoOptions{TDX: tdx, Version: int(version % 5)}
		copy(o.FMSPC[:], fmspc)
		var level TCBLevel
		copy(level.SGXComponents[:], comps)
		copy(level.TDXComponents[:], comps)
		level.Status = status
		if advisory != "" {
			level.Advisories = []string{advisory}
		}
		o.Levels = []TCBLevel{level}

		body, err := p.TCBInfo(o)
		valid := (o.Version == 0 || o.Version == 3) || (o.Version == 2 && !tdx)
		if !valid {
			if err == nil {
				t.Fatalf("version %d tdx %v accepted", o.Version, tdx)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(body) {
			t.Fatalf("invalid JSON: %q", body)
		}
		raw := checkSignedCollateral(t, body, "tcbInfo", p.TCBSigner)
		var info struct {
			FMSPC     string `json:"fmspc"`
			TCBLevels []struct {
				TCBStatus   string   `json:"tcbStatus"`
				AdvisoryIDs []string `json:"advisoryIDs"`
			} `json:"tcbLevels"`
		}
		if err := json.Unmarshal(raw, &info); err != nil {
			t.Fatal(err)
		}
		if len(info.TCBLevels) != 1 || len(info.FMSPC) != 12 || strings.ToUpper(info.FMSPC) != info.FMSPC {
			t.Fatalf("levels %d fmspc %q", len(info.TCBLevels), info.FMSPC)
		}
		wantStatus := status
		if wantStatus == "" {
			wantStatus = StatusUpToDate
		}
		if utf8.ValidString(status) && info.TCBLevels[0].TCBStatus != wantStatus {
			t.Fatalf("status %q, want %q", info.TCBLevels[0].TCBStatus, wantStatus)
		}
		v3 := o.Version != 2
		if gotAdv := len(info.TCBLevels[0].AdvisoryIDs) == 1; gotAdv != (v3 && advisory != "") {
			t.Fatalf("advisories %v (version %d, advisory %q)", info.TCBLevels[0].AdvisoryIDs, o.Version, advisory)
		}
	})
}
