package quote

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// realignedTDReport returns go-tdx-guest's report.dat as a standard
// sgx_report2_t. That file holds bytes 48..1024 of a TDREPORT followed by 48
// zero bytes (its tee_tcb_info starts at 0xd0 instead of 256 = 0x100; see
// testdata/README.md), so the first 48 bytes are rebuilt: report_type
// 0x81/0/0/0 and zeros for reserved1, cpu_svn and the head of
// tee_tcb_info_hash.
func realignedTDReport(t testing.TB) []byte {
	raw := mustRead(t, "go-tdx-guest/report.dat")
	if len(raw) != Report2Size || !bytes.Equal(raw[Report2Size-48:], make([]byte, 48)) {
		t.Fatal("report.dat is not the 1024-byte shifted TDREPORT this test expects")
	}
	b := make([]byte, 48, Report2Size)
	b[0] = ReportTypeTDX
	return append(b, raw[:Report2Size-48]...)
}

func TestParseReport2(t *testing.T) {
	raw := realignedTDReport(t)
	r, err := ParseReport2(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !r.IsTDX() || r.ReportType != (ReportType{Type: 0x81}) {
		t.Errorf("report type: want TDX 0x81/0/0/0, got %+v", r.ReportType)
	}
	// MR_SEAM equals the SPR E4 quote's MRSEAM (go-tdx-guest EXPECTED.json):
	// the same TDX module.
	wantSEAM := "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656"
	for name, got := range map[string][]byte{
		"TEETCBInfo.MRSEAM":       r.TEETCBInfo.MRSEAM[:],
		"TD.MRSEAM":               r.TD.MRSEAM[:],
		"TEETCBInfo.Valid":        r.TEETCBInfo.Valid[:],
		"TEETCBInfo.TEETCBSVN":    r.TEETCBInfo.TEETCBSVN[:],
		"TD.TEETCBSVN":            r.TD.TEETCBSVN[:],
		"TD.XFAM":                 r.TD.XFAM[:],
		"TD.TDAttributes":         r.TD.TDAttributes[:],
		"TD.MRTD":                 r.TD.MRTD[:],
		"TD.ReportData[:16]":      r.TD.ReportData[:16],
		"MAC[:8]":                 r.MAC[:8],
		"TEEInfoHash[:8]":         r.TEEInfoHash[:8],
		"TEETCBInfo.MRSignerSEAM": r.TEETCBInfo.MRSignerSEAM[:],
	} {
		// Bytes read off report.dat with xxd at the offsets of docs/formats.md, "TDREPORT",
		// minus 48.
		want := map[string]string{
			"TEETCBInfo.MRSEAM":       wantSEAM,
			"TD.MRSEAM":               wantSEAM,
			"TEETCBInfo.Valid":        "ff01000000000000",
			"TEETCBInfo.TEETCBSVN":    "03000500000000000000000000000000",
			"TD.TEETCBSVN":            "03000500000000000000000000000000",
			"TD.XFAM":                 "e700000000000000",
			"TD.TDAttributes":         "0000000000000000",
			"TD.MRTD":                 "1d31766cd548f8631a522b8943efb0b5eae2ab498e504166a3d9ca7c4dcea2520d1e25d35a65dca64772ddca1e4dca46",
			"TD.ReportData[:16]":      "0000000000000000f08f7ebdfd7f0000",
			"MAC[:8]":                 "d4a5ea5a72ecb650",
			"TEEInfoHash[:8]":         "07883d5e9c90659d",
			"TEETCBInfo.MRSignerSEAM": "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
		}[name]
		if hex.EncodeToString(got) != want {
			t.Errorf("%s:\nwant %s\ngot  %x", name, want, got)
		}
	}
	if r.TD.ReportData != r.ReportData || r.TD.V15 || r.TD.Debug() {
		t.Error("TD view: ReportData must be copied, V15 and Debug false")
	}
	if got := r.Marshal(); !bytes.Equal(got, raw) {
		t.Fatal("Marshal does not reproduce the report")
	}

	// Every field lands at its own offset: set each byte in turn and check
	// the round trip (catches overlapping or swapped fields).
	for i := range raw {
		if i == 0 || i == 1 || i == 2 {
			continue // report_type is validated separately
		}
		b := bytes.Clone(raw)
		b[i] ^= 0x5a
		r2, err := ParseReport2(b)
		if err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
		if !bytes.Equal(r2.Marshal(), b) {
			t.Fatalf("byte %d does not round-trip", i)
		}
	}

	v1 := bytes.Clone(raw)
	v1[2] = Report2VersionServiceTD
	r1, err := ParseReport2(v1)
	if err != nil || !r1.TD.V15 {
		t.Errorf("version 1: want TD.V15, got err %v", err)
	}
	sgx := bytes.Clone(raw)
	sgx[0] = ReportTypeSGX
	if r, err := ParseReport2(sgx); err != nil || r.IsTDX() {
		t.Errorf("type 0: want SGX report, got err %v", err)
	}
}

func TestParseReport2Errors(t *testing.T) {
	raw := realignedTDReport(t)
	mod := func(i int, v byte) []byte { b := bytes.Clone(raw); b[i] = v; return b }
	for _, tc := range []struct {
		name string
		b    []byte
		kind error
	}{
		// The file as published: its first byte is not a report type.
		{"unaligned report.dat", mustRead(t, "go-tdx-guest/report.dat"), ErrUnsupported},
		{"type 0x80", mod(0, 0x80), ErrUnsupported},
		{"subtype 1", mod(1, 1), ErrUnsupported},
		{"version 2", mod(2, 2), ErrUnsupported},
		{"short", raw[:Report2Size-1], ErrTruncated},
		{"long", append(bytes.Clone(raw), 0), ErrMalformed},
		{"empty", nil, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseReport2(tc.b); !errors.Is(err, tc.kind) {
				t.Errorf("want %v, got %v", tc.kind, err)
			}
		})
	}
}

func TestSGXReport(t *testing.T) {
	// An EREPORT has the same body as a QE report; take a real one and add
	// recognisable key_id and MAC bytes.
	q := mustParse(t, v3Quote(t))
	raw := bytes.Clone(q.Signature.QEReportRaw)
	for i := range 48 {
		raw = append(raw, byte(i+1))
	}
	r, err := ParseSGXReport(raw)
	if err != nil {
		t.Fatal(err)
	}
	if r.Body != q.Signature.QEReport || r.KeyID[0] != 1 || r.KeyID[31] != 32 || r.MAC[0] != 33 || r.MAC[15] != 48 {
		t.Errorf("fields: got key_id %x mac %x", r.KeyID, r.MAC)
	}
	// QE identity values for this quote (mobilecoin-sgx EXPECTED.json).
	if r.Body.ISVSVN != 9 || r.Body.ISVProdID != 1 ||
		hex.EncodeToString(r.Body.MRSigner[:]) != "8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff" {
		t.Errorf("QE report body: got isvsvn %d isvprodid %d mrsigner %x", r.Body.ISVSVN, r.Body.ISVProdID, r.Body.MRSigner)
	}
	if !bytes.Equal(r.Marshal(), raw) {
		t.Error("Marshal does not reproduce the report")
	}
	for _, n := range []int{0, 384, 431, 433} {
		b := make([]byte, n)
		if _, err := ParseSGXReport(b); err == nil {
			t.Errorf("ParseSGXReport(%d bytes): want error", n)
		}
	}
}

func TestReportBodies(t *testing.T) {
	// Every byte of the SGX body maps to exactly one field.
	body := make([]byte, SGXReportBodySize)
	for i := range body {
		body[i] = byte(i*7 + 3)
	}
	b, err := ParseSGXReportBody(body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Marshal(), body) {
		t.Error("SGX body does not round-trip")
	}
	// Field offsets from docs/formats.md, "SGX report body".
	if b.MREnclave[0] != body[64] || b.MRSigner[0] != body[128] || b.ConfigID[0] != body[192] ||
		b.ISVProdID != uint16(body[256])|uint16(body[257])<<8 || b.ISVSVN != uint16(body[258])|uint16(body[259])<<8 ||
		b.ConfigSVN != uint16(body[260])|uint16(body[261])<<8 || b.ISVFamilyID[0] != body[304] || b.ReportData[0] != body[320] ||
		b.ISVExtProdID[0] != body[32] || b.Attributes[0] != body[48] {
		t.Error("SGX body field offsets differ from docs/formats.md (SGX report body)")
	}
	for _, n := range []int{0, 383, 385} {
		if _, err := ParseSGXReportBody(make([]byte, n)); err == nil {
			t.Errorf("ParseSGXReportBody(%d bytes): want error", n)
		}
	}
	if (&SGXReportBody{Attributes: [16]byte{0x02}}).Debug() != true || (&SGXReportBody{Attributes: [16]byte{0x05}}).Debug() {
		t.Error("SGX Debug must follow attributes.flags bit 1")
	}

	// TD bodies: 584 and 648 bytes, offsets from docs/formats.md, "TD report body".
	td := make([]byte, TDReportBody15Size)
	for i := range td {
		td[i] = byte(i*13 + 1)
	}
	for _, n := range []int{TDReportBody10Size, TDReportBody15Size} {
		r, err := ParseTDReportBody(td[:n])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.Marshal(), td[:n]) || r.V15 != (n == TDReportBody15Size) || r.Size() != n {
			t.Errorf("TD body %d bytes does not round-trip", n)
		}
		if r.MRTD[0] != td[136] || r.RTMR[3][0] != td[472] || r.ReportData[0] != td[520] || r.TDAttributes[0] != td[120] {
			t.Error("TD body field offsets differ from docs/formats.md (TD report body)")
		}
		if n == TDReportBody15Size && (r.TEETCBSVN2[0] != td[584] || r.MRServiceTD[0] != td[600]) {
			t.Error("TDX 1.5 field offsets differ from docs/formats.md (TD report body)")
		}
	}
	for _, n := range []int{0, 583, 585, 647, 649} {
		if _, err := ParseTDReportBody(make([]byte, n)); err == nil {
			t.Errorf("ParseTDReportBody(%d bytes): want error", n)
		}
	}
	if !(&TDReportBody{TDAttributes: [8]byte{1}}).Debug() || (&TDReportBody{TDAttributes: [8]byte{0, 0, 0, 0x40}}).Debug() {
		t.Error("TD Debug must follow td_attributes bit 0")
	}
}
