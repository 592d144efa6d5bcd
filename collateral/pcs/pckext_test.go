package pcs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
)

// DER builders for synthetic SGX extensions.

type ent struct {
	oid asn1.ObjectIdentifier
	val []byte // DER of the value
}

func sub(ids ...int) asn1.ObjectIdentifier {
	return append(slices.Clone(OIDSGXExtensions), ids...)
}

func derOf(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func seqOf(t testing.TB, ents []ent) []byte {
	t.Helper()
	type pair struct {
		OID   asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	ps := make([]pair, len(ents))
	for i, e := range ents {
		ps[i] = pair{e.oid, asn1.RawValue{FullBytes: e.val}}
	}
	return derOf(t, ps)
}

func tcbEntries(t testing.TB) []ent {
	var es []ent
	for i := 1; i <= 16; i++ {
		es = append(es, ent{sub(2, i), derOf(t, i)})
	}
	es = append(es, ent{sub(2, 17), derOf(t, 13)})
	es = append(es, ent{sub(2, 18), derOf(t, bytes.Repeat([]byte{0xcc}, 16))})
	return es
}

func configEntries(t testing.TB) []ent {
	return []ent{
		{sub(7, 1), derOf(t, false)},
		{sub(7, 2), derOf(t, true)},
		{sub(7, 3), derOf(t, true)},
	}
}

// extEntries are the top-level entries of a processor (5) or platform (7)
// certificate's SGX extension, built from the given TCB and configuration.
func extEntries(t testing.TB, platform bool, tcb, cfg []ent) []ent {
	es := []ent{
		{sub(1), derOf(t, bytes.Repeat([]byte{0xaa}, 16))},
		{sub(2), seqOf(t, tcb)},
		{sub(3), derOf(t, []byte{0x00, 0x01})},
		{sub(4), derOf(t, []byte{0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00})},
		{sub(5), derOf(t, asn1.Enumerated(1))},
	}
	if platform {
		es = append(es, ent{sub(6), derOf(t, bytes.Repeat([]byte{0xbb}, 16))}, ent{sub(7), seqOf(t, cfg)})
	}
	return es
}

func TestParsePCKExtensionsDER(t *testing.T) {
	e, err := parsePCKExtensionsDER(seqOf(t, extEntries(t, true, tcbEntries(t), configEntries(t))))
	if err != nil {
		t.Fatal(err)
	}
	want := PCKExtensions{
		PCEID: [2]byte{0, 1}, FMSPC: [6]byte{0x00, 0x90, 0x6e, 0xd5}, SGXType: SGXTypeScalable,
		PlatformInstanceID: new([16]byte), Configuration: &PCKConfiguration{CachedKeys: true, SMTEnabled: true},
	}
	copy(want.PPID[:], bytes.Repeat([]byte{0xaa}, 16))
	copy(want.PlatformInstanceID[:], bytes.Repeat([]byte{0xbb}, 16))
	for i := range want.TCB.CompSVN {
		want.TCB.CompSVN[i] = uint8(i + 1)
	}
	want.TCB.PCESVN = 13
	copy(want.TCB.CPUSVN[:], bytes.Repeat([]byte{0xcc}, 16))
	if !pckEqual(e, &want) {
		t.Fatalf("got %+v, want %+v", e, want)
	}
	// Entry order is free (QVL iterates by OID).
	es := extEntries(t, false, tcbEntries(t), nil)
	slices.Reverse(es)
	tcb := tcbEntries(t)
	slices.Reverse(tcb)
	es[3].val = seqOf(t, tcb) // es[3] is the TCB entry after reversing
	if _, err := parsePCKExtensionsDER(seqOf(t, es)); err != nil {
		t.Fatalf("reordered entries: %v", err)
	}
	if SGXTypeScalableWithIntegrity.String() != "ScalableWithIntegrity" || SGXType(7).String() != "SGXType(7)" {
		t.Error("SGXType.String")
	}
}

func TestParsePCKExtensionsRejects(t *testing.T) {
	good := func() []ent { return extEntries(t, true, tcbEntries(t), configEntries(t)) }
	withTCB := func(f func([]ent) []ent) []byte {
		es := good()
		es[1].val = seqOf(t, f(tcbEntries(t)))
		return seqOf(t, es)
	}
	withCfg := func(f func([]ent) []ent) []byte {
		es := good()
		es[6].val = seqOf(t, f(configEntries(t)))
		return seqOf(t, es)
	}
	top := func(f func([]ent) []ent) []byte { return seqOf(t, f(good())) }
	nonMinimalInt := []byte{0x02, 0x02, 0x00, 0x05}

	for _, c := range []struct {
		name string
		der  []byte
		want string
	}{
		{"empty", nil, "invalid DER"},
		{"SET instead of SEQUENCE", append([]byte{0x31}, seqOf(t, good())[1:]...), "want a SEQUENCE"},
		{"trailing data", append(seqOf(t, good()), 0), "1 bytes of trailing data"},
		{"6 entries", top(func(es []ent) []ent { return es[:6] }), "want 5 or 7 entries, got 6"},
		{"8 entries", top(func(es []ent) []ent { return append(es, ent{sub(8), derOf(t, 1)}) }), "want 5 or 7 entries, got 8"},
		{"unknown entry", top(func(es []ent) []ent { es[5] = ent{sub(9), derOf(t, 1)}; return es }), "unknown entry 1.2.840.113741.1.13.1.9"},
		{"duplicate entry", top(func(es []ent) []ent { es[3] = es[0]; return es[:5] }), "duplicate entry 1.2.840.113741.1.13.1.1"},
		{"missing FMSPC", top(func(es []ent) []ent { return append(es[:3], es[4:6]...) }), "missing FMSPC"},
		{"PIID instead of SGX type", top(func(es []ent) []ent { es[4] = es[5]; return es[:5] }), "missing SGX Type"},
		{"foreign OID", top(func(es []ent) []ent { es[0].oid = asn1.ObjectIdentifier{1, 2, 3}; return es }), "unexpected OID 1.2.3"},
		{"nested OID too deep", top(func(es []ent) []ent { es[0].oid = sub(1, 1); return es }), "unexpected OID"},
		{"PPID 15 bytes", top(func(es []ent) []ent { es[0].val = derOf(t, make([]byte, 15)); return es }), ".1: want 16 bytes, got 15"},
		{"PPID as INTEGER", top(func(es []ent) []ent { es[0].val = derOf(t, 5); return es }), ".1: want an OCTET STRING"},
		{"PCEID BIT STRING", top(func(es []ent) []ent {
			es[2].val = derOf(t, asn1.BitString{Bytes: []byte{0, 0}, BitLength: 16})
			return es
		}), ".3: want an OCTET STRING"},
		{"FMSPC 7 bytes", top(func(es []ent) []ent { es[3].val = derOf(t, make([]byte, 7)); return es }), ".4: want 6 bytes, got 7"},
		{"SGX type 3", top(func(es []ent) []ent { es[4].val = derOf(t, asn1.Enumerated(3)); return es }), "SGX Type: want 0, 1 or 2, got 3"},
		{"SGX type negative", top(func(es []ent) []ent { es[4].val = derOf(t, asn1.Enumerated(-1)); return es }), "SGX Type"},
		{"SGX type INTEGER", top(func(es []ent) []ent { es[4].val = derOf(t, 1); return es }), ".5: want universal tag 10"},
		{"PIID 17 bytes", top(func(es []ent) []ent { es[5].val = derOf(t, make([]byte, 17)); return es }), ".6: want 16 bytes, got 17"},
		{"TCB not a sequence", top(func(es []ent) []ent { es[1].val = derOf(t, 1); return es }), ".2: want a SEQUENCE"},
		{"TCB 17 entries", withTCB(func(es []ent) []ent { return es[:17] }), "want 18 TCB entries, got 17"},
		{"TCB duplicate component", withTCB(func(es []ent) []ent { es[1] = es[0]; return es }), "duplicate entry 1.2.840.113741.1.13.1.2.1"},
		{"TCB unknown entry", withTCB(func(es []ent) []ent { es[5].oid = sub(2, 19); return es }), "unknown TCB entry 1.2.840.113741.1.13.1.2.19"},
		{"TCB component 256", withTCB(func(es []ent) []ent { es[2].val = derOf(t, 256); return es }), ".2.3: want 0..255, got 256"},
		{"TCB component negative", withTCB(func(es []ent) []ent { es[2].val = derOf(t, -1); return es }), ".2.3: want 0..255, got -1"},
		{"TCB component non-minimal", withTCB(func(es []ent) []ent { es[2].val = nonMinimalInt; return es }), ".2.3: invalid value"},
		{"TCB component OCTET STRING", withTCB(func(es []ent) []ent { es[2].val = derOf(t, []byte{1}); return es }), ".2.3: want universal tag 2"},
		{"PCESVN 65536", withTCB(func(es []ent) []ent { es[16].val = derOf(t, 65536); return es }), ".2.17: want 0..65535, got 65536"},
		{"CPUSVN 15 bytes", withTCB(func(es []ent) []ent { es[17].val = derOf(t, make([]byte, 15)); return es }), ".2.18: want 16 bytes, got 15"},
		{"TCB entry under wrong parent", withTCB(func(es []ent) []ent { es[0].oid = sub(3, 1); return es }), "unexpected OID 1.2.840.113741.1.13.1.3.1"},
		{"configuration 2 entries", withCfg(func(es []ent) []ent { return es[:2] }), "want 3 configuration entries"},
		{"configuration unknown", withCfg(func(es []ent) []ent { es[2].oid = sub(7, 4); return es }), "unknown configuration entry"},
		{"configuration BOOLEAN not DER", withCfg(func(es []ent) []ent { es[0].val = []byte{0x01, 0x01, 0x01}; return es }), ".7.1: invalid value"},
		{"configuration INTEGER", withCfg(func(es []ent) []ent { es[0].val = derOf(t, 1); return es }), ".7.1: want universal tag 1"},
		{"entry with 3 elements", append([]byte(nil), buildRaw(t, good(), true)...), "want 2 elements"},
		{"oversize", make([]byte, maxPCKExtensionSize+1), "larger than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parsePCKExtensionsDER(c.der)
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrFormat containing %q", err, c.want)
			}
		})
	}
}

// buildRaw encodes the entries, adding a third element to the first entry
// when extra is set.
func buildRaw(t testing.TB, ents []ent, extra bool) []byte {
	var inner []byte
	for i, e := range ents {
		body := append(derOf(t, e.oid), e.val...)
		if extra && i == 0 {
			body = append(body, derOf(t, 1)...)
		}
		inner = append(inner, derOf(t, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})...)
	}
	return derOf(t, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: inner})
}

// TestPCKExtensionsTruncation truncates a real extension at every byte and
// corrupts each length octet.
func TestPCKExtensionsTruncation(t *testing.T) {
	leaf := leafFromQuote(t, readFile(t, "dcap-qvl/tdx_quote"))
	var der []byte
	for _, e := range leaf.Extensions {
		if e.Id.Equal(OIDSGXExtensions) {
			der = e.Value
		}
	}
	if _, err := parsePCKExtensionsDER(der); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(der); i++ {
		if _, err := parsePCKExtensionsDER(der[:i]); !errors.Is(err, ErrFormat) {
			t.Fatalf("truncated to %d: %v", i, err)
		}
	}
	// Every byte changed: must either fail cleanly or still parse (a
	// changed value byte); never panic.
	for i := range der {
		for _, delta := range []byte{1, 0x80} {
			b := bytes.Clone(der)
			b[i] += delta
			if _, err := parsePCKExtensionsDER(b); err != nil && !errors.Is(err, ErrFormat) {
				t.Fatalf("byte %d: %v", i, err)
			}
		}
	}
	// The outer length claims one byte more than present.
	b := bytes.Clone(der)
	b[3]++ // 30 82 LL LL: low length byte
	if _, err := parsePCKExtensionsDER(b); !errors.Is(err, ErrFormat) {
		t.Fatalf("lying length: %v", err)
	}
}

// testPKI issues a synthetic PCK leaf under a CA with the given common name.
func issuePCK(t *testing.T, caCN string, ext []byte) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: caCN},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cnPCK},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
	if ext != nil {
		leaf.ExtraExtensions = []pkix.Extension{{Id: OIDSGXExtensions, Value: ext}}
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParsePCKExtensionsCertificate(t *testing.T) {
	platformExt := seqOf(t, extEntries(t, true, tcbEntries(t), configEntries(t)))
	processorExt := seqOf(t, extEntries(t, false, tcbEntries(t), nil))
	if _, err := ParsePCKExtensions(issuePCK(t, cnPlatformCA, platformExt)); err != nil {
		t.Errorf("platform: %v", err)
	}
	if _, err := ParsePCKExtensions(issuePCK(t, cnProcessorCA, processorExt)); err != nil {
		t.Errorf("processor: %v", err)
	}
	for _, c := range []struct {
		name, ca string
		ext      []byte
		want     string
	}{
		{"processor entries from the platform CA", cnPlatformCA, processorExt, "lacks PlatformInstanceID"},
		{"platform entries from the processor CA", cnProcessorCA, platformExt, "has PlatformInstanceID"},
		{"unknown issuer", "Intel SGX Root CA", processorExt, `pck.issuer: want CN`},
		{"no SGX extension", cnProcessorCA, nil, "want one SGX extension"},
		{"malformed extension", cnProcessorCA, []byte{0x30, 0x00}, "want 5 or 7 entries, got 0"},
	} {
		_, err := ParsePCKExtensions(issuePCK(t, c.ca, c.ext))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := ParsePCKExtensions(nil); err == nil {
		t.Error("nil certificate accepted")
	}
	if _, err := CAType(nil); err == nil {
		t.Error("CAType(nil) succeeded")
	}
}

// TestCanonicalPCKExtensions checks that extensions laid out as Intel
// issues them (real certificates and the synthetic layout) are read by the
// canonical reader with the general parser's result, and that other
// layouts are left to the general parser.
func TestCanonicalPCKExtensions(t *testing.T) {
	ders := [][]byte{
		seqOf(t, extEntries(t, true, tcbEntries(t), configEntries(t))),
		seqOf(t, extEntries(t, false, tcbEntries(t), nil)),
	}
	for _, q := range []string{"dcap-qvl/tdx_quote", "dcap-qvl/sgx_quote", "trustee-dcap/tdx_quote_6.dat"} {
		for _, e := range leafFromQuote(t, readFile(t, q)).Extensions {
			if e.Id.Equal(OIDSGXExtensions) {
				ders = append(ders, e.Value)
			}
		}
	}
	for i, der := range ders {
		fast, ok := parseCanonicalPCKExtensions(der)
		general, err := parsePCKExtensionsGeneral(der)
		if !ok || err != nil || !pckEqual(fast, general) {
			t.Errorf("extension %d: canonical %v, general %v, equal %v", i, ok, err, ok && err == nil && pckEqual(fast, general))
		}
	}

	es := extEntries(t, false, tcbEntries(t), nil)
	es[3], es[4] = es[4], es[3]
	reordered := seqOf(t, es)
	if _, ok := parseCanonicalPCKExtensions(reordered); ok {
		t.Error("the canonical reader accepted reordered entries")
	}
	if _, err := parsePCKExtensionsDER(reordered); err != nil {
		t.Errorf("reordered entries: %v", err)
	}
}
