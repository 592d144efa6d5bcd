package inspect

import (
	"encoding/json"
	"encoding/pem"
	"os"
	"strings"
	"testing"

	"github.com/ratls/ratls/internal/testvectors"
)

func TestFieldsJSONKeepsOrder(t *testing.T) {
	fs := Fields{{"zeta", 1}, {"alpha", "a"}, {"mid", true}}
	b, err := json.Marshal(fs)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"zeta":1,"alpha":"a","mid":true}` {
		t.Fatalf("got %s", b)
	}
	var back Fields
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 3 || back[0].Name != "zeta" || back.Get("mid") != true || back.Get("none") != nil {
		t.Fatalf("round trip: %+v", back)
	}
}

func TestBytesCertificateForms(t *testing.T) {
	pemBytes, err := os.ReadFile(testvectors.Path("ratls-certs/rats-rs_demo-sgx-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemBytes)
	for name, in := range map[string][]byte{"pem": pemBytes, "der": blk.Bytes} {
		r, err := Bytes(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Source != SourceCertificate || len(r.Evidence) != 1 || r.Evidence[0].KeyBinding != "ok" {
			t.Errorf("%s: %+v", name, r)
		}
	}
}

func TestBytesRejects(t *testing.T) {
	for name, in := range map[string]string{
		"empty":     "",
		"pem key":   "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
		"bad pem":   "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		"plaintext": "hello world",
		"hex junk":  "00112233",
	} {
		if _, err := Bytes([]byte(in)); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestDecodeText(t *testing.T) {
	for in, want := range map[string]string{
		"0a0b\n0C":   "\x0a\x0b\x0c",
		"0x0a0b":     "\x0a\x0b",
		"AAECAw==":   "\x00\x01\x02\x03",
		"AAEC\nAw\n": "\x00\x01\x02\x03",
		"-_8":        "\xfb\xff",
		"not valid":  "not valid",
	} {
		if got := string(decodeText([]byte(in))); got != want {
			t.Errorf("decodeText(%q) = %q, want %q", in, got, want)
		}
		if got := string(DecodeText([]byte(in))); got != want {
			t.Errorf("DecodeText(%q) = %q, want %q", in, got, want)
		}
	}
	// Binary input is not text, even when its bytes would decode.
	for _, in := range []string{"\x00\x01", "0a0b\x80", "AAEC\x00"} {
		if got := string(DecodeText([]byte(in))); got != in {
			t.Errorf("DecodeText(%q) = %q, want it unchanged", in, got)
		}
	}
}

func TestInputErrorNamesInput(t *testing.T) {
	_, err := File("testdata/does-not-exist")
	if err == nil || !strings.HasPrefix(err.Error(), "testdata/does-not-exist: ") {
		t.Fatalf("got %v", err)
	}
}
