package service_test

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/cmw"
	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/service/api"
)

// requestKinds are the ways evidence reaches the service: a body of each
// accepted media type, and the JSON envelope (index len(EvidenceMedia),
// which the committed corpus names: update it when media types are added).
var requestKinds = slices.Concat(api.EvidenceMedia, []string{"application/json"})

// evidenceSeeds returns one genuine sample per request kind, from the
// repository's vectors, indexed like requestKinds.
func evidenceSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	certPEM := read(testvectors.Path("ratls-certs/rats-rs_demo-sgx-cert.pem"))
	blk, _ := pem.Decode(certPEM)
	tdxQuote := read(testvectors.Path("dcap-qvl/tdx_quote"))
	sgxQuote := read(testvectors.Path("dcap-qvl/sgx_quote"))
	claims, err := evidence.NewClaims([]byte("subject public key info"), evidence.SHA256, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tagged, err := evidence.EncodeTagged(evidence.TagIntelQuote, sgxQuote, claims)
	if err != nil {
		tb.Fatal(err)
	}
	record := &cmw.CMW{Kind: cmw.KindRecord, MediaType: api.MediaDCAPQuote, Value: tdxQuote, Indicator: cmw.Evidence}
	cmwCBOR, err := record.MarshalCBOR()
	if err != nil {
		tb.Fatal(err)
	}
	cmwJSON, err := record.MarshalJSON()
	if err != nil {
		tb.Fatal(err)
	}
	tsm, _ := json.Marshal(map[string]any{"provider": "tdx_guest", "outblob": tdxQuote})
	tsmCBOR, _ := cbor.Marshal(map[string]any{"provider": "tdx_guest", "outblob": tdxQuote})
	envelope, _ := json.Marshal(api.AttestRequest{MediaType: api.MediaDCAPQuote, Evidence: sgxQuote})
	samples := map[string][]byte{
		api.MediaCertificateDER:  blk.Bytes,
		api.MediaCertificatePEM:  read(testvectors.Path("ratls-certs/rats-tls_legacy-sample.pem")),
		api.MediaDCAPQuote:       tdxQuote,
		api.MediaSNPReport:       read(testvectors.Path("snp-go-sev-guest/attestation.bin")),
		api.MediaCCAToken:        read(testvectors.Path("cca-tfm/cca_token.cbor")),
		api.MediaTSMReport:       tsm,
		api.MediaTSMReportCBOR:   tsmCBOR,
		api.MediaTaggedEvidence:  tagged,
		api.MediaCMWCBOR:         cmwCBOR,
		api.MediaCMWJSON:         cmwJSON,
		api.MediaVeraisonCMWCBOR: cmwCBOR,
		api.MediaVeraisonCMWJSON: cmwJSON,
		api.MediaTrusteeTDX:      evidence.TrusteeTDX(tdxQuote, read(testvectors.Path("trustee-cvm/CCEL_data_ovmf"))[:2120]),
		api.MediaAzureVTPM:       read(testvectors.Path("trustee-cvm/az-snp-vtpm/evidence-v2.json")),
		"application/json":       envelope,
	}
	seeds := make([][]byte, len(requestKinds))
	for i, k := range requestKinds {
		if seeds[i] = samples[k]; seeds[i] == nil {
			tb.Fatalf("no sample for %s", k)
		}
	}
	return seeds
}

// attestRequest posts body as the request kind k to the native API,
// in process.
func attestRequest(h http.Handler, k string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", api.PathAttest, bytes.NewReader(body))
	req.Header.Set("Content-Type", k)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// The samples are read and appraised (a verdict, not a refusal to read),
// so the fuzzer starts from inputs that reach verification.
func TestEvidenceFuzzSeedsAreAppraised(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	h := f.srv.Handler()
	for i, body := range evidenceSeeds(t) {
		w := attestRequest(h, requestKinds[i], body)
		if w.Code != http.StatusOK && w.Code != http.StatusUnprocessableEntity || !bytes.Contains(w.Body.Bytes(), []byte(`"ear"`)) {
			t.Errorf("%s: want an appraisal with an EAR (200 or 422), got %d %s", requestKinds[i], w.Code, w.Body)
		}
	}
}

// Whatever a client sends, under every media type and in the JSON
// envelope, the service answers; it never fails (a panic, recovered, is a
// 500). Seeds: the samples above and the committed corpus in
// testdata/fuzz/FuzzDecodeEvidence (garbage, and certificates without
// RA-TLS evidence, which once crashed it).
func FuzzDecodeEvidence(f *testing.F) {
	for i, s := range evidenceSeeds(f) {
		f.Add(uint8(i), s)
	}
	fx := newFixture(f, fixtureOptions{})
	h := fx.srv.Handler()
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		k := requestKinds[int(kind)%len(requestKinds)]
		if w := attestRequest(h, k, body); w.Code >= 500 {
			t.Fatalf("%s: %d %s", k, w.Code, w.Body)
		}
	})
}
