package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls/ear"
)

// maxJWKS bounds a fetched or read key set.
const maxJWKS = 1 << 20

func newEARCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ear",
		Short: "Work with EAR attestation results (signed JWTs)",
	}
	cmd.AddCommand(newEARVerifyCommand())
	return cmd
}

func newEARVerifyCommand() *cobra.Command {
	var (
		jwks   string
		at     string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "verify --jwks URL|FILE TOKEN|FILE",
		Short: "Check an EAR's signature and claims and show its appraisals",
		Long: `Verify checks an EAR (an EAT attestation result, draft-ietf-rats-ear, as
a JWT signed with ES256 or ES384) against a JSON Web Key Set, validates its
claims (both the dotted names Veraison and Trustee emit and the underscore
names of draft -03 are accepted), and prints each submodule's status, trust
vector, policy and reasons.

The token is given directly or as a file; the key set as a file or an
http(s) URL (a verifier's /.well-known or JWKS endpoint).

Exit status: 0 when the token verifies, 1 when its signature or claims do
not, 2 for unusable input.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			token, err := readTokenArg(args[0])
			if err != nil {
				return inputErr("%v", err)
			}
			keys, err := loadJWKS(jwks)
			if err != nil {
				return inputErr("--jwks: %v", err)
			}
			now := time.Now()
			if at != "" {
				if now, err = time.Parse(time.RFC3339, at); err != nil {
					return inputErr("--at: %v", err)
				}
			}
			e, err := ear.Verify(token, keys, now)
			if err != nil {
				return &exitError{code: exitRejected, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				b, err := json.MarshalIndent(e, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(out, string(b))
				return nil
			}
			writeEAR(out, e)
			return nil
		},
	}
	cmd.Flags().StringVar(&jwks, "jwks", "", "JSON Web Key Set: a file or an http(s) URL (required)")
	cmd.Flags().StringVar(&at, "at", "", "verification time, RFC 3339 (default: now)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the verified EAR as JSON")
	cmd.MarkFlagRequired("jwks")
	return cmd
}

// readTokenArg takes a compact JWT or the name of a file holding one.
func readTokenArg(arg string) ([]byte, error) {
	if strings.Count(arg, ".") == 2 && !strings.ContainsAny(arg, "/\\") {
		if _, err := os.Stat(arg); err != nil {
			return []byte(arg), nil
		}
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b), nil
}

func loadJWKS(src string) (*ear.JWKSet, error) {
	var b []byte
	var err error
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		c := &http.Client{Timeout: defaultTimeout}
		resp, err := c.Get(src)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: HTTP %s", src, resp.Status)
		}
		b, err = io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
		if err != nil {
			return nil, err
		}
	} else if b, err = os.ReadFile(src); err != nil {
		return nil, err
	}
	if len(b) > maxJWKS {
		return nil, errors.New("key set larger than 1 MiB")
	}
	var set ear.JWKSet
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("want a JSON Web Key Set: %v", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("the key set has no keys")
	}
	return &set, nil
}

func writeEAR(w io.Writer, e *ear.EAR) {
	p := &printer{w: w}
	p.line(0, "profile", e.Profile)
	p.line(0, "issued at", time.Unix(e.IssuedAt, 0).UTC().Format(time.RFC3339))
	p.line(0, "verifier", e.VerifierID.Developer+" "+e.VerifierID.Build)
	if e.Nonce != "" {
		p.line(0, "nonce", e.Nonce)
	}
	names := make([]string, 0, len(e.Submods))
	for n := range e.Submods {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := e.Submods[n]
		p.section("Submodule " + n)
		p.line(1, "status", string(a.Status))
		if a.PolicyID != "" {
			p.line(1, "policy", a.PolicyID)
		}
		if tv := a.TrustVector; tv != nil {
			p.line(1, "trust vector", fmt.Sprintf("instance-identity %d, configuration %d, executables %d, hardware %d, runtime-opaque %d",
				tv.InstanceIdentity, tv.Configuration, tv.Executables, tv.Hardware, tv.RuntimeOpaque))
		}
		for _, r := range a.Reasons {
			p.line(1, string(r.Status)+" "+r.Check, r.Message)
		}
	}
}
