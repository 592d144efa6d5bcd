package quote

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// wantQuoteVectors is the number of quote vectors listed in the EXPECTED.json
// files of vectorFolders; the test fails if any is skipped.
const wantQuoteVectors = 20

func TestVectorsFromExpected(t *testing.T) {
	seen := 0
	for _, folder := range vectorFolders {
		for _, v := range readExpected(t, folder) {
			if v.Quote == "" {
				continue
			}
			seen++
			t.Run(folder+"/"+v.ID, func(t *testing.T) {
				raw := readVector(t, folder, v.Quote, v.Encoding)
				q := mustParse(t, raw)
				checkComputed(t, q, raw, v.Computed)
				checkRoundTrip(t, q, raw)
			})
		}
	}
	if seen != wantQuoteVectors {
		t.Errorf("quote vectors found: want %d, got %d", wantQuoteVectors, seen)
	}
}

// checkComputed compares q with the "computed" fields of EXPECTED.json.
func checkComputed(t *testing.T, q *Quote, raw []byte, c map[string]any) {
	t.Helper()
	eqInt := func(key string, got int64) {
		t.Helper()
		v, ok := c[key]
		if !ok || v == nil {
			return
		}
		if want := jsonInt(t, v); want != got {
			t.Errorf("%s: want %d, got %d", key, want, got)
		}
	}
	eqHex := func(key string, got []byte) {
		t.Helper()
		v, ok := c[key]
		if !ok || v == nil {
			return
		}
		if want := v.(string); want != hex.EncodeToString(got) {
			t.Errorf("%s:\nwant %s\ngot  %x", key, want, got)
		}
	}
	mustHave := func(keys ...string) {
		t.Helper()
		for _, k := range keys {
			if c[k] == nil {
				t.Fatalf("EXPECTED.json lacks %q", k)
			}
		}
	}
	mustHave("quote_version", "tee_type", "att_key_type", "quote_len", "trailing_bytes_after_sig_data",
		"cert_data_type", "report_data", "qe_isvsvn", "qe_isvprodid", "qe_mrsigner")

	eqInt("quote_version", int64(q.Header.Version))
	eqInt("att_key_type", int64(q.Header.AttKeyType))
	eqInt("quote_len", int64(len(raw)))
	eqInt("trailing_bytes_after_sig_data", int64(len(q.Trailing)))
	eqInt("cert_data_type", int64(q.Signature.Certification.Type))
	if len(q.Raw)+len(q.Trailing) != len(raw) {
		t.Errorf("len(Raw)+len(Trailing): want %d, got %d", len(raw), len(q.Raw)+len(q.Trailing))
	}
	if !bytes.Equal(q.Trailing, raw[len(q.Raw):]) {
		t.Error("Trailing is not the tail of the input")
	}

	rd := q.ReportData()
	eqHex("report_data", rd[:])
	eqInt("qe_isvsvn", int64(q.Signature.QEReport.ISVSVN))
	eqInt("qe_isvprodid", int64(q.Signature.QEReport.ISVProdID))
	eqHex("qe_mrsigner", q.Signature.QEReport.MRSigner[:])

	switch tee := c["tee_type"].(string); tee {
	case "SGX":
		mustHave("mrenclave", "mrsigner", "isvprodid", "isvsvn")
		if q.SGX == nil || q.TD != nil || q.IsTDX() || q.Header.TEEType != TEETypeSGX {
			t.Fatalf("tee: want SGX body only, got SGX=%v TD=%v tee_type=%#x", q.SGX != nil, q.TD != nil, q.Header.TEEType)
		}
		eqHex("mrenclave", q.SGX.MREnclave[:])
		eqHex("mrsigner", q.SGX.MRSigner[:])
		eqInt("isvprodid", int64(q.SGX.ISVProdID))
		eqInt("isvsvn", int64(q.SGX.ISVSVN))
		if c["body_type"] == nil && q.BodyType != BodyTypeSGX {
			t.Errorf("BodyType: want %d, got %d", BodyTypeSGX, q.BodyType)
		}
	case "TDX":
		mustHave("mrtd", "mrseam", "tee_tcb_svn", "rtmr0")
		if q.TD == nil || q.SGX != nil || !q.IsTDX() || q.Header.TEEType != TEETypeTDX {
			t.Fatalf("tee: want TD body only, got SGX=%v TD=%v tee_type=%#x", q.SGX != nil, q.TD != nil, q.Header.TEEType)
		}
		eqHex("mrtd", q.TD.MRTD[:])
		eqHex("mrseam", q.TD.MRSEAM[:])
		eqHex("tee_tcb_svn", q.TD.TEETCBSVN[:])
		eqHex("tee_tcb_svn2", q.TD.TEETCBSVN2[:])
		eqHex("rtmr0", q.TD.RTMR[0][:])
		if c["body_type"] == nil && q.BodyType != BodyTypeTDX10 {
			t.Errorf("BodyType: want %d, got %d", BodyTypeTDX10, q.BodyType)
		}
		if want := c["body_type"] != nil && jsonInt(t, c["body_type"]) == int64(BodyTypeTDX15); q.TD.V15 != want {
			t.Errorf("TD.V15: want %v, got %v", want, q.TD.V15)
		}
	default:
		t.Fatalf("unknown tee_type %q", tee)
	}
	eqInt("body_type", int64(q.BodyType))

	// The signed ranges: check them with the signatures recorded as valid.
	if c["quote_sig_valid"] == true {
		verifyP256(t, "quote signature", q.Signature.AttestationKey[:], q.SignedData(), q.Signature.QuoteSignature[:])
	}
	if c["qe_report_data_binding_valid"] == true {
		sum := sha256.Sum256(q.Signature.QEBindingData())
		if !bytes.Equal(q.Signature.QEReport.ReportData[:32], sum[:]) {
			t.Error("QE report data[0:32] != SHA-256(QEBindingData)")
		}
	}
	if chain, ok := c["pck_chain"].([]any); ok && len(chain) > 0 && q.Signature.Certification.Type == CertTypePCKChain {
		certs := pckChain(t, q)
		if len(certs) != len(chain) {
			t.Fatalf("PCK chain length: want %d, got %d", len(chain), len(certs))
		}
		for i, e := range chain {
			want := e.(map[string]any)["sha256"].(string)
			if got := sha256.Sum256(certs[i].Raw); hex.EncodeToString(got[:]) != want {
				t.Errorf("PCK chain cert %d sha256: want %s, got %x", i, want, got)
			}
		}
		if c["qe_report_sig_valid"] == true {
			leaf := certs[0].PublicKey.(*ecdsa.PublicKey)
			verifyP256Key(t, "QE report signature", leaf, q.Signature.QEReportRaw, q.Signature.QEReportSignature[:])
		}
	}
}

// checkRoundTrip checks that Marshal reproduces the input and that the
// raw slices the package exposes are the right bytes.
func checkRoundTrip(t *testing.T, q *Quote, raw []byte) {
	t.Helper()
	if got := q.Marshal(); !bytes.Equal(got, raw[:len(q.Raw)]) {
		t.Fatalf("Marshal differs from input (len %d vs %d)", len(got), len(q.Raw))
	}
	if !bytes.Equal(q.Raw, raw[:len(q.Raw)]) {
		t.Fatal("Raw is not a prefix of the input")
	}
	// Signed data per docs/formats.md, "Signed bytes": quote[0:48+body] (v3/v4) or
	// quote[0:54+body] (v5).
	bodyLen := SGXReportBodySize
	if q.TD != nil {
		bodyLen = q.TD.Size()
	}
	n := HeaderSize + bodyLen
	if q.Header.Version == Version5 {
		n += 6
	}
	if sd := q.SignedData(); !bytes.Equal(sd, raw[:n]) {
		t.Errorf("SignedData: want quote[0:%d], got %d bytes that differ", n, len(sd))
	}
	sigLen := binary.LittleEndian.Uint32(raw[n:])
	if int(sigLen) != len(q.Raw)-n-4 {
		t.Errorf("signature_data_len %d does not end at len(Raw) %d", sigLen, len(q.Raw))
	}
	// The QE report sits at a fixed offset in signature data: 128 (v3) or
	// 134 = 128 + type-6 header (v4/v5).
	qeOff := n + 4 + 128
	if q.Header.Version != Version3 {
		qeOff += 6
	}
	if !bytes.Equal(q.Signature.QEReportRaw, raw[qeOff:qeOff+SGXReportBodySize]) {
		t.Error("QEReportRaw is not the QE report bytes of the quote")
	}
	if !bytes.Equal(q.Signature.QEReport.Marshal(), q.Signature.QEReportRaw) {
		t.Error("QEReport.Marshal() != QEReportRaw")
	}
	q2 := mustParse(t, q.Marshal())
	q2.Raw, q.Raw = nil, nil
	q2.Trailing, q.Trailing = nil, nil
	if !reflect.DeepEqual(q, q2) {
		t.Error("Parse(Marshal(q)) != q")
	}
}

func pckChain(t *testing.T, q *Quote) []*x509.Certificate {
	t.Helper()
	p, err := q.Signature.Certification.PCKChainPEM()
	if err != nil {
		t.Fatalf("PCKChainPEM: %v", err)
	}
	if p2, err := q.Signature.OuterCertification.PCKChainPEM(); err != nil || !bytes.Equal(p, p2) {
		t.Errorf("OuterCertification.PCKChainPEM: got err %v or a different chain", err)
	}
	ders, err := q.Signature.Certification.PCKChainDER()
	if err != nil {
		t.Fatalf("PCKChainDER: %v", err)
	}
	var certs []*x509.Certificate
	for _, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	// Where encoding/pem can read the chain, it must agree.
	var viaPEM [][]byte
	for rest := p; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		viaPEM = append(viaPEM, blk.Bytes)
	}
	if len(viaPEM) == len(ders) && !reflect.DeepEqual(viaPEM, ders) {
		t.Error("PCKChainDER differs from encoding/pem")
	}
	return certs
}

func verifyP256(t *testing.T, what string, xy, msg, sig []byte) {
	t.Helper()
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, xy...))
	if err != nil {
		t.Fatalf("%s: attestation key: %v", what, err)
	}
	verifyP256Key(t, what, pub, msg, sig)
}

func verifyP256Key(t *testing.T, what string, pub *ecdsa.PublicKey, msg, sig []byte) {
	t.Helper()
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pub, h[:], der) {
		t.Errorf("%s does not verify over the exposed bytes", what)
	}
}

// TestRATLSCertQuotes parses the quotes inside the two RA-TLS certificates.
func TestRATLSCertQuotes(t *testing.T) {
	oidLegacyQuote := asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 6}
	oidDICEEvidence := asn1.ObjectIdentifier{2, 23, 133, 5, 4, 9}
	vectors := readExpected(t, "ratls-certs")
	if len(vectors) != 2 {
		t.Fatalf("ratls-certs vectors: want 2, got %d", len(vectors))
	}
	for _, v := range vectors {
		t.Run(v.ID, func(t *testing.T) {
			blk, _ := pem.Decode(mustRead(t, filepath.Join("ratls-certs", v.Cert)))
			if blk == nil {
				t.Fatal("no PEM block")
			}
			cert, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			var raw []byte
			var want map[string]any
			for _, e := range v.Computed["exts"].([]any) {
				e := e.(map[string]any)
				if e["version"] != nil {
					want = e
				}
			}
			if want == nil {
				t.Fatal("EXPECTED.json has no quote extension")
			}
			for _, ext := range cert.Extensions {
				switch {
				case ext.Id.Equal(oidLegacyQuote):
					raw = ext.Value
				case ext.Id.Equal(oidDICEEvidence):
					var tag cbor.Tag
					if err := cbor.Unmarshal(ext.Value, &tag); err != nil {
						t.Fatal(err)
					}
					if tag.Number != 60000 {
						t.Fatalf("evidence tag: want 60000, got %d", tag.Number)
					}
					arr, ok := tag.Content.([]any)
					if !ok || len(arr) != 2 {
						t.Fatalf("evidence: want a 2-element array, got %T", tag.Content)
					}
					raw = arr[0].([]byte)
				}
			}
			if raw == nil {
				t.Fatal("no quote extension found")
			}
			q := mustParse(t, raw)
			checks := map[string]int64{
				"version":        int64(q.Header.Version),
				"tee_type":       int64(q.Header.TEEType),
				"att_key_type":   int64(q.Header.AttKeyType),
				"quote_len":      int64(len(q.Raw)),
				"trailing_bytes": int64(len(q.Trailing)),
				"cert_type":      int64(q.Signature.Certification.Type),
				"isvprodid":      int64(q.SGX.ISVProdID),
				"isvsvn":         int64(q.SGX.ISVSVN),
				"qe_isvsvn":      int64(q.Signature.QEReport.ISVSVN),
			}
			for k, got := range checks {
				if w := jsonInt(t, want[k]); w != got {
					t.Errorf("%s: want %d, got %d", k, w, got)
				}
			}
			rd := q.ReportData()
			for k, got := range map[string][]byte{"mrenclave": q.SGX.MREnclave[:], "mrsigner": q.SGX.MRSigner[:], "report_data": rd[:]} {
				if w := want[k].(string); w != hex.EncodeToString(got) {
					t.Errorf("%s: want %s, got %x", k, w, got)
				}
			}
			if want["quote_sig_valid"] == true {
				verifyP256(t, "quote signature", q.Signature.AttestationKey[:], q.SignedData(), q.Signature.QuoteSignature[:])
			}
			if want["qe_report_sig_valid"] == true {
				certs := pckChain(t, q)
				verifyP256Key(t, "QE report signature", certs[0].PublicKey.(*ecdsa.PublicKey), q.Signature.QEReportRaw, q.Signature.QEReportSignature[:])
			}
			checkRoundTrip(t, q, raw)
		})
	}
}

// TestDcapQvlSnapshots compares every field with dcap-qvl's own parse of
// the same quotes (insta snapshots of its Rust structs).
func TestDcapQvlSnapshots(t *testing.T) {
	t.Run("sgx_quote", func(t *testing.T) {
		q := mustParse(t, mustRead(t, "dcap-qvl/sgx_quote"))
		s := readSnap(t, "dcap-qvl/expected_parse_sgx_quote.snap")
		checkSnapHeader(t, q, s)
		arr := func(name string) []byte { return snapGet(t, s, name, 0).bytes }
		num := func(name string) int64 { return snapGet(t, s, name, 0).num }

		// dcap-qvl uses the older sgx_report_body_t field split; rebuild the
		// 384 bytes from its fields and compare with ours.
		var want []byte
		want = append(want, arr("cpu_svn")...)
		want = binary.LittleEndian.AppendUint32(want, uint32(num("misc_select")))
		want = append(want, arr("reserved1")...)
		want = append(want, arr("attributes")...)
		want = append(want, arr("mr_enclave")...)
		want = append(want, arr("reserved2")...)
		want = append(want, arr("mr_signer")...)
		want = append(want, arr("reserved3")...)
		want = binary.LittleEndian.AppendUint16(want, uint16(num("isv_prod_id")))
		want = binary.LittleEndian.AppendUint16(want, uint16(num("isv_svn")))
		want = append(want, arr("reserved4")...)
		want = append(want, arr("report_data")...)
		if got := q.SGX.Marshal(); !bytes.Equal(got, want) {
			t.Errorf("SGX body differs from the snapshot fields:\nwant %x\ngot  %x", want, got)
		}
		eqBytes(t, "MREnclave", q.SGX.MREnclave[:], arr("mr_enclave"))
		eqBytes(t, "MRSigner", q.SGX.MRSigner[:], arr("mr_signer"))
		eqBytes(t, "Attributes", q.SGX.Attributes[:], arr("attributes"))
		eqBytes(t, "CPUSVN", q.SGX.CPUSVN[:], arr("cpu_svn"))
		eqBytes(t, "ReportData", q.SGX.ReportData[:], arr("report_data"))
		checkSnapSignature(t, q, s, 0)
	})
	t.Run("tdx_quote", func(t *testing.T) {
		q := mustParse(t, mustRead(t, "dcap-qvl/tdx_quote"))
		s := readSnap(t, "dcap-qvl/expected_parse_tdx_quote.snap")
		checkSnapHeader(t, q, s)
		arr := func(name string) []byte { return snapGet(t, s, name, 0).bytes }
		td := q.TD
		for _, f := range []struct {
			name string
			got  []byte
		}{
			{"tee_tcb_svn", td.TEETCBSVN[:]}, {"mr_seam", td.MRSEAM[:]}, {"mr_signer_seam", td.MRSignerSEAM[:]},
			{"seam_attributes", td.SEAMAttributes[:]}, {"td_attributes", td.TDAttributes[:]}, {"xfam", td.XFAM[:]},
			{"mr_td", td.MRTD[:]}, {"mr_config_id", td.MRConfigID[:]}, {"mr_owner", td.MROwner[:]},
			{"mr_owner_config", td.MROwnerConfig[:]}, {"rt_mr0", td.RTMR[0][:]}, {"rt_mr1", td.RTMR[1][:]},
			{"rt_mr2", td.RTMR[2][:]}, {"rt_mr3", td.RTMR[3][:]}, {"report_data", td.ReportData[:]},
		} {
			eqBytes(t, f.name, f.got, arr(f.name))
		}
		if got := snapGet(t, s, "cert_type", 0).num; got != int64(q.Signature.OuterCertification.Type) {
			t.Errorf("outer cert_type: snapshot %d, parsed %d", got, q.Signature.OuterCertification.Type)
		}
		checkSnapSignature(t, q, s, 1)
	})
}

func checkSnapHeader(t *testing.T, q *Quote, s []snapField) {
	t.Helper()
	h := q.Header
	for name, got := range map[string]int64{
		"version": int64(h.Version), "attestation_key_type": int64(h.AttKeyType), "tee_type": int64(h.TEEType),
		"qe_svn": int64(h.QESVN), "pce_svn": int64(h.PCESVN),
	} {
		if want := snapGet(t, s, name, 0).num; want != got {
			t.Errorf("header %s: snapshot %d, parsed %d", name, want, got)
		}
	}
	eqBytes(t, "QEVendorID", h.QEVendorID[:], snapGet(t, s, "qe_vendor_id", 0).bytes)
	eqBytes(t, "UserData", h.UserData[:], snapGet(t, s, "user_data", 0).bytes)
	if !h.IsIntelQE() {
		t.Error("IsIntelQE: want true")
	}
}

// checkSnapSignature compares the signature data; leaf is the index of the
// cert_type/body entry holding the type 5 chain.
func checkSnapSignature(t *testing.T, q *Quote, s []snapField, leaf int) {
	t.Helper()
	sig := q.Signature
	eqBytes(t, "QuoteSignature", sig.QuoteSignature[:], snapGet(t, s, "ecdsa_signature", 0).bytes)
	eqBytes(t, "AttestationKey", sig.AttestationKey[:], snapGet(t, s, "ecdsa_attestation_key", 0).bytes)
	eqBytes(t, "QEReportRaw", sig.QEReportRaw, snapGet(t, s, "qe_report", 0).bytes)
	eqBytes(t, "QEReportSignature", sig.QEReportSignature[:], snapGet(t, s, "qe_report_signature", 0).bytes)
	eqBytes(t, "QEAuthData", sig.QEAuthData, snapGet(t, s, "data", 0).bytes)
	if got := snapGet(t, s, "cert_type", leaf).num; got != int64(sig.Certification.Type) {
		t.Errorf("cert_type: snapshot %d, parsed %d", got, sig.Certification.Type)
	}
	eqBytes(t, "Certification.Data", sig.Certification.Data, unescapeRustASCII(t, snapGet(t, s, "body", leaf).str))
}

func eqBytes(t *testing.T, name string, got, want []byte) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: empty expected value", name)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\nwant %x\ngot  %x", name, want, got)
	}
}

// TestTrusteeClaims compares tdx_quote_4.dat with the claims Trustee's
// own parser produced (parse_tdx_claims_expected.json).
func TestTrusteeClaims(t *testing.T) {
	q := mustParse(t, mustRead(t, "trustee-dcap/tdx_quote_4.dat"))
	var doc struct {
		Quote struct {
			Body   map[string]string `json:"body"`
			Header map[string]string `json:"header"`
		} `json:"quote"`
		TDAttributes map[string]bool `json:"td_attributes"`
	}
	readJSON(t, "trustee-dcap/parse_tdx_claims_expected.json", &doc)
	td := q.TD
	h := q.Header.Marshal()
	got := map[string][]byte{
		"mr_config_id": td.MRConfigID[:], "mr_owner": td.MROwner[:], "mr_owner_config": td.MROwnerConfig[:],
		"mr_seam": td.MRSEAM[:], "mr_td": td.MRTD[:], "mrsigner_seam": td.MRSignerSEAM[:],
		"report_data": td.ReportData[:], "rtmr_0": td.RTMR[0][:], "rtmr_1": td.RTMR[1][:], "rtmr_2": td.RTMR[2][:],
		"rtmr_3": td.RTMR[3][:], "seam_attributes": td.SEAMAttributes[:], "tcb_svn": td.TEETCBSVN[:],
		"td_attributes": td.TDAttributes[:], "xfam": td.XFAM[:],
	}
	if len(doc.Quote.Body) != len(got) {
		t.Errorf("body claims: want %d, compared %d", len(doc.Quote.Body), len(got))
	}
	for k, want := range doc.Quote.Body {
		if g, ok := got[k]; !ok || hex.EncodeToString(g) != want {
			t.Errorf("body %s: want %s, got %x", k, want, g)
		}
	}
	hdr := map[string][]byte{
		"version": h[0:2], "att_key_type": h[2:4], "tee_type": h[4:8], "reserved": h[8:12],
		"vendor_id": q.Header.QEVendorID[:], "user_data": q.Header.UserData[:],
	}
	for k, want := range doc.Quote.Header {
		if g, ok := hdr[k]; !ok || hex.EncodeToString(g) != want {
			t.Errorf("header %s: want %s, got %x", k, want, g)
		}
	}
	if want := doc.TDAttributes["debug"]; !want || q.Debug() != want || td.Debug() != want {
		t.Errorf("Debug: want %v, got %v", want, q.Debug())
	}
}

// TestFormatsFacts checks values stated in docs/formats.md, "Observed in real quotes", for the
// SPR E4 production TDX quote (go-tdx-guest) and the SGX quotes.
func TestFormatsFacts(t *testing.T) {
	raw := mustRead(t, "go-tdx-guest/tdx_prod_quote_SPR_E4.dat")
	q := mustParse(t, raw)
	if got := binary.LittleEndian.Uint32(raw[632:]); got != 4299 {
		t.Errorf("signature_data_len: want 4299, got %d", got)
	}
	oc := q.Signature.OuterCertification
	if oc.Type != CertTypeQEReport || len(oc.Data) != 4165 || oc.QEReport == nil {
		t.Errorf("outer cert data: want type 6 size 4165, got type %d size %d", oc.Type, len(oc.Data))
	}
	qe := q.Signature.QEReport
	if qe.ISVProdID != 2 || qe.ISVSVN != 4 || len(q.Signature.QEAuthData) != 32 {
		t.Errorf("QE: want isvprodid 2 isvsvn 4 auth len 32, got %d %d %d", qe.ISVProdID, qe.ISVSVN, len(q.Signature.QEAuthData))
	}
	c := q.Signature.Certification
	if c.Type != CertTypePCKChain || len(c.Data) != 3677 || c.Data[len(c.Data)-1] == 0 {
		t.Errorf("inner cert data: want type 5 size 3677 without NUL, got type %d size %d", c.Type, len(c.Data))
	}
	// PROVENANCE.md quotes the text; the 39 bytes (EXPECTED.json) end in a newline.
	if want := "\nextra bytes(only for testing purpose)\n"; string(q.Trailing) != want {
		t.Errorf("Trailing: want %q, got %q", want, q.Trailing)
	}
	if want := mustHex(t, "0300040000000000"); !bytes.Equal(q.TD.TEETCBSVN[:8], want) {
		t.Errorf("tee_tcb_svn: want %x..., got %x", want, q.TD.TEETCBSVN)
	}
	if want := mustHex(t, "0000004000000000"); !bytes.Equal(q.TD.TDAttributes[:], want) || q.Debug() {
		t.Errorf("td_attributes: want %x (not debug), got %x", want, q.TD.TDAttributes)
	}
	if want := mustHex(t, "e71a060000000000"); !bytes.Equal(q.TD.XFAM[:], want) {
		t.Errorf("xfam: want %x, got %x", want, q.TD.XFAM)
	}
	if q.Header.QESVN != 0 || q.Header.PCESVN != 0 {
		t.Errorf("v4 reserved header bytes: want 0/0, got %d/%d", q.Header.QESVN, q.Header.PCESVN)
	}

	// A v3 SGX PCK chain ends with a NUL inside the size; PCKChainPEM drops it.
	sq := mustParse(t, mustRead(t, "mobilecoin-sgx/hw_quote.dat"))
	d := sq.Signature.Certification.Data
	if d[len(d)-1] != 0 {
		t.Fatal("expected the v3 SGX PEM chain to end in NUL")
	}
	p, err := sq.Signature.Certification.PCKChainPEM()
	if err != nil || !bytes.HasSuffix(p, []byte("-----END CERTIFICATE-----\n")) {
		t.Errorf("PCKChainPEM: want PEM ending in END CERTIFICATE, got err %v", err)
	}
	if sq.Debug() || sq.SGX.Flags()&SGXAttrInitted == 0 || sq.SGX.Flags()&SGXAttrMode64Bit == 0 {
		t.Errorf("SGX attributes: want INITTED|MODE64BIT, not DEBUG, got flags %#x", sq.SGX.Flags())
	}
	if sq.Signature.Extra != nil || sq.Trailing != nil {
		t.Error("no Extra or Trailing expected")
	}
}

func TestPCKChainPEMErrors(t *testing.T) {
	// Intel's sample SGX quote carries certification data type 1 (PPID).
	q := mustParse(t, mustRead(t, "intel-qvl-sample-testroot/sgx/quote.dat"))
	_, err := q.Signature.Certification.PCKChainPEM()
	var fe *FormatError
	if !errors.Is(err, ErrNoPCKChain) || !errors.As(err, &fe) || fe.Got != "1 (PPID cleartext)" {
		t.Errorf("type 1: want ErrNoPCKChain naming type 1, got %v", err)
	}
	// Intel's synthetic TDX quote has type 5 holding DER, not PEM.
	q = mustParse(t, mustRead(t, "intel-qvl-sample-testroot/tdx/quote.dat"))
	if q.Signature.Certification.Type != CertTypePCKChain {
		t.Fatalf("want type 5, got %d", q.Signature.Certification.Type)
	}
	if _, err := q.Signature.Certification.PCKChainPEM(); !errors.Is(err, ErrNoPCKChain) {
		t.Errorf("DER chain: want ErrNoPCKChain, got %v", err)
	}
	// A type 6 entry without its decoded content has no chain to offer.
	c := CertificationData{Type: CertTypeQEReport}
	if _, err := c.PCKChainPEM(); !errors.Is(err, ErrNoPCKChain) {
		t.Errorf("bare type 6: want ErrNoPCKChain, got %v", err)
	}
}

// TestOtherLayouts builds the layouts no public vector has (SGX quote v4
// and v5, TDX 1.0 body in v5; see the vector INDEX "Known gaps") from real
// quotes with Marshal, then parses them back.
func TestOtherLayouts(t *testing.T) {
	sgx := mustParse(t, v3Quote(t))
	td := mustParse(t, v4Quote(t))
	for _, tc := range []struct {
		name     string
		from     *Quote
		version  uint16
		bodyType uint16
		size     int // header + body part + signature data of the source quote
	}{
		{"SGX v4", sgx, Version4, BodyTypeSGX, HeaderSize + SGXReportBodySize},
		{"SGX v5", sgx, Version5, BodyTypeSGX, HeaderSize + 6 + SGXReportBodySize},
		{"TDX 1.0 body in v5", td, Version5, BodyTypeTDX10, HeaderSize + 6 + TDReportBody10Size},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := *tc.from
			q.Header.Version = tc.version
			q.BodyType = tc.bodyType
			raw := q.Marshal()
			// v4/v5 signature data wraps the QE report data in a 6-byte type 6
			// header; v3 has none.
			sigData := len(tc.from.Raw) - HeaderSize - tc.from.bodySize() - 4
			if tc.from.Header.Version == Version3 {
				sigData += 6
			}
			if want := tc.size + 4 + sigData; len(raw) != want {
				t.Fatalf("encoded size: want %d, got %d", want, len(raw))
			}
			got := mustParse(t, raw)
			if got.Header.Version != tc.version || got.BodyType != tc.bodyType || got.ReportData() != tc.from.ReportData() ||
				got.Signature.QEReport != tc.from.Signature.QEReport ||
				!bytes.Equal(got.Signature.Certification.Data, tc.from.Signature.Certification.Data) ||
				got.Signature.OuterCertification.Type != CertTypeQEReport {
				t.Errorf("fields changed in the round trip")
			}
			if (got.SGX != nil) != (tc.bodyType == BodyTypeSGX) || (got.TD != nil && got.TD.V15) {
				t.Errorf("body kind: SGX=%v TD=%v", got.SGX != nil, got.TD != nil)
			}
			if !bytes.Equal(got.Marshal(), raw) {
				t.Error("Marshal does not reproduce the built quote")
			}
		})
	}
}
