package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/client"
	"github.com/ratls/ratls/service/store"
)

// demoService runs the verification service on SQLite in a temporary
// directory and has it appraise the simulated TEE's evidence through the
// challenge-response API, as a relying party that does not verify evidence
// itself would.
func demoService(cmd *cobra.Command, att *sim.Attester, trust ratls.VerifyOptions, step func(string, ...any)) error {
	w := cmd.OutOrStdout()
	ctx, cancel := context.WithCancel(contextOf(cmd))
	defer cancel()
	dir, err := os.MkdirTemp("", "ratls-demo-verifier-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "verifier.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	verify := trust
	verify.Policy = referencePolicy(att)
	cfg, err := service.Throwaway(service.Config{
		Store: st, Version: buildVersion().Version,
		// The built-in policy has the simulated TEE's reference values, so
		// the only reservation is the simulated root.
		Verify: verify,
	})
	if err != nil {
		return err
	}
	srv, err := service.New(ctx, cfg)
	if err != nil {
		return err
	}
	base, wait, err := srv.ServeLoopback(ctx, 5*time.Second)
	if err != nil {
		return err
	}
	step("Verification service on %s (SQLite in %s)", base, dir)

	// A relying party asks for a session, the TEE quotes its nonce, the
	// service appraises the quote and signs an EAR.
	c := &client.Client{BaseURL: base}
	sess, err := c.NewSession(ctx, 0)
	if err != nil {
		return err
	}
	step("POST %s -> session %s with a %d-byte nonce", api.PathNewSession, sess.ID, len(sess.Nonce))
	var rd [64]byte
	copy(rd[:], sess.Nonce)
	ev, err := att.Attest(ctx, rd)
	if err != nil {
		return err
	}
	res, err := c.Submit(ctx, sess.ID, api.MediaDCAPQuote, ev.Data)
	if err != nil {
		return err
	}
	if res.Result == nil {
		return fmt.Errorf("demo: the session has no result (status %s)", res.Status)
	}
	step("POST the %s quote (report data = nonce) to the session -> status %s, an EAR of %d bytes", strings.ToUpper(att.TEE()), res.Status, len(*res.Result))

	// Check the EAR as a relying party would: against the service's keys.
	e, err := c.VerifyEAR(ctx, *res.Result)
	if err != nil {
		return fmt.Errorf("demo: the service's EAR does not verify: %w", err)
	}
	claims, err := json.MarshalIndent(e, "  ", "  ")
	if err != nil {
		return err
	}
	step("EAR signature verified with the key from %s; its claims:", api.PathKeys)
	fmt.Fprintf(w, "  %s\n", claims)
	sub := e.Submods[att.TEE()]
	fmt.Fprintf(w, "  The service says %s: the quote is genuine for the simulated root, but a simulated TEE is never affirming.\n", sub.Status)
	fmt.Fprintf(w, "  Try it yourself: docs/service.md (ratls verifier serve).\n")
	cancel()
	return wait()
}
