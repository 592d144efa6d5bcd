package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/internal/relay"
)

type serveFlags struct {
	attesterFlags
	listen   string
	upstream string
	echo     bool
	nonce    bool
	attest   string
	passport string
	mutual   bool
	validity time.Duration
	legacy   bool
	verify   verifyFlags // for --mutual: how to verify clients
}

func newServeCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve --attester sim|tsm|gramine|sevguest --listen ADDR (--upstream URL | --echo)",
		Short: "Put attested TLS (RA-TLS) in front of a local service",
		Long: `Serve terminates TLS with an RA-TLS certificate whose evidence comes from
the chosen attester, and forwards each connection:

  --upstream http://HOST:PORT   as an HTTP reverse proxy
  --upstream tcp://HOST:PORT    as raw TCP
  --echo                        echoes what it receives (for testing)

Attesters: "tsm" (Linux configfs-tsm: TDX, SEV-SNP, Arm CCA guests), "gramine"
(/dev/attestation inside Gramine SGX), "sevguest" (/dev/sev-guest), "sim"
(the simulated TEE: --sim-dir DIR from "ratls sim init", or a throw-away
one; clients must trust its root explicitly).

The certificate is issued on the first connection, reused, and renewed
before it expires. --nonce also serves per-connection certificates to
clients that ask with a nonce ("ratls connect --nonce"). --mutual requires
clients to present an RA-TLS certificate that passes --policy.

--attest post-handshake adds attestation bound to each connection
(draft-fossati-seat-expat, docs/binding.md): right after the handshake
the client asks for an exported authenticator whose evidence names the
connection ("ratls connect --attest post-handshake"); with an HTTP
upstream the same is served at /.well-known/ratls/attestation instead.
--passport URL sends an EAR from that verification service instead of the
evidence (passport model). With --mutual, clients attest the same way.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "attester", "", "evidence source: sim, tsm, gramine or sevguest (required)")
	fl.StringVar(&f.simDir, "sim-dir", "", "simulated TEE state from \"ratls sim init\" (default: a new in-memory one)")
	fl.StringVar(&f.tee, "tee", "tdx", "simulated TEE kind: sgx or tdx")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8443", "address to listen on")
	fl.StringVar(&f.upstream, "upstream", "", "forward to http://HOST:PORT (reverse proxy) or tcp://HOST:PORT")
	fl.BoolVar(&f.echo, "echo", false, "echo each connection's data back")
	fl.BoolVar(&f.nonce, "nonce", false, "issue per-connection certificates for clients that send a nonce")
	fl.StringVar(&f.attest, "attest", attestCertificate, "how attestation is bound to connections: certificate or post-handshake")
	fl.StringVar(&f.passport, "passport", "", "with --attest post-handshake: send EARs from this verification service (URL) instead of evidence")
	fl.BoolVar(&f.mutual, "mutual", false, "require and verify an RA-TLS client certificate")
	fl.BoolVar(&f.legacy, "legacy-gramine", false, "also add Gramine's legacy quote extension (SGX quotes only)")
	fl.DurationVar(&f.validity, "validity", ratls.DefaultValidity, "certificate lifetime")
	fl.StringVar(&f.verify.policy, "policy", "", "with --mutual: policy for client evidence")
	fl.StringArrayVar(&f.verify.trustRoots, "trust-root", nil, "with --mutual: extra trusted root for client evidence")
	fl.StringVar(&f.verify.collateral, "collateral", "", "with --mutual: offline collateral for client evidence")
	fl.BoolVar(&f.verify.offline, "offline", false, "with --mutual: no network for client collateral")
	cmd.MarkFlagRequired("attester")
	return cmd
}

func runServe(cmd *cobra.Command, f *serveFlags) error {
	if f.echo == (f.upstream != "") {
		return inputErr("give exactly one of --upstream or --echo")
	}
	switch {
	case f.attest != attestCertificate && f.attest != attestPostHandshake:
		return inputErr("--attest: want certificate or post-handshake, got %q", f.attest)
	case f.attest == attestPostHandshake && f.nonce:
		return inputErr("--nonce is a certificate-mode option; --attest post-handshake binds every connection already")
	case f.attest == attestPostHandshake && f.mutual && strings.HasPrefix(f.upstream, "http"):
		return inputErr("--mutual with --attest post-handshake needs --echo or a tcp:// upstream: the HTTP binding attests the server only")
	case f.passport != "" && f.attest != attestPostHandshake:
		return inputErr("--passport needs --attest post-handshake")
	}
	att, s, err := f.openAttester()
	if err != nil {
		return inputErr("attester %s: %v", f.name, err)
	}
	opts := &ratls.IssuerOptions{AllowNonce: f.nonce, Certificate: ratls.CertificateOptions{Validity: f.validity, LegacyGramine: f.legacy}}
	if s != nil {
		if opts.Certificate.Endorsements, err = simEndorsements(s, f.tee); err != nil {
			return inputErr("%v", err)
		}
	}
	iss := ratls.NewIssuer(att, opts)
	var clients *ratls.PeerVerifier
	if f.mutual {
		f.verify.update = "standard"
		vo, err := f.verify.options()
		if err != nil {
			return err
		}
		clients = ratls.NewPeerVerifier(vo)
	}
	var ph *ratls.PostHandshake
	cfg := ratls.ServerConfig(iss, clients)
	if f.attest == attestPostHandshake {
		ph = &ratls.PostHandshake{Issuer: iss, Peers: clients}
		if f.passport != "" {
			ph.Passport = servicePassport(f.passport)
			if clients != nil {
				if ph.PassportKeys, err = serviceKeys(cmdContext(cmd), f.passport); err != nil {
					return inputErr("%v", err)
				}
			}
		}
		// Clients attest after the handshake: a light certificate for the
		// framed exchange, the RA-TLS one for the HTTP binding (served
		// beside ordinary HTTPS clients).
		cfg = ratls.PostHandshakeServerConfig(iss)
		if strings.HasPrefix(f.upstream, "http") {
			cfg = ratls.HTTPServerConfig(iss)
		}
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	forward, err := forwarder(f, ph, log)
	if err != nil {
		return inputErr("%v", err)
	}
	var after func(context.Context, *tls.Conn, *slog.Logger) error
	if ph != nil && !strings.HasPrefix(f.upstream, "http") {
		after = postHandshakeServe(ph)
	}
	if strings.HasPrefix(f.upstream, "http") {
		// The reverse proxy serves each connection as HTTP/1.1.
		cfg.NextProtos = []string{"http/1.1"}
	}

	ctx, stop := signal.NotifyContext(cmdContext(cmd), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := iss.Certificate(ctx); err != nil {
		return &exitError{code: exitRejected, err: fmt.Errorf("first certificate: %w", err)}
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return inputErr("%v", err)
	}
	log.Info("serving attested TLS", "listen", ln.Addr().String(), "attester", f.name, "mode", mode(f), "attest", f.attest)
	return serveLoop(ctx, tls.NewListener(ln, cfg), forward, after, log)
}

func mode(f *serveFlags) string {
	switch {
	case f.echo:
		return "echo"
	default:
		return "upstream " + f.upstream
	}
}

func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// forwarder returns what to do with each accepted connection. With ph, an
// HTTP upstream also serves post-handshake attestation (HTTP binding). The
// HTTP proxy's own errors go to log too.
func forwarder(f *serveFlags, ph *ratls.PostHandshake, log *slog.Logger) (func(net.Conn, *slog.Logger), error) {
	if f.echo {
		return func(c net.Conn, _ *slog.Logger) { io.Copy(c, c) }, nil
	}
	u, err := url.Parse(f.upstream)
	if err != nil {
		return nil, fmt.Errorf("--upstream: %v", err)
	}
	switch u.Scheme {
	case "http", "https":
		errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
		proxy := httputil.NewSingleHostReverseProxy(u)
		proxy.ErrorLog = errLog
		var handler http.Handler = proxy
		if ph != nil {
			handler = withTLSState(ph.Handler(handler))
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second, ConnContext: tlsStateContext, ErrorLog: errLog, ConnState: closeIdleAfterEOF}
		return func(c net.Conn, log *slog.Logger) {
			l := &oneConnListener{conn: newHalfClosedConn(c), done: make(chan struct{})}
			srv.Serve(l) // returns when the connection is done
		}, nil
	case "tcp":
		return func(c net.Conn, log *slog.Logger) {
			up, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
			if err != nil {
				log.Error("upstream", "err", err)
				return
			}
			defer up.Close()
			relay.Copy(c, up)
		}, nil
	}
	return nil, fmt.Errorf("--upstream: want http://, https:// or tcp://, got %q", f.upstream)
}

// shutdownGrace is how long open connections may finish after a signal.
const shutdownGrace = 10 * time.Second

// serveLoop accepts connections; after, when set, runs on each one after
// the handshake and before forward (post-handshake attestation).
func serveLoop(ctx context.Context, ln net.Listener, forward func(net.Conn, *slog.Logger), after func(context.Context, *tls.Conn, *slog.Logger) error, log *slog.Logger) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	defer func() {
		// Let open connections finish, then cut the rest.
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(shutdownGrace):
			mu.Lock()
			for c := range conns {
				c.Close()
			}
			mu.Unlock()
			<-done
		}
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				log.Info("shutting down")
				return nil
			}
			return err
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
			tc := c.(*tls.Conn)
			hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := tc.HandshakeContext(hctx)
			if err == nil && after != nil {
				err = after(hctx, tc, log)
			}
			cancel()
			if err != nil {
				log.Warn("handshake", "remote", c.RemoteAddr().String(), "err", err)
				return
			}
			forward(c, log)
		}()
	}
}

// The connections serve hands to its http.Server are wrapped (closeNotifyConn),
// so net/http does not see their TLS state; the HTTP binding of
// post-handshake attestation needs it (its exporter), so it is carried in
// the request context.
type tlsStateKey struct{}

func tlsStateContext(ctx context.Context, c net.Conn) context.Context {
	for {
		switch x := c.(type) {
		case *tls.Conn:
			cs := x.ConnectionState()
			return context.WithValue(ctx, tlsStateKey{}, &cs)
		case *halfClosedConn:
			c = x.Conn
		case *closeNotifyConn:
			c = x.Conn
		default:
			return ctx
		}
	}
}

func withTLSState(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cs, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok && r.TLS == nil {
			r.TLS = cs
		}
		h.ServeHTTP(w, r)
	})
}

// oneConnListener serves a single, already accepted connection to an
// http.Server.
type oneConnListener struct {
	conn net.Conn
	once sync.Once
	done chan struct{}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() { c = &closeNotifyConn{Conn: l.conn, done: l.done} })
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, errors.New("listener closed")
}
func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }

type closeNotifyConn struct {
	net.Conn
	once sync.Once
	done chan struct{}
}

// NetConn returns the wrapped connection.
func (c *closeNotifyConn) NetConn() net.Conn { return c.Conn }

func (c *closeNotifyConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.Conn.Close()
}
