package service

import (
	"errors"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/internal/lru"
	"github.com/ratls/ratls/service/shared"
	"github.com/ratls/ratls/service/store"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/armcca"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/tee/sevsnp"
	"github.com/ratls/ratls/verify/amd"
	"github.com/ratls/ratls/verify/arm"
	"github.com/ratls/ratls/verify/intel"
)

// ReplicaConfig is what ConfigureReplica adds to a Config.
type ReplicaConfig struct {
	// IntelUpstream and AMDUpstream fetch the collateral that no replica
	// has stored yet: Intel's PCS or a PCCS (a pcs.Client), AMD's KDS (a
	// kds.Client). Nil serves only what the store holds.
	IntelUpstream pcs.Provider
	AMDUpstream   kds.Provider
	// CacheBytes bounds the memory of each verifier's cache and of each
	// in-memory collateral cache; 0 takes their defaults.
	CacheBytes int64
	// IntelRefreshBefore is how long before its nextUpdate Intel
	// collateral is fetched again by the in-memory cache
	// (pcs.CacheConfig.RefreshBefore).
	IntelRefreshBefore time.Duration
}

// ConfigureReplica completes cfg for one of any number of replicas sharing
// cfg.Store, before New:
//
//   - verifiers that cfg.Verify.TEE lacks (dcap, sevsnp and armcca
//     options' Verifier) are created with caches bounded by r.CacheBytes;
//   - collateral sources that it lacks (dcap.Options.Collateral,
//     sevsnp.Options.Certificates) go through the store (package shared), each behind
//     an in-memory cache, so that collateral one replica fetched serves
//     them all; each store call is bounded by cfg.StoreTimeout;
//   - CacheStats and CollateralStats report these caches (named with the
//     prefixes intel_, amd_, cca_, pcs_ and kds_) and the shared
//     collateral's counters (intel_ and amd_).
//
// Shared collateral logs its store and upstream failures to cfg.Logger;
// it and the in-memory caches read the time from cfg.Now.
func ConfigureReplica(cfg *Config, r ReplicaConfig) error {
	if cfg.Store == nil {
		return errors.New("service: ConfigureReplica: no Config.Store")
	}
	// The families' options, copied so that options shared with other
	// configurations are left alone.
	dcapOpt := tee.Edit[dcap.Options](&cfg.Verify.TEE)
	snpOpt := tee.Edit[sevsnp.Options](&cfg.Verify.TEE)
	ccaOpt := tee.Edit[armcca.Options](&cfg.Verify.TEE)
	if dcapOpt.Verifier == nil {
		dcapOpt.Verifier = intel.NewVerifier(&intel.Config{CacheBytes: r.CacheBytes})
	}
	if snpOpt.Verifier == nil {
		snpOpt.Verifier = amd.NewVerifier(&amd.Config{CacheBytes: r.CacheBytes})
	}
	if ccaOpt.Verifier == nil {
		ccaOpt.Verifier = arm.NewVerifier(&arm.Config{CacheBytes: r.CacheBytes})
	}
	intelV, amdV, ccaV := dcapOpt.Verifier, snpOpt.Verifier, ccaOpt.Verifier
	caches := map[string]func() map[string]lru.Stats{
		"intel_": intelV.CacheStats,
		"amd_":   amdV.CacheStats,
		"cca_":   func() map[string]lru.Stats { return map[string]lru.Stats{"platform_tokens": ccaV.CacheStats()} },
	}
	var counters []func() map[string]uint64
	st := store.Bounded(cfg.Store, cfg.StoreTimeout)
	sharedCfg := shared.Config{Logger: cfg.Logger, Now: cfg.Now}
	if dcapOpt.Collateral == nil {
		sh := shared.NewIntel(st, r.IntelUpstream, sharedCfg)
		c := pcs.NewCache(sh, pcs.CacheConfig{RefreshBefore: r.IntelRefreshBefore, MaxBytes: r.CacheBytes, Now: cfg.Now})
		dcapOpt.Collateral = c
		counters = append(counters, prefixed("intel_", func() map[string]uint64 { return sh.Stats().Map() }))
		caches["pcs_"] = func() map[string]lru.Stats { return map[string]lru.Stats{"collateral": c.Stats()} }
	}
	if snpOpt.Certificates == nil {
		sh := shared.NewAMD(st, r.AMDUpstream, sharedCfg)
		c := kds.NewCache(sh, kds.CacheConfig{MaxBytes: r.CacheBytes, Now: cfg.Now})
		snpOpt.Certificates = c
		counters = append(counters, prefixed("amd_", func() map[string]uint64 { return sh.Stats().Map() }))
		caches["kds_"] = func() map[string]lru.Stats { return map[string]lru.Stats{"certificates": c.Stats()} }
	}
	cfg.CacheStats = func() map[string]lru.Stats {
		out := map[string]lru.Stats{}
		for prefix, stats := range caches {
			for name, s := range stats() {
				out[prefix+name] = s
			}
		}
		return out
	}
	cfg.CollateralStats = func() map[string]uint64 {
		out := map[string]uint64{}
		for _, s := range counters {
			for k, v := range s() {
				out[k] = v
			}
		}
		return out
	}
	return nil
}

// prefixed returns f's counters with their names prefixed by p.
func prefixed(p string, f func() map[string]uint64) func() map[string]uint64 {
	return func() map[string]uint64 {
		out := map[string]uint64{}
		for k, v := range f() {
			out[p+k] = v
		}
		return out
	}
}
