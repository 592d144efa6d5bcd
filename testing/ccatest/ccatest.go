// Package ccatest makes Arm CCA attestation tokens for tests: a platform
// with a fresh platform attestation key (CPAK, P-384, ES384) and fixed
// claims, and tokens whose realm token is signed with a fresh realm
// attestation key (RAK) that the platform token binds, as a CCA platform
// does. It lets tests outside verify/arm forge CCA evidence; trust a
// platform with ratls.VerifyOptions{TEE: []tee.Options{&armcca.Options{Key: p.Public()}}}.
//
// The tokens are legacy collections (CBOR tag 399, the form Veraison's
// evcli makes) with the "http://arm.com/CCA-SSD/1.0.0" platform profile
// and a raw-point RAK. The package is meant for tests only: keys are kept
// in memory in the clear.
package ccatest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"

	"github.com/ratls/ratls/evidence/cca"
)

// PlatformProfile is the platform token's profile claim.
const PlatformProfile = "http://arm.com/CCA-SSD/1.0.0"

// SWComponent is a platform software component claim.
type SWComponent struct {
	Type        string // measurement type, e.g. "BL"
	Measurement []byte // 32 bytes
	Version     string
	SignerID    []byte // 32 bytes
}

// Platform is a CCA platform: its key and the claims of its platform
// tokens. Change the claims before making tokens to test them.
type Platform struct {
	CPAK             *ecdsa.PrivateKey
	ImplementationID []byte // 32 bytes
	InstanceID       []byte // 33 bytes, 0x01 first
	Config           []byte
	Lifecycle        uint16 // 0x3003: secured
	SWComponents     []SWComponent
}

// NewPlatform returns a secured platform with a fresh CPAK and claims made
// of repeated bytes: implementation ID 0x11..., instance ID 0x01 0x22...,
// config 0xcf 0x01, components "BL" (measurement 0x33..., signer 0x44...)
// and "RMM" (0x55..., 0x66...).
func NewPlatform() (*Platform, error) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Platform{
		CPAK:             k,
		ImplementationID: bytes.Repeat([]byte{0x11}, cca.ImplementationIDSize),
		InstanceID:       append([]byte{0x01}, bytes.Repeat([]byte{0x22}, cca.InstanceIDSize-1)...),
		Config:           []byte{0xcf, 0x01},
		Lifecycle:        0x3003,
		SWComponents: []SWComponent{
			{Type: "BL", Measurement: bytes.Repeat([]byte{0x33}, 32), Version: "1.0.0", SignerID: bytes.Repeat([]byte{0x44}, 32)},
			{Type: "RMM", Measurement: bytes.Repeat([]byte{0x55}, 32), Version: "2.0.0", SignerID: bytes.Repeat([]byte{0x66}, 32)},
		},
	}, nil
}

// Public is the CPAK's public key.
func (p *Platform) Public() crypto.PublicKey { return &p.CPAK.PublicKey }

// Realm is the claims of a realm token.
type Realm struct {
	Challenge            []byte   // 64 bytes; shorter values are zero-padded
	PersonalizationValue []byte   // 64 bytes
	InitialMeasurement   []byte   // 32 bytes
	REMs                 [][]byte // 4 x 32 bytes
}

// NewRealm returns a realm whose challenge is nonce zero-padded to 64 bytes
// and whose measurements are made of repeated bytes: personalization 0x77...,
// RIM 0x88..., REMs 0x90..., 0x91..., 0x92..., 0x93....
func NewRealm(nonce []byte) *Realm {
	r := &Realm{
		Challenge:            make([]byte, cca.RealmChallengeSize),
		PersonalizationValue: bytes.Repeat([]byte{0x77}, cca.PersonalizationValueSize),
		InitialMeasurement:   bytes.Repeat([]byte{0x88}, 32),
	}
	copy(r.Challenge, nonce)
	for i := range cca.ExtensibleMeasurementsLen {
		r.REMs = append(r.REMs, bytes.Repeat([]byte{0x90 + byte(i)}, 32))
	}
	return r
}

// Token returns a token collection (tag 399) of a realm token with r's
// claims, signed with a fresh RAK, and of a platform token binding that
// RAK, signed with the CPAK.
func (p *Platform) Token(r *Realm) ([]byte, error) {
	rak, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rakRaw, err := rak.PublicKey.Bytes()
	if err != nil {
		return nil, err
	}
	realm, err := cbor.Marshal(map[int64]any{
		cca.ClaimChallenge:                   r.Challenge,
		cca.ClaimRealmPersonalizationValue:   r.PersonalizationValue,
		cca.ClaimRealmInitialMeasurement:     r.InitialMeasurement,
		cca.ClaimRealmExtensibleMeasurements: r.REMs,
		cca.ClaimRealmHashAlgo:               "sha-256",
		cca.ClaimRealmPublicKey:              rakRaw,
		cca.ClaimRealmPublicKeyHashAlgo:      "sha-256",
	})
	if err != nil {
		return nil, err
	}
	realmTok, err := sign(rak, realm)
	if err != nil {
		return nil, err
	}
	binder := sha256.Sum256(rakRaw)
	comps := make([]map[int64]any, len(p.SWComponents))
	for i, c := range p.SWComponents {
		comps[i] = map[int64]any{1: c.Type, 2: c.Measurement, 4: c.Version, 5: c.SignerID}
	}
	platform, err := cbor.Marshal(map[int64]any{
		cca.ClaimProfile:                     PlatformProfile,
		cca.ClaimChallenge:                   binder[:],
		cca.ClaimPlatformImplementationID:    p.ImplementationID,
		cca.ClaimInstanceID:                  p.InstanceID,
		cca.ClaimPlatformConfig:              p.Config,
		cca.ClaimPlatformLifecycle:           p.Lifecycle,
		cca.ClaimPlatformSWComponents:        comps,
		cca.ClaimPlatformVerificationService: "https://veraison.example/.well-known/veraison/verification",
		cca.ClaimPlatformHashAlgo:            "sha-256",
	})
	if err != nil {
		return nil, err
	}
	platTok, err := sign(p.CPAK, platform)
	if err != nil {
		return nil, err
	}
	return cbor.Marshal(cbor.Tag{Number: cca.TagCollectionLegacy, Content: map[uint64][]byte{
		cca.KeyPlatformToken: platTok,
		cca.KeyRealmToken:    realmTok,
	}})
}

// sign makes a COSE_Sign1 message (tag 18) with ES384.
func sign(key *ecdsa.PrivateKey, payload []byte) ([]byte, error) {
	signer, err := cose.NewSigner(cose.AlgorithmES384, key)
	if err != nil {
		return nil, fmt.Errorf("ccatest: %w", err)
	}
	hdr := cose.Headers{Protected: cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES384}}
	return cose.Sign1(rand.Reader, signer, hdr, payload, nil)
}
