package eventlog

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// GUID is an EFI GUID as it is stored (the first three fields
// little-endian).
type GUID [16]byte

func (g GUID) String() string {
	// Without fmt: logs hold many GUIDs, and this is on the replay path.
	var be [16]byte
	binary.BigEndian.PutUint32(be[0:], binary.LittleEndian.Uint32(g[0:]))
	binary.BigEndian.PutUint16(be[4:], binary.LittleEndian.Uint16(g[4:]))
	binary.BigEndian.PutUint16(be[6:], binary.LittleEndian.Uint16(g[6:]))
	copy(be[8:], g[8:])
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 36)
	for i, c := range be {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, digits[c>>4], digits[c&0xF])
	}
	return string(out)
}

// Well-known variable namespaces.
var (
	// EFIGlobalVariable holds SecureBoot, PK, KEK, Boot####, BootOrder.
	EFIGlobalVariable = mustGUID("8BE4DF61-93CA-11D2-AA0D-00E098032B8C")
	// ImageSecurityDatabase holds db and dbx.
	ImageSecurityDatabase = mustGUID("D719B2CB-3D3A-4596-A3BC-DAD00E67656F")
	// ShimLock holds shim's MokList, SbatLevel and their kin.
	ShimLock = mustGUID("605DAB50-E046-4300-ABB6-3DD810DD8B23")
)

func mustGUID(s string) GUID {
	h, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(h) != 16 {
		panic("bad GUID " + s)
	}
	var g GUID
	binary.LittleEndian.PutUint32(g[0:], binary.BigEndian.Uint32(h[0:]))
	binary.LittleEndian.PutUint16(g[4:], binary.BigEndian.Uint16(h[4:]))
	binary.LittleEndian.PutUint16(g[6:], binary.BigEndian.Uint16(h[6:]))
	copy(g[8:], h[8:])
	return g
}

// Variable is a UEFI_VARIABLE_DATA event (EV_EFI_VARIABLE_*).
type Variable struct {
	GUID GUID
	Name string
	Data []byte
}

// ParseVariable decodes UEFI_VARIABLE_DATA: VariableName GUID,
// UnicodeNameLength and VariableDataLength (u64, in characters and bytes),
// the UTF-16 name and the data. Nothing may follow.
func ParseVariable(b []byte) (*Variable, error) {
	r := reader{b: b, what: "UEFI_VARIABLE_DATA: "}
	g, err := r.bytes(16, "VariableName")
	if err != nil {
		return nil, err
	}
	nameLen, err := r.u64("UnicodeNameLength")
	if err != nil {
		return nil, err
	}
	dataLen, err := r.u64("VariableDataLength")
	if err != nil {
		return nil, err
	}
	if nameLen > uint64(len(b)) || dataLen > uint64(len(b)) {
		return nil, fmt.Errorf("%w: UEFI_VARIABLE_DATA lengths %d, %d exceed the event's %d bytes", ErrTruncated, nameLen, dataLen, len(b))
	}
	name, err := r.bytes(int(nameLen)*2, "UnicodeName")
	if err != nil {
		return nil, err
	}
	data, err := r.bytes(int(dataLen), "VariableData")
	if err != nil {
		return nil, err
	}
	if r.off != len(b) {
		return nil, fmt.Errorf("%w: UEFI_VARIABLE_DATA has %d bytes after VariableData", ErrFormat, len(b)-r.off)
	}
	v := &Variable{Name: utf16String(name), Data: data}
	copy(v.GUID[:], g)
	return v, nil
}

// ImageLoad is a UEFI_IMAGE_LOAD_EVENT (EV_EFI_BOOT_SERVICES_APPLICATION
// and the driver events): where the image was loaded and its device path.
type ImageLoad struct {
	Address, Length, LinkTimeAddress uint64
	// DevicePath renders the image's device path in the UEFI text form
	// (Pci(Device,Function), as UEFI writes it), one element per node
	// ("File(\EFI\BOOT\BOOTX64.EFI)"); empty when the loader gave none.
	DevicePath []string
}

// Path is the device path as one string.
func (im *ImageLoad) Path() string { return strings.Join(im.DevicePath, "/") }

// ParseImageLoad decodes a UEFI_IMAGE_LOAD_EVENT.
func ParseImageLoad(b []byte) (*ImageLoad, error) {
	r := reader{b: b, what: "UEFI_IMAGE_LOAD_EVENT: "}
	var im ImageLoad
	var err error
	if im.Address, err = r.u64("ImageLocationInMemory"); err != nil {
		return nil, err
	}
	if im.Length, err = r.u64("ImageLengthInMemory"); err != nil {
		return nil, err
	}
	if im.LinkTimeAddress, err = r.u64("ImageLinkTimeAddress"); err != nil {
		return nil, err
	}
	n, err := r.u64("LengthOfDevicePath")
	if err != nil {
		return nil, err
	}
	if n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: device path of %d bytes in a %d-byte event", ErrTruncated, n, len(b))
	}
	dp, err := r.bytes(int(n), "DevicePath")
	if err != nil {
		return nil, err
	}
	im.DevicePath = devicePath(dp)
	return &im, nil
}

// devicePath renders the nodes of an EFI device path the way the UEFI
// shell does for the common ones; others are shown as Path(type,subtype,hex).
func devicePath(b []byte) []string {
	var out []string
	for len(b) >= 4 {
		typ, sub, n := b[0], b[1], int(binary.LittleEndian.Uint16(b[2:]))
		if n < 4 || n > len(b) {
			out = append(out, fmt.Sprintf("Invalid(%x)", b))
			break
		}
		node := b[4:n]
		b = b[n:]
		if typ == 0x7F { // end of path (instance)
			if sub == 0xFF {
				break
			}
			continue
		}
		out = append(out, deviceNode(typ, sub, node))
	}
	return out
}

// deviceNode renders one node, without fmt for the common ones: a log
// names many images.
func deviceNode(typ, sub byte, d []byte) string {
	switch {
	case typ == 1 && sub == 1 && len(d) == 2:
		return "Pci(" + strconv.Itoa(int(d[1])) + "," + strconv.Itoa(int(d[0])) + ")"
	case typ == 2 && sub == 1 && len(d) == 8:
		hid := binary.LittleEndian.Uint32(d)
		if hid&0xFFFF == 0x41D0 {
			return "ACPI(PNP" + strings.ToUpper(hex.EncodeToString([]byte{byte(hid >> 24), byte(hid >> 16)})) + "," + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(d[4:])), 10) + ")"
		}
		return fmt.Sprintf("ACPI(%08X,%d)", hid, binary.LittleEndian.Uint32(d[4:]))
	case typ == 4 && sub == 1 && len(d) == 38:
		var sig GUID
		copy(sig[:], d[20:36])
		format := map[byte]string{1: "MBR", 2: "GPT"}[d[36]]
		return "HD(" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(d)), 10) + "," + format + "," + sig.String() +
			",0x" + strconv.FormatUint(binary.LittleEndian.Uint64(d[4:]), 16) + ",0x" + strconv.FormatUint(binary.LittleEndian.Uint64(d[12:]), 16) + ")"
	case typ == 4 && sub == 3 && len(d) >= 16:
		var g GUID
		copy(g[:], d)
		return fmt.Sprintf("VenMedia(%s,%x)", g, d[16:])
	case typ == 4 && sub == 4:
		return "File(" + utf16String(d) + ")"
	case typ == 4 && (sub == 6 || sub == 7) && len(d) == 16:
		var g GUID
		copy(g[:], d)
		return map[byte]string{6: "FvFile", 7: "Fv"}[sub] + "(" + g.String() + ")"
	}
	return fmt.Sprintf("Path(%d,%d,%x)", typ, sub, d)
}

// FirmwareBlob2 is a UEFI_PLATFORM_FIRMWARE_BLOB2: a described region of
// firmware (EV_EFI_PLATFORM_FIRMWARE_BLOB2).
type FirmwareBlob2 struct {
	Description  string
	Base, Length uint64
}

// ParseFirmwareBlob2 decodes a UEFI_PLATFORM_FIRMWARE_BLOB2.
func ParseFirmwareBlob2(b []byte) (*FirmwareBlob2, error) {
	r := reader{b: b, what: "UEFI_PLATFORM_FIRMWARE_BLOB2: "}
	n, err := r.bytes(1, "BlobDescriptionSize")
	if err != nil {
		return nil, err
	}
	desc, err := r.bytes(int(n[0]), "BlobDescription")
	if err != nil {
		return nil, err
	}
	var fb FirmwareBlob2
	if fb.Base, err = r.u64("BlobBase"); err != nil {
		return nil, err
	}
	if fb.Length, err = r.u64("BlobLength"); err != nil {
		return nil, err
	}
	fb.Description = Text(desc)
	return &fb, nil
}

// TaggedEvent is a TCG_PCClientTaggedEvent (EV_EVENT_TAG).
type TaggedEvent struct {
	ID   uint32
	Data []byte
}

// Tagged event IDs the Linux EFI stub uses (drivers/firmware/efi/libstub).
const (
	TagLinuxInitrd      = 0x8F3B22EC // "Linux initrd": the initrd's digest
	TagLinuxLoadOptions = 0x8F3B22ED // "LOADED_IMAGE::LoadOptions": the command line's digest
)

// ParseTaggedEvent decodes a TCG_PCClientTaggedEvent.
func ParseTaggedEvent(b []byte) (*TaggedEvent, error) {
	r := reader{b: b, what: "TCG_PCClientTaggedEvent: "}
	id, err := r.u32("taggedEventID")
	if err != nil {
		return nil, err
	}
	n, err := r.u32("taggedEventDataSize")
	if err != nil {
		return nil, err
	}
	if n > uint32(len(b)) {
		return nil, fmt.Errorf("%w: tagged event data of %d bytes in a %d-byte event", ErrTruncated, n, len(b))
	}
	data, err := r.bytes(int(n), "taggedEventData")
	if err != nil {
		return nil, err
	}
	return &TaggedEvent{ID: id, Data: data}, nil
}

// Text reads event data as a string: up to the first NUL (loaders leave
// garbage after it), with invalid UTF-8 and control characters other than
// tab and newline replaced, so it can be shown and matched safely.
func Text(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if printableASCII(b) {
		return string(b)
	}
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (r < 0x20 && r != '\t' && r != '\n') || r == 0x7F {
			return '\uFFFD'
		}
		return r
	}, string(b))
}

func printableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' || c >= 0x7F {
			return false
		}
	}
	return true
}

// utf16String decodes little-endian UTF-16 up to the first NUL.
func utf16String(b []byte) string {
	// Device paths and variable names are ASCII: decode those directly.
	ascii := make([]byte, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		if c >= 0x80 {
			return utf16Slow(b)
		}
		ascii = append(ascii, byte(c))
	}
	return Text(ascii)
}

func utf16Slow(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return Text([]byte(string(utf16.Decode(u))))
}

func (r *reader) u64(field string) (uint64, error) {
	v, err := r.bytes(8, field)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(v), nil
}
