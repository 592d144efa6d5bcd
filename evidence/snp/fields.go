package snp

import "fmt"

// TCBVersion is a TCB_VERSION value from an attestation report: the security
// patch levels (SPLs) of the firmware components that make up the platform
// TCB, packed into eight bytes.
//
// The accessor methods decode the layout used by Milan and Genoa (AMD family
// 19h): byte 0 boot loader, byte 1 TEE, bytes 2-5 reserved, byte 6 SNP,
// byte 7 microcode. Turin (family 1Ah) packs TCB_VERSION differently (it adds
// an FMC SPL and moves other fields). Public sources disagree about the exact
// Turin byte positions, so this package deliberately does not decode it:
// callers handling Turin reports must use the raw value and the AMD SEV-SNP
// firmware ABI specification (56860).
type TCBVersion uint64

// Bytes returns the eight bytes of the TCB version in report order
// (little-endian).
func (t TCBVersion) Bytes() [8]byte {
	var b [8]byte
	for i := range b {
		b[i] = byte(t >> (8 * i))
	}
	return b
}

// BootloaderSPL returns the boot loader SPL (byte 0; Milan/Genoa layout).
func (t TCBVersion) BootloaderSPL() uint8 { return uint8(t) }

// TEESPL returns the TEE (PSP OS) SPL (byte 1; Milan/Genoa layout).
func (t TCBVersion) TEESPL() uint8 { return uint8(t >> 8) }

// SNPSPL returns the SNP firmware SPL (byte 6; Milan/Genoa layout).
func (t TCBVersion) SNPSPL() uint8 { return uint8(t >> 48) }

// MicrocodeSPL returns the CPU microcode SPL (byte 7; Milan/Genoa layout).
func (t TCBVersion) MicrocodeSPL() uint8 { return uint8(t >> 56) }

// String formats the Milan/Genoa interpretation of the TCB version together
// with its raw value.
func (t TCBVersion) String() string {
	return fmt.Sprintf("0x%016x (bl=%d tee=%d snp=%d ucode=%d)",
		uint64(t), t.BootloaderSPL(), t.TEESPL(), t.SNPSPL(), t.MicrocodeSPL())
}

// Guest policy bit positions (SEV-SNP firmware ABI, guest policy structure).
const (
	policyBitSMT              = 16
	policyBitReservedOne      = 17 // reserved, must be one
	policyBitMigrateMA        = 18
	policyBitDebug            = 19
	policyBitSingleSocket     = 20
	policyBitCXLAllow         = 21
	policyBitMemAES256XTS     = 22
	policyBitRAPLDis          = 23
	policyBitCiphertextHiding = 24
	policyBitPageSwapDisable  = 25
	policyHighestKnownBit     = policyBitPageSwapDisable
)

// Policy is the guest policy the guest owner fixed at launch (report offset
// 0x08). ParseReport rejects a policy whose reserved bit 17 is zero or whose
// undefined bits 63:26 are not zero.
type Policy uint64

func (p Policy) bit(n uint) bool { return p&(1<<n) != 0 }

// ABIMinor returns the minimum SNP firmware ABI minor version the guest requires.
func (p Policy) ABIMinor() uint8 { return uint8(p) }

// ABIMajor returns the minimum SNP firmware ABI major version the guest requires.
func (p Policy) ABIMajor() uint8 { return uint8(p >> 8) }

// SMT reports whether the host may use simultaneous multithreading.
func (p Policy) SMT() bool { return p.bit(policyBitSMT) }

// MigrateMA reports whether association with a migration agent is allowed.
func (p Policy) MigrateMA() bool { return p.bit(policyBitMigrateMA) }

// Debug reports whether the host may debug (decrypt) the guest.
func (p Policy) Debug() bool { return p.bit(policyBitDebug) }

// SingleSocket reports whether the guest may only run on a single socket.
func (p Policy) SingleSocket() bool { return p.bit(policyBitSingleSocket) }

// CXLAllow reports whether CXL may be populated with devices or memory.
func (p Policy) CXLAllow() bool { return p.bit(policyBitCXLAllow) }

// MemAES256XTS reports whether AES-256-XTS memory encryption is required.
func (p Policy) MemAES256XTS() bool { return p.bit(policyBitMemAES256XTS) }

// RAPLDis reports whether Running Average Power Limit must be disabled.
func (p Policy) RAPLDis() bool { return p.bit(policyBitRAPLDis) }

// CiphertextHiding reports whether ciphertext hiding for DRAM must be enabled.
func (p Policy) CiphertextHiding() bool { return p.bit(policyBitCiphertextHiding) }

// PageSwapDisable reports whether the guest is barred from the SNP page
// move and swap commands.
func (p Policy) PageSwapDisable() bool { return p.bit(policyBitPageSwapDisable) }

// check enforces the reserved bits of the policy.
func (p Policy) check() error {
	if !p.bit(policyBitReservedOne) {
		return newError(ErrReserved, "policy bit 17 (reserved, must be one)", "1", "0")
	}
	if undefined := uint64(p) >> (policyHighestKnownBit + 1); undefined != 0 {
		return newError(ErrReserved, "policy bits 63:26 (reserved)", "0",
			fmt.Sprintf("0x%x", undefined<<(policyHighestKnownBit+1)))
	}
	return nil
}

// PlatformInfo describes the host platform's configuration (report offset 0x40).
// Bits this package does not name are kept in the value and not rejected,
// because they describe the host rather than restrict the guest.
type PlatformInfo uint64

// SMTEnabled reports whether SMT is enabled on the platform (bit 0).
func (p PlatformInfo) SMTEnabled() bool { return p&(1<<0) != 0 }

// TSMEEnabled reports whether transparent SME is enabled (bit 1).
func (p PlatformInfo) TSMEEnabled() bool { return p&(1<<1) != 0 }

// ECCEnabled reports whether the platform uses ECC memory (bit 2).
func (p PlatformInfo) ECCEnabled() bool { return p&(1<<2) != 0 }

// RAPLDisabled reports whether RAPL is disabled (bit 3).
func (p PlatformInfo) RAPLDisabled() bool { return p&(1<<3) != 0 }

// CiphertextHidingEnabled reports whether DRAM ciphertext hiding is enabled (bit 4).
func (p PlatformInfo) CiphertextHidingEnabled() bool { return p&(1<<4) != 0 }

// AliasCheckComplete reports whether the firmware completed the memory alias
// check since the last reset and found no aliasing (bit 5).
func (p PlatformInfo) AliasCheckComplete() bool { return p&(1<<5) != 0 }

// SigningKey identifies the key that signed a report (signer info bits 4:2).
type SigningKey uint8

// Signing key values defined by the SEV-SNP firmware ABI; 2 to 6 are reserved.
const (
	SigningKeyVCEK SigningKey = 0 // Versioned Chip Endorsement Key
	SigningKeyVLEK SigningKey = 1 // Versioned Loaded Endorsement Key
	SigningKeyNone SigningKey = 7 // the report is not signed
)

// String returns "VCEK", "VLEK", "none" or "reserved(N)".
func (k SigningKey) String() string {
	switch k {
	case SigningKeyVCEK:
		return "VCEK"
	case SigningKeyVLEK:
		return "VLEK"
	case SigningKeyNone:
		return "none"
	default:
		return fmt.Sprintf("reserved(%d)", uint8(k))
	}
}

// SignerInfo is the signer information word at report offset 0x48.
// ParseReport rejects non-zero bits 31:5 and the reserved signing keys 2-6.
type SignerInfo uint32

// AuthorKeyEn reports whether the ID block was signed with an author key
// (AUTHOR_KEY_EN, bit 0).
func (s SignerInfo) AuthorKeyEn() bool { return s&1 != 0 }

// MaskChipKey reports whether the host masked CHIP_ID, which is then all
// zeros (MASK_CHIP_KEY, bit 1).
func (s SignerInfo) MaskChipKey() bool { return s&2 != 0 }

// SigningKey returns the key that signed the report (SIGNING_KEY, bits 4:2).
func (s SignerInfo) SigningKey() SigningKey { return SigningKey((s >> 2) & 7) }

func (s SignerInfo) check() error {
	if undefined := uint32(s) >> 5; undefined != 0 {
		return newError(ErrReserved, "signer_info bits 31:5 (reserved)", "0",
			fmt.Sprintf("0x%x", undefined<<5))
	}
	if k := s.SigningKey(); k != SigningKeyVCEK && k != SigningKeyVLEK && k != SigningKeyNone {
		return newError(ErrValue, "signer_info signing_key", "0 (VCEK), 1 (VLEK) or 7 (none)",
			fmt.Sprintf("%d", uint8(k)))
	}
	return nil
}
