package snp

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// buildTable lays out entries and their data as a host does.
func buildTable(entries map[[16]byte][]byte, order [][16]byte) []byte {
	head := (len(order) + 1) * certTableEntrySize
	var body []byte
	table := make([]byte, head)
	for i, g := range order {
		e := table[i*certTableEntrySize:]
		copy(e, g[:])
		binary.LittleEndian.PutUint32(e[16:], uint32(head+len(body)))
		binary.LittleEndian.PutUint32(e[20:], uint32(len(entries[g])))
		body = append(body, entries[g]...)
	}
	return append(table, body...)
}

func TestCertTableGUIDEncoding(t *testing.T) {
	// GUIDs are stored mixed-endian: 63da758d-e664-4564-... starts 8d 75 da 63 64 e6 64 45.
	want := []byte{0x8d, 0x75, 0xda, 0x63, 0x64, 0xe6, 0x64, 0x45, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd}
	if !bytes.Equal(guidVCEK[:], want) {
		t.Fatalf("VCEK GUID bytes %x, want %x", guidVCEK, want)
	}
	if formatGUID(guidVCEK) != "63da758d-e664-4564-adc5-f4b93be8accd" {
		t.Errorf("format: %s", formatGUID(guidVCEK))
	}
}

func TestParseCertTable(t *testing.T) {
	unknown := [16]byte{1, 2, 3}
	entries := map[[16]byte][]byte{guidVCEK: []byte("vcek-der"), guidASK: []byte("ask"), guidARK: []byte("ark"), unknown: []byte("x")}
	tab, err := ParseCertTable(buildTable(entries, [][16]byte{guidVCEK, guidASK, unknown, guidARK}))
	if err != nil {
		t.Fatal(err)
	}
	if string(tab.VCEK) != "vcek-der" || string(tab.ASK) != "ask" || string(tab.ARK) != "ark" || tab.VLEK != nil || tab.CRL != nil || tab.Unknown != 1 {
		t.Fatalf("got %+v", tab)
	}
	good := buildTable(entries, [][16]byte{guidVCEK})
	for name, tc := range map[string]struct {
		b    []byte
		want string
	}{
		"no terminator": {func() []byte {
			b := make([]byte, certTableEntrySize)
			b[0] = 9 // an unknown GUID whose data is the entry itself
			binary.LittleEndian.PutUint32(b[20:], certTableEntrySize)
			return b
		}(), "no terminating entry"},
		"lying length": {func() []byte { b := bytes.Clone(good); binary.LittleEndian.PutUint32(b[20:], 1000); return b }(), "do not fit"},
		"zero length":  {func() []byte { b := bytes.Clone(good); binary.LittleEndian.PutUint32(b[20:], 0); return b }(), "do not fit"},
		"duplicate":    {buildTable(entries, [][16]byte{guidVCEK, guidVCEK}), "appears twice"},
		"too large":    {make([]byte, maxCertTableSize+1), "exceeds"},
		"empty":        {nil, "no terminating entry"},
	} {
		if _, err := ParseCertTable(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want error containing %q, got %v", name, tc.want, err)
		}
	}
}

func FuzzParseCertTable(f *testing.F) {
	f.Add(buildTable(map[[16]byte][]byte{guidVCEK: []byte("v")}, [][16]byte{guidVCEK}))
	f.Add(make([]byte, certTableEntrySize))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := ParseCertTable(b)
		if err == nil && tab == nil {
			t.Fatal("nil table without error")
		}
	})
}

func TestCertTableMarshal(t *testing.T) {
	for _, want := range []*CertTable{
		{VCEK: []byte("vcek"), ASK: []byte("ask"), ARK: []byte("ark")},
		{VLEK: []byte("vlek"), ASK: []byte("asvk"), ARK: []byte("ark"), CRL: []byte("crl")},
		{},
	} {
		got, err := ParseCertTable(want.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.VCEK, want.VCEK) || !bytes.Equal(got.VLEK, want.VLEK) || !bytes.Equal(got.ASK, want.ASK) ||
			!bytes.Equal(got.ARK, want.ARK) || !bytes.Equal(got.CRL, want.CRL) || got.Unknown != 0 {
			t.Errorf("round trip: got %+v, want %+v", got, want)
		}
		if leaf := want.Leaf(); !bytes.Equal(leaf, want.VCEK) && !bytes.Equal(leaf, want.VLEK) {
			t.Errorf("Leaf %q of %+v", leaf, want)
		}
	}
	// The layout is the host's: the table built by hand reads the same.
	entries := map[[16]byte][]byte{guidVCEK: []byte("vcek"), guidASK: []byte("ask"), guidARK: []byte("ark")}
	if got, want := (&CertTable{VCEK: []byte("vcek"), ASK: []byte("ask"), ARK: []byte("ark")}).Marshal(),
		buildTable(entries, [][16]byte{guidVCEK, guidASK, guidARK}); !bytes.Equal(got, want) {
		t.Errorf("Marshal: got %x, want %x", got, want)
	}
}
