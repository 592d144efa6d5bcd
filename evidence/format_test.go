package evidence

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// Byte-exact claims buffer as Gramine and the Intel SGX SDK emit it
// (docs/formats.md, "Claims buffer"): a1 6b "pubkey-hash" 58 24 82 01 58 20 <SHA-256(SPKI)>.
func TestNewClaimsLayout(t *testing.T) {
	spki := []byte("any spki bytes")
	got, err := NewClaims(spki, SHA256, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := SHA256.Sum(spki)
	want := append(mustHex("a16b7075626b65792d68617368582482015820"), h...)
	if !bytes.Equal(got, want) {
		t.Fatalf("claims:\n got %x\nwant %x", got, want)
	}
	c, err := ParseClaims(got)
	if err != nil {
		t.Fatal(err)
	}
	if c.PubKeyHashAlg != SHA256 || !bytes.Equal(c.PubKeyHash, h) || c.Nonce != nil || len(c.Unknown) != 0 {
		t.Fatalf("round trip: got %+v", c)
	}
	withNonce, err := NewClaims(spki, SHA512, []byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	c, err = ParseClaims(withNonce)
	if err != nil {
		t.Fatal(err)
	}
	if c.PubKeyHashAlg != SHA512 || len(c.PubKeyHash) != 64 || string(c.Nonce) != "0123456789abcdef" {
		t.Fatalf("nonce round trip: got %+v", c)
	}
	if _, err := NewClaims(spki, 2, nil); err == nil {
		t.Error("NewClaims with algorithm 2: want an error")
	}
}

// rats-tls adds custom claims with NUL-terminated values; they are kept
// and reported, never trusted.
func TestClaimsUnknownKept(t *testing.T) {
	h := bytes.Repeat([]byte{0xab}, 32)
	b := append(mustHex("a36b7075626b65792d68617368582482015820"), h...)
	b = append(b, mustHex("656b65795f3048")...)
	b = append(b, []byte("value_0\x00")...)
	b = append(b, mustHex("656b65795f3148")...)
	b = append(b, []byte("value_1\x00")...)
	c, err := ParseClaims(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.UnknownNames(), ","); got != "key_0,key_1" {
		t.Errorf("unknown claims: got %s", got)
	}
	if !bytes.Equal(c.Raw, b) {
		t.Error("Raw must keep the received bytes")
	}
}

func TestParseClaimsRejects(t *testing.T) {
	h32 := strings.Repeat("ab", 32)
	for _, tc := range []struct{ name, hex, want string }{
		{"empty", "", "want a CBOR map"},
		{"array", "80", "want a CBOR map"},
		{"no pubkey-hash", "a1656e6f6e636541aa", "no \"pubkey-hash\""},
		{"empty map", "a0", "no \"pubkey-hash\""},
		{"indefinite map", "bf6b7075626b65792d68617368582482015820" + h32 + "ff", "indefinite"},
		{"duplicate key", "a26b7075626b65792d68617368582482015820" + h32 + "6b7075626b65792d68617368582482015820" + h32, "duplicate"},
		{"integer key", "a101582482015820" + h32, "text keys"},
		{"pubkey-hash text", "a16b7075626b65792d68617368" + "6161", "want a CBOR byte string"},
		{"hash-entry not array", "a16b7075626b65792d686173684101", "want a CBOR array"},
		{"hash-entry 3 elements", "a16b7075626b65792d68617368582583015820" + h32 + "00", "got 3 elements"},
		{"unsupported alg", "a16b7075626b65792d68617368582482025820" + h32, "want 1 (sha-256)"},
		{"wrong hash length", "a16b7075626b65792d6861736858238201581f" + h32[:62], "want 32 bytes"},
		{"hash as text", "a16b7075626b65792d68617368582482017820" + h32, "want a CBOR byte string"},
		{"nonce not bytes", "a26b7075626b65792d68617368582482015820" + h32 + "656e6f6e636501", "nonce"},
		{"trailing bytes", "a16b7075626b65792d68617368582482015820" + h32 + "00", "extraneous"},
		{"truncated", "a16b7075626b65792d686173685824820158", "unexpected EOF"},
	} {
		_, err := ParseClaims(mustHex(tc.hex))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want error containing %q, got %v", tc.name, tc.want, err)
		}
	}
}

func TestParseTaggedRejects(t *testing.T) {
	claims, _ := NewClaims([]byte("k"), SHA256, nil)
	c := hex.EncodeToString(claims)
	cl := "5833" + c // bstr(51)
	q := "4401020304"
	for _, tc := range []struct{ name, hex, want string }{
		{"not a tag", "82" + q + cl, "want a CBOR tag"},
		{"unknown tag", "d9ea6382" + q + cl, "not a known evidence tag"},
		{"map content", "d9ea60a0", "want a CBOR array"},
		{"one element", "d9ea6081" + q, "got an array of 1"},
		{"three elements", "d9ea6083" + q + cl + "40", "got an array of 3"},
		{"indefinite array", "d9ea609f" + q + cl + "ff", "indefinite"},
		{"indefinite bytes", "d9ea6082" + "5f4401020304ff" + cl, "indefinite"},
		{"text evidence", "d9ea6082" + "6401020304" + cl, "want a CBOR byte string"},
		{"claims not bytes", "d9ea6082" + q + "a0", "want a CBOR byte string"},
		{"trailing", "d9ea6082" + q + cl + "00", "extraneous"},
		{"bad quote", "d9ea6082" + q + cl, "intel-quote"},
	} {
		_, err := ParseTagged(mustHex(tc.hex))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want error containing %q, got %v", tc.name, tc.want, err)
		}
	}
	if _, err := EncodeTagged(TagCCACollection, []byte{1}, claims); err == nil {
		t.Error("EncodeTagged with a token tag: want an error")
	}
	if _, err := EncodeTagged(12345, []byte{1}, claims); err == nil {
		t.Error("EncodeTagged with an unknown tag: want an error")
	}
}

// rats-rs pins the encoding 60000([h'01020304', h'05060708']).
func TestEncodeTaggedLayout(t *testing.T) {
	got, err := EncodeTagged(TagIntelQuote, mustHex("01020304"), mustHex("05060708"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "d9ea608244010203044405060708"; hex.EncodeToString(got) != want {
		t.Fatalf("got %x, want %s", got, want)
	}
}

func TestEndorsementsRoundTrip(t *testing.T) {
	e := &Endorsements{
		Version: 1, TCBInfo: []byte(`{"tcbInfo":{}}`), TCBInfoIssuerChain: []byte("chain1\x00"),
		PCKCRL: []byte{1, 2}, RootCACRL: []byte{3}, PCKCRLIssuerChain: []byte("chain2"),
		QEIdentity: []byte(`{"enclaveIdentity":{}}`), QEIdentityIssuerChain: []byte("chain3"),
	}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// tag(60000), array(8), VERSION as 1a 00 00 00 01 (rats-tls insists).
	if !bytes.HasPrefix(b, mustHex("d9ea60881a00000001")) {
		t.Fatalf("prefix: got %x", b[:9])
	}
	got, err := ParseEndorsements(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || got.VersionWidth != 4 || !bytes.Equal(got.TCBInfoIssuerChain, e.TCBInfoIssuerChain) ||
		!bytes.Equal(got.QEIdentity, e.QEIdentity) || got.CreationDateTime != nil || got.Empty {
		t.Fatalf("round trip: got %+v", got)
	}
	e.CreationDateTime = []byte("2026-01-01T00:00:00Z")
	b, _ = e.Marshal()
	if got, err = ParseEndorsements(b); err != nil || string(got.CreationDateTime) != "2026-01-01T00:00:00Z" {
		t.Fatalf("creation datetime: got %v %+v", err, got)
	}
	// The minimal VERSION encoding is accepted on input, and its width reported.
	min := append(mustHex("d9ea608801"), bytes.Repeat([]byte{0x40}, 7)...)
	if got, err = ParseEndorsements(min); err != nil || got.Version != 1 || got.VersionWidth != 0 {
		t.Fatalf("minimal VERSION: got %v %+v", err, got)
	}
}

func TestParseEndorsementsRejects(t *testing.T) {
	seven := bytes.Repeat([]byte{0x40}, 7)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"wrong tag", append(mustHex("d9ea618801"), seven...), "want 60000"},
		{"seven entries", append(mustHex("d9ea608701"), seven[:6]...), "want 8 or 9"},
		{"version text", append(mustHex("d9ea60886131"), seven...), "VERSION"},
		{"entry not bytes", append(append(mustHex("d9ea608801"), seven[:6]...), 0x60), "QE_ID_ISSUER_CHAIN"},
		{"not tagged", mustHex("8801"), "want a CBOR tag"},
	} {
		_, err := ParseEndorsements(tc.b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want error containing %q, got %v", tc.name, tc.want, err)
		}
	}
}

func TestTagRegistry(t *testing.T) {
	for _, n := range []uint64{60000, 60001, 60002, 0x1a7501, 0x1a7502, 0x1a7503, 0x1a7504, 0x1a7505, 0x1a7506, 0x1a7507, 399, 907} {
		if _, ok := LookupTag(n); !ok {
			t.Errorf("tag %d missing from the registry", n)
		}
	}
	seen := map[uint64]bool{}
	for _, ti := range Tags() {
		if seen[ti.Number] {
			t.Errorf("tag %d registered twice", ti.Number)
		}
		seen[ti.Number] = true
		if ti.Name == "" || ti.Kind == "" {
			t.Errorf("tag %d: incomplete entry %+v", ti.Number, ti)
		}
	}
}

func TestSNPEndorsementsRoundTrip(t *testing.T) {
	e := &Endorsements{Version: 1, SNP: &SNPEndorsements{Leaf: []byte{0x30, 1}, Intermediate: []byte{0x30, 2}, Root: nil, CRL: []byte{0x30, 3}}}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, mustHex("da001a7504851a00000001")) {
		t.Fatalf("prefix: %x", b[:11])
	}
	got, err := ParseEndorsements(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.SNP == nil || got.Tag != TagSEVSNP || !bytes.Equal(got.SNP.Leaf, e.SNP.Leaf) || len(got.SNP.Root) != 0 || !bytes.Equal(got.SNP.CRL, e.SNP.CRL) {
		t.Fatalf("round trip: %+v %+v", got, got.SNP)
	}
	for name, in := range map[string]string{
		"too short":  "da001a7504830140" + "40",
		"empty leaf": "da001a750484014040" + "40",
		"text entry": "da001a75048401" + "4130" + "6130" + "40",
	} {
		if _, err := ParseEndorsements(mustHex(in)); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
