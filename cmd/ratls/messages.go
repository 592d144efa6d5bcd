package main

import (
	"fmt"
	"strings"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/verify/amd"
	"github.com/ratls/ratls/verify/intel"
)

// intelAnchorLine describes the root an Intel verification chained to. A
// root configured with --trust-root whose name imitates Intel's is flagged
// as the JSON output flags it ("intel": false), so that no one reads
// "Intel SGX Root CA" as Intel's.
func intelAnchorLine(a *intel.Anchor) string {
	key := "key SHA-256 " + a.SPKISHA256
	switch {
	case a.Intel:
		return fmt.Sprintf("%s (Intel's genuine root, %s)", a.Subject, key)
	case a.Simulated:
		return fmt.Sprintf("%s (SIMULATED TEE: a ratls simulation's root given with --trust-root; it proves nothing about hardware; %s)", a.Subject, key)
	case strings.Contains(strings.ToLower(a.Subject), "intel"):
		return fmt.Sprintf("%s (NOT Intel's root: a root given with --trust-root whose name imitates Intel's; %s)", a.Subject, key)
	}
	return fmt.Sprintf("%s (a root given with --trust-root, not Intel's; %s)", a.Subject, key)
}

// amdAnchorLine is intelAnchorLine for an AMD root (ARK).
func amdAnchorLine(s *amd.Result) string {
	a := s.TrustAnchor
	what := "AMD's genuine root"
	if !a.AMD {
		what = "NOT AMD's root: a test root"
	}
	return fmt.Sprintf("%s (%s, key SHA-256 %s), %s %s", a.Subject, what, a.SPKISHA256, s.Product, strings.ToUpper(s.SigningKey))
}

// reasonLine is an appraisal reason for people: its message, then the
// expected and actual values that are known; an empty value is left out
// rather than shown as nothing.
func reasonLine(rs appraise.Reason) string {
	var parts []string
	if rs.Expected != "" {
		parts = append(parts, "expected "+rs.Expected)
	}
	if rs.Actual != "" {
		parts = append(parts, "actual "+rs.Actual)
	}
	if len(parts) == 0 {
		return rs.Message
	}
	return rs.Message + " [" + strings.Join(parts, ", ") + "]"
}

// tcbStatusLine is the TCB status with the date of its level and its
// advisories, each only when known.
func tcbStatusLine(status, date string, advisories []string) string {
	var parts []string
	if d := strings.TrimSuffix(date, "T00:00:00Z"); d != "" {
		parts = append(parts, "level of "+d)
	}
	if len(advisories) > 0 {
		parts = append(parts, "advisories "+strings.Join(advisories, ", "))
	} else {
		parts = append(parts, "no advisories")
	}
	return status + " (" + strings.Join(parts, ", ") + ")"
}
