package eventlog

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"

	"github.com/ratls/ratls/internal/sm3"
)

// Alg is a TCG algorithm identifier (TPM_ALG_ID) naming an event digest's
// hash.
type Alg uint16

// The digest algorithms event logs use.
const (
	SHA1   Alg = 0x0004
	SHA256 Alg = 0x000B
	SHA384 Alg = 0x000C
	SHA512 Alg = 0x000D
	SM3    Alg = 0x0012
)

// Size is the digest size of a known algorithm, 0 for others.
func (a Alg) Size() int {
	switch a {
	case SHA1:
		return sha1.Size
	case SHA256, SM3:
		return 32
	case SHA384:
		return 48
	case SHA512:
		return 64
	}
	return 0
}

// New returns a hash of the algorithm, nil for an unknown one.
func (a Alg) New() hash.Hash {
	switch a {
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	case SHA384:
		return sha512.New384()
	case SHA512:
		return sha512.New()
	case SM3:
		return sm3.New()
	}
	return nil
}

// Sum hashes data with the algorithm; nil for an unknown one.
func (a Alg) Sum(data []byte) []byte {
	h := a.New()
	if h == nil {
		return nil
	}
	h.Write(data)
	return h.Sum(nil)
}

func (a Alg) String() string {
	switch a {
	case SHA1:
		return "SHA-1"
	case SHA256:
		return "SHA-256"
	case SHA384:
		return "SHA-384"
	case SHA512:
		return "SHA-512"
	case SM3:
		return "SM3"
	}
	return fmt.Sprintf("alg 0x%04x", uint16(a))
}

// ParseAlg reads an algorithm name as String writes it, or as sha256,
// sha384, sm3 (the names the Linux measurement-register files use).
func ParseAlg(s string) (Alg, error) {
	for _, a := range []Alg{SHA1, SHA256, SHA384, SHA512, SM3} {
		if s == a.String() || s == a.shortName() {
			return a, nil
		}
	}
	return 0, fmt.Errorf("unknown hash algorithm %q (want sha256, sha384, sha512 or sm3)", s)
}

func (a Alg) shortName() string {
	switch a {
	case SHA1:
		return "sha1"
	case SHA256:
		return "sha256"
	case SHA384:
		return "sha384"
	case SHA512:
		return "sha512"
	case SM3:
		return "sm3"
	}
	return ""
}

// EventType is a TCG PC Client event type.
type EventType uint32

// Event types of the TCG PC Client Platform Firmware Profile (§10.4.1).
const (
	EvPrebootCert                EventType = 0x00000000
	EvPostCode                   EventType = 0x00000001
	EvNoAction                   EventType = 0x00000003
	EvSeparator                  EventType = 0x00000004
	EvAction                     EventType = 0x00000005
	EvEventTag                   EventType = 0x00000006
	EvSCRTMContents              EventType = 0x00000007
	EvSCRTMVersion               EventType = 0x00000008
	EvCPUMicrocode               EventType = 0x00000009
	EvPlatformConfigFlags        EventType = 0x0000000A
	EvTableOfDevices             EventType = 0x0000000B
	EvCompactHash                EventType = 0x0000000C
	EvIPL                        EventType = 0x0000000D
	EvIPLPartitionData           EventType = 0x0000000E
	EvNonhostCode                EventType = 0x0000000F
	EvNonhostConfig              EventType = 0x00000010
	EvNonhostInfo                EventType = 0x00000011
	EvOmitBootDeviceEvents       EventType = 0x00000012
	EvPostCode2                  EventType = 0x00000013
	EvEFIVariableDriverConfig    EventType = 0x80000001
	EvEFIVariableBoot            EventType = 0x80000002
	EvEFIBootServicesApplication EventType = 0x80000003
	EvEFIBootServicesDriver      EventType = 0x80000004
	EvEFIRuntimeServicesDriver   EventType = 0x80000005
	EvEFIGPTEvent                EventType = 0x80000006
	EvEFIAction                  EventType = 0x80000007
	EvEFIPlatformFirmwareBlob    EventType = 0x80000008
	EvEFIHandoffTables           EventType = 0x80000009
	EvEFIPlatformFirmwareBlob2   EventType = 0x8000000A
	EvEFIHandoffTables2          EventType = 0x8000000B
	EvEFIVariableBoot2           EventType = 0x8000000C
	EvEFIGPTEvent2               EventType = 0x8000000D
	EvEFIHCRTMEvent              EventType = 0x80000010
	EvEFIVariableAuthority       EventType = 0x800000E0
	EvEFISPDMFirmwareBlob        EventType = 0x800000E1
	EvEFISPDMFirmwareConfig      EventType = 0x800000E2
	EvEFISPDMDevicePolicy        EventType = 0x800000E3
	EvEFISPDMDeviceAuthority     EventType = 0x800000E4
)

var eventTypeNames = map[EventType]string{
	EvPrebootCert: "EV_PREBOOT_CERT", EvPostCode: "EV_POST_CODE", 0x2: "EV_UNUSED", EvNoAction: "EV_NO_ACTION",
	EvSeparator: "EV_SEPARATOR", EvAction: "EV_ACTION", EvEventTag: "EV_EVENT_TAG", EvSCRTMContents: "EV_S_CRTM_CONTENTS",
	EvSCRTMVersion: "EV_S_CRTM_VERSION", EvCPUMicrocode: "EV_CPU_MICROCODE", EvPlatformConfigFlags: "EV_PLATFORM_CONFIG_FLAGS",
	EvTableOfDevices: "EV_TABLE_OF_DEVICES", EvCompactHash: "EV_COMPACT_HASH", EvIPL: "EV_IPL", EvIPLPartitionData: "EV_IPL_PARTITION_DATA",
	EvNonhostCode: "EV_NONHOST_CODE", EvNonhostConfig: "EV_NONHOST_CONFIG", EvNonhostInfo: "EV_NONHOST_INFO",
	EvOmitBootDeviceEvents: "EV_OMIT_BOOT_DEVICE_EVENTS", EvPostCode2: "EV_POST_CODE2",
	EvEFIVariableDriverConfig: "EV_EFI_VARIABLE_DRIVER_CONFIG", EvEFIVariableBoot: "EV_EFI_VARIABLE_BOOT",
	EvEFIBootServicesApplication: "EV_EFI_BOOT_SERVICES_APPLICATION", EvEFIBootServicesDriver: "EV_EFI_BOOT_SERVICES_DRIVER",
	EvEFIRuntimeServicesDriver: "EV_EFI_RUNTIME_SERVICES_DRIVER", EvEFIGPTEvent: "EV_EFI_GPT_EVENT", EvEFIAction: "EV_EFI_ACTION",
	EvEFIPlatformFirmwareBlob: "EV_EFI_PLATFORM_FIRMWARE_BLOB", EvEFIHandoffTables: "EV_EFI_HANDOFF_TABLES",
	EvEFIPlatformFirmwareBlob2: "EV_EFI_PLATFORM_FIRMWARE_BLOB2", EvEFIHandoffTables2: "EV_EFI_HANDOFF_TABLES2",
	EvEFIVariableBoot2: "EV_EFI_VARIABLE_BOOT2", EvEFIGPTEvent2: "EV_EFI_GPT_EVENT2", EvEFIHCRTMEvent: "EV_EFI_HCRTM_EVENT",
	EvEFIVariableAuthority: "EV_EFI_VARIABLE_AUTHORITY", EvEFISPDMFirmwareBlob: "EV_EFI_SPDM_FIRMWARE_BLOB",
	EvEFISPDMFirmwareConfig: "EV_EFI_SPDM_FIRMWARE_CONFIG", EvEFISPDMDevicePolicy: "EV_EFI_SPDM_DEVICE_POLICY",
	EvEFISPDMDeviceAuthority: "EV_EFI_SPDM_DEVICE_AUTHORITY",
}

func (t EventType) String() string {
	if n, ok := eventTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("EV_0x%08X", uint32(t))
}
