package cmw

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ratls/ratls/internal/testvectors"
)

// Arm CCA attestation tokens (testdata/cca-tfm, testdata/cca-veraison; see
// their PROVENANCE.md). RMM 1.1 tokens are 907({44234: [263, platform],
// 44241: [263, realm]}): a CMW collection of two CBOR records with CoAP
// Content-Format 263, under the unregistered outer tag 907. Legacy tokens
// are 399({44234: bstr, 44241: bstr}), not a CMW.

const (
	ccaTag           = 907   // RMM 1.1 CCA token collection (docs/formats.md, "Arm CCA token")
	ccaLegacyTag     = 399   // legacy CCA token collection
	ccaPlatformLabel = 44234 // platform token
	ccaRealmLabel    = 44241 // realm token
)

type expectedVector struct {
	ID       string `json:"id"`
	Token    string `json:"token"`
	Computed struct {
		Len           int    `json:"len"`
		OuterTag      uint64 `json:"outer_tag"`
		PlatformCMWCF uint16 `json:"platform_cmw_cf"`
	} `json:"computed"`
}

func loadExpected(t testing.TB, dir string) map[string]expectedVector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "EXPECTED.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Vectors []expectedVector `json:"vectors"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	m := make(map[string]expectedVector)
	for _, v := range doc.Vectors {
		m[v.ID] = v
	}
	return m
}

func readVector(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCCATokens(t *testing.T) {
	exp := loadExpected(t, testvectors.Path("cca-tfm"))
	for _, id := range []string{"tfm-cca-example-token-cmw", "tfm-cca-example-token-legacy-claims", "tfm-cca-token"} {
		t.Run(id, func(t *testing.T) {
			v, ok := exp[id]
			if !ok {
				t.Fatalf("%s not in EXPECTED.json", id)
			}
			in := readVector(t, filepath.Join(testvectors.Path("cca-tfm"), v.Token))
			if len(in) != v.Computed.Len {
				t.Fatalf("%s: %d bytes, EXPECTED.json says %d", v.Token, len(in), v.Computed.Len)
			}
			tag, c, err := ParseCBORTagged(in, ccaTag, ccaLegacyTag)
			if err != nil {
				t.Fatal(err)
			}
			if tag != v.Computed.OuterTag {
				t.Errorf("outer tag %d, want %d", tag, v.Computed.OuterTag)
			}
			if c.Kind != KindCollection || c.Format != FormatCBOR || c.CollectionType != "" || len(c.Entries) != 2 {
				t.Fatalf("collection = %+v", c)
			}
			if c.Entries[0].Label != IntLabel(ccaPlatformLabel) || c.Entries[1].Label != IntLabel(ccaRealmLabel) {
				t.Errorf("labels %v %v, want %d %d", c.Entries[0].Label, c.Entries[1].Label, ccaPlatformLabel, ccaRealmLabel)
			}
			platform, realm := c.Get(IntLabel(ccaPlatformLabel)), c.Get(IntLabel(ccaRealmLabel))
			if platform.Kind != KindRecord || !platform.HasContentFormat || platform.ContentFormat != v.Computed.PlatformCMWCF || platform.Indicator != 0 {
				t.Errorf("platform record: %v cf %v/%d ind %d, want record cf %d", platform.Kind, platform.HasContentFormat, platform.ContentFormat, platform.Indicator, v.Computed.PlatformCMWCF)
			}
			// docs/formats.md, "Arm CCA token": the realm token is wrapped as [263, bstr] too.
			if realm.Kind != KindRecord || !realm.HasContentFormat || realm.ContentFormat != 263 {
				t.Errorf("realm record: %v cf %v/%d, want record cf 263", realm.Kind, realm.HasContentFormat, realm.ContentFormat)
			}
			// Both tokens are COSE_Sign1: tag 18 (0xd2) over a 4-array (0x84).
			for _, r := range []*CMW{platform, realm} {
				if len(r.Value) < 2 || r.Value[0] != 0xd2 || r.Value[1] != 0x84 {
					t.Errorf("token value starts %x, want d284 (COSE_Sign1)", r.Value[:min(2, len(r.Value))])
				}
			}

			// The tokens are deterministically encoded, so they re-encode
			// byte for byte.
			out, err := c.MarshalCBORTagged(tag)
			if err != nil || !bytes.Equal(out, in) {
				t.Errorf("MarshalCBORTagged differs from the token (%v)", err)
			}

			// Without stripping the outer tag, 907 is not a CMW tag.
			_, err = ParseCBOR(in)
			wantErr(t, err, ErrMalformed, "tag number: want RFC 9277 TN range [1668546817, 1668612095], got 907")
			_, _, err = ParseCBORTagged(in, ccaLegacyTag)
			wantErr(t, err, ErrMalformed, "outer tag: want one of [399], got 907")
		})
	}
}

// The platform token inside cca_example_token.cbor is byte for byte the
// standalone cca_example_platform_token.cbor (1518 bytes, same claims in
// PROVENANCE.md).
func TestCCAPlatformTokenValue(t *testing.T) {
	in := readVector(t, testvectors.Path("cca-tfm/cca_example_token.cbor"))
	want := readVector(t, testvectors.Path("cca-tfm/cca_example_platform_token.cbor"))
	_, c, err := ParseCBORTagged(in, ccaTag)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Get(IntLabel(ccaPlatformLabel)).Value; !bytes.Equal(got, want) {
		t.Errorf("platform token: %d bytes, want the %d bytes of cca_example_platform_token.cbor", len(got), len(want))
	}
	var paths []int64
	if err := c.Walk(func(path []Label, leaf *CMW) error {
		n, _ := path[0].Int()
		paths = append(paths, n)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || paths[0] != ccaPlatformLabel || paths[1] != ccaRealmLabel {
		t.Errorf("Walk paths %v", paths)
	}
}

func TestCCATokenTruncated(t *testing.T) {
	in := readVector(t, testvectors.Path("cca-tfm/cca_token.cbor"))
	for n := range len(in) {
		if _, _, err := ParseCBORTagged(in[:n], ccaTag); err == nil {
			t.Fatalf("prefix of %d bytes parsed", n)
		}
	}
}

// The legacy 399 collection carries bare byte strings, not CMWs.
func TestCCALegacyTokenIsNotCMW(t *testing.T) {
	exp := loadExpected(t, testvectors.Path("cca-veraison"))
	v, ok := exp["veraison-go-tf-rmm-token"]
	if !ok || v.Computed.OuterTag != ccaLegacyTag {
		t.Fatalf("EXPECTED.json: %+v", v)
	}
	in := readVector(t, filepath.Join(testvectors.Path("cca-veraison"), v.Token))
	_, _, err := ParseCBORTagged(in, ccaTag, ccaLegacyTag)
	wantErr(t, err, ErrMalformed, "entry 44234: CBOR CMW: want record (array), collection (map) or tag, got byte string")
	_, _, err = ParseCBORTagged(in, ccaTag)
	wantErr(t, err, ErrMalformed, "outer tag: want one of [907], got 399")
}
