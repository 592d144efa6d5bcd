package kds

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// encodingVectors returns certificates built from every real certificate in
// testdata (Milan VCEKs with their chain, the Turin VCEK alone, a VLEK
// chain) with and without the synthetic CRL, and an empty set.
func encodingVectors(t *testing.T) map[string]*Certificates {
	t.Helper()
	cert := func(parts ...string) *x509.Certificate {
		c, err := ParseCertificate(strings.Join(parts, "/"), readTestdata(t, parts...))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	chain := func(parts ...string) (*x509.Certificate, *x509.Certificate) {
		ask, ark, err := ParseCertChain(strings.Join(parts, "/"), readTestdata(t, parts...))
		if err != nil {
			t.Fatal(err)
		}
		return ask, ark
	}
	crl, err := ParseCRL("test CRL", testCRL(t, "Milan", 1, crlThisUpdate, crlNextUpdate))
	if err != nil {
		t.Fatal(err)
	}
	ask, ark := chain("amd-roots", "ask_ark_milan.pem")
	asvk, vlekARK := chain("amd-roots", "ask_ark_milan_vlek.pem")
	vask, vark := chain("snp-virtee", "cert_chain_milan.pem")
	return map[string]*Certificates{
		"go-sev-guest": {Leaf: cert(goSevGuest.folder, goSevGuest.vcekFile), Intermediate: ask, Root: ark,
			CRLs: []CRL{{List: crl, Kind: CRLVCEK, Source: "GET https://kdsintf.amd.com/vcek/v1/Milan/crl"}}, Source: "kds https://kdsintf.amd.com"},
		"virtee":     {Leaf: cert(virtee.folder, virtee.vcekFile), Intermediate: vask, Root: vark, Source: "dir:/x"},
		"turin leaf": {Leaf: cert("snp-virtee", "vcek_turin.der"), Source: "evidence <&> é"},
		"vlek chain": {Intermediate: asvk, Root: vlekARK, CRLs: []CRL{{List: crl, Kind: CRLVLEK}}},
		"crls of every kind": {CRLs: []CRL{{List: crl, Kind: CRLVLEK, Source: "a"}, {List: crl, Kind: CRLVCEK, Source: "b"},
			{List: crl, Source: "configfs-tsm auxblob"}}},
		"empty": {},
	}
}

func TestCertificatesEncodingRoundTrip(t *testing.T) {
	for name, c := range encodingVectors(t) {
		t.Run(name, func(t *testing.T) {
			b, err := MarshalCertificates(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseCertificates(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Error("decoded certificates differ from the original")
			}
			raw := func(c *x509.Certificate) []byte {
				if c == nil {
					return nil
				}
				return c.Raw
			}
			for i, pair := range [][2]*x509.Certificate{{got.Leaf, c.Leaf}, {got.Intermediate, c.Intermediate}, {got.Root, c.Root}} {
				if (pair[0] == nil) != (pair[1] == nil) || !bytes.Equal(raw(pair[0]), raw(pair[1])) {
					t.Errorf("certificate %d differs", i)
				}
			}
			if len(got.CRLs) != len(c.CRLs) {
				t.Fatalf("%d CRLs, want %d", len(got.CRLs), len(c.CRLs))
			}
			for i := range c.CRLs {
				if g, w := got.CRLs[i], c.CRLs[i]; !bytes.Equal(g.List.Raw, w.List.Raw) || g.Kind != w.Kind || g.Source != w.Source {
					t.Errorf("CRL %d differs: %v from %q, want %v from %q", i, g.Kind, g.Source, w.Kind, w.Source)
				}
			}
			if got.Source != c.Source {
				t.Errorf("source %q, want %q", got.Source, c.Source)
			}
			if again, err := MarshalCertificates(got); err != nil || !bytes.Equal(again, b) {
				t.Errorf("re-encoding differs (%v)", err)
			}
		})
	}
}

func TestParseCertificatesRejects(t *testing.T) {
	c := encodingVectors(t)["go-sev-guest"]
	b, err := MarshalCertificates(c)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	crlRaw := c.CRLs[0].List.Raw
	leaf := `"leaf":"` + b64(c.Leaf.Raw) + `"`
	crl := `"der":"` + b64(crlRaw) + `"`
	if !bytes.Contains(b, []byte(leaf)) || !bytes.Contains(b, []byte(crl)) || !bytes.Contains(b, []byte(`"kind":"vcek"`)) {
		t.Fatalf("unexpected encoding %.80s…", b)
	}
	replace := func(old, new string) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
	for name, in := range map[string][]byte{
		"unknown member":             replace(`"version":2,`, `"version":2,"extra":1,`),
		"duplicate member":           replace(`"version":2,`, `"version":2,"version":2,`),
		"member case":                replace(`"leaf":`, `"Leaf":`),
		"white space":                replace(`"version":2,`, `"version": 2,`),
		"version 3":                  replace(`"version":2,`, `"version":3,`),
		"version 1 with crls":        replace(`"version":2,`, `"version":1,`),
		"no version":                 replace(`"version":2,`, ``),
		"crl kind unknown":           replace(`"kind":"vcek"`, `"kind":"ask"`),
		"crl kind empty":             replace(`"kind":"vcek"`, `"kind":""`),
		"crl kind case":              replace(`"kind":"vcek"`, `"kind":"VCEK"`),
		"crl without der":            replace(crl, `"der":null`),
		"version 1 crl in version 2": replace(`"crls":[`, `"crl":"`+b64(crlRaw)+`","crls":[`),
		"leaf null":                  replace(leaf, `"leaf":null`),
		"leaf PEM":                   replace(leaf, `"leaf":"`+b64(pemCert(c.Leaf.Raw))+`"`),
		"leaf truncated":             replace(leaf, `"leaf":"`+b64(c.Leaf.Raw[:100])+`"`),
		"leaf not base64":            replace(leaf, `"leaf":"!!"`),
		"leaf unpadded":              replace(leaf, `"leaf":"`+strings.TrimRight(b64(c.Leaf.Raw[:len(c.Leaf.Raw)-1]), "=")+`"`),
		"leaf is the CRL":            replace(leaf, `"leaf":"`+b64(crlRaw)+`"`),
		"crl trailing bytes":         replace(crl, `"der":"`+b64(append(bytes.Clone(crlRaw), 0))+`"`),
		"crl is a cert":              replace(crl, `"der":"`+b64(c.Root.Raw)+`"`),
		"trailing data":              append(bytes.Clone(b), "{}"...),
		"not an object":              []byte(`[]`),
		"empty":                      nil,
		"truncated":                  b[:len(b)/2],
		"oversize":                   append(bytes.Clone(b), make([]byte, maxEncodedSize)...),
	} {
		if got, err := ParseCertificates(in); !errors.Is(err, ErrFormat) || got != nil {
			t.Errorf("%s: got %v, %v; want ErrFormat", name, got, err)
		}
	}
}

// Version 1, written by earlier releases into shared stores, is still read:
// its one CRL is of unstated kind and from the certificates' source.
func TestParseCertificatesVersion1(t *testing.T) {
	c := encodingVectors(t)["go-sev-guest"]
	b64 := base64.StdEncoding.EncodeToString
	v1 := `{"version":1,"source":"kds https://kdsintf.amd.com","leaf":"` + b64(c.Leaf.Raw) + `","intermediate":"` +
		b64(c.Intermediate.Raw) + `","root":"` + b64(c.Root.Raw) + `","crl":"` + b64(c.CRLs[0].List.Raw) + `"}`
	got, err := ParseCertificates([]byte(v1))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.CRLs) != 1 || got.CRLs[0].Kind != CRLUnknown || got.CRLs[0].Source != "kds https://kdsintf.amd.com" ||
		!bytes.Equal(got.CRLs[0].List.Raw, c.CRLs[0].List.Raw) || !bytes.Equal(got.Leaf.Raw, c.Leaf.Raw) {
		t.Errorf("version 1: %+v", got.CRLs)
	}
	noCRL := strings.Replace(v1, `,"crl":"`+b64(c.CRLs[0].List.Raw)+`"`, "", 1)
	if got, err := ParseCertificates([]byte(noCRL)); err != nil || len(got.CRLs) != 0 {
		t.Errorf("version 1 without CRL: %v, %v", got, err)
	}
	for name, in := range map[string]string{
		"crls in version 1": strings.Replace(v1, `"crl":"`, `"crls":[],"crl":"`, 1),
		"white space":       strings.Replace(v1, `"version":1,`, `"version": 1,`, 1),
	} {
		if _, err := ParseCertificates([]byte(in)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: error %v, want ErrFormat", name, err)
		}
	}
}

func TestMarshalCertificatesRejects(t *testing.T) {
	for name, c := range map[string]*Certificates{
		"nil":                nil,
		"invalid UTF-8":      {Source: "\xff"},
		"long source":        {Source: strings.Repeat("x", maxSourceLength+1)},
		"empty leaf":         {Leaf: &x509.Certificate{}},
		"empty CRL":          {CRLs: []CRL{{List: &x509.RevocationList{}}}},
		"nil CRL":            {CRLs: []CRL{{Kind: CRLVCEK}}},
		"CRL kind":           {CRLs: []CRL{{List: encodingVectors(t)["go-sev-guest"].CRLs[0].List, Kind: 9}}},
		"CRL source":         {CRLs: []CRL{{List: encodingVectors(t)["go-sev-guest"].CRLs[0].List, Source: "\xff"}}},
		"empty root":         {Root: &x509.Certificate{}},
		"empty intermediate": {Intermediate: &x509.Certificate{}},
	} {
		if b, err := MarshalCertificates(c); err == nil {
			t.Errorf("%s: encoded %s", name, b)
		}
	}
}

func TestCacheExpiry(t *testing.T) {
	vs := encodingVectors(t)
	// The go-sev-guest VCEK expires 2029-09-24, before its chain; the
	// synthetic CRL first.
	if got := CacheExpiry(vs["go-sev-guest"], testNow); !got.Equal(crlNextUpdate) {
		t.Errorf("with CRL: %s, want %s", got, crlNextUpdate)
	}
	leaf := vs["go-sev-guest"].Leaf
	if got := CacheExpiry(&Certificates{Leaf: leaf, Intermediate: vs["go-sev-guest"].Intermediate}, testNow); !got.Equal(leaf.NotAfter) {
		t.Errorf("without CRL: %s, want the VCEK's NotAfter %s", got, leaf.NotAfter)
	}
	if got := CacheExpiry(&Certificates{}, testNow); !got.Equal(testNow.Add(24 * time.Hour)) {
		t.Errorf("empty: %s, want a day after now", got)
	}
}

// FuzzParseCertificates checks that whatever ParseCertificates accepts in
// the current version encodes back to the same bytes, and in version 1 to
// an encoding of the same certificates.
func FuzzParseCertificates(f *testing.F) {
	crl := testCRL(f, "Milan", 1, crlThisUpdate, crlNextUpdate)
	for _, e := range []encoded{
		{Version: encodingVersion, Source: "x", Root: readTestdata(f, "snp-virtee", "vcek_milan.der"),
			CRLs: []encodedCRL{{Kind: "vlek", Source: "y", DER: crl}}},
		{Version: 1, Source: "x", CRL: crl},
	} {
		b, err := json.Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":2,"source":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCertificates(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		again, err := MarshalCertificates(c)
		if err != nil {
			t.Fatalf("accepted input does not encode: %v", err)
		}
		if bytes.HasPrefix(b, []byte(`{"version":2,`)) && !bytes.Equal(again, b) {
			t.Fatal("accepted input does not re-encode to itself")
		}
		if c2, err := ParseCertificates(again); err != nil || !reflect.DeepEqual(c2, c) {
			t.Fatalf("re-encoding does not decode to the same certificates: %v", err)
		}
	})
}
