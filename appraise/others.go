package appraise

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/cca"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/internal/strictjson"
	"github.com/ratls/ratls/verify/amd"
	"github.com/ratls/ratls/verify/arm"
	"github.com/ratls/ratls/verify/checks"
)

// SNPReference holds reference values and rules for AMD SEV-SNP guests.
type SNPReference struct {
	Measurement     []string `json:"measurement,omitempty"`
	HostData        []string `json:"host_data,omitempty"`
	IDKeyDigest     []string `json:"id_key_digest,omitempty"`
	AuthorKeyDigest []string `json:"author_key_digest,omitempty"`
	FamilyID        []string `json:"family_id,omitempty"`
	ImageID         []string `json:"image_id,omitempty"`
	// MinGuestSVN is the lowest acceptable guest security version.
	MinGuestSVN *uint32 `json:"min_guest_svn,omitempty"`
	// MinTCB is the lowest acceptable REPORTED_TCB, per component.
	MinTCB *SNPTCB `json:"min_tcb,omitempty"`
	// VMPL lists the acceptable VM privilege levels. Empty means those up
	// to MaxVMPL.
	VMPL []uint32 `json:"vmpl,omitempty"`
	// MaxVMPL is the highest (least privileged) acceptable VM privilege
	// level; default 0, the guest's most privileged level. A report
	// requested at a higher VMPL comes from software the guest kernel does
	// not control in the same way (an SVSM or paravisor sits below it).
	MaxVMPL *uint32 `json:"max_vmpl,omitempty"`
	// SigningKeys lists the acceptable signing keys, "vcek" and/or "vlek";
	// empty means both.
	SigningKeys []string `json:"signing_keys,omitempty"`
	// AllowMigrationAgent accepts guests whose policy allows a migration
	// agent (which can export the guest's memory).
	AllowMigrationAgent bool `json:"allow_migration_agent,omitempty"`
	// AllowNoCRL accepts a verification that had no AMD CRL to check the
	// ASK/ASVK against (offline, without a crl file).
	AllowNoCRL bool `json:"allow_no_crl,omitempty"`
}

// SNPTCB names SEV-SNP TCB components (security patch levels).
type SNPTCB struct {
	Bootloader uint8 `json:"bootloader"`
	TEE        uint8 `json:"tee"`
	SNP        uint8 `json:"snp"`
	Microcode  uint8 `json:"microcode"`
}

// CCAReference holds reference values and rules for Arm CCA realms.
type CCAReference struct {
	RealmInitialMeasurement   []string `json:"realm_initial_measurement,omitempty"`
	RealmPersonalizationValue []string `json:"realm_personalization_value,omitempty"`
	REM0                      []string `json:"rem0,omitempty"`
	REM1                      []string `json:"rem1,omitempty"`
	REM2                      []string `json:"rem2,omitempty"`
	REM3                      []string `json:"rem3,omitempty"`
	// PlatformSWComponents lists acceptable platform software components:
	// every component the token reports must have a listed measurement
	// and, when the entry gives them, its type and version (Veraison's
	// CCA reference values). An entry is a measurement in hex or an object.
	PlatformSWComponents []CCASWComponent `json:"platform_sw_components,omitempty"`
	// PlatformConfig lists acceptable platform configurations (claim 2401,
	// cca-platform-config), in hex, as Veraison's reference values give
	// them.
	PlatformConfig []string `json:"platform_config,omitempty"`
	// PlatformImplementationID lists acceptable platform implementations
	// (claim 2396, 32 bytes of hex), by which Veraison finds a platform's
	// trust anchor and reference values.
	PlatformImplementationID []string `json:"platform_implementation_id,omitempty"`
	// Lifecycle lists acceptable platform lifecycle states; empty means
	// "secured" only.
	Lifecycle []string `json:"lifecycle,omitempty"`
	// PlatformKeys are the platform attestation keys (CPAKs) of the
	// platforms this policy trusts, found by the instance ID the platform
	// token names: Veraison's trust anchors. They come before the
	// verifier's own key (armcca.Options.Key, --cca-cpak).
	PlatformKeys []CCAPlatformKey `json:"platform_keys,omitempty"`
}

// CCASWComponent is an acceptable platform software component. In JSON it
// is the measurement in hex, or
// {"measurement", "type", "version", "signer_id"} where only the
// measurement is required.
type CCASWComponent struct {
	Measurement string `json:"measurement"`
	Type        string `json:"type,omitempty"`    // measurement type, e.g. "BL"
	Version     string `json:"version,omitempty"` // e.g. "1.0.0"
	SignerID    string `json:"signer_id,omitempty"`
}

// UnmarshalJSON reads a measurement or an object, strictly.
func (c *CCASWComponent) UnmarshalJSON(b []byte) error {
	var m string
	if json.Unmarshal(b, &m) == nil {
		*c = CCASWComponent{Measurement: m}
		return nil
	}
	type plain CCASWComponent
	var p plain
	if err := strictjson.Decode(b, &p); err != nil {
		return fmt.Errorf("want a measurement in hex or an object {measurement, type, version, signer_id}: %w", err)
	}
	*c = CCASWComponent(p)
	return nil
}

// matches reports whether a component of the token is this one: the same
// measurement and, when set, type, version and signer ID.
func (c *CCASWComponent) matches(sw *cca.SWComponent) bool {
	return strings.EqualFold(c.Measurement, hex.EncodeToString(sw.MeasurementValue)) &&
		(c.Type == "" || c.Type == sw.MeasurementType) && (c.Version == "" || c.Version == sw.Version) &&
		(c.SignerID == "" || strings.EqualFold(c.SignerID, hex.EncodeToString(sw.SignerID)))
}

func (c *CCASWComponent) String() string {
	s := c.Measurement
	for _, f := range []struct{ k, v string }{{"type", c.Type}, {"version", c.Version}, {"signer_id", c.SignerID}} {
		if f.v != "" {
			s += " " + f.k + " " + f.v
		}
	}
	return s
}

// CCAPlatformKey is the platform attestation key of one CCA platform: a
// public JWK, the form Veraison's tools use, or a PEM public key, on P-256,
// P-384 or P-521.
type CCAPlatformKey struct {
	// InstanceID is the platform instance ID (claim 256) in hex: 33 bytes,
	// 0x01 first.
	InstanceID string          `json:"instance_id"`
	JWK        json.RawMessage `json:"jwk,omitempty"`
	PEM        string          `json:"pem,omitempty"`
}

// publicKey parses the key; a private JWK is refused, as a policy is
// stored and shown.
func (k *CCAPlatformKey) publicKey() (*ecdsa.PublicKey, error) {
	switch {
	case len(k.JWK) > 0 && k.PEM != "":
		return nil, errors.New("set jwk or pem, not both")
	case len(k.JWK) > 0:
		key, private, err := arm.ParseJWK(k.JWK)
		if err == nil && private {
			return nil, errors.New(`jwk: a private key ("d"): give the public key only`)
		}
		return key, err
	case k.PEM != "":
		if t := strings.TrimSpace(k.PEM); !strings.HasPrefix(t, "-----BEGIN") {
			return nil, errors.New("pem: want a PEM public key")
		}
		return arm.ParsePublicKey([]byte(k.PEM))
	}
	return nil, errors.New("want jwk or pem")
}

// PlatformKey returns the platform key of the platform with this instance
// ID, or nil when the policy has none for it.
func (r *CCAReference) PlatformKey(instanceID []byte) (crypto.PublicKey, error) {
	if r == nil {
		return nil, nil
	}
	for i := range r.PlatformKeys {
		k := &r.PlatformKeys[i]
		if id, err := hex.DecodeString(k.InstanceID); err == nil && bytes.Equal(id, instanceID) {
			return k.publicKey()
		}
	}
	return nil, nil
}

// validateKeys checks cca.platform_keys: instance IDs of the CCA form,
// each once, with a public key that parses.
func (r *CCAReference) validateKeys() error {
	seen := map[string]bool{}
	for i := range r.PlatformKeys {
		k := &r.PlatformKeys[i]
		id, err := hex.DecodeString(k.InstanceID)
		if err != nil || len(id) != cca.InstanceIDSize || id[0] != 0x01 {
			return fmt.Errorf("policy: cca.platform_keys[%d].instance_id: %q is not %d bytes of hex starting 01", i, k.InstanceID, cca.InstanceIDSize)
		}
		if seen[string(id)] {
			return fmt.Errorf("policy: cca.platform_keys[%d]: instance %s has another key already", i, k.InstanceID)
		}
		seen[string(id)] = true
		if _, err := k.publicKey(); err != nil {
			return fmt.Errorf("policy: cca.platform_keys[%d] (instance %s): %w", i, k.InstanceID, err)
		}
	}
	return nil
}

// hasValues reports whether the section pins the code a guest runs: its
// launch measurement or the key that signed its ID block. HOST_DATA,
// FAMILY_ID and IMAGE_ID are chosen by whoever launches the guest, and a
// minimum SVN is not an identity.
func (r *SNPReference) hasValues() bool {
	return r != nil && len(r.Measurement)+len(r.IDKeyDigest)+len(r.AuthorKeyDigest) > 0
}

// hasValues reports whether the section pins the code a realm runs: its
// initial measurement or an extensible measurement. The personalization
// value is chosen by the realm's creator; platform components and the
// lifecycle describe the platform.
func (r *CCAReference) hasValues() bool {
	return r != nil && len(r.RealmInitialMeasurement)+len(r.REM0)+len(r.REM1)+len(r.REM2)+len(r.REM3) > 0
}

// requiredSNP are the checks a SEV-SNP verification must have run.
var requiredSNP = []string{amd.CheckReportFormat, amd.CheckProduct, amd.CheckChain, amd.CheckCRL, amd.CheckTCB, amd.CheckHWID, amd.CheckSignature}

// requiredCCA are the checks an Arm CCA verification must have run (the
// realm checks record themselves as not applicable to a platform-only
// token the caller accepted).
var requiredCCA = []string{arm.CheckTokenFormat, arm.CheckPlatformKey, arm.CheckPlatformSignature, arm.CheckRealmSignature, arm.CheckBinding}

// AppraiseSNP appraises the verification of a SEV-SNP report; binding is
// the certificate's key binding, nil for a bare report.
func (p *Policy) AppraiseSNP(res *amd.Result, verr error, binding *evidence.Binding) *Appraisal {
	a := NewAppraisal(p.Name())
	if res == nil || res.Report == nil {
		return noResult(a, verr)
	}
	ref := p.SNP
	a.verificationReasons(res.Checks, requiredSNP, verr, func(c checks.Check) string {
		if ref != nil && ref.AllowNoCRL && errors.Is(c.Err(), amd.ErrNoCRL) {
			return "sev_snp.allow_no_crl"
		}
		return ""
	})
	r := res.Report
	if r.Policy.Debug() {
		p.debugReason(a)
	}
	if r.Policy.MigrateMA() && (ref == nil || !ref.AllowMigrationAgent) {
		a.Reject("sev_snp.policy.migrate_ma", checks.Configuration, "false", "true",
			"the guest policy allows a migration agent, which can export the guest's memory (set sev_snp.allow_migration_agent to accept)")
	}
	p.appraiseBinding(a, binding)
	p.appraiseVMPL(a, r.VMPL)
	p.appraiseSNPTCB(a, r.ReportedTCB)
	if !p.referenceValues(a, "sev_snp", ref.hasValues(), ref != nil) {
		return a
	}
	checkHex(a, "sev_snp.measurement", ref.Measurement, r.Measurement[:])
	checkHex(a, "sev_snp.host_data", ref.HostData, r.HostData[:])
	checkHex(a, "sev_snp.id_key_digest", ref.IDKeyDigest, r.IDKeyDigest[:])
	checkHex(a, "sev_snp.author_key_digest", ref.AuthorKeyDigest, r.AuthorKeyDigest[:])
	checkHex(a, "sev_snp.family_id", ref.FamilyID, r.FamilyID[:])
	checkHex(a, "sev_snp.image_id", ref.ImageID, r.ImageID[:])
	if ref.MinGuestSVN != nil && r.GuestSVN < *ref.MinGuestSVN {
		a.Reject("sev_snp.guest_svn", checks.Executables, fmt.Sprintf(">= %d", *ref.MinGuestSVN), fmt.Sprint(r.GuestSVN), "guest security version below sev_snp.min_guest_svn")
	}
	if len(ref.SigningKeys) > 0 && !slices.Contains(ref.SigningKeys, res.SigningKey) {
		a.Reject("sev_snp.signing_key", checks.InstanceIdentity, strings.Join(ref.SigningKeys, "|"), res.SigningKey, "signing key type is not in sev_snp.signing_keys")
	}
	return a
}

// appraiseVMPL refuses reports requested at a VM privilege level the
// policy does not accept: VMPL 0 unless sev_snp.vmpl or sev_snp.max_vmpl
// says otherwise.
func (p *Policy) appraiseVMPL(a *Appraisal, vmpl uint32) {
	ref := p.SNP
	if ref != nil && len(ref.VMPL) > 0 {
		if !slices.Contains(ref.VMPL, vmpl) {
			a.Reject("sev_snp.vmpl", checks.Configuration, fmt.Sprint(ref.VMPL), fmt.Sprint(vmpl), "report requested at a VM privilege level not in sev_snp.vmpl")
		}
		return
	}
	maxVMPL := uint32(0)
	if ref != nil && ref.MaxVMPL != nil {
		maxVMPL = *ref.MaxVMPL
	}
	if vmpl > maxVMPL {
		a.Reject("sev_snp.vmpl", checks.Configuration, fmt.Sprintf("<= %d", maxVMPL), fmt.Sprint(vmpl),
			"report requested at a less privileged VM level than sev_snp.max_vmpl allows (default 0)")
	}
}

// appraiseSNPTCB compares REPORTED_TCB with sev_snp.min_tcb. Without a
// minimum the platform's firmware could be arbitrarily old: a warning.
func (p *Policy) appraiseSNPTCB(a *Appraisal, t snp.TCBVersion) {
	if p.SNP == nil || p.SNP.MinTCB == nil {
		a.Add(Reason{Check: "sev_snp.min_tcb", Category: checks.Configuration, State: checks.NotRun, Expected: "a minimum REPORTED_TCB", Actual: "none",
			Message: "the policy sets no sev_snp.min_tcb: the platform's firmware and microcode could be arbitrarily old", Status: Warning})
		return
	}
	m := p.SNP.MinTCB
	for _, c := range []struct {
		name      string
		got, want uint8
	}{{"bootloader", t.BootloaderSPL(), m.Bootloader}, {"tee", t.TEESPL(), m.TEE}, {"snp", t.SNPSPL(), m.SNP}, {"microcode", t.MicrocodeSPL(), m.Microcode}} {
		if c.got < c.want {
			a.Reject("sev_snp.tcb."+c.name, checks.Configuration, fmt.Sprintf(">= %d", c.want), fmt.Sprint(c.got), "reported TCB component below sev_snp.min_tcb."+c.name)
		}
	}
}

// AppraiseCCA appraises the verification of an Arm CCA token.
func (p *Policy) AppraiseCCA(res *arm.Result, verr error, binding *evidence.Binding) *Appraisal {
	a := NewAppraisal(p.Name())
	if res == nil || res.Token == nil {
		return noResult(a, verr)
	}
	a.verificationReasons(res.Checks, requiredCCA, verr, func(checks.Check) string { return "" })
	ref := p.CCA
	lifecycles := []string{"secured"}
	if ref != nil && len(ref.Lifecycle) > 0 {
		lifecycles = ref.Lifecycle
	}
	if !slices.Contains(lifecycles, res.LifecycleState) {
		a.Reject("cca.lifecycle", checks.Configuration, strings.Join(lifecycles, "|"), res.LifecycleState,
			"platform security lifecycle state is not in cca.lifecycle (a non-secured platform may be debuggable)")
	}
	p.appraiseBinding(a, binding)
	if !p.referenceValues(a, "cca", ref.hasValues(), ref != nil) {
		return a
	}
	if rc := res.Realm; rc != nil {
		checkHex(a, "cca.realm_initial_measurement", ref.RealmInitialMeasurement, rc.InitialMeasurement)
		checkHex(a, "cca.realm_personalization_value", ref.RealmPersonalizationValue, rc.PersonalizationValue)
		for i, want := range [][]string{ref.REM0, ref.REM1, ref.REM2, ref.REM3} {
			if len(want) == 0 {
				continue
			}
			if i >= len(rc.ExtensibleMeasurements) {
				a.Add(Reason{Check: fmt.Sprintf("cca.rem%d", i), Category: checks.Executables, State: checks.NotRun, Expected: strings.Join(want, "|"), Actual: "absent",
					Message: fmt.Sprintf("the realm token has no REM%d to compare", i), Status: Contraindicated})
				continue
			}
			checkHex(a, fmt.Sprintf("cca.rem%d", i), want, rc.ExtensibleMeasurements[i])
		}
	} else if ref.hasValues() {
		a.Add(Reason{Check: "cca.realm_initial_measurement", Category: checks.Executables, State: checks.NotRun, Expected: "a realm token", Actual: "platform token only",
			Message: "the policy pins the realm, but the evidence carries no realm token", Status: Contraindicated})
	}
	p.appraiseCCAPlatform(a, res.Platform)
	return a
}

// appraiseCCAPlatform compares the platform claims Veraison's CCA reference
// values give with cca.platform_sw_components, platform_config and
// platform_implementation_id.
func (p *Policy) appraiseCCAPlatform(a *Appraisal, pc *cca.PlatformClaims) {
	ref := p.CCA
	if pc == nil {
		return
	}
	if len(ref.PlatformSWComponents) > 0 {
		want := make([]string, len(ref.PlatformSWComponents))
		for i := range ref.PlatformSWComponents {
			want[i] = ref.PlatformSWComponents[i].String()
		}
		for i := range pc.SWComponents {
			sw := &pc.SWComponents[i]
			if !slices.ContainsFunc(ref.PlatformSWComponents, func(c CCASWComponent) bool { return c.matches(sw) }) {
				got := fmt.Sprintf("%x type %s version %s signer_id %x", sw.MeasurementValue, sw.MeasurementType, sw.Version, sw.SignerID)
				a.Reject("cca.platform_sw_components", checks.Executables, strings.Join(want, "|"), got,
					fmt.Sprintf("platform software component %q is not in cca.platform_sw_components (measurement, and type and version where listed)", sw.MeasurementType))
			}
		}
	}
	checkHexAs(a, "cca.platform_config", checks.Configuration, ref.PlatformConfig, pc.Config)
	checkHexAs(a, "cca.platform_implementation_id", checks.Hardware, ref.PlatformImplementationID, pc.ImplementationID)
}
