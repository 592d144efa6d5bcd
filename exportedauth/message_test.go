package exportedauth

import (
	"bytes"
	"crypto/tls"
	"strings"
	"testing"
)

func TestParseRequestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, hex, want string
	}{
		{"empty", "", "4-byte header"},
		{"truncated header", "0d0000", "4-byte header"},
		{"length beyond input", "0d00000a0000", "length says 10 bytes, 2 follow"},
		{"wrong type", "0b0000020000", "want a CertificateRequest (13) or ClientCertificateRequest (17)"},
		{"trailing bytes", "0d00000e037372760008000d00040002040300", "1 bytes after the message"},
		{"no signature_algorithms", "0d00000a03737276000400050000", "no signature_algorithms"},
		{"odd signature_algorithms", "0d00000d037372760007000d0003000104", "want a non-empty list"},
		{"empty signature_algorithms", "0d00000c037372760006000d00020000", "want a non-empty list"},
		{"duplicate extension", "0d000016037372760010000d000400020403000d000400020403", "appears twice"},
		{"truncated extension", "0d00000c037372760006000d00040002", "truncated"},
		{"bytes after extensions", "0d00000f037372760008000d00040002040300", "after the extensions"},
		{"huge length", "0dffffff", "exceeds the limit"},
	} {
		_, err := ParseRequest(unhex(t, tc.hex))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestParseAuthenticatorErrors(t *testing.T) {
	valid := unhex(t, vecServerAuthenticator)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"nothing", nil, "4-byte header"},
		{"request instead", unhex(t, vecRequest2), "want a Certificate (11) or"},
		{"empty certificate list", unhex(t, "0b000004000000000f0000040403000014000020"+strings.Repeat("00", 32)), "no certificate"},
		{"Certificate only", valid[:4+0x136], "4-byte header"},
		{"two Certificates", append(bytes.Clone(valid[:4+0x136]), valid[:4+0x136]...), "want a CertificateVerify (15)"},
		{"trailing byte", append(bytes.Clone(valid), 0), "1 bytes after the Finished"},
		{"finished then more", append(unhex(t, vecClientEmpty), 0), "after the Finished"},
		{"empty certificate", unhex(t, "0b00000900000005000000000014000000"), "certificate 0 is empty"},
	} {
		_, err := ParseAuthenticator(tc.b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestNewRequestLimits(t *testing.T) {
	if _, err := NewRequest(Client, make([]byte, 256), DefaultSignatureSchemes); err == nil {
		t.Error("a 256-byte context was accepted")
	}
	if _, err := NewRequest(Client, nil, nil); err == nil {
		t.Error("a request without signature schemes was accepted")
	}
	if _, err := NewRequest(Client, nil, DefaultSignatureSchemes, Extension{Type: ExtensionSignatureAlgorithms}); err == nil {
		t.Error("a second signature_algorithms was accepted")
	}
	req, err := NewRequest(Client, nil, []tls.SignatureScheme{tls.Ed25519})
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Context) != 0 || req.Marshal()[0] != typeClientCertificateRequest {
		t.Fatalf("request: %x", req.Marshal())
	}
}
