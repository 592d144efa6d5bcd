package measuredboot

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"unicode/utf16"

	"github.com/ratls/ratls/evidence/eventlog"
)

// Facts is what a replayed event log establishes about the boot, in the
// terms a policy uses. A fact the log does not establish is absent (nil or
// empty), never guessed: a policy on an absent fact fails.
//
// Digests are hex, in the algorithm of the registers the log was replayed
// into (SHA-384 for TDX, SHA-256 for vTPM PCRs, SM3 for Hygon CSV). They
// are what the firmware and loaders measured: PE images are measured by
// their Authenticode hash, other files and strings by their plain hash.
type Facts struct {
	Algorithm string `json:"algorithm"`
	// Firmware lists the firmware regions and versions measured
	// (EV_EFI_PLATFORM_FIRMWARE_BLOB*, EV_S_CRTM_*, EV_POST_CODE*).
	Firmware []Component `json:"firmware,omitempty"`
	// Bootloaders are the UEFI applications started before the kernel, in
	// order (shim, grub, ...).
	Bootloaders []Component `json:"bootloaders,omitempty"`
	Kernel      *Component  `json:"kernel,omitempty"`
	Initrd      *Component  `json:"initrd,omitempty"`
	// Cmdline is the kernel command line's measurement; its Text is set
	// only when the log carries the string and its digest proves it. When
	// both a loader (GRUB, td-shim) and the Linux EFI stub measured it,
	// it is the one whose text is proven.
	Cmdline *Component `json:"cmdline,omitempty"`
	// LoadOptions is the Linux EFI stub's measurement of its command line
	// (UTF-16; the string itself is not in the log).
	LoadOptions *Component     `json:"load_options,omitempty"`
	SecureBoot  *SecureBoot    `json:"secure_boot,omitempty"`
	EventTypes  map[string]int `json:"event_types"`
	// Runtime are the events of the runtime (application) log, in order.
	Runtime []RuntimeEvent `json:"runtime_events,omitempty"`
}

// Component is one measured piece of the boot.
type Component struct {
	// Source says which event established it ("EV_EFI_BOOT_SERVICES_APPLICATION
	// File(\EFI\ubuntu\grubx64.efi)").
	Source   string `json:"source"`
	Digest   string `json:"digest"`
	Text     string `json:"text,omitempty"`
	Register string `json:"register"`
	Event    int    `json:"event"`
}

// SecureBoot is the UEFI secure-boot state the firmware measured
// (EV_EFI_VARIABLE_DRIVER_CONFIG of the SecureBoot variable, whose digest
// must cover its data) and the digests of the key databases' events.
type SecureBoot struct {
	Enabled bool   `json:"enabled"`
	PK      string `json:"pk,omitempty"`
	KEK     string `json:"kek,omitempty"`
	DB      string `json:"db,omitempty"`
	DBX     string `json:"dbx,omitempty"`
}

// RuntimeEvent is one event of the runtime log: an entry of the CoCo
// Attestation Agent event log (AAEL) format, "domain operation content".
type RuntimeEvent struct {
	Register  string `json:"register"`
	Domain    string `json:"domain"`
	Operation string `json:"operation"`
	Content   string `json:"content"`
	Digest    string `json:"digest"`
	Event     int    `json:"event"`
}

// Extract reads the facts of a log that has NOT been replayed, with the
// bank's algorithm and register names: for showing a log, never for
// deciding on one (use Verify).
func Extract(l *eventlog.Log, bank Bank) *Facts {
	f, _ := extract(l.Events, len(l.Events), bank)
	return f
}

// extract reads the facts of events[:boot] (boot log) and events[boot:]
// (runtime log). A runtime event that is not a well-formed entry whose
// digest covers it is an error: the runtime log is the application's, and
// a policy reads its entries word for word.
func extract(events []eventlog.Event, boot int, bank Bank) (*Facts, error) {
	x := extractor{f: &Facts{Algorithm: bank.Alg.String(), EventTypes: map[string]int{}}, bank: bank, fileKernel: -1}
	types := map[eventlog.EventType]int{}
	defer func() {
		for t, n := range types {
			x.f.EventTypes[t.String()] = n
		}
	}()
	for i := range events {
		e := &events[i]
		types[e.Type]++
		if i >= boot {
			if err := x.runtime(e); err != nil {
				return nil, err
			}
			continue
		}
		x.boot(e)
	}
	x.finish()
	return x.f, nil
}

type extractor struct {
	f    *Facts
	bank Bank
	// apps are the boot applications in order; stubEvents counts the
	// Linux EFI stub's tagged events, which say the last application was a
	// kernel.
	apps          []Component
	fileKernel    int // index in apps of the application loaded as File(kernel), -1 if none
	stubEvents    int
	secureBoot    []*eventlog.Event
	secureBootVar *eventlog.Variable
	grubFiles     []grubFile
}

func (x *extractor) register(index uint32) string {
	for _, r := range x.bank.Registers {
		if r.Index == index {
			return r.Name
		}
	}
	return fmt.Sprintf("index %d", index)
}

func (x *extractor) component(e *eventlog.Event, source string) *Component {
	return &Component{Source: source, Digest: hex.EncodeToString(e.Digest(x.bank.Alg)), Register: x.register(e.Index), Event: e.Seq}
}

// provesText reports whether the event's digest is the hash of an
// encoded string, with or without its terminating NUL of nulSize bytes
// (loaders differ).
func (x *extractor) provesText(e *eventlog.Event, s []byte, nulSize int) bool {
	return x.proves(e, s) || x.proves(e, append(append([]byte(nil), s...), make([]byte, nulSize)...))
}

func utf16le(s string) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// proves reports whether the event's digest is the hash of data.
func (x *extractor) proves(e *eventlog.Event, data []byte) bool {
	d := e.Digest(x.bank.Alg)
	return d != nil && bytes.Equal(x.bank.Alg.Sum(data), d)
}

func (x *extractor) boot(e *eventlog.Event) {
	// Runtime entries appended to a CC event log (as CoCo's attestation
	// agent and "ratls rtmr extend" do) sit in RTMR3; other RTMR3 events
	// replay but establish nothing.
	if !x.bank.TPM && e.Index == RuntimeIndex && e.Type == RuntimeEventType {
		if r, err := x.entry(e); err == nil {
			x.f.Runtime = append(x.f.Runtime, *r)
		}
		return
	}
	switch e.Type {
	case eventlog.EvEFIPlatformFirmwareBlob2:
		fb, err := eventlog.ParseFirmwareBlob2(e.Data)
		if err != nil {
			return
		}
		c := x.component(e, e.Type.String()+" "+fb.Description)
		if fb.Description == "td_payload" { // td-shim's kernel
			x.f.Kernel = c
			return
		}
		x.f.Firmware = append(x.f.Firmware, *c)
	case eventlog.EvEFIPlatformFirmwareBlob, eventlog.EvSCRTMContents, eventlog.EvSCRTMVersion, eventlog.EvPostCode, eventlog.EvPostCode2:
		x.f.Firmware = append(x.f.Firmware, *x.component(e, e.Type.String()))
	case eventlog.EvPlatformConfigFlags:
		x.tdPayloadInfo(e)
	case eventlog.EvEFIBootServicesApplication:
		im, err := eventlog.ParseImageLoad(e.Data)
		if err != nil {
			return
		}
		c := x.component(e, strings.TrimSpace(e.Type.String()+" "+im.Path()))
		if n := len(im.DevicePath); n > 0 && im.DevicePath[n-1] == "File(kernel)" { // OVMF direct boot
			x.fileKernel = len(x.apps)
		}
		x.apps = append(x.apps, *c)
	case eventlog.EvEventTag:
		te, err := eventlog.ParseTaggedEvent(e.Data)
		if err != nil {
			return
		}
		switch te.ID {
		case eventlog.TagLinuxLoadOptions:
			// The string is not in the log; it is known when it is the
			// command line a loader logged before (as UTF-16, the form the
			// stub measures).
			x.stubEvents++
			c := x.component(e, "Linux EFI stub LOADED_IMAGE::LoadOptions")
			x.f.LoadOptions = c
			// The stub measured what the kernel parses: it is the command
			// line. Its text is known only when it is the text a loader
			// logged before; otherwise something between the loader and
			// the kernel (a chainload) changed it, and the loader's text
			// says nothing about this kernel.
			// GRUB passes its logged line with "BOOT_IMAGE=" before it.
			if prev := x.f.Cmdline; prev != nil && prev.Text != "" &&
				(x.provesText(e, utf16le(prev.Text), 2) || x.provesText(e, utf16le("BOOT_IMAGE="+prev.Text), 2)) {
				c.Text = prev.Text
			}
			x.f.Cmdline = c
		case eventlog.TagLinuxInitrd:
			x.stubEvents++
			x.f.Initrd = x.component(e, "Linux EFI stub initrd")
		}
	case eventlog.EvIPL:
		x.ipl(e)
	case eventlog.EvEFIVariableDriverConfig:
		v, err := eventlog.ParseVariable(e.Data)
		if err != nil {
			return
		}
		digest := func() string { return hex.EncodeToString(e.Digest(x.bank.Alg)) }
		switch {
		case v.GUID == eventlog.EFIGlobalVariable && v.Name == "SecureBoot":
			x.secureBoot = append(x.secureBoot, e)
			x.secureBootVar = v
		case v.GUID == eventlog.EFIGlobalVariable && v.Name == "PK":
			x.sb().PK = digest()
		case v.GUID == eventlog.EFIGlobalVariable && v.Name == "KEK":
			x.sb().KEK = digest()
		case v.GUID == eventlog.ImageSecurityDatabase && v.Name == "db":
			x.sb().DB = digest()
		case v.GUID == eventlog.ImageSecurityDatabase && v.Name == "dbx":
			x.sb().DBX = digest()
		}
	}
}

func (x *extractor) sb() *SecureBoot {
	if x.f.SecureBoot == nil {
		x.f.SecureBoot = &SecureBoot{}
	}
	return x.f.SecureBoot
}

// tdPayloadInfo reads td-shim's TD_PAYLOAD_INFO event: the descriptor
// "td_payload_info\0", a u32 length, then the kernel command line, which
// the digest covers (NUL padding included).
func (x *extractor) tdPayloadInfo(e *eventlog.Event) {
	const tag = "td_payload_info\x00"
	if !bytes.HasPrefix(e.Data, []byte(tag)) || len(e.Data) < len(tag)+4 {
		return
	}
	n := int(binary.LittleEndian.Uint32(e.Data[len(tag):]))
	body := e.Data[len(tag)+4:]
	if n > len(body) {
		return
	}
	c := x.component(e, "td-shim td_payload_info")
	if x.proves(e, body[:n]) {
		c.Text = eventlog.Text(body[:n])
	}
	x.f.Cmdline = c
}

// iplInteresting reports whether an EV_IPL event's data can be a fact:
// a command line, GRUB's linuxefi markers, or a file path.
func iplInteresting(b []byte) bool {
	if len(b) > 0 && (b[0] == '/' || b[0] == '(') {
		return true
	}
	for _, p := range iplPrefixes {
		if bytes.HasPrefix(b, p) {
			return true
		}
	}
	return false
}

var iplPrefixes = [][]byte{[]byte("kernel_cmdline: "), []byte("grub_kernel_cmdline "), []byte("grub_linuxefi ")}

// cmdlinePrefixes introduce the kernel command line in GRUB's EV_IPL
// strings (upstream and the Anolis/openEuler variant); the digest covers
// what follows the prefix.
var cmdlinePrefixes = []string{"kernel_cmdline: ", "grub_kernel_cmdline "}

// ipl reads GRUB's EV_IPL events: the command line, and the kernel and
// initrd, named by the files GRUB loaded or by its linuxefi markers.
func (x *extractor) ipl(e *eventlog.Event) {
	// Most EV_IPL events are GRUB commands; look at the bytes before
	// making a string of them.
	if !iplInteresting(e.Data) {
		return
	}
	text := eventlog.Text(e.Data)
	for _, p := range cmdlinePrefixes {
		if rest, ok := strings.CutPrefix(text, p); ok {
			c := x.component(e, e.Type.String()+" "+strings.TrimSpace(p))
			if x.provesText(e, []byte(rest), 1) {
				c.Text = rest
			}
			x.f.Cmdline = c
			return
		}
	}
	switch text {
	case "grub_linuxefi Kernel":
		x.f.Kernel = x.component(e, e.Type.String()+" "+text)
		return
	case "grub_linuxefi Initrd":
		x.f.Initrd = x.component(e, e.Type.String()+" "+text)
		return
	}
	// Upstream GRUB measures each file it reads into PCR 9, the event
	// being the file's path.
	if !strings.HasPrefix(text, "/") && !strings.HasPrefix(text, "(") {
		return
	}
	file := text[strings.LastIndexByte(text, ')')+1:]
	base := path.Base(file)
	switch {
	case strings.HasPrefix(base, "initrd") || strings.HasPrefix(base, "initramfs"):
		x.f.Initrd = x.component(e, e.Type.String()+" "+text)
	default:
		x.grubFiles = append(x.grubFiles, grubFile{path: file, kernelName: strings.HasPrefix(base, "vmlinuz") || strings.HasPrefix(base, "bzImage"),
			c: x.component(e, e.Type.String()+" "+text)})
	}
}

// grubFile is a file GRUB read and measured (other than an initrd). Its
// path is not covered by the digest: it is a hint, not a fact.
type grubFile struct {
	path       string
	kernelName bool
	c          *Component
}

// grubKernel picks the kernel among the files GRUB read: the last file it
// read must be named like a kernel and, when the proven command line names
// its BOOT_IMAGE, be that file. Anything else (another file read after the
// kernel, a BOOT_IMAGE naming another file) establishes no kernel fact: a
// configuration that reads the expected kernel and boots another must not
// pass for the expected one.
func (x *extractor) grubKernel() *Component {
	if len(x.grubFiles) == 0 {
		return nil
	}
	last := x.grubFiles[len(x.grubFiles)-1]
	if !last.kernelName {
		return nil
	}
	if cl := x.f.Cmdline; cl != nil && cl.Text != "" {
		// GRUB logs the image as the line's first word; the kernel sees
		// it as BOOT_IMAGE=.
		for i, arg := range strings.Fields(cl.Text) {
			img, ok := strings.CutPrefix(arg, "BOOT_IMAGE=")
			if !ok && i == 0 && (strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, "(")) {
				img, ok = arg, true
			}
			if ok && img[strings.LastIndexByte(img, ')')+1:] != last.path {
				return nil
			}
		}
	}
	return last.c
}

// finish decides which boot application was the kernel, and the secure
// boot state.
func (x *extractor) finish() {
	if x.f.Kernel == nil {
		x.f.Kernel = x.grubKernel()
	}
	kernel := x.fileKernel
	switch {
	case kernel >= 0:
	case x.f.Kernel == nil && x.stubEvents > 0 && len(x.apps) > 0:
		// The Linux EFI stub measured its command line or initrd: the
		// last application started was that kernel.
		kernel = len(x.apps) - 1
	}
	for i := range x.apps {
		if i == kernel {
			k := x.apps[i]
			x.f.Kernel = &k
			continue
		}
		x.f.Bootloaders = append(x.f.Bootloaders, x.apps[i])
	}
	// The secure-boot state is established only by one SecureBoot event
	// whose digest covers its data (the data is what the firmware read, the
	// digest what the register holds); without it there is no secure-boot
	// fact at all.
	if len(x.secureBoot) == 1 && x.proves(x.secureBoot[0], x.secureBoot[0].Data) {
		x.sb().Enabled = bytes.Equal(x.secureBootVar.Data, []byte{1})
	} else {
		x.f.SecureBoot = nil
	}
}

// AAEL entries: "domain operation content", domain and operation without
// white space, content without line breaks, all printable.
func parseEntry(s string) (domain, operation, content string, err error) {
	domain, rest, ok1 := strings.Cut(s, " ")
	operation, content, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || domain == "" || operation == "" {
		return "", "", "", fmt.Errorf("%q is not \"domain operation content\"", s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7F {
			return "", "", "", fmt.Errorf("%q holds a control character", s)
		}
	}
	if strings.ContainsAny(domain+operation, " \t") {
		return "", "", "", fmt.Errorf("%q: domain and operation hold no white space", s)
	}
	return domain, operation, content, nil
}

// runtime records an event of the runtime log, which must be a
// well-formed entry that each of its digests covers.
func (x *extractor) runtime(e *eventlog.Event) error {
	r, err := x.entry(e)
	if err != nil {
		return fmt.Errorf("measuredboot: runtime event %d: %w", e.Seq, err)
	}
	x.f.Runtime = append(x.f.Runtime, *r)
	return nil
}

func (x *extractor) entry(e *eventlog.Event) (*RuntimeEvent, error) {
	for _, d := range e.Digests {
		if !bytes.Equal(d.Alg.Sum(e.Data), d.Value) {
			return nil, fmt.Errorf("its %v digest is not the hash of its entry", d.Alg)
		}
	}
	domain, op, content, err := parseEntry(string(e.Data))
	if err != nil {
		return nil, err
	}
	return &RuntimeEvent{Register: x.register(e.Index), Domain: domain, Operation: op, Content: content,
		Digest: hex.EncodeToString(e.Digest(x.bank.Alg)), Event: e.Seq}, nil
}

// RuntimeIndex is the CC measurement-register index of runtime events:
// TDX RTMR3, which no firmware PCR maps to (UEFI 2.10 §38.4.1).
const RuntimeIndex = 4

// RuntimeEventType is the event type of runtime entries: EV_IPL, which
// loaders (GRUB, systemd-stub) use for measured strings.
const RuntimeEventType = eventlog.EvIPL
