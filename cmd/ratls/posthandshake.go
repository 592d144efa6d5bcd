package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/inspect"
	"github.com/ratls/ratls/service/client"
)

// Attestation modes of serve and connect (docs/binding.md).
const (
	attestCertificate   = "certificate"
	attestNonce         = "nonce"
	attestPostHandshake = "post-handshake"
)

// serviceClient talks to the verification service at base, with the API
// token from the environment when set.
func serviceClient(base string) *client.Client {
	return &client.Client{BaseURL: base, Token: os.Getenv(envVerifierToken)}
}

// servicePassport obtains EARs from the verification service at base: the
// passport model of post-handshake attestation.
func servicePassport(base string) ratls.PassportFunc {
	c := serviceClient(base)
	return func(ctx context.Context, mediaType string, evidence, nonce []byte) ([]byte, error) {
		sess, err := c.NewSessionWithNonce(ctx, nonce)
		if err != nil {
			return nil, err
		}
		res, err := c.Submit(ctx, sess.ID, mediaType, evidence)
		if err != nil {
			return nil, err
		}
		if res.Result == nil {
			return nil, fmt.Errorf("the verification service returned no EAR (session %s)", res.Status)
		}
		return []byte(*res.Result), nil
	}
}

// serviceKeys fetches the EAR signing keys of the verification service at
// base, for verifying a peer's EARs.
func serviceKeys(ctx context.Context, base string) (*ear.JWKSet, error) {
	keys, err := serviceClient(base).Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys of the verification service %s: %w", base, err)
	}
	return keys, nil
}

// postHandshakeServe runs the server side of the exchange on each
// connection before it is forwarded, and logs the client's attestation.
func postHandshakeServe(ph *ratls.PostHandshake) func(context.Context, *tls.Conn, *slog.Logger) error {
	return func(ctx context.Context, c *tls.Conn, log *slog.Logger) error {
		v, err := ph.Server(ctx, c)
		if err != nil {
			return fmt.Errorf("post-handshake attestation: %w", err)
		}
		if v != nil {
			log.Info("client attested", "remote", c.RemoteAddr().String(), "model", v.Model, "status", v.Verification.Appraisal.Status)
		}
		return nil
	}
}

// runConnectPostHandshake connects in post-handshake mode, prints the
// server's attestation and, with --relay, relays.
func runConnectPostHandshake(cmd *cobra.Command, addr string, f *connectFlags, pv *ratls.PeerVerifier, iss *ratls.Issuer) error {
	ctx, cancel := context.WithTimeout(cmdContext(cmd), f.verify.timeout)
	defer cancel()
	ph := &ratls.PostHandshake{Issuer: iss, Peers: pv, Timeout: f.verify.timeout}
	if f.trustVerifier != "" {
		keys, err := serviceKeys(ctx, f.trustVerifier)
		if err != nil {
			return &exitError{code: exitInput, err: err}
		}
		ph.PassportKeys = keys
	}
	cfg := ratls.PostHandshakeClientConfig()
	cfg.ServerName = f.verify.sni
	c, err := (&tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	conn := c.(*tls.Conn)
	defer conn.Close()
	v, err := ph.Client(ctx, conn)
	if v != nil && v.Verification != nil {
		// With --relay standard output is the connection's data: the
		// report goes to standard error.
		w := cmd.OutOrStdout()
		if f.relay {
			w = cmd.ErrOrStderr()
		}
		if perr := printChannelResult(w, addr, v, f.verify.asJSON); perr != nil {
			return perr
		}
	}
	var pe *ratls.PeerError
	switch {
	case errors.As(err, &pe):
		return &exitError{code: exitRejected, err: fmt.Errorf("server rejected: %s", appraise.RejectionSummary(v.Verification.Appraisal.Status, v.Verification.Appraisal.Reasons))}
	case err != nil:
		// The server did not attest, attested for another connection, or
		// refused this client: no accepted attestation either way.
		return &exitError{code: exitRejected, err: err}
	}
	if f.relay {
		relayStdio(cmd, conn)
	}
	return nil
}

// channelReport is connect's report in post-handshake mode: the attested
// certificate, the evidence of the exchange, its verification, and the
// binding.
type channelReport struct {
	*verifyReport
	Attestation channelJSON `json:"attestation"`
}

type channelJSON struct {
	Mode     string   `json:"mode"`
	Draft    string   `json:"draft"`
	Model    string   `json:"model"`
	Context  string   `json:"certificate_request_context"`
	Binder   string   `json:"binder"`
	EAR      *ear.EAR `json:"ear,omitempty"`
	Accepted bool     `json:"accepted"`
}

func printChannelResult(w io.Writer, addr string, v *ratls.ChannelVerification, asJSON bool) error {
	report := &inspect.Report{Source: inspect.SourceCertificate, Evidence: []*inspect.Evidence{}}
	if v.Model == ratls.ModelBackgroundCheck {
		if r, err := inspect.Bytes(v.Attestation.Value); err == nil {
			report = r
		}
	}
	if r, err := inspect.Certificates([]*x509.Certificate{v.Verification.Certificate}); err == nil {
		report.Certificate = r.Certificate
	}
	report.Input = addr
	out := &channelReport{
		verifyReport: &verifyReport{Report: report, Verification: describeVerification(v.Verification)},
		Attestation: channelJSON{Mode: attestPostHandshake, Draft: ratls.ExpatRevision, Model: v.Model,
			Context: hex.EncodeToString(v.Context), Binder: hex.EncodeToString(v.Binder), EAR: v.EAR, Accepted: v.Accepted()},
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	p := &printer{w: w}
	p.line(0, "Mode", "post-handshake attestation ("+ratls.ExpatRevision+")")
	p.line(0, "Model", v.Model)
	p.line(0, "Binder", out.Attestation.Binder)
	if v.EAR != nil {
		claims, _ := json.MarshalIndent(v.EAR, "  ", "  ")
		p.line(0, "EAR", string(claims))
	}
	writeVerification(w, out.verifyReport)
	return nil
}
