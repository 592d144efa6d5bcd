package cca

import (
	"fmt"
	"maps"
	"slices"

	"github.com/fxamacker/cbor/v2"
)

// Claim keys shared by both tokens (EAT, RFC 9711).
const (
	ClaimProfile    = 265 // eat_profile
	ClaimChallenge  = 10  // eat_nonce
	ClaimInstanceID = 256 // ueid
)

// Platform token claim keys.
const (
	ClaimPlatformLifecycle           = 2395
	ClaimPlatformImplementationID    = 2396
	ClaimPlatformSWComponents        = 2399
	ClaimPlatformVerificationService = 2400
	ClaimPlatformConfig              = 2401
	ClaimPlatformHashAlgo            = 2402
)

// Realm token claim keys.
const (
	ClaimRealmPersonalizationValue   = 44235
	ClaimRealmHashAlgo               = 44236
	ClaimRealmPublicKey              = 44237
	ClaimRealmInitialMeasurement     = 44238
	ClaimRealmExtensibleMeasurements = 44239
	ClaimRealmPublicKeyHashAlgo      = 44240
)

// Software component map keys (PSA attestation token, RFC 9783).
const (
	swMeasurementType  = 1
	swMeasurementValue = 2
	swVersion          = 4
	swSignerID         = 5
	swMeasurementDesc  = 6
)

// Sizes fixed by the CCA token format.
const (
	RealmChallengeSize        = 64
	PersonalizationValueSize  = 64
	ImplementationIDSize      = 32
	InstanceIDSize            = 33
	instanceIDTypeRAND        = 0x01 // UEID type byte of the platform instance ID
	ExtensibleMeasurementsLen = 4
)

// hashSizes are the lengths of a PSA/CCA hash value: SHA-256, -384 or -512.
var hashSizes = []int{32, 48, 64}

// PlatformClaims are the claims of a CCA platform token.
type PlatformClaims struct {
	Profile             string        // 265, e.g. "tag:arm.com,2023:cca_platform#1.0.0"
	Challenge           []byte        // 10, 32, 48 or 64 bytes: binds the realm token
	ImplementationID    []byte        // 2396, 32 bytes
	InstanceID          []byte        // 256, 33 bytes, first byte 0x01
	Config              []byte        // 2401
	Lifecycle           Lifecycle     // 2395
	SWComponents        []SWComponent // 2399, at least one
	VerificationService string        // 2400, optional ("" when absent)
	HashAlgo            string        // 2402, e.g. "sha-256"

	// Unknown holds every claim not listed above, as raw CBOR, keyed by
	// claim key. It is nil when there are none.
	Unknown map[int64]cbor.RawMessage
}

// SWComponent is one entry of the platform software components claim.
type SWComponent struct {
	MeasurementType        string // 1, optional
	MeasurementValue       []byte // 2, 32, 48 or 64 bytes
	Version                string // 4, optional
	SignerID               []byte // 5, 32, 48 or 64 bytes
	MeasurementDescription string // 6, optional; the hash algorithm name in CCA tokens

	// Unknown holds any other entries of the component map, as raw CBOR.
	Unknown map[int64]cbor.RawMessage
}

// RealmClaims are the claims of a CCA realm token.
type RealmClaims struct {
	Profile                string   // 265, optional ("" in legacy tokens)
	Challenge              []byte   // 10, 64 bytes chosen by the verifier
	PersonalizationValue   []byte   // 44235, 64 bytes
	InitialMeasurement     []byte   // 44238, RIM: 32, 48 or 64 bytes
	ExtensibleMeasurements [][]byte // 44239, REM0..REM3: 32, 48 or 64 bytes each
	HashAlgo               string   // 44236, algorithm of the measurements
	// PublicKey is the realm attestation key (RAK) exactly as carried in
	// claim 44237: a raw EC point in legacy tokens, a CBOR COSE_Key in
	// profiled ones. The platform challenge binds these bytes.
	PublicKey         []byte
	PublicKeyHashAlgo string // 44240, algorithm of the binding hash

	// Unknown holds every claim not listed above, as raw CBOR, keyed by
	// claim key. It is nil when there are none.
	Unknown map[int64]cbor.RawMessage
}

// UnknownClaimKeys returns the keys of Unknown in ascending order.
func (c *PlatformClaims) UnknownClaimKeys() []int64 { return slices.Sorted(maps.Keys(c.Unknown)) }

// UnknownClaimKeys returns the keys of Unknown in ascending order.
func (c *RealmClaims) UnknownClaimKeys() []int64 { return slices.Sorted(maps.Keys(c.Unknown)) }

// claimSet tracks the claims of one map while they are consumed, so that the
// remainder is the set of unknown claims.
type claimSet struct {
	m     map[int64]cbor.RawMessage
	field string
}

func (cs *claimSet) name(key int64, label string) string {
	return fmt.Sprintf("%s: claim %d (%s)", cs.field, key, label)
}

// take removes and returns a claim; a missing mandatory claim is an error.
func (cs *claimSet) take(key int64, label string, mandatory bool) (cbor.RawMessage, bool, error) {
	raw, ok := cs.m[key]
	if !ok {
		if mandatory {
			return nil, false, &Error{Pkg: "cca", Kind: ErrMissingClaim, Field: cs.name(key, label), Want: "present", Got: "missing"}
		}
		return nil, false, nil
	}
	delete(cs.m, key)
	return raw, true, nil
}

func (cs *claimSet) bytes(key int64, label string, mandatory bool, sizes ...int) ([]byte, error) {
	raw, ok, err := cs.take(key, label, mandatory)
	if err != nil || !ok {
		return nil, err
	}
	field := cs.name(key, label)
	b, err := decodeBytes(raw, field)
	if err != nil {
		return nil, err
	}
	if err := checkSize(b, field, sizes...); err != nil {
		return nil, err
	}
	return b, nil
}

func (cs *claimSet) text(key int64, label string, mandatory bool) (string, error) {
	raw, ok, err := cs.take(key, label, mandatory)
	if err != nil || !ok {
		return "", err
	}
	field := cs.name(key, label)
	s, err := decodeText(raw, field)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", &Error{Pkg: "cca", Kind: ErrInvalidClaim, Field: field, Want: "non-empty text", Got: "empty text"}
	}
	return s, nil
}

// rest returns the claims not taken, or nil if there are none.
func (cs *claimSet) rest() map[int64]cbor.RawMessage {
	if len(cs.m) == 0 {
		return nil
	}
	return cs.m
}

// checkSize checks len(b) against the allowed sizes (any size if none given).
func checkSize(b []byte, field string, sizes ...int) error {
	if len(sizes) == 0 || slices.Contains(sizes, len(b)) {
		return nil
	}
	want := fmt.Sprint(sizes[0])
	for i, n := range sizes[1:] {
		sep := ", "
		if i == len(sizes)-2 {
			sep = " or "
		}
		want += sep + fmt.Sprint(n)
	}
	want += " bytes"
	return &Error{Pkg: "cca", Kind: ErrInvalidClaim, Field: field, Want: want, Got: fmt.Sprintf("%d bytes", len(b))}
}

func parsePlatformClaims(payload []byte, field string) (PlatformClaims, error) {
	var c PlatformClaims
	m, err := decodeIntMap(payload, field)
	if err != nil {
		return c, err
	}
	cs := &claimSet{m: m, field: field}
	if c.Profile, err = cs.text(ClaimProfile, "profile", true); err != nil {
		return c, err
	}
	if c.Challenge, err = cs.bytes(ClaimChallenge, "challenge", true, hashSizes...); err != nil {
		return c, err
	}
	if c.ImplementationID, err = cs.bytes(ClaimPlatformImplementationID, "implementation id", true, ImplementationIDSize); err != nil {
		return c, err
	}
	if c.InstanceID, err = cs.bytes(ClaimInstanceID, "instance id", true, InstanceIDSize); err != nil {
		return c, err
	}
	if c.InstanceID[0] != instanceIDTypeRAND {
		return c, &Error{Pkg: "cca", Kind: ErrInvalidClaim, Field: cs.name(ClaimInstanceID, "instance id") + " type byte",
			Want: "0x01", Got: fmt.Sprintf("0x%02x", c.InstanceID[0])}
	}
	if c.Config, err = cs.bytes(ClaimPlatformConfig, "config", true); err != nil {
		return c, err
	}
	if len(c.Config) == 0 {
		return c, &Error{Pkg: "cca", Kind: ErrInvalidClaim, Field: cs.name(ClaimPlatformConfig, "config"), Want: "non-empty byte string", Got: "empty"}
	}
	if c.Lifecycle, err = cs.lifecycle(); err != nil {
		return c, err
	}
	if c.SWComponents, err = cs.swComponents(); err != nil {
		return c, err
	}
	if c.VerificationService, err = cs.text(ClaimPlatformVerificationService, "verification service", false); err != nil {
		return c, err
	}
	if c.HashAlgo, err = cs.text(ClaimPlatformHashAlgo, "hash algorithm", true); err != nil {
		return c, err
	}
	c.Unknown = cs.rest()
	return c, nil
}

func (cs *claimSet) lifecycle() (Lifecycle, error) {
	raw, _, err := cs.take(ClaimPlatformLifecycle, "lifecycle", true)
	if err != nil {
		return 0, err
	}
	field := cs.name(ClaimPlatformLifecycle, "lifecycle")
	v, err := decodeUint(raw, field)
	if err != nil {
		return 0, err
	}
	if v > 0xffff || !Lifecycle(v).State().Valid() {
		return 0, &Error{Pkg: "cca", Kind: ErrInvalidClaim, Field: field,
			Want: "a value in 0x0000-0x00ff, 0x1000-0x10ff, ..., 0x6000-0x60ff", Got: fmt.Sprintf("0x%x", v)}
	}
	return Lifecycle(v), nil
}

func (cs *claimSet) swComponents() ([]SWComponent, error) {
	raw, _, err := cs.take(ClaimPlatformSWComponents, "software components", true)
	if err != nil {
		return nil, err
	}
	field := cs.name(ClaimPlatformSWComponents, "software components")
	items, err := decodeArray(raw, field)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, &Error{Pkg: "cca", Kind: ErrInvalidClaim, Field: field, Want: "at least one component", Got: "empty array"}
	}
	out := make([]SWComponent, len(items))
	for i, item := range items {
		itemField := fmt.Sprintf("%s: component %d", field, i)
		m, err := decodeIntMap(item, itemField)
		if err != nil {
			return nil, err
		}
		ics := &claimSet{m: m, field: itemField}
		sw := &out[i]
		if sw.MeasurementType, err = ics.text(swMeasurementType, "measurement type", false); err != nil {
			return nil, err
		}
		if sw.MeasurementValue, err = ics.bytes(swMeasurementValue, "measurement value", true, hashSizes...); err != nil {
			return nil, err
		}
		if sw.Version, err = ics.text(swVersion, "version", false); err != nil {
			return nil, err
		}
		if sw.SignerID, err = ics.bytes(swSignerID, "signer id", true, hashSizes...); err != nil {
			return nil, err
		}
		if sw.MeasurementDescription, err = ics.text(swMeasurementDesc, "measurement description", false); err != nil {
			return nil, err
		}
		sw.Unknown = ics.rest()
	}
	return out, nil
}

func parseRealmClaims(payload []byte, field string) (RealmClaims, error) {
	var c RealmClaims
	m, err := decodeIntMap(payload, field)
	if err != nil {
		return c, err
	}
	cs := &claimSet{m: m, field: field}
	if c.Profile, err = cs.text(ClaimProfile, "profile", false); err != nil {
		return c, err
	}
	if c.Challenge, err = cs.bytes(ClaimChallenge, "challenge", true, RealmChallengeSize); err != nil {
		return c, err
	}
	if c.PersonalizationValue, err = cs.bytes(ClaimRealmPersonalizationValue, "personalization value", true, PersonalizationValueSize); err != nil {
		return c, err
	}
	if c.InitialMeasurement, err = cs.bytes(ClaimRealmInitialMeasurement, "initial measurement", true, hashSizes...); err != nil {
		return c, err
	}
	if c.ExtensibleMeasurements, err = cs.extensibleMeasurements(); err != nil {
		return c, err
	}
	if c.HashAlgo, err = cs.text(ClaimRealmHashAlgo, "hash algorithm", true); err != nil {
		return c, err
	}
	if c.PublicKey, err = cs.bytes(ClaimRealmPublicKey, "public key", true); err != nil {
		return c, err
	}
	if len(c.PublicKey) == 0 {
		return c, &Error{Pkg: "cca", Kind: ErrInvalidClaim, Field: cs.name(ClaimRealmPublicKey, "public key"), Want: "non-empty byte string", Got: "empty"}
	}
	if c.PublicKeyHashAlgo, err = cs.text(ClaimRealmPublicKeyHashAlgo, "public key hash algorithm", true); err != nil {
		return c, err
	}
	c.Unknown = cs.rest()
	return c, nil
}

func (cs *claimSet) extensibleMeasurements() ([][]byte, error) {
	raw, _, err := cs.take(ClaimRealmExtensibleMeasurements, "extensible measurements", true)
	if err != nil {
		return nil, err
	}
	field := cs.name(ClaimRealmExtensibleMeasurements, "extensible measurements")
	items, err := decodeArray(raw, field)
	if err != nil {
		return nil, err
	}
	if len(items) != ExtensibleMeasurementsLen {
		return nil, &Error{Pkg: "cca", Kind: ErrInvalidClaim, Field: field, Want: "4 measurements", Got: fmt.Sprintf("%d", len(items))}
	}
	out := make([][]byte, len(items))
	for i, item := range items {
		itemField := fmt.Sprintf("%s: REM%d", field, i)
		if out[i], err = decodeBytes(item, itemField); err != nil {
			return nil, err
		}
		if err := checkSize(out[i], itemField, hashSizes...); err != nil {
			return nil, err
		}
	}
	return out, nil
}
