package appraise

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ratls/ratls/evidence"
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
	// VMPL lists the acceptable VM privilege levels; empty means any.
	VMPL []uint32 `json:"vmpl,omitempty"`
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
	// PlatformSWComponents lists acceptable platform software component
	// measurements: every component the token reports must be listed.
	PlatformSWComponents []string `json:"platform_sw_components,omitempty"`
	// Lifecycle lists acceptable platform lifecycle states; empty means
	// "secured" only.
	Lifecycle []string `json:"lifecycle,omitempty"`
}

func (r *SNPReference) hasValues() bool {
	return r != nil && (len(r.Measurement)+len(r.HostData)+len(r.IDKeyDigest)+len(r.AuthorKeyDigest)+len(r.FamilyID)+len(r.ImageID) > 0 || r.MinGuestSVN != nil)
}

func (r *CCAReference) hasValues() bool {
	return r != nil && len(r.RealmInitialMeasurement)+len(r.RealmPersonalizationValue)+len(r.REM0)+len(r.REM1)+len(r.REM2)+len(r.REM3)+len(r.PlatformSWComponents) > 0
}

// verificationReasons records a reason per failed verification check;
// excuse may downgrade one to a warning, naming the policy switch.
func (a *Appraisal) verificationReasons(failed []checks.Check, verr error, excuse func(checks.Check) string) {
	for _, c := range failed {
		st, msg := Contraindicated, c.Detail
		if switchName := excuse(c); switchName != "" {
			st, msg = Warning, msg+" (accepted: "+switchName+")"
		}
		a.Add(Reason{Check: c.Name, Expected: "pass", Actual: "fail", Message: msg, Status: st})
	}
	if verr != nil && len(failed) == 0 {
		a.Add(Reason{Check: "verification", Message: verr.Error(), Status: Contraindicated})
	}
}

// AppraiseSNP appraises the verification of a SEV-SNP report; binding is
// the certificate's key binding, nil for a bare report.
func (p *Policy) AppraiseSNP(res *amd.Result, verr error, binding *evidence.Binding) *Appraisal {
	a := NewAppraisal(p.Name())
	if res == nil || res.Report == nil {
		a.Add(Reason{Check: "verification", Message: fmt.Sprintf("no verification result: %v", verr), Status: Contraindicated})
		return a
	}
	ref := p.SNP
	a.verificationReasons(res.Failed(), verr, func(c checks.Check) string {
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
		a.Add(Reason{Check: "sev_snp.policy.migrate_ma", Expected: "false", Actual: "true",
			Message: "the guest policy allows a migration agent, which can export the guest's memory (set sev_snp.allow_migration_agent to accept)", Status: Contraindicated})
	}
	p.appraiseBinding(a, binding)
	if ref == nil {
		p.noReference(a, "sev_snp")
		return a
	}
	a.ReferenceValuesChecked = ref.hasValues()
	checkHex(a, "sev_snp.measurement", ref.Measurement, r.Measurement[:])
	checkHex(a, "sev_snp.host_data", ref.HostData, r.HostData[:])
	checkHex(a, "sev_snp.id_key_digest", ref.IDKeyDigest, r.IDKeyDigest[:])
	checkHex(a, "sev_snp.author_key_digest", ref.AuthorKeyDigest, r.AuthorKeyDigest[:])
	checkHex(a, "sev_snp.family_id", ref.FamilyID, r.FamilyID[:])
	checkHex(a, "sev_snp.image_id", ref.ImageID, r.ImageID[:])
	if ref.MinGuestSVN != nil && r.GuestSVN < *ref.MinGuestSVN {
		a.Add(Reason{Check: "sev_snp.guest_svn", Expected: fmt.Sprintf(">= %d", *ref.MinGuestSVN), Actual: fmt.Sprint(r.GuestSVN), Message: "guest security version below the minimum", Status: Contraindicated})
	}
	if len(ref.VMPL) > 0 && !slices.Contains(ref.VMPL, r.VMPL) {
		a.Add(Reason{Check: "sev_snp.vmpl", Expected: fmt.Sprint(ref.VMPL), Actual: fmt.Sprint(r.VMPL), Message: "report requested at a VM privilege level the policy does not accept", Status: Contraindicated})
	}
	if len(ref.SigningKeys) > 0 && !slices.Contains(ref.SigningKeys, res.SigningKey) {
		a.Add(Reason{Check: "sev_snp.signing_key", Expected: strings.Join(ref.SigningKeys, "|"), Actual: res.SigningKey, Message: "signing key type not accepted", Status: Contraindicated})
	}
	if m := ref.MinTCB; m != nil {
		t := r.ReportedTCB
		for _, c := range []struct {
			name      string
			got, want uint8
		}{{"bootloader", t.BootloaderSPL(), m.Bootloader}, {"tee", t.TEESPL(), m.TEE}, {"snp", t.SNPSPL(), m.SNP}, {"microcode", t.MicrocodeSPL(), m.Microcode}} {
			if c.got < c.want {
				a.Add(Reason{Check: "sev_snp.tcb." + c.name, Expected: fmt.Sprintf(">= %d", c.want), Actual: fmt.Sprint(c.got), Message: "reported TCB component below the minimum", Status: Contraindicated})
			}
		}
	}
	return a
}

// AppraiseCCA appraises the verification of an Arm CCA token.
func (p *Policy) AppraiseCCA(res *arm.Result, verr error, binding *evidence.Binding) *Appraisal {
	a := NewAppraisal(p.Name())
	if res == nil || res.Token == nil {
		a.Add(Reason{Check: "verification", Message: fmt.Sprintf("no verification result: %v", verr), Status: Contraindicated})
		return a
	}
	a.verificationReasons(res.Failed(), verr, func(checks.Check) string { return "" })
	ref := p.CCA
	lifecycles := []string{"secured"}
	if ref != nil && len(ref.Lifecycle) > 0 {
		lifecycles = ref.Lifecycle
	}
	if !slices.Contains(lifecycles, res.LifecycleState) {
		a.Add(Reason{Check: "cca.lifecycle", Expected: strings.Join(lifecycles, "|"), Actual: res.LifecycleState,
			Message: "platform security lifecycle state not accepted (a non-secured platform may be debuggable)", Status: Contraindicated})
	}
	p.appraiseBinding(a, binding)
	if ref == nil {
		p.noReference(a, "cca")
		return a
	}
	a.ReferenceValuesChecked = ref.hasValues()
	if rc := res.Realm; rc != nil {
		checkHex(a, "cca.realm_initial_measurement", ref.RealmInitialMeasurement, rc.InitialMeasurement)
		checkHex(a, "cca.realm_personalization_value", ref.RealmPersonalizationValue, rc.PersonalizationValue)
		for i, want := range [][]string{ref.REM0, ref.REM1, ref.REM2, ref.REM3} {
			if i < len(rc.ExtensibleMeasurements) {
				checkHex(a, fmt.Sprintf("cca.rem%d", i), want, rc.ExtensibleMeasurements[i])
			}
		}
	}
	if len(ref.PlatformSWComponents) > 0 {
		for _, c := range res.Platform.SWComponents {
			got := hex.EncodeToString(c.MeasurementValue)
			if !matchHex(ref.PlatformSWComponents, got) {
				a.Add(Reason{Check: "cca.platform_sw_components", Expected: strings.Join(ref.PlatformSWComponents, "|"), Actual: got,
					Message: fmt.Sprintf("platform software component %q has an unlisted measurement", c.MeasurementType), Status: Contraindicated})
			}
		}
	}
	return a
}
