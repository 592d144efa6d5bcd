package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/internal/testvectors"
)

func TestPolicyInit(t *testing.T) {
	out := filepath.Join(t.TempDir(), "policy.json")
	code, stdout, stderr := runCLI(t, "policy", "init", "--from", testvectors.Path("trustee-cvm/az-tdx-vtpm/evidence-v1.json"), "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	p, err := appraise.LoadPolicy(out)
	if err != nil {
		t.Fatal(err)
	}
	if p.TDX == nil || p.TDX.MRTD[0] != "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b" ||
		p.VTPM.PCRs["0"][0] != "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273" {
		t.Errorf("policy %+v", p)
	}
	md, _ := os.ReadFile(out + ".md")
	if !strings.Contains(string(md), "`tdx.mrtd`") || !strings.Contains(string(md), "`vtpm.pcrs[0]`") {
		t.Errorf("explanation:\n%s", md)
	}
	if code, _, _ := runCLI(t, "policy", "init", "--from", testvectors.Path("trustee-cvm/CCEL_data_ovmf")); code != exitInput {
		t.Errorf("an event log alone: exit %d", code)
	}
}
