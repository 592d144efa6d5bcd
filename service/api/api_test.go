package api

import (
	"bytes"
	"encoding/json"
	"testing"
)

// A nonce is written as Veraison's released clients decode it (standard
// base64, padded) and read in every form Veraison writes or reads:
// unpadded base64url (its main branch), padded base64url, standard base64
// padded or not.
func TestNonceJSON(t *testing.T) {
	n := Nonce{0xfb, 0xff, 0xbf, 0x00, 0x01, 0x02, 0x03, 0xfe, 0xef} // '+' and '/' in standard base64
	b, err := json.Marshal(struct {
		N Nonce `json:"nonce"`
	}{n})
	if err != nil || string(b) != `{"nonce":"+/+/AAECA/7v"}` {
		t.Fatalf("marshal: %s, %v", b, err)
	}
	for _, in := range []string{`"+/+/AAECA/7v"`, `"-_-_AAECA_7v"`} {
		var got Nonce
		if err := json.Unmarshal([]byte(in), &got); err != nil || !bytes.Equal(got, n) {
			t.Errorf("%s: %x, %v", in, got, err)
		}
	}
	short := Nonce("0123456789")
	for _, in := range []string{`"MDEyMzQ1Njc4OQ=="`, `"MDEyMzQ1Njc4OQ"`} {
		var got Nonce
		if err := json.Unmarshal([]byte(in), &got); err != nil || !bytes.Equal(got, short) {
			t.Errorf("%s: %q, %v", in, got, err)
		}
	}
	for _, in := range []string{`"+_+_AAECA_7v"`, `"not base64!"`, `12`, `"MDEyMzQ1Njc4OQ="`} {
		var got Nonce
		if err := json.Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("%s: want an error, got %x", in, got)
		}
	}
	var null Nonce = Nonce{1}
	if err := json.Unmarshal([]byte(`null`), &null); err != nil || null != nil {
		t.Errorf("null: %x, %v", null, err)
	}
}
