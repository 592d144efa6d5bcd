package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestThinClient keeps the client thin: a program that only talks to a
// verification service must not link the verifiers, parsers and policies.
func TestThinClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var ours []string
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/ratls/ratls/") {
			ours = append(ours, strings.TrimPrefix(p, "github.com/ratls/ratls/"))
		}
	}
	allowed := map[string]bool{"service/client": true, "service/api": true, "ear": true, "verify/checks": true, "internal/neterr": true}
	for _, p := range ours {
		if !allowed[p] {
			t.Errorf("service/client links %s (all: %v)", p, ours)
		}
	}
}
