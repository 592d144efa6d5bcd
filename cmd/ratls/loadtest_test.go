package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/internal/loadgen"
	"github.com/ratls/ratls/internal/loadgen/loadgentest"
)

// runLoadtestCLI runs "ratls loadtest" with a deadline well above its
// phases' durations.
func runLoadtestCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb syncBuffer
	code := runContext(ctx, append([]string{"loadtest"}, args...), &out, &errb)
	if ctx.Err() != nil {
		t.Fatalf("loadtest %v: still running after 2 minutes", args)
	}
	return code, out.String(), errb.String()
}

// TestLoadtestJSON checks that the flags reach the load generator and
// that --json prints its report, with progress on standard error.
func TestLoadtestJSON(t *testing.T) {
	code, out, stderr := runLoadtestCLI(t, "--duration", "1s", "--rounds", "2", "--warmup", "100ms", "--concurrency", "3", "--workers", "1",
		"--pool", "4", "--sessions", "--json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	var r loadgen.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("loadtest --json: %v\n%s", err, out)
	}
	if r.Rounds != 2 || r.Pool != 4 || r.WarmupSec != 0.1 || !strings.HasPrefix(r.Loaded, "in-process, SQLite ") ||
		r.InProcess == nil || r.InProcess.Concurrency != 1 || r.Service == nil || r.Service.Concurrency != 3 || r.Sessions == nil {
		t.Errorf("report: %s", out)
	}
	for _, want := range []string{"loadtest: round 2 of 2, 500ms per phase", "loadtest: in-process verification, 1 workers", "loadtest: service sessions, 3 clients"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q: %s", want, stderr)
		}
	}
}

func TestLoadtestText(t *testing.T) {
	code, out, stderr := runLoadtestCLI(t, "--duration", "500ms", "--warmup", "0s", "--concurrency", "2", "--pool", "4")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"Machine:", "in-process verification", "service POST /v1/attest", "Ratio service / in-process:",
		"stage parse", "stage verify", "stage sign", "stage store", "stage sum", "HTTP overhead", "appraisal log commits"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	// Measurements only: no project-internal goals.
	if strings.Contains(out, "target") {
		t.Errorf("text report speaks of targets:\n%s", out)
	}
}

// TestLoadtestErrors checks that failed requests are reported by kind and
// fail the run (exit 1), and that a service that cannot appraise the
// simulated quotes is refused up front (exit 2).
// externalService runs a service that trusts the simulation in dir (see
// loadgentest.Service).
func externalService(t *testing.T, dir string, fail *atomic.Bool) string {
	t.Helper()
	s, err := sim.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return loadgentest.Service(t, s, fail)
}

func TestLoadtestErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sim")
	if err := sim.Init(dir, sim.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	var fail atomic.Bool
	url := externalService(t, dir, &fail)
	// The first check must pass; failures start with the load.
	go func() {
		time.Sleep(50 * time.Millisecond)
		fail.Store(true)
	}()
	code, out, stderr := runLoadtestCLI(t, "--url", url, "--sim-dir", dir, "--duration", "500ms", "--warmup", "0s", "--concurrency", "2", "--pool", "4", "--json")
	if code != exitRejected || !strings.Contains(stderr, "operations failed") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	var r loadgen.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("loadtest --json: %v\n%s", err, out)
	}
	p := r.Service
	if p.Errors == 0 || p.ErrorKinds["HTTP 500 internal-error"] != p.Errors || p.Errors > p.Operations/2 {
		t.Errorf("errors: want about a third of %d operations as HTTP 500 internal-error, got %d: %v", p.Operations, p.Errors, p.ErrorKinds)
	}

	// A service that does not trust the simulation is refused up front.
	fail.Store(false)
	code, out, stderr = runLoadtestCLI(t, "--url", url, "--duration", "1s", "--warmup", "0s")
	if code != exitInput || !strings.Contains(stderr, "cannot appraise the simulated quotes") {
		t.Errorf("untrusting service: exit %d\n%s\n%s", code, out, stderr)
	}
}

func TestLoadtestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--warmup", "-1s"}, "--warmup"},
		{[]string{"--rounds", "0"}, "--rounds"},
		{[]string{"--duration", "1s", "--rounds", "11"}, "--rounds"},
		{[]string{"--concurrency", "0"}, "--concurrency"},
		{[]string{"--workers", "100000"}, "--workers"},
		{[]string{"--pool", "0"}, "--pool"},
		{[]string{"--url", "http://127.0.0.1:1", "--db", "sqlite:/tmp/x.db"}, "exclusive"},
		{[]string{"--token", "x"}, "--token needs --url"},
		{[]string{"--sim-dir", "/does/not/exist", "--duration", "1s"}, "simulated TEE"},
		{[]string{"--db", "mysql://x", "--duration", "100ms", "--warmup", "0s", "--pool", "1"}, "--db mysql://x"},
		{[]string{"--db", "postgres://u:secret@127.0.0.1:1/x?connect_timeout=1", "--duration", "100ms", "--warmup", "0s", "--pool", "1"}, "--db postgres://u:xxxxx@"},
		{[]string{"--platforms", "-1"}, "--platforms"},
		{[]string{"--cache-mib", "0"}, "--cache-mib"},
		{[]string{"--cpuprofile", "/does/not/exist/cpu.pprof", "--duration", "100ms", "--warmup", "0s", "--pool", "1"}, "--cpuprofile"},
		{[]string{"extra"}, "unknown command"},
	} {
		code, out, stderr := runLoadtestCLI(t, tc.args...)
		if code != exitInput || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "secret") {
			t.Errorf("%v: want exit 2 and %q, got exit %d\n%s\nstderr: %s", tc.args, tc.want, code, out, stderr)
		}
	}
}

// TestLoadtestFleet checks the text report of a fleet.
func TestLoadtestFleet(t *testing.T) {
	code, out, _ := runLoadtestCLI(t, "--platforms", "8", "--duration", "200ms", "--warmup", "0s", "--concurrency", "1")
	if code != exitOK || !strings.Contains(out, "Fleet of 8 machines:") || !strings.Contains(out, "collateral fetches per quote") {
		t.Errorf("text report (exit %d):\n%s", code, out)
	}
}
