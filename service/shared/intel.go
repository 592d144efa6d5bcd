package shared

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/service/store"
)

// intelFetchTimeout bounds one lookup (store and upstream), as pcs.Cache
// bounds its fetches.
const intelFetchTimeout = 5 * time.Minute

// Intel is a pcs.Provider that shares Intel DCAP collateral among replicas
// through the store (see the package documentation). It is safe for
// concurrent use.
type Intel struct {
	upstream pcs.Provider
	core     *core[*pcs.Collateral]
}

// NewIntel returns a provider serving collateral from st and fetching it
// from upstream, usually a pcs.Client, when the store has none that is
// valid. With a nil upstream only the store is used (offline replicas).
func NewIntel(st store.Store, upstream pcs.Provider, cfg Config) *Intel {
	return &Intel{
		upstream: upstream,
		core: newCore(codec[*pcs.Collateral]{
			kind:         "intel",
			fetchTimeout: intelFetchTimeout,
			encode:       pcs.MarshalCollateral,
			decode:       pcs.ParseCollateral,
			missing: func(key string) error {
				return &pcs.MissingError{Source: "shared store", Items: []string{key}}
			},
			expired: pcs.ErrExpired,
			outage:  pcs.ErrUnavailable,
		}, st, cfg),
	}
}

// intelStoreKey is the store key of a request, e.g.
// "intel/sgx/00906ED50000/processor/standard"; an empty Update is
// "standard".
func intelStoreKey(req pcs.Request) (string, error) {
	if req.Update == "" {
		req.Update = pcs.UpdateStandard
	}
	if req.TEE != pcs.TEESGX && req.TEE != pcs.TEETDX {
		return "", fmt.Errorf("shared: request TEE: want %q or %q, got %q", pcs.TEESGX, pcs.TEETDX, req.TEE)
	}
	if req.CA != pcs.CAProcessor && req.CA != pcs.CAPlatform {
		return "", fmt.Errorf("shared: request CA: want %q or %q, got %q", pcs.CAProcessor, pcs.CAPlatform, req.CA)
	}
	if req.Update != pcs.UpdateStandard && req.Update != pcs.UpdateEarly {
		return "", fmt.Errorf("shared: request update: want %q or %q, got %q", pcs.UpdateStandard, pcs.UpdateEarly, req.Update)
	}
	return fmt.Sprintf("intel/%s/%X/%s/%s", req.TEE, req.FMSPC[:], req.CA, req.Update), nil
}

// Collateral returns the collateral for req from the store, or fetches and
// stores it. The result is complete and not expired; the same pointer is
// returned while the stored bytes are unchanged. Callers must not modify
// it.
func (i *Intel) Collateral(ctx context.Context, req pcs.Request) (*pcs.Collateral, error) {
	key, err := intelStoreKey(req)
	if err != nil {
		return nil, err
	}
	if req.Update == "" {
		req.Update = pcs.UpdateStandard
	}
	l := lookup[*pcs.Collateral]{
		key: key,
		check: func(c *pcs.Collateral, now time.Time) (time.Time, error) {
			if err := answers(c, req); err != nil {
				return time.Time{}, err
			}
			return pcs.CacheExpiry(c, now)
		},
		unavailable: func(err error, retryAfter time.Duration) error {
			return &pcs.UnavailableError{Request: req, RetryAfter: retryAfter, Err: err}
		},
	}
	if i.upstream != nil {
		l.fetch = func(ctx context.Context) (*pcs.Collateral, error) { return i.upstream.Collateral(ctx, req) }
	}
	return i.core.get(ctx, l)
}

// answers checks that complete collateral is for req: TCB Info id and
// FMSPC, QE Identity id, and CRLs of the right kind of CA (the issuer's
// common name ends in "PCK Processor CA", "PCK Platform CA" or "Root CA",
// so that roots configured besides Intel's, such as the simulator's, work
// too; the verifier checks the issuers themselves). Collateral is stored
// under its request's key, so a stored entry that fails this was put under
// the wrong key.
func answers(c *pcs.Collateral, req pcs.Request) error {
	if c == nil {
		return errors.New("no collateral")
	}
	var problems []string
	if ti := c.TCBInfo; ti != nil {
		wantID := pcs.TCBInfoIDSGX
		if req.TEE == pcs.TEETDX {
			wantID = pcs.TCBInfoIDTDX
		}
		if ti.ID != wantID {
			problems = append(problems, fmt.Sprintf("TCB Info id: want %q, got %q", wantID, ti.ID))
		}
		if ti.FMSPC != req.FMSPC {
			problems = append(problems, fmt.Sprintf("TCB Info fmspc: want %X, got %X", req.FMSPC[:], ti.FMSPC[:]))
		}
	}
	if qe := c.QEIdentity; qe != nil {
		wantID := pcs.EnclaveIDQE
		if req.TEE == pcs.TEETDX {
			wantID = pcs.EnclaveIDTDQE
		}
		if qe.ID != wantID {
			problems = append(problems, fmt.Sprintf("QE Identity id: want %q, got %q", wantID, qe.ID))
		}
	}
	if crl := c.PCKCRL; crl != nil {
		suffix := "PCK Platform CA"
		if req.CA == pcs.CAProcessor {
			suffix = "PCK Processor CA"
		}
		if cn := crl.Issuer.CommonName; !strings.HasSuffix(cn, suffix) {
			problems = append(problems, fmt.Sprintf("PCK CRL issuer: want a CN ending in %q, got %q", suffix, cn))
		}
	}
	if crl := c.RootCACRL; crl != nil && !strings.HasSuffix(crl.Issuer.CommonName, "Root CA") {
		problems = append(problems, fmt.Sprintf("root CA CRL issuer: want a CN ending in %q, got %q", "Root CA", crl.Issuer.CommonName))
	}
	if len(problems) > 0 {
		return fmt.Errorf("collateral from %s does not answer %s: %s", c.Source, req, strings.Join(problems, "; "))
	}
	return nil
}

// Stats returns the counters since NewIntel.
func (i *Intel) Stats() Stats { return i.core.stats() }

// Entries lists the Intel entries of the store, without bodies, by key.
func (i *Intel) Entries(ctx context.Context) ([]*store.Collateral, error) {
	return i.core.entries(ctx)
}
