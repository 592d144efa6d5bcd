// Package service is the ratls verification service: an HTTP API that
// verifies TEE evidence (RA-TLS certificates, SGX and TDX quotes, SEV-SNP
// reports, Arm CCA tokens, configfs-tsm reports), appraises it against
// versioned policies and reference values, and answers with a signed EAR
// (draft-ietf-rats-ear).
//
// It speaks Veraison's challenge-response API (sessions with a nonce,
// discovery of the EAR key at /.well-known/veraison/verification), a native
// one-shot API (POST /v1/attest), and an authenticated management API for
// policies, reference values, tokens, logs and collateral status. Its
// OpenAPI description is served at /openapi.yaml.
//
// A Server keeps nothing of its own: sessions, policies, tokens, logs and
// collateral live in a store.Store, so any number of replicas can share one
// PostgreSQL database. Each replica signs with its own key and publishes
// its public key through the store, so /v1/keys on any replica lists them
// all.
package service

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/internal/lru"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
)

//go:embed openapi.yaml
var openAPI []byte

// Defaults of Config.
const (
	DefaultSessionTTL   = 150 * time.Second // Veraison's 2m30s
	DefaultNonceSize    = 32
	DefaultMaxBody      = 1 << 20
	DefaultPolicyTTL    = time.Second
	DefaultRate         = 50 // requests per second per client
	DefaultBurst        = 100
	DefaultRequestLimit = 30 * time.Second
	DefaultPolicyName   = "default"
	// DefaultDiscoveryMaxAge is how long clients may cache the discovery
	// document, Veraison's default.
	DefaultDiscoveryMaxAge = 60 * time.Second
	minNonceSize           = 8
	maxNonceSize           = 64
)

// Config configures a Server. Store and Signer are required.
type Config struct {
	Store store.Store
	// Signer signs EARs: an ECDSA P-256 (ES256) or P-384 (ES384) key.
	Signer crypto.Signer
	// Verify is the template of every verification: trust anchors,
	// collateral providers, AMD and CCA settings. Its Policy is the
	// built-in policy used when no policy named DefaultPolicy is stored;
	// Now, Nonce and Policy are set per request.
	Verify ratls.VerifyOptions
	// DefaultPolicy names the stored policy used when a request names
	// none; default "default".
	DefaultPolicy string
	// VerifierID is ear.verifier-id in every EAR.
	VerifierID ear.VerifierID
	// SessionTTL is how long a session's nonce can be redeemed; default
	// DefaultSessionTTL.
	SessionTTL time.Duration
	// MaxBody bounds request bodies; default DefaultMaxBody.
	MaxBody int64
	// PolicyTTL is how long a replica keeps using the latest version of a
	// policy it looked up before looking again; default DefaultPolicyTTL.
	PolicyTTL time.Duration
	// Rate and Burst limit requests per client address (token bucket, per
	// replica); Rate < 0 disables the limit. Defaults DefaultRate and
	// DefaultBurst.
	Rate  float64
	Burst int
	// RequestTimeout bounds the handling of one request; default
	// DefaultRequestLimit.
	RequestTimeout time.Duration
	// StoreTimeout bounds each database operation; default
	// store.DefaultTimeout. A database that does not answer in time is
	// unavailable: 503 with Retry-After.
	StoreTimeout time.Duration
	// VerifyAuth says which verification endpoints need a bearer token:
	// none (the default: open and rate limited, as Veraison's), the ones
	// that take evidence (what Veraison's apiclient authenticates), or all.
	VerifyAuth VerifyAuth
	// OIDC, when set, accepts access tokens of an OpenID Connect provider
	// (Keycloak, as Veraison deployments use) on the verification
	// endpoints, besides API tokens of role read or higher.
	OIDC *OIDCConfig
	// CollateralStats reports collateral cache counters for /metrics and
	// /v1/collateral; optional.
	CollateralStats func() map[string]uint64
	// CacheStats reports the hits, misses, evictions, entries and bytes of
	// the verifiers' and collateral caches by cache name (such as
	// intel.Verifier.CacheStats, pcs.Cache.Stats), for /metrics; optional.
	CacheStats func() map[string]lru.Stats
	// Version is reported by discovery.
	Version string
	// DiscoveryMaxAge is how long clients may cache the discovery document
	// (Cache-Control max-age and Expires, as Veraison sends them); default
	// DefaultDiscoveryMaxAge.
	DiscoveryMaxAge time.Duration
	// Logger receives structured logs; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Explorer, when set, is served at "/" and under /explore/ (the
	// evidence explorer page, package explore); its analysis endpoint is a
	// verification endpoint, rate limited and authenticated as /v1/attest.
	Explorer http.Handler
}

// Server is the verification service.
type Server struct {
	cfg      Config
	st       store.Store
	kid      string
	jwk      ear.JWK
	signer   *ear.Signer
	policies *policies
	metrics  *metrics
	limiter  *rateLimiter
	log      *appraisalLog
	oidc     *oidcVerifier // nil without Config.OIDC
	logger   *slog.Logger
	handler  http.Handler
	draining atomic.Bool // shutting down: not ready for new work
	closed   atomic.Bool
}

// New returns a server. It registers the signing key's public half in the
// store, so other replicas publish it too.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("service: Config.Store is required")
	}
	if cfg.Signer == nil {
		return nil, errors.New("service: Config.Signer is required")
	}
	// Any crypto.Signer with an ECDSA key will do (a KMS or HSM key too).
	pub, ok := cfg.Signer.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("service: Config.Signer: want an ECDSA P-256 or P-384 key, got %T", cfg.Signer.Public())
	}
	if cfg.DefaultPolicy == "" {
		cfg.DefaultPolicy = DefaultPolicyName
	}
	if err := checkName("default policy", cfg.DefaultPolicy, maxPolicyName); err != nil {
		return nil, err
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.PolicyTTL <= 0 {
		cfg.PolicyTTL = DefaultPolicyTTL
	}
	if cfg.Rate == 0 {
		cfg.Rate, cfg.Burst = DefaultRate, DefaultBurst
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestLimit
	}
	if cfg.DiscoveryMaxAge <= 0 {
		cfg.DiscoveryMaxAge = DefaultDiscoveryMaxAge
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// Every database call of the server, the appraisal log writer's too,
	// has a deadline.
	cfg.Store = store.Bounded(cfg.Store, cfg.StoreTimeout)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.VerifierID.Build == "" {
		cfg.VerifierID = ear.VerifierID{Build: "ratls " + cfg.Version, Developer: "https://github.com/ratls/ratls"}
	}
	signer, err := ear.NewSigner(cfg.Signer)
	if err != nil {
		return nil, fmt.Errorf("service: Config.Signer: %w", err)
	}
	jwk := ear.NewJWK(pub)
	kid := jwk.Kid
	jwkJSON, err := json.Marshal(jwk)
	if err != nil {
		return nil, err
	}
	if err := cfg.Store.PutKey(ctx, &store.Key{ID: kid, JWK: jwkJSON, Created: cfg.Now().UTC()}); err != nil {
		return nil, fmt.Errorf("service: registering the signing key: %w", err)
	}
	s := &Server{
		cfg: cfg, st: cfg.Store, kid: kid, jwk: jwk, signer: signer,
		policies: newPolicies(cfg.Store, cfg.Verify.Policy, cfg.PolicyTTL, cfg.Now),
		metrics:  newMetrics(cfg.Store, cfg.CollateralStats, cfg.CacheStats, cfg.Logger),
		limiter:  newRateLimiter(cfg.Rate, cfg.Burst, cfg.Now),
		log:      newAppraisalLog(cfg.Store),
		logger:   cfg.Logger,
	}
	switch cfg.VerifyAuth {
	case VerifyAuthNone, VerifyAuthEvidence, VerifyAuthAll:
	default:
		return nil, fmt.Errorf("service: Config.VerifyAuth: want none, evidence or all, got %q", cfg.VerifyAuth)
	}
	if cfg.OIDC != nil {
		if s.oidc, err = newOIDCVerifier(*cfg.OIDC, cfg.Now); err != nil {
			return nil, err
		}
	}
	s.handler = s.routes()
	return s, nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// KeyID is the kid (RFC 7638 thumbprint) of this replica's signing key.
func (s *Server) KeyID() string { return s.kid }

// Handler returns the HTTP handler of the whole API.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the server's background work: queued appraisal log entries
// are written first. Call it after the HTTP server has shut down.
func (s *Server) Close() {
	if s.closed.CompareAndSwap(false, true) {
		s.log.close()
	}
}

// ServeConfig configures Serve.
type ServeConfig struct {
	// TLS, when set, serves HTTPS (for example ratls.ServerConfig, so
	// that the service attests itself). The service speaks HTTP/1.1 only,
	// over TLS too: "h2" is removed from NextProtos.
	TLS *tls.Config
	// ShutdownGrace is how long in-flight requests may take to finish
	// once ctx is done; default 30 s.
	ShutdownGrace time.Duration
}

// Serve serves the API on ln until ctx is done, then stops accepting
// connections, lets in-flight requests finish (up to ShutdownGrace), writes
// the queued appraisal log and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener, sc ServeConfig) error {
	if sc.ShutdownGrace <= 0 {
		sc.ShutdownGrace = 30 * time.Second
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      s.cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if sc.TLS != nil {
		ln = tls.NewListener(ln, problemTLSConfig(sc.TLS))
	}
	// Go's own answers to unreadable requests become problem documents.
	ln = problemListener{ln}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	go s.purgeSessions(ctx)
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.logger.Info("shutting down", "grace", sc.ShutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), sc.ShutdownGrace)
	defer cancel()
	err := hs.Shutdown(sctx)
	s.Close()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("service: shutdown: requests still running after %s", sc.ShutdownGrace)
	}
	return err
}

// purgeSessions fails sessions stuck past their processing deadline and
// deletes expired sessions now and then.
func (s *Server) purgeSessions(ctx context.Context) {
	t := time.NewTicker(max(s.cfg.SessionTTL, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.abandonStuck(ctx); err != nil {
				s.logger.Warn("failing sessions past their processing deadline", "err", err)
			} else if n > 0 {
				s.logger.Warn("failed sessions past their processing deadline", "count", n)
			}
			// Sessions are kept one TTL past expiry so late clients get
			// "stale nonce", not "not found".
			n, err := s.st.PurgeSessions(ctx, s.now().Add(-s.cfg.SessionTTL))
			if err != nil {
				s.logger.Warn("purging expired sessions", "err", err)
			} else if n > 0 {
				s.logger.Debug("purged expired sessions", "count", n)
			}
		}
	}
}

var errClosed = errors.New("service: shutting down")

// Ready reports whether the server takes work: it is not shutting down and
// the store answers.
func (s *Server) Ready(ctx context.Context) error {
	if s.draining.Load() || s.closed.Load() {
		return errClosed
	}
	return s.st.Ping(ctx)
}

// discovery is the body of the discovery endpoint.
func (s *Server) discovery(state string) *api.Discovery {
	k, _ := json.Marshal(s.jwk)
	return &api.Discovery{
		EARVerificationKey: k,
		MediaTypes:         api.EvidenceMedia,
		Version:            s.cfg.Version,
		ServiceState:       state,
		APIEndpoints: map[string]string{
			"newChallengeResponseSession": api.PathNewSession,
			"attest":                      api.PathAttest,
			"keys":                        api.PathKeys,
			"openapi":                     api.PathOpenAPI,
		},
		AttestationSchemes: map[string][]string{"tees": {"sgx", "tdx", "sev_snp", "cca", "azure_vtpm"}},
	}
}

// keySet returns the public keys of all replicas.
func (s *Server) keySet(ctx context.Context) (*ear.JWKSet, error) {
	keys, err := s.st.Keys(ctx)
	if err != nil {
		return nil, err
	}
	set := &ear.JWKSet{}
	for _, k := range keys {
		var j ear.JWK
		if err := json.Unmarshal(k.JWK, &j); err != nil {
			return nil, fmt.Errorf("stored key %s: %w", k.ID, err)
		}
		set.Keys = append(set.Keys, j)
	}
	return set, nil
}
