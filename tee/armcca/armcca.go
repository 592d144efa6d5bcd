// Package armcca is the TEE family of Arm CCA attestation tokens: it
// verifies a token (platform and realm) with verify/arm, finding the
// platform key in the policy, the options or a key store, appraises it
// with the policy's cca section, and splits the appraisal into Veraison's
// platform and realm submodules.
package armcca

import (
	"context"
	"crypto"
	"encoding/base64"
	"strings"
	"sync"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/cca"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/verify/arm"
)

// Name names the family, as policies name it.
const Name = "cca"

// The EAR submodules of a CCA appraisal, as Veraison names them.
const (
	SubmodulePlatform = "CCA_SSD_PLATFORM"
	SubmoduleRealm    = "CCA_REALM"
)

func init() { tee.Register(family{}) }

// Options configure the verification of Arm CCA tokens.
type Options struct {
	// Verifier verifies the tokens; nil means a shared verifier.
	Verifier *arm.Verifier
	// Key is the platform attestation key (CPAK) that signs platform
	// tokens; KeyStore looks one up by platform instance ID. The policy's
	// cca.platform_keys come first.
	Key      crypto.PublicKey
	KeyStore func(instanceID []byte) (crypto.PublicKey, error)
	// AllowPlatformOnly accepts platform tokens that come without a realm
	// token (the realm checks are then not applicable).
	AllowPlatformOnly bool
}

// Family reports Name.
func (*Options) Family() string { return Name }

var defaultVerifier = sync.OnceValue(func() *arm.Verifier { return arm.NewVerifier(nil) })

type family struct{}

func (family) Name() string { return Name }

func (family) Verifies(it *evidence.Item) bool { return it.CCA != nil }

func (family) Verify(ctx context.Context, it *evidence.Item, in *tee.Input) *tee.Result {
	o, _ := in.OptionsFor(Name).(*Options)
	if o == nil {
		o = &Options{}
	}
	v := o.Verifier
	if v == nil {
		v = defaultVerifier()
	}
	opts := keys(o, in.Policy)
	opts.AllowPlatformOnly = o.AllowPlatformOnly
	res, err := v.Verify(ctx, it.CCA, opts)
	r := &tee.Result{Err: err, Appraisal: in.Policy.AppraiseCCA(res, err, in.Binding)}
	if res != nil {
		r.Verified, r.Checks, r.TEE = res, res.Checks, Name
	}
	return r
}

// keys finds the platform key of a token: the policy's key for the token's
// instance ID (cca.platform_keys), else Key, else KeyStore.
func keys(o *Options, p *appraise.Policy) arm.Options {
	if p.CCA == nil || len(p.CCA.PlatformKeys) == 0 {
		return arm.Options{CPAK: o.Key, KeyStore: o.KeyStore}
	}
	return arm.Options{KeyStore: func(instanceID []byte) (crypto.PublicKey, error) {
		if k, err := p.CCA.PlatformKey(instanceID); k != nil || err != nil {
			return k, err
		}
		if o.Key != nil || o.KeyStore == nil {
			return o.Key, nil
		}
		return o.KeyStore(instanceID)
	}}
}

// Submodules splits a CCA appraisal into Veraison's platform and realm
// submodules. The platform submodule has the reasons about the platform
// and the token as a whole; the realm submodule has them all, as a realm
// is no more trustworthy than the platform it runs on. The platform
// claims its executables and configuration only when the policy pins them
// (cca.platform_sw_components, cca.platform_config).
func (family) Submodules(it *evidence.Item, r *tee.Result, pol *appraise.Policy) map[string]*ear.Appraisal {
	a := r.Appraisal
	var platform []appraise.Reason
	for _, r := range a.Reasons {
		if !realmCheck(r.Check) {
			platform = append(platform, r)
		}
	}
	t := it.CCA
	p := ear.FromReasons(worst(platform), a.PolicyID, platform, platformClaims(&t.Platform.Claims))
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
		realmClaims = realmClaimsOf(&t.Realm.Claims)
	}
	return map[string]*ear.Appraisal{
		SubmodulePlatform: p,
		SubmoduleRealm:    ear.FromReasons(worst(a.Reasons), a.PolicyID, a.Reasons, realmClaims),
	}
}

// realmCheck reports whether a check is about the realm alone: its token,
// its freshness, its measurements and the key it certifies.
func realmCheck(check string) bool {
	switch check {
	case arm.CheckRealmSignature, arm.CheckBinding, arm.CheckChallenge, tee.CheckNonce, tee.CheckClaimsBinding,
		tee.CheckCertificateValidity, tee.CheckCertificateSig, tee.CheckCriticalExtensions, appraise.CheckKeyBinding:
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

// platformClaims are the platform claims under the names and encodings of
// Veraison's annotated evidence (github.com/veraison/ccatoken's JSON: byte
// strings in standard base64, the lifecycle as its number).
func platformClaims(c *cca.PlatformClaims) map[string]any {
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

// realmClaimsOf are the realm claims, likewise.
func realmClaimsOf(c *cca.RealmClaims) map[string]any {
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
