package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store/storetest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// ratlsBinary builds the command once per test run, for tests that need a
// real process to kill.
func ratlsBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ratls-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "ratls")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			t.Logf("go build: %s", out)
		}
	})
	if binErr != nil {
		t.Fatalf("building ratls: %v", binErr)
	}
	return binPath
}

// verifierProcess is "ratls verifier serve" running as a child process.
type verifierProcess struct {
	cmd  *exec.Cmd
	base string
}

func startVerifier(t *testing.T, args ...string) *verifierProcess {
	t.Helper()
	cmd := exec.Command(ratlsBinary(t), append([]string{"verifier", "serve", "--listen", "127.0.0.1:0", "--log-level", "info"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, URL string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "verification service listening" {
				urls <- line.URL
			}
		}
	}()
	select {
	case u := <-urls:
		return &verifierProcess{cmd: cmd, base: u}
	case <-time.After(e2eTimeout):
		t.Fatalf("ratls verifier serve did not start within %v", e2eTimeout)
	}
	return nil
}

func (p *verifierProcess) request(t *testing.T, method, path, token, ct string, body []byte, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// simQuote has the simulation quote report data rd (zero-padded).
func simQuote(t *testing.T, dir string, rd []byte) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "quote")
	if code, o, e := runCLI(t, "sim", "quote", "--dir", dir, "--tee", "sgx", "--report-data", hex.EncodeToString(rd), "--out", out); code != exitOK {
		t.Fatalf("sim quote: exit %d\n%s\n%s", code, o, e)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifierKillRestart kills the service with SIGKILL after it answered
// and checks that a restarted one has everything it had accepted.
func TestVerifierKillRestart(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "verifier.db")
			if backend == "postgres" {
				dsn = storetest.PostgresDSN(t)
			}
			simDir := newSimDir(t)
			key := filepath.Join(t.TempDir(), "key.pem")
			args := []string{"--db", dsn, "--key", key, "--offline", "--trust-root", filepath.Join(simDir, sim.RootFile),
				"--collateral", filepath.Join(simDir, "sgx"), "--cache-mib", "32"}
			code, admin, stderr := runCLI(t, "verifier", "token", "create", "--db", dsn, "--name", "admin", "--role", "admin")
			if code != exitOK {
				t.Fatalf("token create: exit %d: %s", code, stderr)
			}
			admin = strings.TrimSpace(admin)

			p := startVerifier(t, args...)
			var doc api.Document
			if c := p.request(t, "POST", api.PathPolicies+"/default", admin, api.JSONMedia, []byte(`{"allow_debug":false}`), &doc); c != 201 {
				t.Fatalf("put policy: %d", c)
			}
			nonce := []byte("kill-restart-nonce-0123456789")
			req, _ := http.NewRequest("POST", p.base+api.PathNewSession+"?nonce="+url.QueryEscape(encodeBase64(nonce)), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			id, ok := api.SessionIDFromLocation(resp.Header.Get("Location"))
			if resp.StatusCode != 201 || !ok {
				t.Fatalf("new session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			loc := api.PathSession + id
			var done api.Session
			if c := p.request(t, "POST", loc, "", api.MediaDCAPQuote, simQuote(t, simDir, nonce), &done); c != 200 || done.Result == nil {
				t.Fatalf("submit: %d %+v", c, done)
			}

			// The verifier's caches are on /metrics, bounded by --cache-mib.
			resp, err = http.Get(p.base + api.PathMetrics)
			if err != nil {
				t.Fatal(err)
			}
			metrics, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, want := range []string{`ratls_cache_misses_total{cache="intel_platforms"} 1`, `ratls_cache_max_bytes{cache="intel_platforms"} 3.3554432e+07`,
				`ratls_cache_entries{cache="amd_chips"} 0`} {
				if !bytes.Contains(metrics, []byte(want)) {
					t.Errorf("metrics lack %q", want)
				}
			}

			// SIGKILL: no shutdown, no flush.
			if err := p.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			p.cmd.Wait()

			q := startVerifier(t, args...)
			var got api.Session
			if c := q.request(t, "GET", loc, "", "", nil, &got); c != 200 || got.Status != "complete" || got.Result == nil || *got.Result != *done.Result {
				t.Fatalf("after restart: %d %+v", c, got)
			}
			var pol api.Document
			if c := q.request(t, "GET", api.PathPolicies+"/default", admin, "", nil, &pol); c != 200 || pol.Version != 1 {
				t.Fatalf("policy after restart: %d %+v", c, pol)
			}
			var apps struct{ Appraisals []api.Appraisal }
			if c := q.request(t, "GET", api.PathAppraisals, admin, "", nil, &apps); c != 200 || len(apps.Appraisals) != 1 ||
				apps.Appraisals[0].PolicyID != "default@1" || apps.Appraisals[0].Status != "warning" {
				t.Fatalf("appraisal log after restart: %+v", apps)
			}
			// The restarted service signs with the same key file.
			var keys struct{ Keys []json.RawMessage }
			if c := q.request(t, "GET", api.PathKeys, "", "", nil, &keys); c != 200 || len(keys.Keys) != 1 {
				t.Fatalf("keys after restart: %d, %d keys; want the one persisted key", c, len(keys.Keys))
			}
		})
	}
}

func TestApplyConfig(t *testing.T) {
	cmd := newVerifierServeCommand()
	fl := cmd.Flags()
	conf := filepath.Join(t.TempDir(), "verifier.json")
	if err := os.WriteFile(conf, []byte(`{"max-body": 2097152, "trust-root": ["a.pem", "b.pem"], "listen": "127.0.0.1:9000", "verify-auth": true, "rate": 2.5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fl.Parse([]string{"--listen", "127.0.0.1:9100"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RATLS_VERIFIER_RATE", "7")
	if err := applyConfig(fl, conf, "RATLS_VERIFIER_"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"max-body":    "2097152",                // from the file, not 2.097152e+06
		"trust-root":  "[a.pem,b.pem]",          // a list
		"listen":      "127.0.0.1:9100",         // the command line wins
		"rate":        "7",                      // the environment beats the file
		"verify-auth": "true",                   // a boolean
		"db":          fl.Lookup("db").DefValue, // untouched
	} {
		if got := fl.Lookup(name).Value.String(); got != want {
			t.Errorf("%s: want %q, got %q", name, want, got)
		}
	}
	if err := os.WriteFile(conf, []byte(`{"no-such-flag": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := applyConfig(newVerifierServeCommand().Flags(), conf, "RATLS_VERIFIER_"); err == nil || !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("unknown key: want an error naming it, got %v", err)
	}
}

// TestVerifierRATLS has the service attest itself: its HTTPS certificate is
// an RA-TLS certificate that "ratls verify host:port" accepts.
func TestVerifierRATLS(t *testing.T) {
	simDir := newSimDir(t)
	root := filepath.Join(simDir, sim.RootFile)
	p := startVerifier(t, "--db", "sqlite:"+filepath.Join(t.TempDir(), "v.db"), "--key", filepath.Join(t.TempDir(), "k.pem"),
		"--offline", "--ra-tls", "--attester", "sim", "--sim-dir", simDir, "--tee", "tdx")
	host, ok := strings.CutPrefix(p.base, "https://")
	if !ok {
		t.Fatalf("want an https:// URL, got %s", p.base)
	}
	code, out, stderr := runBounded(t, "verify", "--offline", "--trust-root", root, host)
	if code != exitOK || !strings.Contains(out, "key binding:     ok") {
		t.Fatalf("verify %s: exit %d\n%s\n%s", host, code, out, stderr)
	}
	// Plain HTTP on a non-loopback address is refused without
	// --insecure-plaintext.
	code, _, stderr = runBounded(t, "verifier", "serve", "--db", "sqlite:"+filepath.Join(t.TempDir(), "w.db"),
		"--key", filepath.Join(t.TempDir(), "k2.pem"), "--listen", "0.0.0.0:0", "--offline")
	if code != exitInput || !strings.Contains(stderr, "--insecure-plaintext") {
		t.Errorf("plain HTTP on 0.0.0.0: exit %d, %q; want 2 naming --insecure-plaintext", code, stderr)
	}
}
