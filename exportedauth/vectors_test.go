package exportedauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

// The expected values below were computed outside Go, with Python's
// hashlib and hmac and pyca/cryptography's Ed25519, from the formulas of
// RFC 9261 Sections 4 to 6 (restated in the package documentation), with
// these fixed exporter values. Ed25519 signatures are deterministic, so
// whole authenticators can be compared byte for byte.
var (
	vecClientHC = seq(0x40, 32) // EXPORTER-client authenticator handshake context
	vecClientFK = seq(0x60, 32) // EXPORTER-client authenticator finished key
	vecServerHC = seq(0x00, 32)
	vecServerFK = seq(0x20, 32)
	// SHA-384 cipher suites export 48-byte values.
	vecClientHC384 = seq(0x80, 48)
	vecClientFK384 = seq(0xb0, 48)
	vecServerHC384 = seq(0x10, 48)
	vecServerFK384 = seq(0x40, 48)

	vecContext = []byte("rfc9261 test vector context")
	// ClientCertificateRequest: context, signature_algorithms [ed25519,
	// ecdsa_secp256r1_sha256], an empty extension 0xffff.
	vecRequest = "1100002c1b72666339323631207465737420766563746f7220636f6e74657874000e000d0006000408070403ffff0000"
	// The server's authenticator answering it: the Ed25519 certificate of
	// testdata/ed25519-cert.der with extension 0xffff = "cmw".
	vecServerAuthenticator = "0b0001361b72666339323631207465737420766563746f7220636f6e7465787400011700010b308201073081baa0030201020202242d300506032b657030233121301f060355040313186578706f7274656461757468207465737420766563746f72301e170d3236303130313030303030305a170d3336303130313030303030305a30233121301f060355040313186578706f7274656461757468207465737420766563746f72302a300506032b657003210079b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664a3123010300e0603551d0f0101ff040403020780300506032b65700341004bcc13e262030b30c303d413d017c8a2d5430568404ec01f602137de940e6b21985d4ecf776868a819878530f2748ba847d3de323dc9d7623ec9685f6d7ac0070007ffff0003636d770f00004408070040f186cdbd8bfb22a59a4de938cde231722cfedf6b4aee61412ae1841718bea289fe994b88cd1cddb3361c08b6c989964394e01566348c41716e2574a1d2c2b00f14000020e119b098e49c2ef45f1b9fde6af7217c282c6394960ebddf678dd95d40307369"
	// CertificateRequest from the server: context "srv", ecdsa_secp256r1_sha256.
	vecRequest2 = "0d00000e037372760008000d000400020403"
	// The client's empty authenticators answering it.
	vecClientEmpty    = "140000204d88fd96aaac6cf5c5356c6db52367e1491db3d650382699531496270de0cc75"
	vecClientEmpty384 = "1400003007513b79d592bf86ca4b9d4f51369724d4ef762e492a0862e06c4fc7bdda4092468b052715b0719ccdb11d550e2ad506"
	// A spontaneous server authenticator, context "spontaneous", SHA-384.
	vecSpontaneous384 = "0b00011f0b73706f6e74616e656f757300011000010b308201073081baa0030201020202242d300506032b657030233121301f060355040313186578706f7274656461757468207465737420766563746f72301e170d3236303130313030303030305a170d3336303130313030303030305a30233121301f060355040313186578706f7274656461757468207465737420766563746f72302a300506032b657003210079b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664a3123010300e0603551d0f0101ff040403020780300506032b65700341004bcc13e262030b30c303d413d017c8a2d5430568404ec01f602137de940e6b21985d4ecf776868a819878530f2748ba847d3de323dc9d7623ec9685f6d7ac00700000f000044080700402cc92a737cd402f164b4030a26c74a98f6f003967110e94d153f71cddd982775deafb430304b14dd9a3c1bf7f368cbe868911116eace5df9837ca9962dd8b10114000030d6d9e90111760ff53c1a7e03107088fc48a2dac092d239d46151640e5c516e917ef7356d55515c1516cf007a85f0b5af"
)

func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixedExporter answers the four RFC 9261 labels with fixed values and
// fails the test on any other label, on a non-empty context (RFC 9261
// Section 5.1: the context is empty) or on a wrong length.
func fixedExporter(t *testing.T, values map[string][]byte) ExportFunc {
	return func(label string, context []byte, length int) ([]byte, error) {
		if len(context) != 0 {
			t.Errorf("exporter %q called with context %x; RFC 9261 uses an empty one", label, context)
		}
		v, ok := values[label]
		if !ok {
			return nil, errors.New("unexpected exporter label " + label)
		}
		if len(v) != length {
			t.Errorf("exporter %q: asked for %d bytes, the hash gives %d", label, length, len(v))
		}
		return v, nil
	}
}

func vectorSession(t *testing.T, h crypto.Hash) *Session {
	values := map[string][]byte{
		labelClientHandshakeContext: vecClientHC, labelClientFinishedKey: vecClientFK,
		labelServerHandshakeContext: vecServerHC, labelServerFinishedKey: vecServerFK,
	}
	if h == crypto.SHA384 {
		values = map[string][]byte{
			labelClientHandshakeContext: vecClientHC384, labelClientFinishedKey: vecClientFK384,
			labelServerHandshakeContext: vecServerHC384, labelServerFinishedKey: vecServerFK384,
		}
	}
	return NewSessionFromExporter(h, fixedExporter(t, values))
}

func vectorIdentity(t *testing.T) (*Identity, *x509.Certificate) {
	der, err := os.ReadFile("testdata/ed25519-cert.der")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	key := ed25519.NewKeyFromSeed(seq(1, 32))
	return &Identity{Chain: [][]byte{der}, Key: key}, cert
}

func acceptChain(wantLeaf *x509.Certificate) ChainVerifier {
	return func(chain []*x509.Certificate) error {
		if !chain[0].Equal(wantLeaf) {
			return errors.New("unexpected leaf")
		}
		return nil
	}
}

func TestVectorRequest(t *testing.T) {
	req, err := NewRequest(Client, vecContext, []tls.SignatureScheme{tls.Ed25519, tls.ECDSAWithP256AndSHA256}, Extension{Type: 0xffff})
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(req.Marshal()); got != vecRequest {
		t.Fatalf("ClientCertificateRequest:\n got %s\nwant %s", got, vecRequest)
	}
	parsed, err := ParseRequest(unhex(t, vecRequest))
	if err != nil {
		t.Fatal(err)
	}
	if parsed.From != Client || !bytes.Equal(parsed.Context, vecContext) || len(parsed.Extensions) != 2 {
		t.Fatalf("parsed: %+v", parsed)
	}
	if s := parsed.SignatureSchemes(); len(s) != 2 || s[0] != tls.Ed25519 || s[1] != tls.ECDSAWithP256AndSHA256 {
		t.Fatalf("signature schemes: %v", s)
	}
	if d, ok := parsed.Extension(0xffff); !ok || len(d) != 0 {
		t.Fatalf("extension 0xffff: %x %v", d, ok)
	}
	req2, err := NewRequest(Server, []byte("srv"), []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256})
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(req2.Marshal()); got != vecRequest2 {
		t.Fatalf("CertificateRequest:\n got %s\nwant %s", got, vecRequest2)
	}
}

func TestVectorAuthenticator(t *testing.T) {
	s := vectorSession(t, crypto.SHA256)
	req, err := ParseRequest(unhex(t, vecRequest))
	if err != nil {
		t.Fatal(err)
	}
	id, cert := vectorIdentity(t)
	id.Extensions = []Extension{{Type: 0xffff, Data: []byte("cmw")}}
	auth, err := s.Authenticate(Server, req, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(auth); got != vecServerAuthenticator {
		t.Fatalf("authenticator:\n got %s\nwant %s", got, vecServerAuthenticator)
	}
	a, err := vectorSession(t, crypto.SHA256).Verify(Server, req, unhex(t, vecServerAuthenticator), acceptChain(cert))
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := a.Entries[0].Extension(0xffff); !ok || string(d) != "cmw" || a.Scheme != tls.Ed25519 {
		t.Fatalf("verified authenticator: %+v", a)
	}
}

// The formulas written out with the standard library alone, on the
// vector's own bytes: the signed content and the Finished MAC.
func TestVectorFormulas(t *testing.T) {
	req := unhex(t, vecRequest)
	auth := unhex(t, vecServerAuthenticator)
	certLen := 4 + (int(auth[1])<<16 | int(auth[2])<<8 | int(auth[3]))
	certMsg := auth[:certLen]
	cvLen := 4 + (int(auth[certLen+1])<<16 | int(auth[certLen+2])<<8 | int(auth[certLen+3]))
	cvMsg := auth[certLen : certLen+cvLen]
	fin := auth[certLen+cvLen:]

	th := sha256.Sum256(bytes.Join([][]byte{vecServerHC, req, certMsg}, nil))
	content := append(bytes.Repeat([]byte{0x20}, 64), []byte("Exported Authenticator\x00")...)
	content = append(content, th[:]...)
	sig := cvMsg[8:] // type, length, scheme, signature length
	if !ed25519.Verify(ed25519.NewKeyFromSeed(seq(1, 32)).Public().(ed25519.PublicKey), content, sig) {
		t.Fatal("the vector's signature does not cover 64 spaces || context string || 0 || Hash(HC || request || Certificate)")
	}
	fh := sha256.Sum256(bytes.Join([][]byte{vecServerHC, req, certMsg, cvMsg}, nil))
	mac := hmacSHA256(vecServerFK, fh[:])
	if !bytes.Equal(fin, append([]byte{20, 0, 0, 32}, mac...)) {
		t.Fatal("the vector's Finished is not HMAC(FK, Hash(HC || request || Certificate || CertificateVerify))")
	}
}

func TestVectorEmptyAuthenticator(t *testing.T) {
	for _, tc := range []struct {
		h    crypto.Hash
		want string
	}{{crypto.SHA256, vecClientEmpty}, {crypto.SHA384, vecClientEmpty384}} {
		req, err := ParseRequest(unhex(t, vecRequest2))
		if err != nil {
			t.Fatal(err)
		}
		empty, err := vectorSession(t, tc.h).Refuse(Client, req)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(empty); got != tc.want {
			t.Fatalf("%s empty authenticator:\n got %s\nwant %s", tc.h, got, tc.want)
		}
		a, err := vectorSession(t, tc.h).Verify(Client, req, empty, nil)
		if !errors.Is(err, ErrRefused) || a == nil || !a.Empty {
			t.Fatalf("%s: a valid empty authenticator must be reported as a refusal: %v", tc.h, err)
		}
		// The server's keys do not validate the client's refusal.
		bad := bytes.Clone(empty)
		bad[len(bad)-1] ^= 1
		if _, err := vectorSession(t, tc.h).Verify(Client, req, bad, nil); err == nil || errors.Is(err, ErrRefused) {
			t.Fatalf("%s: a tampered empty authenticator: %v", tc.h, err)
		}
	}
}

func TestVectorSpontaneous(t *testing.T) {
	id, cert := vectorIdentity(t)
	auth, err := vectorSession(t, crypto.SHA384).Spontaneous(id, []byte("spontaneous"), []tls.SignatureScheme{tls.Ed25519}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(auth); got != vecSpontaneous384 {
		t.Fatalf("spontaneous authenticator:\n got %s\nwant %s", got, vecSpontaneous384)
	}
	s := vectorSession(t, crypto.SHA384)
	if _, err := s.VerifySpontaneous(auth, []tls.SignatureScheme{tls.Ed25519}, nil, acceptChain(cert)); err != nil {
		t.Fatal(err)
	}
	// RFC 9261 Section 7.4: a context validated once is refused after.
	if _, err := s.VerifySpontaneous(auth, []tls.SignatureScheme{tls.Ed25519}, nil, acceptChain(cert)); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("second validation of the same context: %v", err)
	}
	// A client that did not offer Ed25519 in its ClientHello refuses it.
	if _, err := vectorSession(t, crypto.SHA384).VerifySpontaneous(auth, []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256}, nil, acceptChain(cert)); err == nil || !strings.Contains(err.Error(), "was not offered") {
		t.Fatalf("scheme not offered: %v", err)
	}
}

// Vectors of Fizz (facebookincubator/fizz, fizz/extensions/exportedauth/
// test/ExportedAuthenticatorTest.cpp), an independent C++ implementation.
// Its exporter values are the ASCII string below, and it hashes the
// request without its 4-byte handshake header; the transcript functions
// take the request bytes as they enter the transcript, so the vectors
// check the MAC and the transcript order independently of that framing
// difference.
var (
	fizzKey = []byte("12345678901234567890123456789012")
	// Request body: context "0123456789abcdefghij", signature_algorithms
	// [ecdsa_secp256r1_sha256].
	fizzRequestBody = "14303132333435363738396162636465666768696a0008000d000400020403"
	// An authenticator with an empty Certificate message and a mock
	// CertificateVerify whose signature is the ASCII "signature".
	fizzMockAuthenticator  = "0b000004000000000f00000d040300097369676e617475726514000020b523548c421b05f7f3c33276fbdd5266ba2df103796d7d483368259860a648f2"
	fizzEmptyAuthenticator = "1400002011fae4bcdf4673b6dfb276d886c4cd1c5b0920da961643f062d1d4a6062115b1"
	// A real authenticator (Fizz's TestGetContext) with its P-256 test
	// certificate.
	fizzAuthenticator = "0b00020f14303132333435363738396162636465666768696a0001f70001f2308201ee30820195a003020102020900c569eec901ce86d9300a06082a8648ce3d0403023054310b3009060355040613025553310b300906035504080c024e59310b300906035504070c024e59310d300b060355040a0c0446697a7a310d300b060355040b0c0446697a7a310d300b06035504030c0446697a7a301e170d3137303430343138323930395a170d3431313132343138323930395a3054310b3009060355040613025553310b300906035504080c024e59310b300906035504070c024e59310d300b060355040a0c0446697a7a310d300b060355040b0c0446697a7a310d300b06035504030c0446697a7a3059301306072a8648ce3d020106082a8648ce3d030107034200049d87bcaddb65d8dcf6df8b148a9679b5b710db19c95a9badfff13468cb358b4e21d24a5c826112658ebb96d64e2985dfb41c1948334391a4aa81b67837e2dbf0a350304e301d0603551d0e041604143c5b8ba954d9752faf3c8ad6d1a62449dccaa850301f0603551d230418301680143c5b8ba954d9752faf3c8ad6d1a62449dccaa850300c0603551d13040530030101ff300a06082a8648ce3d04030203470030440220349b7d34d7132fb2756576e0bfa36cbe1723337a7a6f5ef9c8d3bf1aa7efa4a5022025c50a91e0aa4272f1f52c3d5583a7d7cee14b178835273a0bd814303e62d71400000f00004a04030046304402204ee36706cefd7b5de1b87eef8a756b1f69365451cae050163e030d7cb7594fbc022040aaadc7770b0404c5deb6fd9d9a2161423fb993a0a5b9e38f2c0e0d9183a52d1400002001dd31f46369c46fe41712e83ae7c46d31fdae816024edbb3b58cc29e2234852"
)

func TestFizzVectors(t *testing.T) {
	h := crypto.SHA256
	reqBody := unhex(t, fizzRequestBody)
	context := []byte("0123456789abcdefghij")

	mock, err := ParseAuthenticator(unhex(t, fizzMockAuthenticator))
	if err == nil {
		t.Fatalf("an authenticator without certificates must not parse: %+v", mock)
	}
	raw := unhex(t, fizzMockAuthenticator)
	cert, cv, fin := raw[:8], raw[8:25], raw[25:]
	if got := finishedMAC(h, fizzKey, fizzKey, reqBody, cert, cv); !bytes.Equal(got, fin[4:]) {
		t.Fatalf("Fizz mock authenticator Finished: got %x, want %x", got, fin[4:])
	}

	emptyCert, err := marshalCertificate(context, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSessionFromExporter(h, func(string, []byte, int) ([]byte, error) { return fizzKey, nil })
	empty, err := s.emptyAuthenticator(Client, reqBody, context)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(empty); got != fizzEmptyAuthenticator {
		t.Fatalf("Fizz empty authenticator (Certificate %x):\n got %s\nwant %s", emptyCert, got, fizzEmptyAuthenticator)
	}

	// The real authenticator: its Finished matches, but its signature was
	// made with TLS 1.3's server CertificateVerify context string, not
	// "Exported Authenticator", so an RFC 9261 verifier must refuse it.
	a, err := ParseAuthenticator(unhex(t, fizzAuthenticator))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Context, context) {
		t.Fatalf("context: %q", a.Context)
	}
	if got := finishedMAC(h, fizzKey, fizzKey, reqBody, a.cert, a.cv); !bytes.Equal(got, a.Finished) {
		t.Fatalf("Fizz authenticator Finished: got %x, want %x", got, a.Finished)
	}
	leaf, err := x509.ParseCertificate(a.Entries[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	th := transcriptHash(h, fizzKey, reqBody, a.cert)
	if err := verifySignature(leaf.PublicKey, a.Scheme, signedContent(th), a.Signature); err == nil {
		t.Fatal("Fizz's TLS 1.3-context signature verified as an exported authenticator's")
	}
	tls13 := append(bytes.Repeat([]byte{0x20}, 64), []byte("TLS 1.3, server CertificateVerify\x00")...)
	d := sha256.Sum256(append(tls13, th...))
	if !ecdsa.VerifyASN1(leaf.PublicKey.(*ecdsa.PublicKey), d[:], a.Signature) {
		t.Fatal("the Fizz vector's signature is not the TLS 1.3 server CertificateVerify signature either")
	}
	fs := NewSessionFromExporter(h, func(string, []byte, int) ([]byte, error) { return fizzKey, nil })
	req := &Request{From: Server, Context: context, raw: reqBody, Extensions: []Extension{{Type: ExtensionSignatureAlgorithms, Data: unhex(t, "00020403")}}}
	if _, err := fs.Verify(Client, req, unhex(t, fizzAuthenticator), acceptChain(leaf)); err == nil || !strings.Contains(err.Error(), "CertificateVerify") {
		t.Fatalf("Verify of the Fizz authenticator: %v", err)
	}
}
