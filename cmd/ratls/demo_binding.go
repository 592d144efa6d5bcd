package main

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/internal/relay"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/verify/intel"
)

// demoBinding shows the three ways attestation is bound to a connection
// (docs/binding.md), then a relay that holds the server's key: certificate
// mode accepts it, post-handshake mode refuses it. certAddr serves iss's
// certificate in certificate and nonce mode.
func demoBinding(cmd *cobra.Command, s *sim.Sim, iss *ratls.Issuer, certAddr string, verifier *intel.Verifier, policy *appraise.Policy, step func(string, ...any)) error {
	w := cmd.OutOrStdout()
	ctx, cancel := context.WithTimeout(contextOf(cmd), time.Minute)
	defer cancel()
	pv := ratls.NewPeerVerifier(&ratls.VerifyOptions{Policy: policy, Now: time.Now(), TEE: []tee.Options{&dcap.Options{Verifier: verifier}}})

	// Nonce mode: a certificate made for this connection.
	cfg, err := pv.FreshClientConfig(nil)
	if err != nil {
		return err
	}
	conn, err := (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", certAddr)
	if err != nil {
		return fmt.Errorf("demo: nonce mode: %w", err)
	}
	fresh := pv.Verification(conn.(*tls.Conn).ConnectionState())
	conn.Close()
	if fresh == nil || fresh.Item == nil || fresh.Item.Claims == nil {
		return errors.New("demo: nonce mode: no verification recorded")
	}
	step("Nonce mode: the client sent a random nonce in its server name; the server issued a certificate whose claims carry it (nonce %s…), so a recorded certificate is refused",
		hex.EncodeToString(fresh.Item.Claims.Nonce)[:16])

	// Post-handshake mode: a server that attests each connection.
	phServer := &ratls.PostHandshake{Issuer: iss}
	phLn, err := tls.Listen("tcp", "127.0.0.1:0", ratls.PostHandshakeServerConfig(iss))
	if err != nil {
		return err
	}
	defer phLn.Close()
	go acceptWith(phLn, func(c *tls.Conn) {
		if _, err := phServer.Server(ctx, c); err == nil {
			io.Copy(c, c)
		}
	})
	// Post-handshake evidence carries no collateral: the client has it.
	opts := &ratls.VerifyOptions{Policy: policy, Now: time.Now(), TEE: []tee.Options{&dcap.Options{Verifier: verifier, Collateral: s.Provider()}}}
	client := &ratls.PostHandshake{Peers: ratls.NewPeerVerifier(opts)}
	c, v, err := client.Dial(ctx, "tcp", phLn.Addr().String())
	if err != nil {
		return &exitError{code: exitRejected, err: fmt.Errorf("demo: post-handshake mode: %w", err)}
	}
	reply, err := roundTrip(c, "bound to this connection")
	c.Close()
	if err != nil {
		return err
	}
	step("Post-handshake mode (%s): after the handshake the client asked for an exported authenticator (RFC 9261); its evidence names the binder SHA-256(key || TLS exporter of this connection) = %s…, and the key; result %s; the server echoed %q",
		ratls.ExpatRevision, hex.EncodeToString(v.Binder)[:16], v.Verification.Appraisal.Status, reply)

	// A relay holding the server's certificate and private key (leaked,
	// or used as a signing oracle) terminates the client's TLS and pipes
	// it to the genuine server.
	leaked, err := iss.Certificate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	step("A relay holds the server's certificate and private key and pipes each connection to the genuine server:")
	certRelay, err := relay.StartTLS("127.0.0.1:0", *leaked, certAddr)
	if err != nil {
		return err
	}
	defer certRelay.Close()
	conn, err = (&tls.Dialer{Config: ratls.ClientConfig(pv, nil)}).DialContext(ctx, "tcp", certRelay.Addr())
	if err != nil {
		return fmt.Errorf("demo: the relay was expected to pass in certificate mode: %w", err)
	}
	conn.Close()
	fmt.Fprintf(w, "  certificate mode ACCEPTS the relayed connection: the certificate and its evidence are genuine, but the client's TLS session ends at the relay\n")
	phRelay, err := relay.StartTLS("127.0.0.1:0", *leaked, phLn.Addr().String())
	if err != nil {
		return err
	}
	defer phRelay.Close()
	_, _, err = client.Dial(ctx, "tcp", phRelay.Addr())
	if err == nil {
		return errors.New("demo: post-handshake mode accepted a relayed connection")
	}
	fmt.Fprintf(w, "  post-handshake mode REFUSES it: %v\n", err)
	return nil
}

// acceptWith hands each accepted TLS connection to handle, closing it after.
func acceptWith(ln net.Listener, handle func(*tls.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Minute))
			handle(c.(*tls.Conn))
		}()
	}
}
