package measuredboot

import (
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/ratls/ratls/evidence/eventlog"
)

// bootLog builds a vTPM log of GRUB and Linux EFI stub events whose
// digests are SHA-256 of the given contents, and verifies it against the
// PCRs it replays to.
func bootLog(t *testing.T, events []struct {
	pcr     uint32
	typ     eventlog.EventType
	data    []byte
	content []byte
}) *Facts {
	t.Helper()
	alg := eventlog.SHA256
	evs := make([]eventlog.Event, len(events))
	for i, e := range events {
		evs[i] = eventlog.NewEvent(e.pcr, e.typ, e.data, alg)
		evs[i].Digests[0].Value = alg.Sum(e.content)
		evs[i].Seq = i
	}
	regs, err := Replay(evs, alg, true)
	if err != nil {
		t.Fatal(err)
	}
	pcrs := make([][]byte, 24)
	for i := range pcrs {
		pcrs[i] = make([]byte, 32)
		if r, ok := regs[uint32(i)]; ok {
			pcrs[i] = r
		}
	}
	raw := eventlog.AppendHeader(nil, []eventlog.Alg{alg})
	for i := range evs {
		raw = eventlog.AppendEvent(raw, &evs[i])
	}
	l, err := eventlog.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(l, nil, PCRs(alg, pcrs))
	if err != nil {
		t.Fatal(err)
	}
	return res.Facts()
}

func loadOptionsTag(s string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, eventlog.TagLinuxLoadOptions)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

type ev = struct {
	pcr     uint32
	typ     eventlog.EventType
	data    []byte
	content []byte
}

func grubFileEv(path, content string) ev {
	return ev{9, eventlog.EvIPL, []byte(path + "\x00"), []byte(content)}
}

func grubCmdlineEv(line string) ev {
	return ev{8, eventlog.EvIPL, []byte("kernel_cmdline: " + line + "\x00"), []byte(line)}
}

func stubEv(loadOptions string) ev {
	return ev{9, eventlog.EvEventTag, loadOptionsTag("LOADED_IMAGE::LoadOptions"), utf16le(loadOptions)}
}

func sha256Hex(b []byte) string { return hex.EncodeToString(eventlog.SHA256.Sum(b)) }

// A host that controls /boot can make GRUB read and log the expected kernel
// and command line, then start something else. The facts must not vouch
// for what was not booted.
func TestBootFactsRefuseWhatWasNotBooted(t *testing.T) {
	// Normal boot: the facts are the kernel GRUB loaded and its line.
	f := bootLog(t, []ev{grubFileEv("/boot/vmlinuz-good", "GOOD KERNEL"), grubCmdlineEv("/boot/vmlinuz-good ro"), stubEv("BOOT_IMAGE=/boot/vmlinuz-good ro")})
	if f.Kernel == nil || f.Kernel.Digest != sha256Hex([]byte("GOOD KERNEL")) || f.Cmdline == nil || f.Cmdline.Text != "/boot/vmlinuz-good ro" {
		t.Fatalf("normal boot: kernel %+v cmdline %+v", f.Kernel, f.Cmdline)
	}

	// Chainload: after the good kernel and line, GRUB reads another file,
	// and the kernel that starts parses another command line.
	f = bootLog(t, []ev{grubFileEv("/boot/vmlinuz-good", "GOOD KERNEL"), grubCmdlineEv("/boot/vmlinuz-good ro"),
		grubFileEv("/boot/evil", "EVIL KERNEL"), stubEv("init=/bin/sh")})
	if f.Kernel != nil && f.Kernel.Digest == sha256Hex([]byte("GOOD KERNEL")) {
		t.Errorf("chainload: the kernel fact is the good kernel GRUB read, not what booted: %+v", f.Kernel)
	}
	if f.Cmdline == nil || f.Cmdline.Text != "" || f.Cmdline.Digest != sha256Hex(utf16le("init=/bin/sh")) {
		t.Errorf("chainload: want the stub's measurement, text unknown, as the cmdline fact; got %+v", f.Cmdline)
	}

	// The line names one image, and the last file GRUB read is another
	// kernel-named file.
	f = bootLog(t, []ev{grubFileEv("/boot/evil", "EVIL KERNEL"), grubCmdlineEv("/boot/evil ro"),
		grubFileEv("/boot/vmlinuz-good", "GOOD KERNEL"), stubEv("BOOT_IMAGE=/boot/evil ro")})
	if f.Kernel != nil {
		t.Errorf("BOOT_IMAGE names another file than the kernel fact: want no kernel fact, got %+v", f.Kernel)
	}
}
