package pcs

import (
	"testing"
)

func BenchmarkParseTCBInfoTDX(b *testing.B) {
	body := readFile(b, "go-tdx-guest/sample_tcbinfo_response_v5.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseTCBInfo(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTCBInfoSGX(b *testing.B) {
	body := readFile(b, "zkdcap/tcbinfov3_00906ED50000.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseTCBInfo(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEnclaveIdentity(b *testing.B) {
	body := readFile(b, "zkdcap/qeidentityv2_sgx.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseEnclaveIdentity(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePCKExtensions(b *testing.B) {
	leaf := leafFromQuote(b, readFile(b, "dcap-qvl/tdx_quote"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePCKExtensions(leaf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDCAPQVLJSON(b *testing.B) {
	body := readFile(b, "dcap-qvl/tdx_quote_collateral.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseDCAPQVLJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckSignature(b *testing.B) {
	ti, err := ParseTCBInfo(readFile(b, "zkdcap/tcbinfov3_00806f050000.json"))
	if err != nil {
		b.Fatal(err)
	}
	signer := mustCert(b, "intel-roots/Intel_SGX_TCB_Signing_2018-2025.pem")
	b.ReportAllocs()
	for b.Loop() {
		if err := ti.CheckSignature(signer); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatchSGX(b *testing.B) {
	// zkdcap SGX vector: PCK components 15 15 02 04 01 80 0e, PCESVN 13
	// (EXPECTED.json), matching a level below the first.
	ti, err := ParseTCBInfo(readFile(b, "zkdcap/tcbinfov3_00906ED50000.json"))
	if err != nil {
		b.Fatal(err)
	}
	comp := comp16(0x15, 0x15, 0x02, 0x04, 0x01, 0x80, 0x0e)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ti.MatchSGX(comp, 13); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatchTDX(b *testing.B) {
	// zkdcap TDX vector (EXPECTED.json): PCK components 06 06 02 02 03 01
	// 00 03, PCESVN 11, TEE_TCB_SVN 04 01 07.
	ti, err := ParseTCBInfo(readFile(b, "zkdcap/tcbinfov3_00806f050000.json"))
	if err != nil {
		b.Fatal(err)
	}
	comp := comp16(6, 6, 2, 2, 3, 1, 0, 3)
	tee := [16]byte{4, 1, 7}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ti.MatchTDX(comp, 11, tee); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatchQE(b *testing.B) {
	e, err := ParseEnclaveIdentity(readFile(b, "zkdcap/qeidentityv2_tdx.json"))
	if err != nil {
		b.Fatal(err)
	}
	qf := parseQuoteFields(b, readFile(b, "zkdcap/quote_tdx_00806f050000.dat"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.MatchQE(qf.qeReport); err != nil {
			b.Fatal(err)
		}
	}
}
