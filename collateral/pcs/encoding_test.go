package pcs

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// encodingVectors returns the collateral of every vector that ships some,
// as parsed from the vector files: dcap-qvl sets (bare values and
// signatures, every item) and PCS bodies with whatever CRLs and signing
// chain the vector has (partial collateral), plus an empty collateral.
func encodingVectors(t *testing.T) map[string]*Collateral {
	t.Helper()
	out := map[string]*Collateral{"empty": {}}
	for _, folder := range vectorFolders {
		for _, v := range loadExpected(t, folder) {
			if len(v.Collateral) == 0 {
				continue
			}
			vc := loadVectorCollateral(t, folder, v)
			if vc.dcapqvl != nil {
				out[v.ID] = vc.dcapqvl
				continue
			}
			c := &Collateral{TCBInfo: vc.tcb, QEIdentity: vc.qe, PCKCRL: vc.pckCRL, RootCACRL: vc.rootCRL, Source: "dir:" + folder}
			if v.TCBSigningChain != nil {
				chain, err := ParsePEMChain(readFile(t, filepath.Join(folder, *v.TCBSigningChain)))
				if err != nil {
					t.Fatal(err)
				}
				c.TCBInfoIssuerChain = chain
				if vc.qe != nil {
					c.QEIdentityIssuerChain = chain
				}
			}
			out[v.ID] = c
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d collateral vectors", len(out))
	}
	return out
}

// TestCollateralEncodingRoundTrip encodes every vector's collateral and
// decodes it again: the result equals the original in every field,
// including the PCS bodies, the raw signed values and signatures, DER bytes
// and Source, and encodes to the same bytes.
func TestCollateralEncodingRoundTrip(t *testing.T) {
	bodies, values := 0, 0
	for id, c := range encodingVectors(t) {
		t.Run(id, func(t *testing.T) {
			b, err := MarshalCollateral(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseCollateral(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Error("decoded collateral differs from the original")
			}
			sameCollateral(t, c, got)
			if got.Source != c.Source {
				t.Errorf("source %q, want %q", got.Source, c.Source)
			}
			if c.TCBInfo != nil {
				if !bytes.Equal(got.TCBInfo.Body(), c.TCBInfo.Body()) {
					t.Error("TCB Info body differs")
				}
				if c.TCBInfo.body != nil {
					bodies++
				} else {
					values++
				}
				if len(c.TCBInfoIssuerChain) > 0 {
					if err := got.TCBInfo.CheckSignature(got.TCBInfoIssuerChain[0]); err != nil {
						t.Errorf("TCB Info signature after the round trip: %v", err)
					}
				}
			}
			if c.QEIdentity != nil && !bytes.Equal(got.QEIdentity.Body(), c.QEIdentity.Body()) {
				t.Error("QE Identity body differs")
			}
			again, err := MarshalCollateral(got)
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("re-encoding differs (%v)", err)
			}
		})
	}
	if bodies == 0 || values == 0 {
		t.Errorf("%d TCB Infos with PCS bodies and %d bare values; want both forms covered", bodies, values)
	}
}

// TestCollateralEncodingKeepsBody checks that a PCS body that Body() could
// not rebuild from the bare value (extra white space, members swapped)
// survives the round trip byte for byte.
func TestCollateralEncodingKeepsBody(t *testing.T) {
	c := tdxCollateral(t, false)
	odd := append([]byte(`{ "signature" : "`+hexs(c.TCBInfo.Signature)+`",`+"\n"+` "tcbInfo" : `), c.TCBInfo.Raw...)
	odd = append(odd, "}\n"...)
	ti, err := ParseTCBInfo(odd)
	if err != nil {
		t.Fatal(err)
	}
	c.TCBInfo = ti
	b, err := MarshalCollateral(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCollateral(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.TCBInfo.Body(), odd) {
		t.Errorf("body %q, want %q", got.TCBInfo.Body(), odd)
	}
}

// TestParseCollateralRejects changes one member of a valid encoding at a
// time; each change is an error matching ErrFormat, never a panic.
func TestParseCollateralRejects(t *testing.T) {
	b, err := MarshalCollateral(tdxCollateral(t, false))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	doc := func(k string) map[string]any { return m[k].(map[string]any) }
	tcbValue, _ := base64.StdEncoding.DecodeString(doc("tcb_info")["value"].(string))
	b64 := base64.StdEncoding.EncodeToString
	cases := []struct {
		name   string
		change func(m map[string]any)
	}{
		{"unknown member", func(m map[string]any) { m["extra"] = "x" }},
		{"version 2", func(m map[string]any) { m["version"] = 2 }},
		{"version string", func(m map[string]any) { m["version"] = "1" }},
		{"no version", func(m map[string]any) { delete(m, "version") }},
		{"no source", func(m map[string]any) { delete(m, "source") }},
		{"source number", func(m map[string]any) { m["source"] = 1 }},
		{"tcb_info not an object", func(m map[string]any) { m["tcb_info"] = "x" }},
		{"tcb_info empty object", func(m map[string]any) { m["tcb_info"] = map[string]any{} }},
		{"tcb_info body and value", func(m map[string]any) { doc("tcb_info")["body"] = b64([]byte("{}")) }},
		{"tcb_info bad base64", func(m map[string]any) { doc("tcb_info")["value"] = "!!" }},
		{"tcb_info unpadded base64", func(m map[string]any) {
			doc("tcb_info")["value"] = strings.TrimRight(doc("tcb_info")["value"].(string)+"A", "=")
		}},
		{"tcb_info empty value", func(m map[string]any) { doc("tcb_info")["value"] = "" }},
		{"tcb_info short signature", func(m map[string]any) { doc("tcb_info")["signature"] = "00" }},
		{"tcb_info no signature", func(m map[string]any) { delete(doc("tcb_info"), "signature") }},
		{"tcb_info value not JSON", func(m map[string]any) { doc("tcb_info")["value"] = b64([]byte("nope")) }},
		{"tcb_info value tampered", func(m map[string]any) {
			doc("tcb_info")["value"] = b64(bytes.Replace(tcbValue, []byte(`"version":3`), []byte(`"version":9`), 1))
		}},
		{"tcb_info body not a PCS body", func(m map[string]any) { m["tcb_info"] = map[string]any{"body": b64(tcbValue)} }},
		{"qe_identity is a TCB Info", func(m map[string]any) { m["qe_identity"] = m["tcb_info"] }},
		{"chain garbage", func(m map[string]any) { m["tcb_info_issuer_chain"] = "garbage" }},
		{"chain empty", func(m map[string]any) { m["pck_crl_issuer_chain"] = "" }},
		{"chain percent-encoded", func(m map[string]any) {
			m["qe_identity_issuer_chain"] = strings.ReplaceAll(m["qe_identity_issuer_chain"].(string), "\n", "%0A")
		}},
		{"chain array", func(m map[string]any) { m["tcb_info_issuer_chain"] = []string{"x"} }},
		{"crl hex", func(m map[string]any) { m["pck_crl"] = "3082" }},
		{"crl is a certificate", func(m map[string]any) { m["root_ca_crl"] = m["tcb_info_issuer_chain"] }},
		{"crl trailing data", func(m map[string]any) { m["root_ca_crl"] = m["root_ca_crl"].(string) + "x" }},
		{"crl null", func(m map[string]any) { m["pck_crl"] = nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mm map[string]any
			if err := json.Unmarshal(b, &mm); err != nil {
				t.Fatal(err)
			}
			m = mm
			tc.change(mm)
			enc, err := json.Marshal(mm)
			if err != nil {
				t.Fatal(err)
			}
			if c, err := ParseCollateral(enc); !errors.Is(err, ErrFormat) || c != nil {
				t.Errorf("got %v, %v; want a nil collateral and ErrFormat", c, err)
			}
		})
	}
	for name, in := range map[string][]byte{
		"duplicate member": append([]byte(`{"version":1,"version":1,`), b[len(`{"version":1,`):]...),
		"not an object":    []byte(`[1]`),
		"truncated":        b[:len(b)/2],
		"trailing data":    append(bytes.Clone(b), " {}"...),
		"empty":            nil,
		"oversize":         append(bytes.Repeat([]byte(" "), maxEncodedSize), b...),
	} {
		if c, err := ParseCollateral(in); !errors.Is(err, ErrFormat) || c != nil {
			t.Errorf("%s: got %v, %v; want ErrFormat", name, c, err)
		}
	}
}

func TestMarshalCollateralRejects(t *testing.T) {
	c := tdxCollateral(t, false)
	for name, change := range map[string]func(c *Collateral){
		"invalid UTF-8 source": func(c *Collateral) { c.Source = "dir:\xff" },
		"long source":          func(c *Collateral) { c.Source = strings.Repeat("x", maxStringLength+1) },
		"nil certificate":      func(c *Collateral) { c.PCKCRLIssuerChain = []*x509.Certificate{nil} },
		"certificate without bytes": func(c *Collateral) {
			c.TCBInfoIssuerChain = []*x509.Certificate{{}}
		},
		"CRL without bytes":     func(c *Collateral) { c.RootCACRL = &x509.RevocationList{} },
		"TCB Info no signature": func(c *Collateral) { c.TCBInfo = &TCBInfo{Raw: c.TCBInfo.Raw} },
		"QE Identity no value":  func(c *Collateral) { c.QEIdentity = &EnclaveIdentity{Signature: c.QEIdentity.Signature} },
	} {
		cc := *c
		change(&cc)
		if b, err := MarshalCollateral(&cc); err == nil {
			t.Errorf("%s: encoded (%d bytes), want an error", name, len(b))
		}
	}
	if _, err := MarshalCollateral(nil); err == nil {
		t.Error("nil collateral encoded")
	}
}

func TestCacheExpiry(t *testing.T) {
	c := tdxCollateral(t, false)
	got, err := CacheExpiry(c, tdxNextUpdate.Add(-time.Second))
	if err != nil || !got.Equal(tdxNextUpdate) {
		t.Errorf("got %s, %v; want %s", got, err, tdxNextUpdate)
	}
	_, err = CacheExpiry(c, tdxNextUpdate)
	var ve *ValidityError
	if !errors.Is(err, ErrExpired) || !errors.As(err, &ve) || ve.What != "PCK CRL" {
		t.Errorf("at nextUpdate: %v, want the PCK CRL expired", err)
	}
	partial := *c
	partial.RootCACRL = nil
	var me *MissingError
	if _, err := CacheExpiry(&partial, tdxNextUpdate.Add(-time.Hour)); !errors.As(err, &me) || len(me.Items) != 1 || me.Items[0] != FileRootCACRL {
		t.Errorf("incomplete: %v, want MissingError for %s", err, FileRootCACRL)
	}
	if _, err := CacheExpiry(nil, tdxNextUpdate); err == nil {
		t.Error("nil collateral accepted")
	}
}

func TestEarliestNextUpdate(t *testing.T) {
	c := tdxCollateral(t, false)
	if at, what := EarliestNextUpdate(c); !at.Equal(tdxNextUpdate) || what != "PCK CRL" {
		t.Errorf("got %s, %q; want %s, PCK CRL", at, what, tdxNextUpdate)
	}
	// A CRL without nextUpdate does not expire; a sooner item comes first.
	later := *c
	pck, root, qe := *c.PCKCRL, *c.RootCACRL, *c.QEIdentity
	pck.NextUpdate, root.NextUpdate = time.Time{}, time.Time{}
	qe.NextUpdate = c.TCBInfo.NextUpdate.Add(-time.Hour)
	later.PCKCRL, later.RootCACRL, later.QEIdentity = &pck, &root, &qe
	if at, what := EarliestNextUpdate(&later); !at.Equal(qe.NextUpdate) || what != "QE Identity" {
		t.Errorf("got %s, %q; want %s, QE Identity", at, what, qe.NextUpdate)
	}
}

func FuzzParseCollateral(f *testing.F) {
	for _, name := range []string{"tdx_quote_collateral.json", "sgx_quote_collateral.json"} {
		c, err := ParseDCAPQVLJSON(readFile(f, "dcap-qvl/"+name))
		if err != nil {
			f.Fatal(err)
		}
		b, err := MarshalCollateral(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"source":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCollateral(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		enc, err := MarshalCollateral(c)
		if err != nil {
			t.Fatalf("decoded collateral does not encode: %v", err)
		}
		again, err := ParseCollateral(enc)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("re-decoding differs: %v", err)
		}
	})
}
