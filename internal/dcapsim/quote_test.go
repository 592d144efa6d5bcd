package dcapsim

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence/quote"
)

// The independent checks must accept real quotes: this keeps them honest.
func TestCheckQuoteOnRealQuotes(t *testing.T) {
	intelRoot := readCertPEM(t, "intel-roots", "Intel_SGX_Root_CA.pem")
	for _, tc := range []struct {
		folder, name string
		at           time.Time
	}{
		// Pinned times from the vectors' PROVENANCE.md.
		{"dcap-qvl", "tdx_quote", time.Date(2025, 7, 19, 10, 0, 34, 0, time.UTC)},
		{"dcap-qvl", "tdx_quote_outdated", time.Date(2026, 3, 20, 10, 41, 14, 0, time.UTC)},
		{"zkdcap", "quote_sgx_v3_00906ed50000.bin", time.Date(2025, 1, 21, 11, 24, 46, 0, time.UTC)},
	} {
		v, err := checkQuote(readTestdata(t, tc.folder, tc.name), intelRoot, tc.at)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := v.ok(); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// quoteCase is one supported quote layout.
type quoteCase struct {
	name                 string
	version              int
	tdx, tdx15           bool
	wantBodyType         uint16
	wantSigned           int // bytes covered by the quote signature (docs/formats.md, "Signed bytes")
	wantOuter, wantInner uint16
}

var quoteCases = []quoteCase{
	{"v3 SGX", 3, false, false, quote.BodyTypeSGX, 48 + 384, 5, 5},
	{"v4 SGX", 4, false, false, quote.BodyTypeSGX, 48 + 384, 6, 5},
	{"v4 TDX", 4, true, false, quote.BodyTypeTDX10, 48 + 584, 6, 5},
	{"v5 SGX", 5, false, false, quote.BodyTypeSGX, 54 + 384, 6, 5},
	{"v5 TDX 1.0", 5, true, false, quote.BodyTypeTDX10, 54 + 584, 6, 5},
	{"v5 TDX 1.5", 5, true, true, quote.BodyTypeTDX15, 54 + 648, 6, 5},
}

func TestNewQuoteLayouts(t *testing.T) {
	p := newTestPKI(t)
	pck, err := p.NewPCK(PCKOptions{CompSVN: [16]uint8{4, 4, 2}, PCESVN: 11, FMSPC: [6]byte{0x50, 0x80, 0x6f}})
	if err != nil {
		t.Fatal(err)
	}
	attKey, err := p.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range quoteCases {
		t.Run(tc.name, func(t *testing.T) {
			rd := [64]byte{1, 2, 3, 63: 0xff}
			o := QuoteOptions{
				Version:        tc.version,
				TDX:            tc.tdx,
				TDX15:          tc.tdx15,
				QE:             DefaultQE(tc.tdx),
				PCK:            pck,
				AttestationKey: attKey,
				UserData:       [20]byte{0xee},
			}
			o.SGX.ReportData = rd
			o.SGX.ISVSVN = 7
			o.TD.ReportData = rd
			o.TD.MRTD = [48]byte{0x42}
			o.TD.TEETCBSVN2 = [16]byte{0x99}
			raw, err := p.NewQuote(o)
			if err != nil {
				t.Fatal(err)
			}

			// Independent checks.
			v, err := checkQuote(raw, p.Root, p.Now)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.ok(); err != nil {
				t.Error(err)
			}
			parts := v.parts
			if len(parts.signed) != tc.wantSigned || parts.outerType != tc.wantOuter || parts.innerType != tc.wantInner || parts.trailing != 0 {
				t.Errorf("signed %d bytes, cert types %d/%d, %d trailing; want %d, %d/%d, 0",
					len(parts.signed), parts.outerType, parts.innerType, parts.trailing, tc.wantSigned, tc.wantOuter, tc.wantInner)
			}
			if !bytes.Equal(parts.chain, append(bytes.Clone(pck.ChainPEM), 0)) {
				t.Error("certification data is not the PCK chain followed by NUL")
			}
			wantAuth := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}
			if !bytes.Equal(parts.authData, wantAuth) {
				t.Errorf("QE auth data %x", parts.authData)
			}
			pub, _ := attKey.PublicKey.Bytes()
			if !bytes.Equal(parts.attKey, pub[1:]) {
				t.Error("attestation key is not X||Y of the key used")
			}

			// Through the quote package.
			q, err := quote.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			h := q.Header
			wantTEE := quote.TEETypeSGX
			if tc.tdx {
				wantTEE = quote.TEETypeTDX
			}
			if int(h.Version) != tc.version || h.AttKeyType != 2 || h.TEEType != wantTEE || !h.IsIntelQE() || h.UserData != ([20]byte{0xee}) {
				t.Errorf("header %+v", h)
			}
			wantQESVN, wantPCESVN := uint16(0), uint16(0)
			if tc.version == 3 {
				wantQESVN, wantPCESVN = 8, 11 // QE ISVSVN, PCK PCESVN
			}
			if h.QESVN != wantQESVN || h.PCESVN != wantPCESVN {
				t.Errorf("header SVNs %d/%d, want %d/%d", h.QESVN, h.PCESVN, wantQESVN, wantPCESVN)
			}
			if q.BodyType != tc.wantBodyType || q.ReportData() != rd || q.IsTDX() != tc.tdx {
				t.Errorf("body type %d, report data %x, TDX %v", q.BodyType, q.ReportData(), q.IsTDX())
			}
			if tc.tdx {
				if q.TD.MRTD != ([48]byte{0x42}) || q.TD.V15 != tc.tdx15 {
					t.Errorf("TD body: MRTD %x V15 %v", q.TD.MRTD, q.TD.V15)
				}
				// Only a TDX 1.5 body carries TEE_TCB_SVN2.
				var want [16]byte
				if tc.tdx15 {
					want[0] = 0x99
				}
				if q.TD.TEETCBSVN2 != want {
					t.Errorf("TEE_TCB_SVN2 %x, want %x", q.TD.TEETCBSVN2, want)
				}
			} else if q.SGX.ISVSVN != 7 {
				t.Errorf("SGX ISVSVN %d", q.SGX.ISVSVN)
			}
			if !bytes.Equal(q.SignedData(), parts.signed) {
				t.Error("quote package and the reference disagree on the signed bytes")
			}
			qe := q.Signature.QEReport
			want := DefaultQE(tc.tdx)
			if qe.MRSigner != want.MRSigner || qe.ISVProdID != want.ISVProdID || qe.ISVSVN != want.ISVSVN ||
				qe.Attributes != want.Attributes || qe.MREnclave != want.MREnclave || qe.CPUSVN != pck.Options.CPUSVN {
				t.Errorf("QE report %+v", qe)
			}
			if q.Signature.OuterCertification.Type != tc.wantOuter || q.Signature.Certification.Type != tc.wantInner {
				t.Errorf("certification types %d/%d", q.Signature.OuterCertification.Type, q.Signature.Certification.Type)
			}
			if !bytes.Equal(q.Marshal(), raw) {
				t.Error("parse/marshal does not round-trip")
			}

			// BuildQuote gives the same structure.
			bq, err := p.BuildQuote(o)
			if err != nil {
				t.Fatal(err)
			}
			if bq.Signature.OuterCertification.Type != tc.wantOuter || !bytes.Equal(bq.Raw, bq.Marshal()) {
				t.Error("BuildQuote: inconsistent derived fields")
			}
			if tc.version != 3 && !bytes.Equal(bq.Signature.OuterCertification.Data, q.Signature.OuterCertification.Data) {
				t.Error("BuildQuote: outer certification data differs from the parsed quote's")
			}
		})
	}
}

// Generated quotes have the layout of real ones of the same kind.
func TestNewQuoteMatchesRealLayout(t *testing.T) {
	p := newTestPKI(t)
	for _, tc := range []struct {
		folder, name string
		opts         func(pl *Platform)
		tdx          bool
	}{
		{"zkdcap", "quote_sgx_v3_00906ed50000.bin", func(*Platform) {}, false},
		{"dcap-qvl", "tdx_quote", func(*Platform) {}, true},
		{"dcap-qvl", "tdx_quote_outdated", func(pl *Platform) { pl.QuoteOptions.Version, pl.QuoteOptions.TDX15 = 5, true }, true},
	} {
		real, err := splitQuote(readTestdata(t, tc.folder, tc.name))
		if err != nil {
			t.Fatal(err)
		}
		pl, err := p.DefaultPlatform(tc.tdx)
		if err != nil {
			t.Fatal(err)
		}
		tc.opts(pl)
		raw, err := pl.NewQuote([64]byte{})
		if err != nil {
			t.Fatal(err)
		}
		ours, err := splitQuote(raw)
		if err != nil {
			t.Fatal(err)
		}
		if ours.version != real.version || ours.teeType != real.teeType || len(ours.signed) != len(real.signed) ||
			ours.outerType != real.outerType || ours.innerType != real.innerType || !bytes.Equal(ours.authData, real.authData) {
			t.Errorf("%s: layout v%d tee %#x signed %d types %d/%d auth %x; real v%d tee %#x signed %d types %d/%d auth %x", tc.name,
				ours.version, ours.teeType, len(ours.signed), ours.outerType, ours.innerType, ours.authData,
				real.version, real.teeType, len(real.signed), real.outerType, real.innerType, real.authData)
		}
		// Same header bytes apart from SVNs and user data (QE ID).
		if !bytes.Equal(ours.signed[:8], real.signed[:8]) || !bytes.Equal(ours.signed[12:28], real.signed[12:28]) {
			t.Errorf("%s: header %x, real %x", tc.name, ours.signed[:28], real.signed[:28])
		}
		if tc.name == "quote_sgx_v3_00906ed50000.bin" || tc.name == "tdx_quote" {
			// Both end their chain with a NUL.
			if ours.chain[len(ours.chain)-1] != 0 || real.chain[len(real.chain)-1] != 0 {
				t.Errorf("%s: chain NUL terminators differ", tc.name)
			}
		}
		// The QE report's fixed parts are Intel's.
		for _, f := range []struct {
			name     string
			from, to int
		}{{"miscselect", 16, 20}, {"attributes flags", 48, 56}, {"mrsigner", 128, 160}, {"isvprodid", 256, 258}} {
			if !bytes.Equal(ours.qeReport[f.from:f.to], real.qeReport[f.from:f.to]) {
				t.Errorf("%s: QE report %s %x, real %x", tc.name, f.name, ours.qeReport[f.from:f.to], real.qeReport[f.from:f.to])
			}
		}
	}
}

func TestNewQuoteOptions(t *testing.T) {
	p := newTestPKI(t)
	pck, err := p.NewPCK(PCKOptions{CA: CAProcessor, PCESVN: 9})
	if err != nil {
		t.Fatal(err)
	}

	// Zero Version: 3 for SGX, 4 for TDX. Nil attestation key: fresh.
	for tdx, want := range map[bool]uint16{false: 3, true: 4} {
		raw, err := p.NewQuote(QuoteOptions{TDX: tdx, PCK: pck})
		if err != nil {
			t.Fatal(err)
		}
		if got := binary.LittleEndian.Uint16(raw); got != want {
			t.Errorf("tdx=%v: default version %d, want %d", tdx, got, want)
		}
		if v, err := checkQuote(raw, p.Root, p.Now); err != nil || v.ok() != nil {
			t.Errorf("tdx=%v: %v %v", tdx, err, v.ok())
		}
	}

	// Explicit header fields, empty auth data, chain without NUL, a chosen
	// QE CPUSVN and vendor ID.
	o := QuoteOptions{
		Version:      3,
		PCK:          pck,
		QESVN:        2,
		PCESVN:       3,
		QEVendorID:   [16]byte{1},
		OmitChainNUL: true,
		QE:           QEOptions{AuthData: []byte{}, CPUSVN: [16]byte{0xcc}, MiscSelect: 5},
	}
	raw, err := p.NewQuote(o)
	if err != nil {
		t.Fatal(err)
	}
	v, err := checkQuote(raw, p.Root, p.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.ok(); err != nil {
		t.Error(err)
	}
	q, err := quote.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if q.Header.QESVN != 2 || q.Header.PCESVN != 3 || q.Header.QEVendorID != ([16]byte{1}) || q.Header.IsIntelQE() {
		t.Errorf("header %+v", q.Header)
	}
	if len(q.Signature.QEAuthData) != 0 || q.Signature.QEReport.CPUSVN != ([16]byte{0xcc}) || q.Signature.QEReport.MiscSelect != 5 {
		t.Errorf("QE: auth %x CPUSVN %x misc %d", q.Signature.QEAuthData, q.Signature.QEReport.CPUSVN, q.Signature.QEReport.MiscSelect)
	}
	if !bytes.Equal(v.parts.chain, pck.ChainPEM) {
		t.Error("OmitChainNUL: chain differs from ChainPEM")
	}
	if q.Header.UserData == ([20]byte{}) || [4]byte(q.Header.UserData[16:]) != [4]byte{} {
		t.Errorf("default user data %x: want a random QE ID and 4 zero bytes", q.Header.UserData)
	}

	// A replaced chain is written verbatim.
	o.CertChainPEM = []byte("not a chain")
	raw, err = p.NewQuote(o)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := splitQuote(raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(parts.chain) != "not a chain" {
		t.Errorf("chain %q", parts.chain)
	}

	for _, bad := range []struct {
		name string
		o    QuoteOptions
		want string
	}{
		{"no PCK", QuoteOptions{}, "PCK"},
		{"version 2", QuoteOptions{Version: 2, PCK: pck}, "version"},
		{"version 6", QuoteOptions{Version: 6, PCK: pck}, "version"},
		{"TDX v3", QuoteOptions{Version: 3, TDX: true, PCK: pck}, "SGX only"},
		{"TDX15 v4", QuoteOptions{Version: 4, TDX: true, TDX15: true, PCK: pck}, "TDX 1.5"},
		{"TDX15 SGX", QuoteOptions{Version: 5, TDX15: true, PCK: pck}, "TDX 1.5"},
		{"auth data", QuoteOptions{PCK: pck, QE: QEOptions{AuthData: make([]byte, 0x10000)}}, "authentication data"},
	} {
		if _, err := p.NewQuote(bad.o); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: got error %v, want one mentioning %q", bad.name, err, bad.want)
		}
	}
}

func TestNewQuoteFaults(t *testing.T) {
	p := newTestPKI(t)
	pl, err := p.DefaultPlatform(true)
	if err != nil {
		t.Fatal(err)
	}
	other, err := p.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	badRD := [64]byte{0xba, 0xd}
	for _, tc := range []struct {
		name   string
		faults QuoteFaults
		failed func(quoteVerdict) bool
	}{
		{"quote signer", QuoteFaults{QuoteSigner: other}, func(v quoteVerdict) bool { return v.quoteSig != nil }},
		{"QE report signer", QuoteFaults{QEReportSigner: other}, func(v quoteVerdict) bool { return v.qeSig != nil }},
		{"QE report data", QuoteFaults{QEReportData: &badRD}, func(v quoteVerdict) bool { return v.binding != nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := pl.QuoteOptions
			o.Faults = tc.faults
			raw, err := p.NewQuote(o)
			if err != nil {
				t.Fatal(err)
			}
			v, err := checkQuote(raw, p.Root, p.Now)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.failed(v) {
				t.Errorf("fault not detected: %v", v.ok())
			}
			// Exactly one check fails.
			failures := 0
			for _, e := range []error{v.quoteSig, v.qeSig, v.binding, v.pki} {
				if e != nil {
					failures++
				}
			}
			if failures != 1 {
				t.Errorf("%d checks failed, want 1: %v", failures, v.ok())
			}
		})
	}

	// The QE binding covers the attestation key: a quote whose key was
	// swapped after signing fails the binding and the quote signature.
	raw, err := pl.NewQuote([64]byte{})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := splitQuote(raw)
	if err != nil {
		t.Fatal(err)
	}
	keyAt := len(parts.signed) + 4 + 64
	otherPub, _ := other.PublicKey.Bytes()
	copy(raw[keyAt:keyAt+64], otherPub[1:])
	v, err := checkQuote(raw, p.Root, p.Now)
	if err != nil {
		t.Fatal(err)
	}
	if v.binding == nil || v.quoteSig == nil {
		t.Errorf("swapped attestation key: binding %v, quote signature %v", v.binding, v.quoteSig)
	}
}

func TestQEReportBinding(t *testing.T) {
	p := newTestPKI(t)
	pl, err := p.DefaultPlatform(false)
	if err != nil {
		t.Fatal(err)
	}
	auth := []byte("custom authentication data")
	pl.QuoteOptions.QE.AuthData = auth
	raw, err := pl.NewQuote([64]byte{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := quote.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := pl.QuoteOptions.AttestationKey.PublicKey.Bytes()
	want := sha256.Sum256(append(pub[1:], auth...))
	rd := q.Signature.QEReport.ReportData
	if !bytes.Equal(rd[:32], want[:]) || [32]byte(rd[32:]) != [32]byte{} {
		t.Errorf("QE report data %x, want %x || zeros", rd, want)
	}
	if !bytes.Equal(q.Signature.QEAuthData, auth) {
		t.Errorf("auth data %q", q.Signature.QEAuthData)
	}
	if !ecdsaKeyEqual(pl.QuoteOptions.AttestationKey, q.Signature.AttestationKey) {
		t.Error("attestation key mismatch")
	}
}

func ecdsaKeyEqual(k *ecdsa.PrivateKey, raw [64]byte) bool {
	b, err := k.PublicKey.Bytes()
	return err == nil && bytes.Equal(b[1:], raw[:])
}
