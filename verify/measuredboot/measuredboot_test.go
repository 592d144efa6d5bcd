package measuredboot

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratls/ratls/evidence/eventlog"
	"github.com/ratls/ratls/internal/testvectors"
)

var vectors = testvectors.Path("trustee-cvm")

func readLog(t testing.TB, name string) *eventlog.Log {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectors, name))
	if err != nil {
		t.Fatal(err)
	}
	l, err := eventlog.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replays are the register values of EXPECTED.json, recomputed there
// independently of this code.
type replays map[string]map[string]string // vector id -> register -> hex

func loadReplays(t testing.TB) (replays, map[string]string) {
	b, err := os.ReadFile(filepath.Join(vectors, "EXPECTED.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Vectors []struct {
			ID       string `json:"id"`
			EventLog string `json:"eventlog"`
			Computed struct {
				Replay map[string]struct {
					MR map[string]string `json:"mr_index_1_to_4"`
				} `json:"replay"`
			} `json:"computed"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	out, logs := replays{}, map[string]string{}
	for _, v := range exp.Vectors {
		for _, r := range v.Computed.Replay {
			out[v.ID] = r.MR
			logs[v.ID] = v.EventLog
		}
	}
	return out, logs
}

// tdxBank is the bank of a quote whose RTMRs are the given values.
func tdxBank(t testing.TB, rtmr map[string]string) Bank {
	var r [4][48]byte
	for i, name := range []string{"rtmr0", "rtmr1", "rtmr2", "rtmr3"} {
		copy(r[i][:], unhex(t, rtmr[name]))
	}
	return TDX(r)
}

// Every CCEL vector replays to the registers EXPECTED.json gives (SHA-384
// into RTMR0..3 for TDX, SM3 into rtmr1..4 for Hygon CSV), and Verify
// accepts it against a report holding those values.
func TestVectorsReplay(t *testing.T) {
	exp, logs := loadReplays(t)
	if len(exp) != 4 {
		t.Fatalf("%d vectors with replays, want 4", len(exp))
	}
	for id, want := range exp {
		t.Run(id, func(t *testing.T) {
			l := readLog(t, logs[id])
			var bank Bank
			if id == "trustee-ccel-hygon-csv" {
				var r [4][32]byte
				for i, name := range []string{"mr1", "mr2", "mr3", "mr4"} {
					copy(r[i][:], unhex(t, want[name]))
				}
				bank = CSV(r)
			} else {
				bank = tdxBank(t, want)
			}
			got, err := Replay(l.Events, bank.Alg, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range bank.Registers {
				v := got[r.Index]
				if v == nil {
					v = make([]byte, bank.Alg.Size())
				}
				if !bytes.Equal(v, r.Value) {
					t.Errorf("%s: replayed %x, want %x", r.Name, v, r.Value)
				}
			}
			res, err := Verify(l, nil, bank)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Events) != len(l.Events) || res.Facts() == nil {
				t.Errorf("result: %d events, facts %v", len(res.Events), res.Facts())
			}
		})
	}
}

// Trustee's test_rtmr_integrity_error: a reference of 2fa3be56... for MR
// index 2 must fail, naming the calculated 0fa3be56... value.
func TestReplayMismatchNamesRegisterAndValues(t *testing.T) {
	exp, logs := loadReplays(t)
	want := exp["trustee-ccel-td-shim"]
	bank := tdxBank(t, want)
	bank.Registers[1].Value = unhex(t, "2"+want["rtmr1"][1:])
	_, err := Verify(readLog(t, logs["trustee-ccel-td-shim"]), nil, bank)
	var re *ReplayError
	if !errors.As(err, &re) || len(re.Mismatches) != 1 || re.Mismatches[0].Register != "RTMR1" {
		t.Fatalf("Verify: %v, want a mismatch of RTMR1 alone", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "RTMR1: replayed "+want["rtmr1"]+", signed 2fa3be56") {
		t.Errorf("error %q does not name the replayed and signed values", msg)
	}
}

// A log that does not replay is refused as a whole, whatever was done to
// it; each attack must change a register or be refused for its form.
func TestTamperedLogsRefused(t *testing.T) {
	exp, logs := loadReplays(t)
	good := readLog(t, logs["trustee-ccel-ovmf-grub"])
	bank := tdxBank(t, exp["trustee-ccel-ovmf-grub"])
	if _, err := Verify(good, nil, bank); err != nil {
		t.Fatal(err)
	}
	// Events 0 and 1 both extend RTMR0.
	if good.Events[0].Index != good.Events[1].Index {
		t.Fatal("vector changed: events 0 and 1 no longer share a register")
	}
	clone := func() *eventlog.Log {
		c := *good
		c.Events = append([]eventlog.Event(nil), good.Events...)
		return &c
	}
	cases := map[string]func(l *eventlog.Log){
		"one event digest changed": func(l *eventlog.Log) {
			d := bytes.Clone(l.Events[5].Digests[0].Value)
			d[0] ^= 1
			l.Events[5].Digests = []eventlog.Digest{{Alg: eventlog.SHA384, Value: d}}
		},
		"events reordered": func(l *eventlog.Log) { l.Events[0], l.Events[1] = l.Events[1], l.Events[0] },
		"event removed":    func(l *eventlog.Log) { l.Events = append(l.Events[:3], l.Events[4:]...) },
		"event moved to another register": func(l *eventlog.Log) {
			l.Events[2].Index = 2
		},
		"event extending a register the report does not hold": func(l *eventlog.Log) {
			l.Events = append(l.Events, eventlog.NewEvent(5, eventlog.EvIPL, []byte("x"), eventlog.SHA384))
		},
		"event without a SHA-384 digest": func(l *eventlog.Log) {
			l.Events[4].Digests = nil
		},
	}
	for name, tamper := range cases {
		t.Run(name, func(t *testing.T) {
			l := clone()
			tamper(l)
			// Through the wire format, so the parser sees the attack too.
			parsed, err := eventlog.Parse(l.Marshal())
			if err != nil {
				return // refused while parsing
			}
			if res, err := Verify(parsed, nil, bank); err == nil {
				t.Fatalf("tampered log accepted: %d events", len(res.Events))
			}
		})
	}
	t.Run("log of another VM", func(t *testing.T) {
		if _, err := Verify(readLog(t, logs["trustee-ccel-ovmf"]), nil, bank); err == nil {
			t.Fatal("the OVMF log was accepted against the grub VM's registers")
		}
	})
	t.Run("runtime register extended without a log", func(t *testing.T) {
		b := bank
		b.Registers = append([]Register(nil), bank.Registers...)
		b.Registers[3].Value = bytes.Repeat([]byte{1}, 48)
		if _, err := Verify(good, nil, b); err == nil {
			t.Fatal("a non-zero RTMR3 with no events was accepted")
		}
	})
}

// The facts of each vector, as its events show them (digests copied from
// Trustee's reference parse, not computed here).
func TestFacts(t *testing.T) {
	exp, logs := loadReplays(t)
	facts := func(id string) *Facts {
		res, err := Verify(readLog(t, logs[id]), nil, tdxBank(t, exp[id]))
		if err != nil {
			t.Fatal(err)
		}
		return res.Facts()
	}
	t.Run("td-shim", func(t *testing.T) {
		f := facts("trustee-ccel-td-shim")
		// Trustee's test_query_digest values.
		if f.Kernel == nil || f.Kernel.Digest != "5b7aa6572f649714ff00b6a2b9170516a068fd1a0ba72aa8de27574131d454e6396d3bfa1727d9baf421618a942977fa" || f.Kernel.Register != "RTMR1" {
			t.Errorf("kernel %+v", f.Kernel)
		}
		if f.Cmdline == nil || f.Cmdline.Digest != "64ed1e5a47e8632f80faf428465bd987af3e8e4ceb10a5a9f387b6302e30f4993bded2331f0691c4a38ad34e4cbbc627" || f.Cmdline.Text != "root=/dev/vda1 console=hvc0 rw" {
			t.Errorf("cmdline %+v", f.Cmdline)
		}
		if f.SecureBoot != nil || len(f.Bootloaders) != 0 {
			t.Errorf("secure boot %+v bootloaders %v: the log has neither", f.SecureBoot, f.Bootloaders)
		}
	})
	t.Run("ovmf direct boot", func(t *testing.T) {
		f := facts("trustee-ccel-ovmf")
		if f.Kernel == nil || !strings.HasPrefix(f.Kernel.Digest, "a2ccae1e7d6c668c") || !strings.HasSuffix(f.Kernel.Source, "File(kernel)") {
			t.Errorf("kernel %+v", f.Kernel)
		}
		if f.Initrd == nil || !strings.HasPrefix(f.Initrd.Digest, "b15af9286108d3d8") || f.Cmdline == nil || !strings.HasPrefix(f.Cmdline.Digest, "4230f84885a6f3f3") || f.Cmdline.Text != "" {
			t.Errorf("initrd %+v cmdline %+v", f.Initrd, f.Cmdline)
		}
		// SecureBoot is measured empty: secure boot is off.
		if f.SecureBoot == nil || f.SecureBoot.Enabled {
			t.Errorf("secure boot %+v, want measured and off", f.SecureBoot)
		}
		if f.EventTypes["EV_EFI_VARIABLE_DRIVER_CONFIG"] != 5 || len(f.Firmware) != 1 {
			t.Errorf("event types %v firmware %v", f.EventTypes, f.Firmware)
		}
	})
	t.Run("ovmf shim grub", func(t *testing.T) {
		f := facts("trustee-ccel-ovmf-grub")
		if f.SecureBoot == nil || !f.SecureBoot.Enabled || !strings.HasPrefix(f.SecureBoot.DB, "9e9a3075edf75a46") {
			t.Errorf("secure boot %+v, want on", f.SecureBoot)
		}
		var paths []string
		for _, b := range f.Bootloaders {
			paths = append(paths, b.Source[strings.LastIndex(b.Source, "File("):])
		}
		if strings.Join(paths, " ") != `File(\EFI\BOOT\BOOTX64.EFI) File(\EFI\BOOT\fbx64.efi) File(\EFI\ubuntu\shimx64.efi) File(\EFI\ubuntu\grubx64.efi)` {
			t.Errorf("bootloaders %q", paths)
		}
		if f.Kernel == nil || !strings.HasPrefix(f.Kernel.Digest, "ea83db0b0d01cb82") || f.Initrd == nil || !strings.HasPrefix(f.Initrd.Digest, "15485f8c0ea5fb6c") {
			t.Errorf("kernel %+v initrd %+v", f.Kernel, f.Initrd)
		}
	})
	t.Run("hygon csv grub", func(t *testing.T) {
		var r [4][32]byte
		for i, name := range []string{"mr1", "mr2", "mr3", "mr4"} {
			copy(r[i][:], unhex(t, exp["trustee-ccel-hygon-csv"][name]))
		}
		res, err := Verify(readLog(t, logs["trustee-ccel-hygon-csv"]), nil, CSV(r))
		if err != nil {
			t.Fatal(err)
		}
		f := res.Facts()
		if f.Algorithm != "SM3" || f.Kernel == nil || !strings.HasPrefix(f.Kernel.Digest, "104fdb3e261f836a") || f.Initrd == nil || !strings.HasPrefix(f.Initrd.Digest, "7d6d8b5b5692bbad") {
			t.Errorf("kernel %+v initrd %+v", f.Kernel, f.Initrd)
		}
		if f.Cmdline == nil || !strings.HasPrefix(f.Cmdline.Text, "(hd0,gpt2)/vmlinuz-5.10.134-anolis-rtmr-attestation root=/dev/mapper/ao-root ro ") {
			t.Errorf("cmdline %+v", f.Cmdline)
		}
	})
}

// A runtime log appended to the boot log replays into RTMR3 and yields its
// entries; an entry whose digest does not cover it is refused.
func TestRuntimeLog(t *testing.T) {
	exp, logs := loadReplays(t)
	boot := readLog(t, logs["trustee-ccel-ovmf"])
	entries := []string{"github.com/confidential-containers PullImage {\"digest\":\"sha256:0c0c\",\"image\":\"alpine\"}", "example.com/app config sha256:1234"}
	b := eventlog.AppendHeader(nil, []eventlog.Alg{eventlog.SHA384})
	rtmr3 := make([]byte, 48)
	for _, s := range entries {
		e := eventlog.NewEvent(4, eventlog.EvIPL, []byte(s), eventlog.SHA384)
		b = eventlog.AppendEvent(b, &e)
		rtmr3 = eventlog.SHA384.Sum(append(rtmr3, e.Digests[0].Value...))
	}
	runtime, err := eventlog.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := exp["trustee-ccel-ovmf"]
	want["rtmr3"] = hex.EncodeToString(rtmr3)
	res, err := Verify(boot, runtime, tdxBank(t, want))
	if err != nil {
		t.Fatal(err)
	}
	f := res.Facts()
	if res.Runtime != 2 || len(f.Runtime) != 2 || f.Runtime[0].Domain != "github.com/confidential-containers" || f.Runtime[0].Operation != "PullImage" ||
		f.Runtime[1].Content != "sha256:1234" || f.Runtime[1].Register != "RTMR3" {
		t.Errorf("runtime events %+v", f.Runtime)
	}
	if _, err := Verify(boot, nil, tdxBank(t, want)); err == nil {
		t.Error("the boot log alone was accepted with RTMR3 extended")
	}
	// The same register value, but an entry whose digest is of another text.
	forged := *runtime
	forged.Events = append([]eventlog.Event(nil), runtime.Events...)
	forged.Events[1].Data = []byte("example.com/app config sha256:9999")
	if _, err := Verify(boot, &forged, tdxBank(t, want)); err == nil {
		t.Error("a runtime entry its digest does not cover was accepted")
	}
}

// TPM banks: PCRs no event touches are left alone and reported; a
// StartupLocality event sets PCR 0's initial value.
func TestTPMBank(t *testing.T) {
	b := eventlog.AppendHeader(nil, []eventlog.Alg{eventlog.SHA256})
	loc := eventlog.Event{Index: 0, Type: eventlog.EvNoAction, Data: append([]byte("StartupLocality\x00"), 3)}
	b = eventlog.AppendEvent(b, &loc)
	e := eventlog.NewEvent(0, eventlog.EvSCRTMVersion, []byte("v1"), eventlog.SHA256)
	b = eventlog.AppendEvent(b, &e)
	l, err := eventlog.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	init := make([]byte, 32)
	init[31] = 3
	pcr0 := eventlog.SHA256.Sum(append(init, eventlog.SHA256.Sum([]byte("v1"))...))
	pcrs := [][]byte{pcr0, bytes.Repeat([]byte{0xAA}, 32)}
	res, err := Verify(l, nil, PCRs(eventlog.SHA256, pcrs))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Undescribed) != 1 || res.Undescribed[0] != "PCR1" || len(res.Facts().Firmware) != 1 {
		t.Errorf("undescribed %v firmware %v", res.Undescribed, res.Facts().Firmware)
	}
	pcrs[0] = bytes.Repeat([]byte{0}, 32)
	if _, err := Verify(l, nil, PCRs(eventlog.SHA256, pcrs)); err == nil {
		t.Error("a PCR 0 that does not replay was accepted")
	}
}

// A real vTPM log (Google Cloud, Ubuntu 24.04, SEV-SNP) replays to the
// SHA-256 PCRs go-tpm-tools' tests give, and yields the applications and
// command line they assert.
func TestGCEUbuntuVTPMLog(t *testing.T) {
	b, err := os.ReadFile(testvectors.Path("go-tpm-tools/ubuntu-2404-amd-sevsnp.bin"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := eventlog.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]string{
		0: "50597a27846e91d025eef597abbc89f72bff9af849094db97b0684d8bc4c515e", 1: "57344e1cc8c6619413df33013a7cd67915459f967395af41db21c1fa7ca9c307",
		2: "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969", 3: "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969",
		4: "abe8b3fa6aecb36c2fd93c6f6edde661c21b353d007410a2739d69bfa7e1b9be", 5: "0b0e1903aeb1bff649b82dba2cdcf5c4ffb75027e54f151ab00b3b989f16a300",
		6: "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969", 7: "33ad69850fb2c7f30b4f8b4bc10ed93fc954dc07fa726e84f50f3d192dc1c140",
		8: "6932a3f71dc55ad3c1a6ac2196eeac26a1b7164b6bbfa106625d94088ec3ecc3", 9: "ce08798b283c7a0ddc5e9ad1d602304b945b741fc60c20e254eafa0f4782512b",
		14: "306f9d8b94f17d93dc6e7cf8f5c79d652eb4c6c4d13de2dddc24af416e13ecaf",
	}
	pcrs := make([][]byte, 24)
	for i := range pcrs {
		pcrs[i] = make([]byte, 32)
		if w, ok := want[uint32(i)]; ok {
			pcrs[i] = unhex(t, w)
		}
	}
	res, err := Verify(l, nil, PCRs(eventlog.SHA256, pcrs))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Undescribed) != 24-len(want) {
		t.Errorf("undescribed %v", res.Undescribed)
	}
	f := res.Facts()
	if len(f.Bootloaders) != 2 || f.Bootloaders[0].Digest != "724de6844dd0fe618ba5776c7bca0728be38a6544e24e44ef259b987b7abce80" ||
		f.Bootloaders[1].Digest != "5e8cb75acdf8e09e5fc14cc2d6ce0c2288af208976d97309851c661e91ec1e03" {
		t.Errorf("bootloaders %+v", f.Bootloaders)
	}
	if f.Cmdline == nil || f.Cmdline.Text != "/vmlinuz-6.8.0-1010-gcp root=PARTUUID=8270f3c9-b4e4-4345-80ee-5a62db7ebf3f ro console=ttyS0,115200 panic=-1" || f.LoadOptions == nil {
		t.Errorf("cmdline %+v load options %+v", f.Cmdline, f.LoadOptions)
	}
	if f.Kernel == nil || !strings.HasSuffix(f.Kernel.Source, "/vmlinuz-6.8.0-1010-gcp") || f.Initrd != nil {
		t.Errorf("kernel %+v initrd %+v (the VM booted without an initrd)", f.Kernel, f.Initrd)
	}
	if f.SecureBoot == nil || f.SecureBoot.Enabled {
		t.Errorf("secure boot %+v, want measured and disabled", f.SecureBoot)
	}
	// One PCR off: refused.
	pcrs[7] = unhex(t, want[4])
	if _, err := Verify(l, nil, PCRs(eventlog.SHA256, pcrs)); err == nil {
		t.Error("a log that does not replay to PCR 7 was accepted")
	}
}
