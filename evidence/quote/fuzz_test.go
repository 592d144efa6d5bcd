package quote

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// checkParseError fails unless err is a *FormatError of a known kind.
func checkParseError(t *testing.T, err error) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error is not a *FormatError: %T %v", err, err)
	}
	for _, kind := range []error{ErrTruncated, ErrTooLarge, ErrUnsupported, ErrMalformed} {
		if errors.Is(err, kind) {
			return
		}
	}
	t.Fatalf("error has no known kind: %v", err)
}

// addQuoteSeeds adds every quote vector listed in the EXPECTED.json files
// of vectorFolders to f.
func addQuoteSeeds(f *testing.F) {
	for _, folder := range vectorFolders {
		for _, v := range readExpected(f, folder) {
			if v.Quote != "" {
				f.Add(readVector(f, folder, v.Quote, v.Encoding))
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	addQuoteSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := Parse(b)
		if err != nil {
			checkParseError(t, err)
			return
		}
		if (q.SGX == nil) == (q.TD == nil) {
			t.Fatal("want exactly one of SGX and TD")
		}
		if q.IsTDX() != (q.Header.TEEType == TEETypeTDX) {
			t.Fatal("IsTDX disagrees with the header")
		}
		if len(q.Raw)+len(q.Trailing) != len(b) || !bytes.Equal(q.Raw, b[:len(q.Raw)]) {
			t.Fatal("Raw and Trailing do not split the input")
		}
		enc := q.Marshal()
		if !bytes.Equal(enc, q.Raw) {
			t.Fatal("Marshal differs from Raw")
		}
		if sd := q.SignedData(); !bytes.HasPrefix(q.Raw, sd) {
			t.Fatal("SignedData is not a prefix of Raw")
		}
		if !bytes.Equal(q.Signature.QEReport.Marshal(), q.Signature.QEReportRaw) {
			t.Fatal("QE report does not round-trip")
		}
		q2, err := Parse(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		q.Raw, q.Trailing, q2.Raw = nil, nil, nil
		if !reflect.DeepEqual(q, q2) {
			t.Fatal("Parse(Marshal(q)) != q")
		}
		// These must not panic; errors are fine.
		if _, err := q.Signature.Certification.PCKChainDER(); err != nil && !errors.Is(err, ErrNoPCKChain) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("PCKChainDER: unexpected error kind: %v", err)
		}
		_ = q.Debug()
		_ = q.ReportData()
	})
}

func FuzzParseSGXReport(f *testing.F) {
	q := mustParse(f, v3Quote(f))
	f.Add(append(bytes.Clone(q.Signature.QEReportRaw), make([]byte, 48)...))
	f.Add(make([]byte, SGXReportSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseSGXReport(b)
		if err != nil {
			checkParseError(t, err)
			return
		}
		if !bytes.Equal(r.Marshal(), b) {
			t.Fatal("Marshal differs from input")
		}
	})
}

func FuzzParseReport2(f *testing.F) {
	f.Add(realignedTDReport(f))
	f.Add(mustRead(f, "go-tdx-guest/report.dat"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReport2(b)
		if err != nil {
			checkParseError(t, err)
			return
		}
		if !bytes.Equal(r.Marshal(), b) {
			t.Fatal("Marshal differs from input")
		}
		if r.TD.ReportData != r.ReportData || r.TD.MRSEAM != r.TEETCBInfo.MRSEAM {
			t.Fatal("TD view disagrees with the report")
		}
	})
}

func FuzzParseSGXReportBody(f *testing.F) {
	q := mustParse(f, v3Quote(f))
	f.Add(q.Signature.QEReportRaw)
	f.Add(q.SGX.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseSGXReportBody(b)
		if err != nil {
			checkParseError(t, err)
			return
		}
		if !bytes.Equal(r.Marshal(), b) {
			t.Fatal("Marshal differs from input")
		}
	})
}

func FuzzParseTDReportBody(f *testing.F) {
	f.Add(mustParse(f, v4Quote(f)).TD.Marshal())
	f.Add(mustParse(f, v5Quote(f)).TD.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseTDReportBody(b)
		if err != nil {
			checkParseError(t, err)
			return
		}
		if !bytes.Equal(r.Marshal(), b) {
			t.Fatal("Marshal differs from input")
		}
	})
}

func FuzzParseCertificationData(f *testing.F) {
	q := mustParse(f, v4Quote(f))
	f.Add(q.Signature.OuterCertification.Marshal())
	f.Add(q.Signature.Certification.Marshal())
	f.Add(mustParse(f, mustRead(f, "intel-qvl-sample-testroot/sgx/quote.dat")).Signature.Certification.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCertificationData(b)
		if err != nil {
			checkParseError(t, err)
			return
		}
		if !bytes.Equal(c.Marshal(), b) {
			t.Fatal("Marshal differs from input")
		}
		if (c.Type == CertTypeQEReport) != (c.QEReport != nil) {
			t.Fatal("QEReport must be set exactly for type 6")
		}
		if _, err := c.PCKChainDER(); err != nil && !errors.Is(err, ErrNoPCKChain) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("PCKChainDER: unexpected error kind: %v", err)
		}
	})
}
