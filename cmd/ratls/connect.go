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
	verify    verifyFlags
	nonce     bool
	relay     bool
	mutual    attesterFlags
	saveChain string
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

--nonce asks the server for a certificate made for this connection (the
server must run "ratls serve --nonce"): a replayed certificate is refused.
--attester makes this a mutual-attestation client presenting its own
RA-TLS certificate.

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
	fl.BoolVar(&f.nonce, "nonce", false, "require a certificate made for this connection")
	fl.BoolVar(&f.relay, "relay", false, "after verification, relay standard input and output")
	fl.StringVar(&f.saveChain, "save-chain", "", "write the certificate chain the server presents to this file (PEM), accepted or not")
	fl.StringVar(&f.mutual.name, "attester", "", "present an RA-TLS client certificate from this attester (sim, tsm, gramine, sevguest)")
	fl.StringVar(&f.mutual.simDir, "sim-dir", "", "with --attester sim: simulated TEE state")
	fl.StringVar(&f.mutual.tee, "tee", "tdx", "with --attester sim: sgx or tdx")
	return cmd
}

func runConnect(cmd *cobra.Command, addr string, f *connectFlags) error {
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
	var cfg *tls.Config
	if f.nonce {
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
	if !verified.Accepted() {
		return &exitError{code: exitRejected, err: fmt.Errorf("server rejected: %s", firstReason(verified.Appraisal))}
	}
	if conn == nil {
		// The server passed, but the handshake failed afterwards, e.g. the
		// server refused this client's certificate in mutual attestation.
		return &exitError{code: exitRejected, err: fmt.Errorf("the server was verified, but the handshake failed: %w", err)}
	}
	defer conn.Close()
	if f.relay {
		// Send standard input, then half-close; print replies until the
		// server closes.
		go func() {
			io.Copy(conn, cmd.InOrStdin())
			conn.(*tls.Conn).CloseWrite()
		}()
		io.Copy(cmd.Root().OutOrStdout(), conn) // the data, whatever -o and -q say
	}
	return nil
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
