package eventlog

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ratls/ratls/internal/testvectors"
)

var vectors = testvectors.Path("trustee-cvm")

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectors, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// expected is the part of EXPECTED.json these tests check.
type expected struct {
	Vectors []struct {
		ID       string `json:"id"`
		EventLog string `json:"eventlog"`
		Computed struct {
			SpecID struct {
				MRIndex    uint32 `json:"mr_index"`
				EventSize  int    `json:"event_size"`
				UintnSize  uint8  `json:"uintn_size"`
				VendorInfo string `json:"vendor_info"`
				Algorithms []struct {
					AlgID      string `json:"alg_id"`
					DigestSize int    `json:"digest_size"`
				} `json:"algorithms"`
			} `json:"spec_id_header"`
			Events          int            `json:"events_after_header"`
			LogEnd          int            `json:"log_end_offset"`
			Padding         string         `json:"trailing_padding_byte"`
			EventTypes      map[string]int `json:"event_types"`
			EventsPerIndex  map[string]int `json:"events_per_mr_index"`
			DigestMatchData int            `json:"events_whose_digest_equals_hash_of_event_data"`
		} `json:"computed"`
	} `json:"vectors"`
}

func loadExpected(t testing.TB) expected {
	var e expected
	if err := json.Unmarshal(readVector(t, "EXPECTED.json"), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// referenceEvent is one record of Trustee's parse output (*_out.json).
type referenceEvent struct {
	Index    uint32 `json:"index"`
	TypeName string `json:"type_name"`
	Event    string `json:"event"`
	Digests  []struct {
		Alg    string `json:"alg"`
		Digest string `json:"digest"`
	} `json:"digests"`
	DigestMatchesEvent bool `json:"digest_matches_event"`
}

// Every CCEL vector parses to the records of Trustee's reference parse and
// to the counts, end offset and padding EXPECTED.json gives.
func TestTrusteeCCELVectors(t *testing.T) {
	exp := loadExpected(t)
	n := 0
	for _, v := range exp.Vectors {
		if v.EventLog == "" {
			continue
		}
		n++
		t.Run(v.ID, func(t *testing.T) {
			l, err := Parse(readVector(t, v.EventLog))
			if err != nil {
				t.Fatal(err)
			}
			c := v.Computed
			if len(l.Events) != c.Events || l.End != c.LogEnd {
				t.Errorf("%d events ending at %d, want %d ending at %d", len(l.Events), l.End, c.Events, c.LogEnd)
			}
			if want := map[string]int{"0x00": 0, "0xff": 0xFF}[c.Padding]; l.Padding != want {
				t.Errorf("padding %#x, want %s", l.Padding, c.Padding)
			}
			id := l.SpecID
			if id.HeaderIndex != c.SpecID.MRIndex || id.UintnSize != c.SpecID.UintnSize || string(id.VendorInfo) != c.SpecID.VendorInfo {
				t.Errorf("spec ID %+v, want %+v", id, c.SpecID)
			}
			if len(id.Algorithms) != len(c.SpecID.Algorithms) {
				t.Fatalf("algorithms %v, want %v", id.Algorithms, c.SpecID.Algorithms)
			}
			for i, a := range c.SpecID.Algorithms {
				if got := "0x" + hex.EncodeToString([]byte{byte(id.Algorithms[i].Alg >> 8), byte(id.Algorithms[i].Alg)}); got != a.AlgID || id.Algorithms[i].Size != a.DigestSize {
					t.Errorf("algorithm %d: %v, want %s/%d", i, id.Algorithms[i], a.AlgID, a.DigestSize)
				}
			}
			types, perIndex, matches := map[string]int{}, map[string]int{}, 0
			for _, e := range l.Events {
				types[e.Type.String()]++
				perIndex[string(rune('0'+e.Index))]++
				ok := true
				for _, d := range e.Digests {
					ok = ok && bytes.Equal(d.Alg.Sum(e.Data), d.Value)
				}
				if ok {
					matches++
				}
			}
			if !equalCounts(types, c.EventTypes) || !equalCounts(perIndex, c.EventsPerIndex) || matches != c.DigestMatchData {
				t.Errorf("types %v per index %v matching %d, want %v %v %d", types, perIndex, matches, c.EventTypes, c.EventsPerIndex, c.DigestMatchData)
			}
			compareReference(t, l, v.EventLog+"_out.json")
		})
	}
	if n != 4 {
		t.Errorf("%d event-log vectors in EXPECTED.json, want 4", n)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// compareReference checks every record against Trustee's rendering.
func compareReference(t *testing.T, l *Log, name string) {
	var ref struct {
		Events []referenceEvent `json:"uefi_event_logs"`
	}
	if err := json.Unmarshal(readVector(t, name), &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Events) != len(l.Events) {
		t.Fatalf("%d events, reference has %d", len(l.Events), len(ref.Events))
	}
	algName := map[string]Alg{"SHA-256": SHA256, "SHA-384": SHA384, "SM3": SM3}
	for i, r := range ref.Events {
		e := l.Events[i]
		data, _ := base64.StdEncoding.DecodeString(r.Event)
		if e.Index != r.Index || e.Type.String() != r.TypeName || !bytes.Equal(e.Data, data) || len(e.Digests) != len(r.Digests) {
			t.Errorf("event %d: index %d %v %d bytes, reference index %d %s %d bytes", i, e.Index, e.Type, len(e.Data), r.Index, r.TypeName, len(data))
			continue
		}
		for j, d := range r.Digests {
			if e.Digests[j].Alg != algName[d.Alg] || hex.EncodeToString(e.Digests[j].Value) != d.Digest {
				t.Errorf("event %d digest %d: %v %x, reference %s %s", i, j, e.Digests[j].Alg, e.Digests[j].Value, d.Alg, d.Digest)
			}
		}
	}
}

// A TPM log (no padding) ends exactly at the end of the data; the padded
// CCEL's log, cut at its end, parses to the same events.
func TestUnpaddedLog(t *testing.T) {
	full, err := Parse(readVector(t, "CCEL_data_ovmf"))
	if err != nil {
		t.Fatal(err)
	}
	cut, err := Parse(readVector(t, "CCEL_data_ovmf")[:full.End])
	if err != nil {
		t.Fatal(err)
	}
	if cut.Padding != -1 || cut.End != full.End || len(cut.Events) != len(full.Events) {
		t.Errorf("cut log: %d events ending at %d padding %d; want %d ending at %d, no padding", len(cut.Events), cut.End, cut.Padding, len(full.Events), full.End)
	}
}

func TestMalformed(t *testing.T) {
	ovmf := readVector(t, "CCEL_data_ovmf")
	full, _ := Parse(ovmf)
	last := full.Events[len(full.Events)-1]
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(ovmf)) }
	for _, c := range []struct {
		name string
		log  []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"not crypto-agile", mutate(func(b []byte) []byte { b[4] = 1; return b }), ErrFormat},
		{"truncated in the last event", ovmf[:full.End-3], ErrTruncated},
		{"record hidden behind the end marker", mutate(func(b []byte) []byte { b[full.End+100] = 0x42; return b }), ErrFormat},
		{"undeclared digest algorithm", mutate(func(b []byte) []byte { b[last.Offset+12] = 0x0B; return b }), ErrFormat},
		{"event size past the end", mutate(func(b []byte) []byte { b[last.Offset+12+2+48+3] = 0x7F; return b[:full.End] }), ErrTruncated},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.log)
			if !errors.Is(err, c.want) {
				t.Errorf("Parse: %v, want %v", err, c.want)
			}
		})
	}
}

// The decoders give what the reference parse shows for the events a
// policy reads.
func TestDecoders(t *testing.T) {
	l, err := Parse(readVector(t, "CCEL_data_grub"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	var secureBoot *Variable
	for _, e := range l.Events {
		switch e.Type {
		case EvEFIBootServicesApplication:
			im, err := ParseImageLoad(e.Data)
			if err != nil {
				t.Fatal(err)
			}
			paths = append(paths, im.Path())
		case EvEFIVariableDriverConfig:
			v, err := ParseVariable(e.Data)
			if err != nil {
				t.Fatal(err)
			}
			if v.Name == "SecureBoot" {
				secureBoot = v
			}
		}
	}
	want := []string{
		"ACPI(PNP0A03,0)/Pci(1,0)/Pci(0,0)/Pci(1,0)/Pci(0,0)/HD(15,GPT,00F1275E-5375-43D5-9EB5-DE2ADD4C9932,0x2800,0x35000)/File(\\EFI\\BOOT\\BOOTX64.EFI)",
		"File(\\EFI\\BOOT\\fbx64.efi)",
		"ACPI(PNP0A03,0)/Pci(1,0)/Pci(0,0)/Pci(1,0)/Pci(0,0)/HD(15,GPT,00F1275E-5375-43D5-9EB5-DE2ADD4C9932,0x2800,0x35000)/File(\\EFI\\ubuntu\\shimx64.efi)",
		"File(\\EFI\\ubuntu\\grubx64.efi)",
		"",
	}
	if len(paths) != len(want) {
		t.Fatalf("boot applications %q, want %q", paths, want)
	}
	for i := range want {
		if paths[i] != want[i] {
			t.Errorf("boot application %d: %q, want %q", i, paths[i], want[i])
		}
	}
	if secureBoot == nil || secureBoot.GUID != EFIGlobalVariable || !bytes.Equal(secureBoot.Data, []byte{1}) {
		t.Errorf("SecureBoot variable %+v, want EFI global variable with data 01", secureBoot)
	}
	fb, err := ParseFirmwareBlob2([]byte("\x0btd_payload\x00\x00\x10\x90\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00"))
	if err != nil || fb.Description != "td_payload" || fb.Base != 0x901000 || fb.Length != 0x10000000 {
		t.Errorf("firmware blob %+v, %v", fb, err)
	}
	te, err := ParseTaggedEvent([]byte("\xed\x22\x3b\x8f\x1a\x00\x00\x00LOADED_IMAGE::LoadOptions\x00"))
	if err != nil || te.ID != TagLinuxLoadOptions || Text(te.Data) != "LOADED_IMAGE::LoadOptions" {
		t.Errorf("tagged event %+v, %v", te, err)
	}
	if got := Text([]byte("grub_cmd [ xy = xy ]\x00#")); got != "grub_cmd [ xy = xy ]" {
		t.Errorf("Text: %q", got)
	}
}

// Marshal writes back exactly the bytes of every vector's log.
func TestMarshalRoundTrip(t *testing.T) {
	for _, name := range []string{"CCEL_data", "CCEL_data_ovmf", "CCEL_data_grub", "CCEL_data_csv"} {
		b := readVector(t, name)
		l, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(l.Marshal(), b[:l.End]) {
			t.Errorf("%s: Marshal differs from the log", name)
		}
	}
	b := AppendHeader(nil, []Alg{SHA384})
	e := NewEvent(4, EvIPL, []byte("example.com/app start v1"), SHA384)
	b = AppendEvent(b, &e)
	l, err := Parse(b)
	if err != nil || len(l.Events) != 1 || l.Events[0].Index != 4 || !bytes.Equal(l.Events[0].Digest(SHA384), SHA384.Sum(e.Data)) {
		t.Errorf("built log: %+v, %v", l, err)
	}
}
