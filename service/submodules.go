package service

import (
	"encoding/base64"
	"strings"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence/cca"
	"github.com/ratls/ratls/inspect"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/verify/arm"
)

// submodules turns a verification into the EAR submodules Veraison would
// name: CCA_SSD_PLATFORM and CCA_REALM for an Arm CCA token, SEVSNP for a
// SEV-SNP report, and the TEE's name for SGX and TDX, which Veraison does
// not verify.
func submodules(tee string, v *ratls.Verification, pol *appraise.Policy) map[string]*ear.Appraisal {
	switch {
	case tee == arm.TEE && v.Item.CCA != nil:
		return ccaSubmodules(v, pol)
	case tee == "sev_snp":
		return map[string]*ear.Appraisal{api.SubmodSEVSNP: v.Appraisal.Submodule(inspect.Measurements(v.Item))}
	}
	return map[string]*ear.Appraisal{tee: v.Appraisal.Submodule(inspect.Measurements(v.Item))}
}

// ccaSubmodules splits a CCA appraisal into Veraison's platform and realm
// submodules. The platform submodule has the reasons about the platform
// and the token as a whole; the realm submodule has them all, as a realm
// is no more trustworthy than the platform it runs on. The platform
// claims its executables and configuration only when the policy pins them
// (cca.platform_sw_components, cca.platform_config).
func ccaSubmodules(v *ratls.Verification, pol *appraise.Policy) map[string]*ear.Appraisal {
	a := v.Appraisal
	var platform []appraise.Reason
	for _, r := range a.Reasons {
		if !realmCheck(r.Check) {
			platform = append(platform, r)
		}
	}
	t := v.Item.CCA
	p := ear.FromReasons(worst(platform), a.PolicyID, platform, ccaPlatformClaims(&t.Platform.Claims))
	// Nothing is claimed about what was not compared: the platform's
	// software and configuration, unless the policy pins them.
	unclaim := func(c *int8, pinned bool) {
		if !pinned && ear.TierOf(*c) == ear.StatusAffirming {
			*c = ear.NoClaim
		}
	}
	unclaim(&p.TrustVector.Executables, pol.CCA != nil && len(pol.CCA.PlatformSWComponents) > 0)
	unclaim(&p.TrustVector.Configuration, pol.CCA != nil && len(pol.CCA.PlatformConfig) > 0)
	var realmClaims map[string]any
	if t.Realm != nil {
		realmClaims = ccaRealmClaims(&t.Realm.Claims)
	}
	return map[string]*ear.Appraisal{
		api.SubmodCCAPlatform: p,
		api.SubmodCCARealm:    ear.FromReasons(worst(a.Reasons), a.PolicyID, a.Reasons, realmClaims),
	}
}

// realmCheck reports whether a check is about the realm alone: its token,
// its freshness, its measurements and the key it certifies.
func realmCheck(check string) bool {
	switch check {
	case arm.CheckRealmSignature, arm.CheckBinding, arm.CheckChallenge, ratls.CheckNonce, ratls.CheckClaimsBinding,
		ratls.CheckCertificateValidity, ratls.CheckCertificateSig, ratls.CheckCriticalExtensions, appraise.CheckKeyBinding:
		return true
	}
	return strings.HasPrefix(check, "cca.realm_") || strings.HasPrefix(check, "cca.rem")
}

// worst is the outcome of a set of reasons: affirming unless one says
// otherwise.
func worst(reasons []appraise.Reason) ear.Status {
	st := appraise.Affirming
	for _, r := range reasons {
		st = st.Worse(r.Status)
	}
	return st
}

var b64 = base64.StdEncoding.EncodeToString

// ccaPlatformClaims are the platform claims under the names and encodings
// of Veraison's annotated evidence (github.com/veraison/ccatoken's JSON:
// byte strings in standard base64, the lifecycle as its number).
func ccaPlatformClaims(c *cca.PlatformClaims) map[string]any {
	comps := make([]any, len(c.SWComponents))
	for i, sw := range c.SWComponents {
		m := map[string]any{"measurement-value": b64(sw.MeasurementValue), "signer-id": b64(sw.SignerID)}
		for k, v := range map[string]string{"measurement-type": sw.MeasurementType, "version": sw.Version, "measurement-description": sw.MeasurementDescription} {
			if v != "" {
				m[k] = v
			}
		}
		comps[i] = m
	}
	m := map[string]any{
		"cca-platform-profile":           c.Profile,
		"cca-platform-challenge":         b64(c.Challenge),
		"cca-platform-implementation-id": b64(c.ImplementationID),
		"cca-platform-instance-id":       b64(c.InstanceID),
		"cca-platform-config":            b64(c.Config),
		"cca-platform-lifecycle":         uint16(c.Lifecycle),
		"cca-platform-sw-components":     comps,
		"cca-platform-hash-algo-id":      c.HashAlgo,
	}
	if c.VerificationService != "" {
		m["cca-platform-service-indicator"] = c.VerificationService
	}
	return m
}

// ccaRealmClaims are the realm claims, likewise.
func ccaRealmClaims(c *cca.RealmClaims) map[string]any {
	rems := make([]any, len(c.ExtensibleMeasurements))
	for i, r := range c.ExtensibleMeasurements {
		rems[i] = b64(r)
	}
	m := map[string]any{
		"cca-realm-challenge":               b64(c.Challenge),
		"cca-realm-personalization-value":   b64(c.PersonalizationValue),
		"cca-realm-initial-measurement":     b64(c.InitialMeasurement),
		"cca-realm-extensible-measurements": rems,
		"cca-realm-hash-algo-id":            c.HashAlgo,
		"cca-realm-public-key":              b64(c.PublicKey),
		"cca-realm-public-key-hash-algo-id": c.PublicKeyHashAlgo,
	}
	if c.Profile != "" {
		m["cca-realm-profile"] = c.Profile
	}
	return m
}
