package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/inspect"
	"github.com/ratls/ratls/internal/neterr"
)

type connectFlags struct {
	verify        verifyFlags
	nonce         bool
	attest        string
	trustVerifier string
	relay         bool
	mutual        attesterFlags
	saveChain     string
}

func newConnectCommand() *cobra.Command {
	var f connectFlags
	cmd := &cobra.Command{
		Use:   "connect [flags] HOST:PORT",
		Short: "Open attested TLS to a server, verify its evidence, show the result",
		Long: `Connect performs a TLS handshake with HOST:PORT, verifies the server's RA-TLS
certificate (evidence, collateral, key binding) against --policy, and
prints the attestation result. The handshake fails unless the policy
accepts the server. With --relay it then copies standard input to the
server and the server's replies to standard output, like openssl s_client.

--attest selects how the server's attestation is bound to the connection
(docs/binding.md):
  certificate     the server's RA-TLS certificate (default)
  nonce           a certificate made for this connection (the server must
                  run "ratls serve --nonce"): a replayed certificate is
                  refused; --nonce is the same
  post-handshake  after the handshake, the server sends an exported
                  authenticator whose evidence is bound to this connection
                  (draft-fossati-seat-expat; "ratls serve --attest
                  post-handshake"): a relayed connection is refused.
                  --collateral supplies the collateral the evidence needs;
                  --trust-verifier URL accepts EARs from that verification
                  service (passport model)
--attester makes this a mutual-attestation client presenting its own
RA-TLS certificate (or, in post-handshake mode, its own authenticator).

Collateral and trust flags are those of "ratls verify". Exit status: 0 when
the server was accepted, 1 when it was rejected, 2 for usage or connection
errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runConnect(cmd, args[0], &f) },
	}
	fl := cmd.Flags()
	v := &f.verify
	fl.BoolVar(&v.asJSON, "json", false, "print the result as JSON")
	fl.StringVar(&v.policy, "policy", "", "appraisal policy file (JSON)")
	fl.StringVar(&v.collateral, "collateral", "", "offline Intel collateral (directory or dcap-qvl JSON)")
	fl.BoolVar(&v.offline, "offline", false, "never use the network for collateral")
	fl.StringVar(&v.pccs, "pccs", "", "PCCS base URL instead of Intel's PCS")
	fl.StringVar(&v.update, "update", "standard", "Intel TCB update channel: standard or early")
	fl.StringArrayVar(&v.trustRoots, "trust-root", nil, "additional trusted root certificate (PEM); repeatable")
	fl.BoolVar(&v.onlyRoots, "only-trust-roots", false, "trust only the --trust-root certificates")
	fl.StringVar(&v.cacheDir, "cache-dir", defaultCacheDir(), "collateral cache directory")
	fl.StringVar(&v.sni, "sni", "", "server name to send (ignored with --nonce)")
	fl.DurationVar(&v.timeout, "timeout", defaultTimeout, "connection timeout")
	v.addOtherTEEFlags(fl)
	fl.StringVar(&f.attest, "attest", attestCertificate, "how the attestation is bound to the connection: certificate, nonce or post-handshake")
	fl.BoolVar(&f.nonce, "nonce", false, "require a certificate made for this connection (--attest nonce)")
	fl.StringVar(&f.trustVerifier, "trust-verifier", "", "with --attest post-handshake: accept EARs signed by this verification service (URL)")
	fl.BoolVar(&f.relay, "relay", false, "after verification, relay standard input and output")
	fl.StringVar(&f.saveChain, "save-chain", "", "write the certificate chain the server presents to this file (PEM), accepted or not")
	fl.StringVar(&f.mutual.name, "attester", "", "present an RA-TLS client certificate from this attester (sim, tsm, gramine, sevguest)")
	fl.StringVar(&f.mutual.simDir, "sim-dir", "", "with --attester sim: simulated TEE state")
	fl.StringVar(&f.mutual.tee, "tee", "tdx", "with --attester sim: sgx or tdx")
	return cmd
}

func runConnect(cmd *cobra.Command, addr string, f *connectFlags) error {
	if f.nonce {
		if f.attest != attestCertificate && f.attest != attestNonce {
			return inputErr("--nonce and --attest %s contradict each other", f.attest)
		}
		f.attest = attestNonce
	}
	switch f.attest {
	case attestCertificate, attestNonce, attestPostHandshake:
	default:
		return inputErr("--attest: want certificate, nonce or post-handshake, got %q", f.attest)
	}
	if f.trustVerifier != "" && f.attest != attestPostHandshake {
		return inputErr("--trust-verifier needs --attest post-handshake")
	}
	opt, err := f.verify.options()
	if err != nil {
		return err
	}
	pv := ratls.NewPeerVerifier(opt)
	var verified *ratls.Verification
	pv.OnVerified = func(v *ratls.Verification) { verified = v }

	var iss *ratls.Issuer
	if f.mutual.name != "" {
		att, s, err := f.mutual.openAttester()
		if err != nil {
			return inputErr("attester %s: %v", f.mutual.name, err)
		}
		iopts := &ratls.IssuerOptions{}
		if s != nil {
			if iopts.Certificate.Endorsements, err = simEndorsements(s, f.mutual.tee); err != nil {
				return inputErr("%v", err)
			}
		}
		iss = ratls.NewIssuer(att, iopts)
	}
	if f.attest == attestPostHandshake {
		return runConnectPostHandshake(cmd, addr, f, pv, iss)
	}
	var cfg *tls.Config
	if f.attest == attestNonce {
		if cfg, err = pv.FreshClientConfig(iss); err != nil {
			return err
		}
	} else {
		cfg = ratls.ClientConfig(pv, iss)
		cfg.ServerName = f.verify.sni
	}
	var chain chainCapture
	chain.wrap(cfg)
	ctx, cancel := context.WithTimeout(cmdContext(cmd), f.verify.timeout)
	defer cancel()
	conn, err := (&tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}).DialContext(ctx, "tcp", addr)
	if f.saveChain != "" && chain.certs != nil {
		if err := chain.save(f.saveChain); err != nil {
			return &exitError{code: exitInput, err: err}
		}
	}
	var pe *ratls.PeerError
	switch {
	case err == nil:
	case errors.As(err, &pe) || verified != nil:
		// The handshake reached verification: show why it was refused.
	default:
		return &exitError{code: exitInput, err: fmt.Errorf("%s: %w", addr, neterr.Cause(err))}
	}
	if verified == nil {
		return &exitError{code: exitInput, err: errors.New("the server's certificate was not verified")}
	}
	// With --relay standard output is the connection's data: the report
	// goes to standard error.
	report := cmd.OutOrStdout()
	if f.relay {
		report = cmd.ErrOrStderr()
	}
	if err := printConnectResult(report, addr, verified, f.verify.asJSON); err != nil {
		return err
	}
	if err := verdictError("server rejected", verified); err != nil {
		return err
	}
	if conn == nil {
		// The server passed, but the handshake failed afterwards, e.g. the
		// server refused this client's certificate in mutual attestation.
		return &exitError{code: exitRejected, err: fmt.Errorf("the server was verified, but the handshake failed: %w", err)}
	}
	defer conn.Close()
	if f.relay {
		relayStdio(cmd, conn.(*tls.Conn))
	}
	return nil
}

// relayStdio sends standard input, then half-closes, and prints replies
// until the server closes. The replies are the connection's data: they go
// to standard output whatever -o and -q say.
func relayStdio(cmd *cobra.Command, conn *tls.Conn) {
	go func() {
		io.Copy(conn, cmd.InOrStdin())
		conn.CloseWrite()
	}()
	io.Copy(cmd.Root().OutOrStdout(), conn)
}

func printConnectResult(w io.Writer, addr string, v *ratls.Verification, asJSON bool) error {
	var report *inspect.Report
	if v.Certificate != nil {
		r, err := inspect.Certificates([]*x509.Certificate{v.Certificate})
		if err == nil {
			report = r
		}
	}
	if report == nil {
		report = &inspect.Report{Source: inspect.SourceCertificate, Evidence: []*inspect.Evidence{}}
	}
	report.Input = addr
	out := &verifyReport{Report: report, Verification: describeVerification(v)}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	writeVerification(w, out)
	return nil
}
