package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/explore"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
)

type exploreFlags struct {
	verify verifyFlags
	listen string
	jwks   string
}

func newExploreCommand() *cobra.Command {
	var f exploreFlags
	cmd := &cobra.Command{
		Use:   "explore [--listen ADDR] [verify's flags] [--jwks FILE|URL]",
		Short: "Serve the evidence explorer: a web page that decodes, verifies and explains evidence",
		Long: `Explore serves the evidence explorer on this machine (the page "ratls
verifier serve" also serves at /). Open the URL it prints, then paste or
drop an RA-TLS certificate, a DCAP quote, an SEV-SNP report, an Arm CCA
token, a CMW, a collateral document or an EAR: the page shows it decoded,
each field named and explained, the verification checks with expected and
actual values, the TCB status and advisories, the policy verdict and its
reasons, and for an EAR its signature status and trust vector.

The page has no external assets and may connect to this process only;
nothing is sent anywhere else. Verification uses the flags of "ratls
verify" (collateral, trust roots, policy); EARs are checked with the keys
of --jwks (a JWK set file, or a service's /v1/keys URL).`,
		Example: `  ratls explore
  ratls explore --offline --collateral coll/ --trust-root sim/root.pem
  ratls explore --jwks http://127.0.0.1:8080/v1/keys`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runExplore(cmd, &f) },
	}
	fl := cmd.Flags()
	v := &f.verify
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8089", "address to serve the page on")
	fl.StringVar(&f.jwks, "jwks", "", "keys to verify EARs with: a JWK set file, or a URL such as a service's /v1/keys")
	fl.StringVar(&v.policy, "policy", "", "appraisal policy file (JSON, see docs/policy.md)")
	fl.StringVar(&v.collateral, "collateral", "", "offline Intel collateral: a file or directory in any form verify reads")
	fl.BoolVar(&v.offline, "offline", false, "never use the network for collateral")
	fl.StringVar(&v.pccs, "pccs", "", "PCCS base URL instead of Intel's PCS")
	fl.StringVar(&v.update, "update", "standard", "Intel TCB update channel: standard or early")
	fl.StringArrayVar(&v.trustRoots, "trust-root", nil, "additional trusted root certificate (PEM); repeatable")
	fl.BoolVar(&v.onlyRoots, "only-trust-roots", false, "trust only the --trust-root certificates, not Intel's root")
	fl.StringVar(&v.pckChain, "pck-chain", "", "PCK certificate chain (PEM) for quotes that carry only a PPID")
	fl.StringVar(&v.cacheDir, "cache-dir", defaultCacheDir(), "collateral cache directory (empty disables the disk cache)")
	fl.StringVar(&v.at, "at", "", "verification time, RFC 3339 (default: now)")
	fl.DurationVar(&v.timeout, "timeout", 10*time.Second, "network timeout")
	v.addOtherTEEFlags(fl)
	return cmd
}

func runExplore(cmd *cobra.Command, f *exploreFlags) error {
	opt, err := f.verify.options()
	if err != nil {
		return err
	}
	cfg := &explore.Config{Verify: *opt, Where: "ratls explore"}
	if !opt.Now.IsZero() {
		at := opt.Now
		cfg.Now = func() time.Time { return at }
	}
	if f.jwks != "" {
		cfg.Keys = func(context.Context) (*ear.JWKSet, error) { return loadJWKS(f.jwks) }
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return inputErr("--listen: %v", err)
	}
	defer ln.Close()
	ctx, stop := signal.NotifyContext(contextOf(cmd), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: cfg.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Fprintf(cmd.ErrOrStderr(), "evidence explorer at http://%s/ (Ctrl-C stops it)\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

// ownServiceKeys reads a service's EAR keys through its own handler, as
// GET /v1/keys would: the explorer it serves checks EARs with them.
func ownServiceKeys(ctx context.Context, srv *service.Server) (*ear.JWKSet, error) {
	if srv == nil {
		return nil, fmt.Errorf("the service is not started")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.PathKeys, nil)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = "127.0.0.1:0"
	w := &memoryResponse{header: http.Header{}}
	srv.Handler().ServeHTTP(w, req)
	if w.code != 0 && w.code != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", api.PathKeys, w.code)
	}
	var set ear.JWKSet
	if err := json.Unmarshal(w.body.Bytes(), &set); err != nil {
		return nil, err
	}
	return &set, nil
}

// memoryResponse is an http.ResponseWriter that keeps the answer.
type memoryResponse struct {
	header http.Header
	body   bytes.Buffer
	code   int
}

func (m *memoryResponse) Header() http.Header         { return m.header }
func (m *memoryResponse) Write(b []byte) (int, error) { return m.body.Write(b) }
func (m *memoryResponse) WriteHeader(code int)        { m.code = code }
