package quote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// Offsets from docs/formats.md, "DCAP quotes", used to build bad quotes from real ones.
const (
	offVersion    = 0
	offAttKeyType = 2
	offTEEType    = 4

	// v3 SGX (and v4 SGX): signature_data_len at 432, signature data at 436.
	v3SigLen   = 432
	v3Sig      = 436
	v3AuthSize = v3Sig + 576 // u16 qe_auth_data size

	// v4 TDX: signature_data_len at 632, signature data at 636.
	v4SigLen    = 632
	v4Sig       = 636
	v4OuterType = v4Sig + 128 // u16 type of the type 6 entry
	v4OuterSize = v4OuterType + 2
	v4QEContent = v4OuterType + 6
	v4AuthSize  = v4QEContent + 384 + 64

	// v5 TDX 1.5: body_type at 48, body_size at 50, body at 54.
	v5BodyType = 48
	v5BodySize = 50
	v5SigLen   = 54 + 648
)

func v3Quote(t testing.TB) []byte { return mustRead(t, "mobilecoin-sgx/hw_quote.dat") }
func v4Quote(t testing.TB) []byte { return mustRead(t, "trustee-dcap/tdx_quote_4.dat") }
func v5Quote(t testing.TB) []byte { return mustRead(t, "go-tdx-guest/quote_v5_sample.dat") }

func u16At(b []byte, off int) int { return int(binary.LittleEndian.Uint16(b[off:])) }
func u32At(b []byte, off int) int { return int(binary.LittleEndian.Uint32(b[off:])) }

// with returns a copy of b with edit applied.
func with(b []byte, edit func(b []byte) []byte) []byte { return edit(bytes.Clone(b)) }

func set16(off, v int) func([]byte) []byte {
	return func(b []byte) []byte { binary.LittleEndian.PutUint16(b[off:], uint16(v)); return b }
}

func set32(off, v int) func([]byte) []byte {
	return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off:], uint32(v)); return b }
}

func add32(off, delta int) func([]byte) []byte {
	return func(b []byte) []byte { return set32(off, u32At(b, off)+delta)(b) }
}

func insertAt(off int, extra ...byte) func([]byte) []byte {
	return func(b []byte) []byte { return append(b[:off:off], append(extra, b[off:]...)...) }
}

func chain(edits ...func([]byte) []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		for _, e := range edits {
			b = e(b)
		}
		return b
	}
}

// wantParseErr checks that Parse fails with kind and an error naming field.
func wantParseErr(t *testing.T, b []byte, kind error, field string) {
	t.Helper()
	q, err := Parse(b)
	if err == nil {
		t.Fatalf("Parse succeeded (version %d), want %v", q.Header.Version, kind)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error kind: want %v, got %v", kind, err)
	}
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Errorf("want a *FormatError, got %T", err)
	} else if !strings.Contains(fe.Field, field) {
		t.Errorf("error field: want it to contain %q, got %q (%v)", field, fe.Field, err)
	}
}

func TestParseTruncatedAtEveryLength(t *testing.T) {
	for name, raw := range map[string][]byte{"v3": v3Quote(t), "v4": v4Quote(t), "v5": v5Quote(t)} {
		t.Run(name, func(t *testing.T) {
			q := mustParse(t, raw)
			if len(q.Trailing) != 0 {
				t.Fatal("vector must have no trailing bytes")
			}
			for n := range len(raw) {
				if _, err := Parse(raw[:n]); !errors.Is(err, ErrTruncated) {
					t.Fatalf("Parse(raw[:%d]): want ErrTruncated, got %v", n, err)
				}
			}
		})
	}
}

func TestParseErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"epid", with(v3Quote(t), set16(offVersion, 2)), "quote: header version: want 3, 4 or 5, got 2 (EPID quotes are not supported)"},
		{"version7", with(v3Quote(t), set16(offVersion, 7)), "quote: header version: want 3, 4 or 5, got 7"},
		{"short", v3Quote(t)[:47], "quote: header: want 48 bytes, got 47 bytes left"},
		{"min", v3Quote(t)[:1019], "quote: quote size: want at least 1020 bytes, got 1019 bytes"},
		{"v4teetype", with(v4Quote(t), set32(offTEEType, 0x80)), "quote: header tee_type: want 0x00000000 (SGX) or 0x00000081 (TDX), got 0x00000080"},
		{"v5size", with(v5Quote(t), set32(v5BodySize, 584)), "quote: body_size for body_type 3: want 648, got 584"},
		{"v4outer", with(v4Quote(t), set16(v4OuterType, 5)),
			"quote: signature data certification data type: want 6 (QE report certification data), got 5 (PCK certificate chain)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.b)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error:\nwant %s\ngot  %v", tc.want, err)
			}
		})
	}
}

func TestParseRejectsHeaderValues(t *testing.T) {
	v3, v4, v5 := v3Quote(t), v4Quote(t), v5Quote(t)
	for _, tc := range []struct {
		name  string
		b     []byte
		kind  error
		field string
	}{
		{"version 0", with(v3, set16(offVersion, 0)), ErrUnsupported, "header version"},
		{"version 1", with(v3, set16(offVersion, 1)), ErrUnsupported, "header version"},
		{"version 2 EPID", with(v3, set16(offVersion, 2)), ErrUnsupported, "header version"},
		{"version 6", with(v4, set16(offVersion, 6)), ErrUnsupported, "header version"},
		{"version 0xffff", with(v4, set16(offVersion, 0xffff)), ErrUnsupported, "header version"},
		{"v3 att_key_type 0 (EPID)", with(v3, set16(offAttKeyType, 0)), ErrUnsupported, "att_key_type"},
		{"v3 att_key_type 1", with(v3, set16(offAttKeyType, 1)), ErrUnsupported, "att_key_type"},
		{"v3 att_key_type 4", with(v3, set16(offAttKeyType, 4)), ErrUnsupported, "att_key_type"},
		{"v4 att_key_type 3", with(v4, set16(offAttKeyType, 3)), ErrUnsupported, "att_key_type"},
		{"v5 att_key_type 0", with(v5, set16(offAttKeyType, 0)), ErrUnsupported, "att_key_type"},
		{"v3 att_key_data_0 TDX", with(v3, set32(offTEEType, 0x81)), ErrUnsupported, "att_key_data_0"},
		{"v3 att_key_data_0 1", with(v3, set32(offTEEType, 1)), ErrUnsupported, "att_key_data_0"},
		{"v4 tee_type 1", with(v4, set32(offTEEType, 1)), ErrUnsupported, "tee_type"},
		{"v4 tee_type 0x82", with(v4, set32(offTEEType, 0x82)), ErrUnsupported, "tee_type"},
		{"v5 tee_type 0xffffffff", with(v5, set32(offTEEType, 0xffffffff)), ErrUnsupported, "tee_type"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantParseErr(t, tc.b, tc.kind, tc.field) })
	}
}

func TestParseRejectsBodyFields(t *testing.T) {
	v4, v5 := v4Quote(t), v5Quote(t)
	for _, tc := range []struct {
		name  string
		b     []byte
		kind  error
		field string
	}{
		{"v5 body_type 0", with(v5, set16(v5BodyType, 0)), ErrUnsupported, "body_type"},
		{"v5 body_type 4", with(v5, set16(v5BodyType, 4)), ErrUnsupported, "body_type"},
		{"v5 body_type SGX with TDX tee", with(v5, set16(v5BodyType, 1)), ErrMalformed, "body_type for tee_type"},
		{"v5 TD body with SGX tee", with(v5, set32(offTEEType, 0)), ErrMalformed, "body_type for tee_type"},
		{"v5 body_type 2 with 648 bytes", with(v5, set16(v5BodyType, 2)), ErrMalformed, "body_size"},
		{"v5 body_size 0", with(v5, set32(v5BodySize, 0)), ErrMalformed, "body_size"},
		{"v5 body_size max", with(v5, set32(v5BodySize, 0xffffffff)), ErrMalformed, "body_size"},
		{"v5 body_size +1", with(v5, add32(v5BodySize, 1)), ErrMalformed, "body_size"},
		// A TDX quote relabelled SGX reads signature_data_len from body bytes.
		{"v4 TDX relabelled SGX", with(v4, set32(offTEEType, 0)), ErrTruncated, "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantParseErr(t, tc.b, tc.kind, tc.field) })
	}
}

func TestParseRejectsLyingLengths(t *testing.T) {
	v3, v4, v5 := v3Quote(t), v4Quote(t), v5Quote(t)
	v3Auth := u16At(v3, v3AuthSize)
	v3CertSize := v3AuthSize + 2 + v3Auth + 2
	v4Auth := u16At(v4, v4AuthSize)
	v4InnerType := v4AuthSize + 2 + v4Auth
	v4InnerSize := v4InnerType + 2
	v4End := len(v4)
	for _, tc := range []struct {
		name  string
		b     []byte
		kind  error
		field string
	}{
		{"v3 sig len +1", with(v3, add32(v3SigLen, 1)), ErrTruncated, "signature_data"},
		{"v3 sig len -1", with(v3, add32(v3SigLen, -1)), ErrTruncated, "certification data data"},
		{"v3 sig len 0", with(v3, set32(v3SigLen, 0)), ErrTruncated, "signature data quote signature"},
		{"v3 sig len max", with(v3, set32(v3SigLen, 0xffffffff)), ErrTruncated, "signature_data"},
		{"v3 auth size max", with(v3, set16(v3AuthSize, 0xffff)), ErrTruncated, "qe_auth_data"},
		{"v3 auth size +1", with(v3, set16(v3AuthSize, v3Auth+1)), ErrUnsupported, "certification data type"},
		{"v3 cert size +1", with(v3, add32(v3CertSize, 1)), ErrTruncated, "certification data data"},
		{"v3 cert size max", with(v3, set32(v3CertSize, 0xffffffff)), ErrTruncated, "certification data data"},
		{"v3 cert type 0", with(v3, set16(v3CertSize-2, 0)), ErrUnsupported, "certification data type"},
		{"v3 cert type 6", with(v3, set16(v3CertSize-2, 6)), ErrUnsupported, "certification data type"},
		{"v3 cert type 7", with(v3, set16(v3CertSize-2, 7)), ErrUnsupported, "certification data type"},
		{"v4 sig len +1", with(v4, add32(v4SigLen, 1)), ErrTruncated, "signature_data"},
		{"v4 sig len -1", with(v4, add32(v4SigLen, -1)), ErrTruncated, "certification data data"},
		{"v5 sig len +1", with(v5, add32(v5SigLen, 1)), ErrTruncated, "signature_data"},
		{"v4 outer type 5", with(v4, set16(v4OuterType, 5)), ErrUnsupported, "certification data type"},
		{"v4 outer type 0", with(v4, set16(v4OuterType, 0)), ErrUnsupported, "certification data type"},
		{"v4 outer size +1", with(v4, add32(v4OuterSize, 1)), ErrTruncated, "certification data data"},
		{"v4 outer size -1", with(v4, add32(v4OuterSize, -1)), ErrTruncated, "nested certification data data"},
		{"v4 outer size tiny", with(v4, set32(v4OuterSize, 10)), ErrTruncated, "qe_report"},
		{"v4 auth size max", with(v4, set16(v4AuthSize, 0xffff)), ErrTruncated, "qe_auth_data"},
		{"v4 inner type 6 (nesting)", with(v4, set16(v4InnerType, 6)), ErrUnsupported, "nested certification data type"},
		{"v4 inner type 0", with(v4, set16(v4InnerType, 0)), ErrUnsupported, "nested certification data type"},
		{"v4 inner type 7", with(v4, set16(v4InnerType, 7)), ErrUnsupported, "nested certification data type"},
		{"v4 inner size +1", with(v4, add32(v4InnerSize, 1)), ErrTruncated, "nested certification data data"},
		// The type 6 content grows by one byte after the nested entry: QVL
		// requires the content to end with the nested entry.
		{"v4 bytes after nested entry", with(v4, chain(insertAt(v4End, 0xAA), add32(v4OuterSize, 1), add32(v4SigLen, 1))),
			ErrMalformed, "QE report certification data size"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantParseErr(t, tc.b, tc.kind, tc.field) })
	}
}

func TestParseTolerated(t *testing.T) {
	t.Run("bytes after v3 certification data", func(t *testing.T) {
		// Shrinking the cert size by 2 leaves 2 bytes inside signature data.
		v3 := v3Quote(t)
		certSize := v3AuthSize + 2 + u16At(v3, v3AuthSize) + 2
		b := with(v3, add32(certSize, -2))
		q := mustParse(t, b)
		if !bytes.Equal(q.Signature.Extra, v3[len(v3)-2:]) || len(q.Trailing) != 0 {
			t.Fatalf("Extra: want the last 2 bytes, got %x (trailing %d)", q.Signature.Extra, len(q.Trailing))
		}
		if !bytes.Equal(q.Marshal(), b) {
			t.Error("Marshal does not reproduce a quote with Extra")
		}
	})
	t.Run("bytes after v4 type 6 entry", func(t *testing.T) {
		v4 := v4Quote(t)
		b := with(v4, chain(insertAt(len(v4), 1, 2, 3), add32(v4SigLen, 3)))
		q := mustParse(t, b)
		if !bytes.Equal(q.Signature.Extra, []byte{1, 2, 3}) {
			t.Fatalf("Extra: want 010203, got %x", q.Signature.Extra)
		}
		if !bytes.Equal(q.Marshal(), b) {
			t.Error("Marshal does not reproduce a quote with Extra")
		}
	})
	t.Run("trailing bytes", func(t *testing.T) {
		v5 := v5Quote(t)
		b := append(bytes.Clone(v5), "padding"...)
		q := mustParse(t, b)
		if string(q.Trailing) != "padding" || !bytes.Equal(q.Raw, v5) || !bytes.Equal(q.Marshal(), v5) {
			t.Errorf("Trailing: want %q, got %q", "padding", q.Trailing)
		}
	})
	t.Run("v3 att_key_type 3 parses with the P-256 layout", func(t *testing.T) {
		q := mustParse(t, with(v3Quote(t), set16(offAttKeyType, 3)))
		if q.Header.AttKeyType != AttKeyTypeECDSAP384 {
			t.Errorf("AttKeyType: want 3, got %d", q.Header.AttKeyType)
		}
	})
	t.Run("max size", func(t *testing.T) {
		v4 := v4Quote(t)
		b := make([]byte, maxQuoteSize)
		copy(b, v4)
		q := mustParse(t, b)
		if len(q.Trailing) != maxQuoteSize-len(v4) {
			t.Errorf("Trailing: want %d bytes, got %d", maxQuoteSize-len(v4), len(q.Trailing))
		}
		wantParseErr(t, append(b, 0), ErrTooLarge, "quote size")
	})
}

func TestParseDoesNotRetainInput(t *testing.T) {
	raw := v4Quote(t)
	q := mustParse(t, raw)
	want := q.TD.MRTD
	for i := range raw {
		raw[i] = 0xff
	}
	if q.TD.MRTD != want || q.Raw[0] != 4 || q.Signature.Certification.Data[0] != '-' {
		t.Error("parsed quote changed when the input buffer was overwritten")
	}
}

func TestParseCertificationData(t *testing.T) {
	q := mustParse(t, v4Quote(t))
	outer := q.Signature.OuterCertification.Marshal()
	c, err := ParseCertificationData(outer)
	if err != nil {
		t.Fatal(err)
	}
	if c.Type != CertTypeQEReport || c.QEReport == nil || !bytes.Equal(c.Marshal(), outer) {
		t.Fatalf("type 6 entry did not round-trip")
	}
	if !bytes.Equal(c.QEReport.Marshal(), c.Data) {
		t.Error("QEReportCertificationData.Marshal() != Data")
	}
	inner := q.Signature.Certification.Marshal()
	if c, err := ParseCertificationData(inner); err != nil || c.Type != CertTypePCKChain || c.QEReport != nil {
		t.Errorf("type 5 entry: got %v", err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		kind error
	}{
		{"empty", nil, ErrTruncated},
		{"type only", []byte{5, 0}, ErrTruncated},
		{"type 0", []byte{0, 0, 0, 0, 0, 0}, ErrUnsupported},
		{"type 7", []byte{7, 0, 0, 0, 0, 0}, ErrUnsupported},
		{"size past end", []byte{5, 0, 2, 0, 0, 0, 'x'}, ErrTruncated},
		{"bytes after entry", []byte{5, 0, 1, 0, 0, 0, 'x', 'y'}, ErrMalformed},
		{"empty type 6", []byte{6, 0, 0, 0, 0, 0}, ErrTruncated},
		{"type 6 in type 6", with(outer, set16(6+384+64+2+len(q.Signature.QEAuthData), 6)), ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseCertificationData(tc.b); !errors.Is(err, tc.kind) {
				t.Errorf("want %v, got %v", tc.kind, err)
			}
		})
	}
}

func TestPCKChainDERErrors(t *testing.T) {
	for _, tc := range []struct{ name, pem string }{
		{"no end", "-----BEGIN CERTIFICATE-----\nAAAA\n"},
		{"bad base64", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"},
		{"empty block", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"},
		{"text between", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\njunk\n"},
		{"other block", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
		{"too many", strings.Repeat("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 9)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := CertificationData{Type: CertTypePCKChain, Data: []byte(tc.pem)}
			if _, err := c.PCKChainDER(); !errors.Is(err, ErrMalformed) {
				t.Errorf("want ErrMalformed, got %v", err)
			}
		})
	}
	c := CertificationData{Type: CertTypePCKChain, Data: []byte(
		"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE----------BEGIN CERTIFICATE-----\nBAUG\n-----END CERTIFICATE-----\n\x00")}
	der, err := c.PCKChainDER()
	if err != nil || len(der) != 2 || !bytes.Equal(der[0], []byte{1, 2, 3}) || !bytes.Equal(der[1], []byte{4, 5, 6}) {
		t.Errorf("blocks without a line break: got %x, %v", der, err)
	}
}
