package azuretest

import (
	"crypto/sha256"
	"encoding/binary"
	"unicode/utf16"

	"github.com/ratls/ratls/evidence/eventlog"
)

// Digests of the images in SampleEventLog: stand-ins for Authenticode
// hashes, named so tests can refer to them.
var (
	ShimDigest   = sha256.Sum256([]byte("azuretest shimx64.efi"))
	GrubDigest   = sha256.Sum256([]byte("azuretest grubx64.efi"))
	KernelDigest = sha256.Sum256([]byte("azuretest vmlinuz"))
	InitrdDigest = sha256.Sum256([]byte("azuretest initrd"))
)

// SampleCmdline is the command line SampleEventLog's GRUB measures.
const SampleCmdline = "/vmlinuz-6.8.0-azure root=/dev/sda1 ro console=ttyS0"

// SampleEventLog is a SHA-256 UEFI event log of a vTPM VM booting shim,
// GRUB and Linux with secure boot on (secureBoot false: off): firmware
// version in PCR 0, SecureBoot/PK/KEK/db/dbx in PCR 7, separators, the
// boot applications in PCR 4, GRUB's kernel and initrd files in PCR 9 and
// its kernel command line in PCR 8.
func SampleEventLog(secureBoot bool) []byte {
	b := eventlog.AppendHeader(nil, []eventlog.Alg{eventlog.SHA256})
	add := func(index uint32, typ eventlog.EventType, data []byte, digest []byte) {
		e := eventlog.NewEvent(index, typ, data, eventlog.SHA256)
		if digest != nil {
			e.Digests[0].Value = digest
		}
		b = eventlog.AppendEvent(b, &e)
	}
	add(0, eventlog.EvSCRTMVersion, utf16z("Hyper-V UEFI Release v4.1"), nil)
	sb := byte(0)
	if secureBoot {
		sb = 1
	}
	add(7, eventlog.EvEFIVariableDriverConfig, variable(eventlog.EFIGlobalVariable, "SecureBoot", []byte{sb}), nil)
	for _, v := range []struct {
		guid eventlog.GUID
		name string
	}{{eventlog.EFIGlobalVariable, "PK"}, {eventlog.EFIGlobalVariable, "KEK"}, {eventlog.ImageSecurityDatabase, "db"}, {eventlog.ImageSecurityDatabase, "dbx"}} {
		add(7, eventlog.EvEFIVariableDriverConfig, variable(v.guid, v.name, []byte("keys of "+v.name)), nil)
	}
	for i := uint32(0); i <= 7; i++ {
		add(i, eventlog.EvSeparator, []byte{0, 0, 0, 0}, nil)
	}
	add(4, eventlog.EvEFIBootServicesApplication, imageLoad(`\EFI\ubuntu\shimx64.efi`), ShimDigest[:])
	add(4, eventlog.EvEFIBootServicesApplication, imageLoad(`\EFI\ubuntu\grubx64.efi`), GrubDigest[:])
	add(9, eventlog.EvIPL, []byte("/vmlinuz-6.8.0-azure\x00"), KernelDigest[:])
	add(9, eventlog.EvIPL, []byte("/initrd.img-6.8.0-azure\x00"), InitrdDigest[:])
	cmd := sha256.Sum256([]byte(SampleCmdline))
	add(8, eventlog.EvIPL, []byte("kernel_cmdline: "+SampleCmdline+"\x00"), cmd[:])
	add(5, eventlog.EvEFIAction, []byte("Exit Boot Services Invocation"), nil)
	return b
}

func utf16z(s string) []byte {
	var b []byte
	for _, c := range append(utf16.Encode([]rune(s)), 0) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

func variable(g eventlog.GUID, name string, data []byte) []byte {
	n := utf16.Encode([]rune(name))
	b := append([]byte(nil), g[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(n)))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(data)))
	for _, c := range n {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return append(b, data...)
}

// imageLoad is a UEFI_IMAGE_LOAD_EVENT whose device path is one File node.
func imageLoad(path string) []byte {
	file := utf16z(path)
	node := append([]byte{4, 4, 0, 0}, file...)
	binary.LittleEndian.PutUint16(node[2:], uint16(len(node)))
	dp := append(node, 0x7F, 0xFF, 4, 0)
	b := make([]byte, 32)
	binary.LittleEndian.PutUint64(b[24:], uint64(len(dp)))
	return append(b, dp...)
}
