package exportedauth

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"testing"
)

// Seeds are in testdata/fuzz/<FuzzName>/: the RFC 9261 vectors and Fizz's
// authenticator, plus the cases below.

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{vecRequest, vecRequest2} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ParseRequest(b)
		if err != nil {
			return
		}
		// A parsed request is sent and hashed exactly as received.
		if !bytes.Equal(req.Marshal(), b) {
			t.Fatalf("Marshal changed the request: %x -> %x", b, req.Marshal())
		}
		if len(req.SignatureSchemes()) == 0 {
			t.Fatal("a request without signature schemes parsed")
		}
		// Rebuilt from its parts, it encodes to the same bytes.
		exts := req.Extensions
		eb, err := marshalExtensions(exts)
		if err != nil {
			t.Fatal(err)
		}
		body := appendVector(appendVector(nil, 1, req.Context), 2, eb)
		if !bytes.Equal(handshake(req.From.requestType(), body), b) {
			t.Fatalf("re-encoding differs: %x", b)
		}
	})
}

func FuzzParseAuthenticator(f *testing.F) {
	for _, s := range []string{vecServerAuthenticator, vecClientEmpty, vecSpontaneous384, fizzAuthenticator} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAuthenticator(b)
		if err != nil {
			return
		}
		if a.Empty {
			if !bytes.Equal(handshake(typeFinished, a.Finished), b) {
				t.Fatalf("empty authenticator re-encodes differently: %x", b)
			}
			return
		}
		cert, err := marshalCertificate(a.Context, a.Entries)
		if err != nil {
			t.Fatal(err)
		}
		cv := handshake(typeCertificateVerify, appendVector([]byte{byte(a.Scheme >> 8), byte(a.Scheme)}, 2, a.Signature))
		if !bytes.Equal(cert, a.cert) || !bytes.Equal(cv, a.cv) || !bytes.Equal(append(append(cert, cv...), handshake(typeFinished, a.Finished)...), b) {
			t.Fatalf("authenticator re-encodes differently: %x", b)
		}
	})
}

// FuzzVerify feeds arbitrary authenticators to Verify against the vector's
// session and request: nothing but the vector itself may verify.
func FuzzVerify(f *testing.F) {
	valid, _ := hex.DecodeString(vecServerAuthenticator)
	f.Add(valid)
	reqBytes, _ := hex.DecodeString(vecRequest)
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ParseRequest(reqBytes)
		if err != nil {
			t.Fatal(err)
		}
		_, cert := vectorIdentity(t)
		_, err = vectorSession(t, crypto.SHA256).Verify(Server, req, b, acceptChain(cert))
		if err == nil && !bytes.Equal(b, valid) {
			t.Fatalf("an authenticator other than the vector verified: %x", b)
		}
	})
}
