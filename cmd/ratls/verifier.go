package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/explore"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/store"
)

func newVerifierCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verifier",
		Short: "Run the verification service and manage its tokens",
	}
	cmd.AddCommand(newVerifierServeCommand(), newVerifierTokenCommand())
	return cmd
}

// verifierFlags configure "ratls verifier serve".
type verifierFlags struct {
	verifyFlags
	attesterFlags
	config          string
	db              string
	key             string
	listen          string
	tlsCert         string
	tlsKey          string
	raTLS           bool
	plaintext       bool
	logLevel        string
	sessionTTL      time.Duration
	discoveryMaxAge time.Duration
	dbTimeout       time.Duration
	rate            float64
	burst           int
	maxBody         int64
	verifyAuth      string
	oidcIssuer      string
	oidcAudience    string
	oidcRole        string
	oidcCACert      string
	grace           time.Duration
	defaultPol      string
	refreshEarly    time.Duration
	cacheMiB        int64
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "ratls", "verifier")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "ratls", "verifier")
	}
	return "ratls-verifier"
}

func newVerifierServeCommand() *cobra.Command {
	var f verifierFlags
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Serve the verification API (challenge-response sessions, /v1/attest, management)",
		Long: `Serve runs the verification service: relying parties send TEE evidence
(an RA-TLS certificate, an SGX or TDX quote, a SEV-SNP report, an Arm CCA
token, a configfs-tsm report) and get back a signed EAR attestation result.
docs/service.md describes the API; it is served at /openapi.yaml.

Settings come from flags, then environment variables (RATLS_VERIFIER_ and
the flag name in upper case with '_' for '-', e.g. RATLS_VERIFIER_DB), then
the JSON file given with --config (keys are flag names), then defaults.

Storage: --db sqlite:PATH (default, one replica) or postgres://... (any
number of replicas sharing the database). The EAR signing key (--key) is
created on first start if the file does not exist; every replica publishes
its public key through the database, so /v1/keys lists them all.

Without --tls-cert or --ra-tls the API is served over plain HTTP, which is
allowed only on a loopback address unless --insecure-plaintext is given
(e.g. behind a TLS-terminating proxy).

Create the first admin token with "ratls verifier token create".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyConfig(cmd.Flags(), f.config, "RATLS_VERIFIER_"); err != nil {
				return inputErr("%v", err)
			}
			return runVerifierServe(cmd, &f)
		},
	}
	fl := cmd.Flags()
	data := defaultDataDir()
	fl.StringVar(&f.config, "config", "", "JSON configuration file whose keys are flag names")
	fl.StringVar(&f.db, "db", "sqlite:"+filepath.Join(data, "verifier.db"), "database: sqlite:PATH or postgres://...")
	fl.StringVar(&f.key, "key", filepath.Join(data, "ear-key.pem"), "EAR signing key (PEM EC P-256 or P-384); created if missing")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8080", "address to listen on")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate chain (PEM) to serve HTTPS")
	fl.StringVar(&f.tlsKey, "tls-key", "", "TLS private key (PEM)")
	fl.BoolVar(&f.raTLS, "ra-tls", false, "serve HTTPS with an RA-TLS certificate from --attester (the service attests itself)")
	fl.StringVar(&f.name, "attester", "", "with --ra-tls: evidence source, sim, tsm, gramine or sevguest")
	fl.StringVar(&f.simDir, "sim-dir", "", "with --attester sim: simulated TEE state from \"ratls sim init\"")
	fl.StringVar(&f.attesterFlags.tee, "tee", "tdx", "with --attester sim: sgx or tdx")
	fl.BoolVar(&f.plaintext, "insecure-plaintext", false, "allow plain HTTP on a non-loopback address")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error (JSON logs on stderr)")
	fl.DurationVar(&f.sessionTTL, "session-ttl", service.DefaultSessionTTL, "how long a session's nonce can be redeemed")
	fl.DurationVar(&f.discoveryMaxAge, "discovery-max-age", service.DefaultDiscoveryMaxAge, "how long clients may cache the discovery document (Cache-Control max-age)")
	fl.DurationVar(&f.dbTimeout, "db-timeout", store.DefaultTimeout, "time limit of each database operation")
	fl.Float64Var(&f.rate, "rate", service.DefaultRate, "requests per second per client address (negative: unlimited)")
	fl.IntVar(&f.burst, "burst", service.DefaultBurst, "request burst per client address")
	fl.Int64Var(&f.maxBody, "max-body", service.DefaultMaxBody, "largest request body in bytes")
	fl.StringVar(&f.verifyAuth, "verify-auth", "none", "verification endpoints that need a token: none, evidence (posting evidence and DELETE: what Veraison's apiclient authenticates) or all; alone, all")
	fl.Lookup("verify-auth").NoOptDefVal = "all"
	fl.StringVar(&f.oidcIssuer, "oidc-issuer", "", "also accept access tokens of this OpenID Connect issuer (e.g. a Keycloak realm URL) on the verification endpoints")
	fl.StringVar(&f.oidcAudience, "oidc-audience", "", "with --oidc-issuer: the client the tokens must be for (aud or azp)")
	fl.StringVar(&f.oidcRole, "oidc-role", "", "with --oidc-issuer: the role the tokens must have (Keycloak realm role, roles or scope)")
	fl.StringVar(&f.oidcCACert, "oidc-ca-cert", "", "with --oidc-issuer: CA certificate (PEM) of the issuer's HTTPS, besides the system's")
	fl.DurationVar(&f.grace, "shutdown-grace", 30*time.Second, "how long in-flight requests may take to finish on SIGTERM")
	fl.StringVar(&f.defaultPol, "default-policy", service.DefaultPolicyName, "stored policy used when a request names none")
	fl.DurationVar(&f.refreshEarly, "collateral-refresh", 24*time.Hour, "refetch Intel collateral this long before its nextUpdate")
	fl.Int64Var(&f.cacheMiB, "cache-mib", 64, "memory bound of each cache, in MiB: verified Intel platforms, AMD chips and Arm platform tokens, Intel collateral, AMD certificates (docs/sizing.md)")
	// Verification settings, as for "ratls verify".
	fl.StringVar(&f.collateral, "collateral", "", "offline Intel collateral: a directory or a dcap-qvl collateral JSON file")
	fl.BoolVar(&f.offline, "offline", false, "never use the network for collateral (only the database and --collateral)")
	fl.StringVar(&f.pccs, "pccs", "", "PCCS base URL to fetch collateral from instead of Intel's PCS")
	fl.StringVar(&f.update, "update", "standard", "Intel TCB update channel: standard or early")
	fl.StringVar(&f.policy, "policy", "", "built-in policy file (JSON, docs/policy.md), used while no policy named --default-policy is stored")
	fl.StringArrayVar(&f.trustRoots, "trust-root", nil, "additional trusted root certificate (PEM); repeatable")
	fl.BoolVar(&f.onlyRoots, "only-trust-roots", false, "trust only the --trust-root certificates, not Intel's root")
	fl.StringVar(&f.pckChain, "pck-chain", "", "PCK certificate chain (PEM) for quotes that carry only a PPID")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "timeout of collateral fetches and of each request")
	f.addOtherTEEFlags(fl)
	return cmd
}

func runVerifierServe(cmd *cobra.Command, f *verifierFlags) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return inputErr("--log-level: %v", err)
	}
	logger := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(contextOf(cmd), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tlsConf, err := f.tlsConfig()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return inputErr("--listen: %v", err)
	}
	defer ln.Close()
	if tlsConf == nil && !f.plaintext && !isLoopback(ln.Addr()) {
		return inputErr("--listen %s: plain HTTP on a non-loopback address needs --insecure-plaintext (or use --tls-cert / --ra-tls)", f.listen)
	}
	srv, st, err := f.newServer(ctx, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	logger.Info("verification service listening", "url", scheme+"://"+ln.Addr().String(), "db", redactURL(f.db), "key_id", srv.KeyID())
	return srv.Serve(ctx, ln, service.ServeConfig{TLS: tlsConf, ShutdownGrace: f.grace})
}

func contextOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// oidcConfig reads the --oidc-* flags; nil without --oidc-issuer.
func (f *verifierFlags) oidcConfig() (*service.OIDCConfig, error) {
	if f.oidcIssuer == "" {
		if f.oidcAudience != "" || f.oidcRole != "" || f.oidcCACert != "" {
			return nil, inputErr("--oidc-audience, --oidc-role and --oidc-ca-cert need --oidc-issuer")
		}
		return nil, nil
	}
	c := &service.OIDCConfig{Issuer: f.oidcIssuer, Audience: f.oidcAudience, Role: f.oidcRole}
	if f.oidcCACert != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		b, err := os.ReadFile(f.oidcCACert)
		if err != nil {
			return nil, inputErr("--oidc-ca-cert: %v", err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, inputErr("--oidc-ca-cert %s: no PEM certificate", f.oidcCACert)
		}
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	return c, nil
}

// newServer opens the store and builds the service from the flags.
func (f *verifierFlags) newServer(ctx context.Context, logger *slog.Logger) (*service.Server, store.Store, error) {
	key, err := loadOrCreateKey(f.key)
	if err != nil {
		return nil, nil, inputErr("--key: %v", err)
	}
	st, err := store.Open(ctx, f.db)
	if err != nil {
		return nil, nil, inputErr("--db %s: %v", redactURL(f.db), err)
	}
	// Verification options as for "ratls verify", but collateral fetched
	// from the network goes through the shared store so that replicas
	// fetch it once (service.ConfigureReplica).
	online := !f.offline && f.collateral == ""
	amdOnline := !f.offline && f.amdCerts == ""
	if f.cacheMiB < 1 {
		st.Close()
		return nil, nil, inputErr("--cache-mib: want 1 or more, got %d", f.cacheMiB)
	}
	cacheBytes := f.cacheMiB << 20
	vf := f.verifyFlags
	vf.offline = true
	vf.cacheBytes = cacheBytes
	opt, err := vf.options()
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	verifyAuth, err := service.ParseVerifyAuth(f.verifyAuth)
	if err != nil {
		st.Close()
		return nil, nil, inputErr("--verify-auth: %v", err)
	}
	oidc, err := f.oidcConfig()
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	cfg := service.Config{
		Store: st, Signer: key, Verify: *opt, DefaultPolicy: f.defaultPol, SessionTTL: f.sessionTTL,
		MaxBody: f.maxBody, Rate: f.rate, Burst: f.burst, RequestTimeout: f.timeout, StoreTimeout: f.dbTimeout,
		VerifyAuth: verifyAuth, OIDC: oidc, Version: buildVersion().Version, Logger: logger, DiscoveryMaxAge: f.discoveryMaxAge,
	}
	replica := service.ReplicaConfig{CacheBytes: cacheBytes, IntelRefreshBefore: f.refreshEarly}
	if online {
		replica.IntelUpstream = pcs.NewClient(pcs.ClientConfig{BaseURL: f.pccs, HTTPClient: &http.Client{Timeout: f.timeout}})
	}
	if amdOnline {
		replica.AMDUpstream = f.kdsClient()
	}
	if err := service.ConfigureReplica(&cfg, replica); err != nil {
		st.Close()
		return nil, nil, err
	}
	// The evidence explorer at / checks EARs with this service's keys.
	var self *service.Server
	explorer := &explore.Config{Verify: cfg.Verify, Where: "ratls verifier serve",
		Keys: func(ctx context.Context) (*ear.JWKSet, error) { return ownServiceKeys(ctx, self) }}
	cfg.Explorer = explorer.Handler()
	srv, err := service.New(ctx, cfg)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	self = srv
	return srv, st, nil
}

// tlsConfig returns the service's own TLS configuration, nil for plain HTTP.
func (f *verifierFlags) tlsConfig() (*tls.Config, error) {
	switch {
	case f.raTLS && f.tlsCert != "":
		return nil, inputErr("--ra-tls and --tls-cert are exclusive")
	case f.raTLS:
		if f.name == "" {
			return nil, inputErr("--ra-tls needs --attester")
		}
		att, s, err := f.openAttester()
		if err != nil {
			return nil, inputErr("--attester %s: %v", f.name, err)
		}
		opts := &ratls.IssuerOptions{}
		if s != nil {
			if opts.Certificate.Endorsements, err = simEndorsements(s, f.attesterFlags.tee); err != nil {
				return nil, err
			}
		}
		return ratls.ServerConfig(ratls.NewIssuer(att, opts), nil), nil
	case f.tlsCert != "" || f.tlsKey != "":
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, inputErr("--tls-cert/--tls-key: %v", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	}
	return nil, nil
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// loadOrCreateKey reads an EC private key, or creates a P-256 key in a new
// file (mode 0600) when there is none. Two processes starting at once
// agree on one key: the file is created exclusively.
func loadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, gerr := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if gerr != nil {
			return nil, gerr
		}
		der, gerr := x509.MarshalPKCS8PrivateKey(k)
		if gerr != nil {
			return nil, gerr
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		fh, ferr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(ferr, os.ErrExist) {
			return loadOrCreateKey(path)
		}
		if ferr != nil {
			return nil, ferr
		}
		werr := pem.Encode(fh, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if cerr := fh.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, werr
		}
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	var key any
	switch blk.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("%s: want a PRIVATE KEY or EC PRIVATE KEY block, got %s", path, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ek, ok := key.(*ecdsa.PrivateKey)
	if !ok || (ek.Curve != elliptic.P256() && ek.Curve != elliptic.P384()) {
		return nil, fmt.Errorf("%s: want an EC P-256 or P-384 key, got %T", path, key)
	}
	return ek, nil
}

// applyConfig fills the flags not given on the command line from the
// environment (prefix + NAME) and then from a JSON file of flag names.
func applyConfig(fl *pflag.FlagSet, file, envPrefix string) error {
	var conf map[string]json.RawMessage
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		if err := json.Unmarshal(b, &conf); err != nil {
			return fmt.Errorf("--config %s: %w", file, err)
		}
		for k := range conf {
			if fl.Lookup(k) == nil || k == "config" {
				return fmt.Errorf("--config %s: unknown setting %q (keys are flag names)", file, k)
			}
		}
	}
	var err error
	fl.VisitAll(func(fg *pflag.Flag) {
		if err != nil || fg.Changed || fg.Name == "config" {
			return
		}
		env := envPrefix + strings.ToUpper(strings.ReplaceAll(fg.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if serr := fl.Set(fg.Name, v); serr != nil {
				err = fmt.Errorf("%s: %w", env, serr)
			}
			return
		}
		raw, ok := conf[fg.Name]
		if !ok {
			return
		}
		// Numbers are kept as written (1048576, not 1.048576e+06).
		var vals []string
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if derr := dec.Decode(&v); derr != nil {
			err = fmt.Errorf("--config %s: %s: %w", file, fg.Name, derr)
			return
		}
		if list, ok := v.([]any); ok {
			for _, x := range list {
				vals = append(vals, fmt.Sprint(x))
			}
		} else {
			vals = []string{fmt.Sprint(v)}
		}
		for _, v := range vals {
			if serr := fl.Set(fg.Name, v); serr != nil {
				err = fmt.Errorf("--config %s: %s: %w", file, fg.Name, serr)
				return
			}
		}
	})
	return err
}

func newVerifierTokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens directly in the database"}
	var db, name, role string
	create := &cobra.Command{
		Use:   "create --name NAME --role read|write|admin",
		Short: "Create an API token (e.g. the first admin token) and print it once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Only the database comes from the environment, as for serve.
			if v, ok := os.LookupEnv("RATLS_VERIFIER_DB"); ok && !cmd.Flags().Changed("db") {
				db = v
			}
			st, err := store.Open(contextOf(cmd), db)
			if err != nil {
				return inputErr("--db %s: %v", redactURL(db), err)
			}
			defer st.Close()
			t, err := service.CreateToken(contextOf(cmd), st, name, role, "cli", time.Now())
			if err != nil {
				return inputErr("%v", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), t.Secret)
			return nil
		},
	}
	create.Flags().StringVar(&db, "db", "sqlite:"+filepath.Join(defaultDataDir(), "verifier.db"), "database: sqlite:PATH or postgres://...")
	create.Flags().StringVar(&name, "name", "", "token name")
	create.Flags().StringVar(&role, "role", "read", "role: read, write or admin")
	create.MarkFlagRequired("name")
	cmd.AddCommand(create)
	return cmd
}
