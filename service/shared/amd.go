package shared

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/service/store"
)

// amdFetchTimeout bounds one lookup (store and upstream), as kds.Cache
// bounds its fetches: KDS rate-limits, and the client waits and retries.
const amdFetchTimeout = 10 * time.Minute

// AMD is a kds.Provider that shares AMD SEV-SNP certificates among replicas
// through the store (see the package documentation). Certificates are kept
// per request: a VCEK is specific to a chip and TCB, and each entry carries
// its chain and CRL. It is safe for concurrent use.
type AMD struct {
	upstream kds.Provider
	core     *core[*kds.Certificates]
}

// NewAMD returns a provider serving certificates from st and fetching them
// from upstream, usually a kds.Client, when the store has none that are
// valid. With a nil upstream only the store is used (offline replicas).
//
// Like kds.Cache in front of a provider that is not a kds.Fetcher, entries
// are served until the earliest NotAfter of their certificates and the
// CRL's NextUpdate (kds.CacheExpiry); certificates from upstream that are
// already past it are refused with an error matching kds.ErrExpired. What
// upstream returns is not checked against the request here: kds.Client
// checks its responses, and the verifier checks the certificates against
// the report.
func NewAMD(st store.Store, upstream kds.Provider, cfg Config) *AMD {
	return &AMD{
		upstream: upstream,
		core: newCore(codec[*kds.Certificates]{
			kind:         "amd",
			fetchTimeout: amdFetchTimeout,
			encode:       kds.MarshalCertificates,
			decode:       kds.ParseCertificates,
			missing: func(key string) error {
				return fmt.Errorf("%w: %s in the shared store", kds.ErrNotFound, key)
			},
			expired: kds.ErrExpired,
			outage:  kds.ErrUnavailable,
		}, st, cfg),
	}
}

// amdStoreKey is the store key of a request, e.g.
// "amd/Milan/VCEK/<128 hex digits of the chip ID>/7308000000000003" (the
// TCB as a number, as in Request.String). Unlike Request.String it holds
// the whole chip ID.
func amdStoreKey(req kds.Request) (string, error) {
	switch req.Product {
	case snp.ProductMilan, snp.ProductGenoa, snp.ProductTurin:
	default:
		return "", fmt.Errorf("shared: request product: want %q, %q or %q, got %q",
			snp.ProductMilan, snp.ProductGenoa, snp.ProductTurin, req.Product)
	}
	if req.SigningKey != snp.SigningKeyVCEK && req.SigningKey != snp.SigningKeyVLEK {
		return "", fmt.Errorf("shared: request signing key: want VCEK or VLEK, got %s", req.SigningKey)
	}
	return fmt.Sprintf("amd/%s/%s/%x/%016x", req.Product, req.SigningKey, req.ChipID[:], uint64(req.TCB)), nil
}

// Certificates returns the certificates for req from the store, or fetches
// and stores them. They are not expired; the same pointer is returned while
// the stored bytes are unchanged. Callers must not modify them.
func (a *AMD) Certificates(ctx context.Context, req kds.Request) (*kds.Certificates, error) {
	key, err := amdStoreKey(req)
	if err != nil {
		return nil, err
	}
	l := lookup[*kds.Certificates]{
		key: key,
		check: func(c *kds.Certificates, now time.Time) (time.Time, error) {
			if c == nil {
				return time.Time{}, errors.New("no certificates")
			}
			exp := kds.CacheExpiry(c, now)
			if !now.Before(exp) {
				return time.Time{}, fmt.Errorf("certificates from %s: %w at %s (valid until %s)", c.Source,
					kds.ErrExpired, now.UTC().Format(time.RFC3339), exp.UTC().Format(time.RFC3339))
			}
			return exp, nil
		},
		unavailable: func(err error, retryAfter time.Duration) error {
			return &kds.UnavailableError{What: req.String(), RetryAfter: retryAfter, Err: err}
		},
	}
	if a.upstream != nil {
		l.fetch = func(ctx context.Context) (*kds.Certificates, error) { return a.upstream.Certificates(ctx, req) }
	}
	return a.core.get(ctx, l)
}

// Stats returns the counters since NewAMD.
func (a *AMD) Stats() Stats { return a.core.stats() }

// Entries lists the AMD entries of the store, without bodies, by key.
func (a *AMD) Entries(ctx context.Context) ([]*store.Collateral, error) {
	return a.core.entries(ctx)
}
