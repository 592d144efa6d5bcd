package pcs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"testing"
	"time"
)

// Builders for synthetic TCB Info and Enclave Identity documents. Documents
// are maps so a test can delete or replace any field before encoding.

type doc = map[string]any

func svns(vals ...int) []any {
	out := make([]any, 16)
	for i := range out {
		v := 0
		if i < len(vals) {
			v = vals[i]
		}
		out[i] = doc{"svn": v}
	}
	return out
}

func sgxLevel(sgx []any, pcesvn int, status string) doc {
	return doc{
		"tcb":       doc{"sgxtcbcomponents": sgx, "pcesvn": pcesvn},
		"tcbDate":   "2024-03-13T00:00:00Z",
		"tcbStatus": status,
	}
}

func tdxLevel(sgx []any, pcesvn int, tdx []any, status string) doc {
	l := sgxLevel(sgx, pcesvn, status)
	l["tcb"].(doc)["tdxtcbcomponents"] = tdx
	return l
}

func moduleLevel(isvsvn int, status string) doc {
	return doc{"tcb": doc{"isvsvn": isvsvn}, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": status}
}

const zero48 = "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"

func moduleIdentity(id string, levels ...doc) doc {
	ls := make([]any, len(levels))
	for i, l := range levels {
		ls[i] = l
	}
	return doc{"id": id, "mrsigner": zero48, "attributes": "0000000000000000", "attributesMask": "FFFFFFFFFFFFFFFF", "tcbLevels": ls}
}

func tcbInfoDoc(id string, levels ...doc) doc {
	ls := make([]any, len(levels))
	for i, l := range levels {
		ls[i] = l
	}
	d := doc{
		"id": id, "version": 3,
		"issueDate": "2025-06-19T10:16:03Z", "nextUpdate": "2025-07-19T10:16:03Z",
		"fmspc": "B0C06F000000", "pceId": "0000", "tcbType": 0, "tcbEvaluationDataNumber": 17,
		"tcbLevels": ls,
	}
	if id == TCBInfoIDTDX {
		d["tdxModule"] = doc{"mrsigner": zero48, "attributes": "0000000000000000", "attributesMask": "FFFFFFFFFFFFFFFF"}
	}
	return d
}

func qeIdentityDoc(levels ...doc) doc {
	ls := make([]any, len(levels))
	for i, l := range levels {
		ls[i] = l
	}
	return doc{
		"id": "QE", "version": 2,
		"issueDate": "2025-06-19T10:01:18Z", "nextUpdate": "2025-07-19T10:01:18Z",
		"tcbEvaluationDataNumber": 17,
		"miscselect":              "00000000", "miscselectMask": "FFFFFFFF",
		"attributes": "11000000000000000000000000000000", "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
		"mrsigner":  "8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF",
		"isvprodid": 1,
		"tcbLevels": ls,
	}
}

func qeLevel(isvsvn int, status string) doc {
	return doc{"tcb": doc{"isvsvn": isvsvn}, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": status}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bodyOf wraps a document as a PCS body with an all-zero signature.
func bodyOf(t testing.TB, key string, d doc) []byte {
	t.Helper()
	return mustJSON(t, doc{key: d, "signature": zeroSig})
}

const zeroSig = "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"

func synthTCBInfo(t testing.TB, d doc) *TCBInfo {
	t.Helper()
	ti, err := ParseTCBInfo(bodyOf(t, "tcbInfo", d))
	if err != nil {
		t.Fatal(err)
	}
	return ti
}

func synthIdentity(t testing.TB, d doc) *EnclaveIdentity {
	t.Helper()
	e, err := ParseEnclaveIdentity(bodyOf(t, "enclaveIdentity", d))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// testSigner is a freshly generated P-256 key with a self-signed
// certificate named like Intel's TCB signing certificate.
type testSigner struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newTestSigner(t testing.TB, cn string) *testSigner {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testSigner{key: key, cert: cert}
}

// sign returns the raw r||s signature of SHA-256(msg).
func (s *testSigner) sign(t testing.TB, msg []byte) []byte {
	t.Helper()
	h := sha256.Sum256(msg)
	r, ss, err := ecdsa.Sign(rand.Reader, s.key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return sig
}

// signedDocBody encodes d and returns the PCS body signed by s.
func (s *testSigner) signedDocBody(t testing.TB, key string, d doc) []byte {
	t.Helper()
	raw := mustJSON(t, d)
	return signedBody(key, raw, s.sign(t, raw))
}
