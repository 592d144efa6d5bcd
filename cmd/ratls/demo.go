package main

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/inspect"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/verify/intel"
)

func newDemoCommand() *cobra.Command {
	var teeName string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run an attested TLS server and client on loopback with a simulated TEE",
		Long: `Demo shows the whole RA-TLS path without TEE hardware: it creates a
simulated TEE (a throw-away test PKI that imitates Intel's), starts an
RA-TLS server on 127.0.0.1 whose certificate carries a quote from it,
connects a client that verifies that quote against reference values, and
prints what was proven. Then a second client with different reference
values shows how a rejection is explained.

Nothing leaves the machine. Simulated evidence proves nothing about
hardware: the client trusts the simulator's root only because the demo
configures it to.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd, teeName) },
	}
	cmd.Flags().StringVar(&teeName, "tee", "tdx", "simulated TEE: tdx or sgx")
	return cmd
}

func runDemo(cmd *cobra.Command, simTEE string) error {
	w := cmd.OutOrStdout()
	step := func(format string, args ...any) { fmt.Fprintf(w, "==> "+format+"\n", args...) }

	s, err := sim.New(sim.InitOptions{})
	if err != nil {
		return err
	}
	att, err := s.Attester(simTEE, sim.Measurements{})
	if err != nil {
		return inputErr("--tee: %v", err)
	}
	step("Simulated %s TEE created (root %q)", strings.ToUpper(simTEE), s.Root().Subject.CommonName)

	end, err := simEndorsements(s, simTEE)
	if err != nil {
		return err
	}
	iss := ratls.NewIssuer(att, &ratls.IssuerOptions{AllowNonce: true, Certificate: ratls.CertificateOptions{
		Subject: pkixName("ratls demo server"), Endorsements: end,
	}})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ratls.ServerConfig(iss, nil))
	if err != nil {
		return err
	}
	defer ln.Close()
	go acceptEcho(ln)
	step("RA-TLS server listening on %s: its certificate carries a quote whose report data is SHA-256 of a claims buffer naming the certificate's key", ln.Addr())

	// What a relying party of the simulation verifies with; the TLS
	// client takes the collateral from the certificate, the service from
	// the simulation.
	trust := s.VerifyOptions(nil)
	verifier := tee.Find[*dcap.Options](trust.TEE).Verifier
	policy := referencePolicy(att)
	pv := ratls.NewPeerVerifier(&ratls.VerifyOptions{Policy: policy, Now: time.Now(), TEE: []tee.Options{&dcap.Options{Verifier: verifier}}})
	var got *ratls.Verification
	pv.OnVerified = func(v *ratls.Verification) { got = v }
	step("Client connecting; it trusts the simulator's root and expects these measurements: %s", policySummary(policy))
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: defaultTimeout}, "tcp", ln.Addr().String(), ratls.ClientConfig(pv, nil))
	if err != nil {
		return &exitError{code: exitRejected, err: fmt.Errorf("demo handshake failed: %w", err)}
	}
	msg := "hello, attested world"
	reply, err := roundTrip(conn, msg)
	conn.Close()
	if err != nil {
		return err
	}
	step("Handshake accepted; sent %q, the server echoed %q", msg, reply)

	report, err := inspect.Certificates([]*x509.Certificate{got.Certificate})
	if err != nil {
		return err
	}
	report.Input = ln.Addr().String()
	fmt.Fprintln(w)
	writeVerification(w, &verifyReport{Report: report, Verification: describeVerification(got)})

	fmt.Fprintln(w)
	step("What this proved")
	fmt.Fprintf(w, `  - the quote is signed by a quoting enclave whose key chains to the trusted root (checks above);
  - the platform's TCB level is %s according to collateral carried in the certificate;
  - the TEE runs the expected code: its measurements equal the client's reference values;
  - the TLS key belongs to that TEE: the quote commits to the certificate's public key (key binding %s),
    and the handshake proved the server holds that key.
  The root is SIMULATED: on real hardware the same checks run against Intel's root, and nothing else changes.
`, got.Result.(*intel.Result).TCB.Status, got.Binding.Status)

	// A client expecting other code refuses the same server and says why.
	wrong := referencePolicy(att)
	wrong.ID = "expects-other-code"
	if wrong.TDX != nil {
		wrong.TDX.MRTD = []string{strings.Repeat("00", 48)}
	} else {
		wrong.SGX.MREnclave = []string{strings.Repeat("00", 32)}
	}
	pv2 := ratls.NewPeerVerifier(&ratls.VerifyOptions{Policy: wrong, Now: time.Now(), TEE: []tee.Options{&dcap.Options{Verifier: verifier}}})
	_, err = tls.DialWithDialer(&net.Dialer{Timeout: defaultTimeout}, "tcp", ln.Addr().String(), ratls.ClientConfig(pv2, nil))
	var pe *ratls.PeerError
	if !errors.As(err, &pe) {
		return fmt.Errorf("demo: a client with wrong reference values was not refused: %v", err)
	}
	fmt.Fprintln(w)
	step("A client expecting different code refuses the same server:")
	fmt.Fprintf(w, "  %v\n", err)

	fmt.Fprintln(w)
	step("Binding the attestation to the connection (docs/binding.md): certificate mode is what ran above")
	if err := demoBinding(cmd, s, iss, ln.Addr().String(), verifier, policy, step); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return demoService(cmd, att, trust, step)
}

func referencePolicy(a *sim.Attester) *appraise.Policy {
	m := a.Measurements()
	p := &appraise.Policy{ID: "demo"}
	if a.TEE() == "tdx" {
		p.TDX = &appraise.TDXReference{MRTD: []string{hex.EncodeToString(m.TDX.MRTD[:])}, RTMR0: []string{hex.EncodeToString(m.TDX.RTMR[0][:])}}
	} else {
		p.SGX = &appraise.SGXReference{MREnclave: []string{hex.EncodeToString(m.SGX.MREnclave[:])}, MRSigner: []string{hex.EncodeToString(m.SGX.MRSigner[:])}}
	}
	return p
}

func policySummary(p *appraise.Policy) string {
	if p.TDX != nil {
		return "mrtd " + p.TDX.MRTD[0][:16] + "…, rtmr0 " + p.TDX.RTMR0[0][:16] + "…"
	}
	return "mrenclave " + p.SGX.MREnclave[0][:16] + "…, mrsigner " + p.SGX.MRSigner[0][:16] + "…"
}

func roundTrip(conn net.Conn, msg string) (string, error) {
	conn.SetDeadline(time.Now().Add(defaultTimeout))
	if _, err := io.WriteString(conn, msg); err != nil {
		return "", err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return "", err
	}
	return string(buf), nil
}

func acceptEcho(ln net.Listener) {
	acceptWith(ln, func(c *tls.Conn) { io.Copy(c, c) })
}

func pkixName(cn string) pkix.Name { return pkix.Name{CommonName: cn} }
