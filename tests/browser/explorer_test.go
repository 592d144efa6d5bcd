// Package browser tests the evidence explorer in a real browser: headless
// Chromium, driven over the DevTools protocol. It is a module of its own so
// that the library does not depend on the browser driver.
package browser

import (
	"context"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/explore"
	"github.com/ratls/ratls/internal/testvectors"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
)

var vectors = testvectors.Path("dcap-qvl") + "/"

// chromium finds Debian's Chromium; without it the test is skipped, except
// in CI, where .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium: .ci/run installs Debian's chromium package")
	}
	t.Skip("no Chromium installed (apt-get install chromium)")
	return ""
}

// explorer serves the explorer with the dcap-qvl TDX vector's collateral,
// at the vector's pinned time.
func explorer(t *testing.T) *httptest.Server {
	t.Helper()
	b, err := os.ReadFile(vectors + "tdx_quote_collateral.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := pcs.ParseDCAPQVLJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 7, 19, 10, 0, 34, 0, time.UTC)
	cfg := &explore.Config{Verify: ratls.VerifyOptions{TEE: []tee.Options{&dcap.Options{Collateral: pcs.Static{C: c}}}}, Now: func() time.Time { return at }}
	srv := httptest.NewServer(cfg.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.WindowSize(1280, 1400),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

// The page loads, a real quote pasted as hex is analysed, and the verdict,
// the TCB status, the reasons, the checks and the decoded fields are shown.
func TestExplorerPasteQuote(t *testing.T) {
	srv := explorer(t)
	ctx := browser(t)
	q, err := os.ReadFile(vectors + "tdx_quote")
	if err != nil {
		t.Fatal(err)
	}
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible("#paste"),
		chromedp.SetValue("#paste", hex.EncodeToString(q)),
		chromedp.Click("#analyze"),
		chromedp.WaitVisible("#verdict"),
	))
	status, facts, reasons := text(t, ctx, "#status"), text(t, ctx, "#facts"), text(t, ctx, "#reasons")
	checks, tree := text(t, ctx, "#checks"), text(t, ctx, "#tree")
	// Expected values: the vector's EXPECTED.json (TCB UpToDate); without
	// reference values the verdict is a warning that says so.
	if status != "warning" {
		t.Errorf("verdict %q, want warning", status)
	}
	for _, want := range []string{"UpToDate", "Intel SGX/TDX", "Intel SGX Root CA (Intel's genuine root)"} {
		if !strings.Contains(facts, want) {
			t.Errorf("facts lack %q: %q", want, facts)
		}
	}
	if !strings.Contains(reasons, "reference_values") || !strings.Contains(reasons, "no reference values were checked") {
		t.Errorf("reasons: %q", reasons)
	}
	if !strings.Contains(checks, "quote.signature") || !strings.Contains(checks, "passed") {
		t.Errorf("checks: %q", checks)
	}
	if !strings.Contains(tree, "mrtd") || !strings.Contains(tree, "Measurement of the TD's initial contents") {
		t.Errorf("tree lacks mrtd and its explanation")
	}
	if os.Getenv("RATLS_SCREENSHOT") != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(os.Getenv("RATLS_SCREENSHOT"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A file chosen (as when dropped) is analysed too: a collateral document
// is shown decoded, without a verdict; junk gets the plain error.
func TestExplorerFileInput(t *testing.T) {
	srv := explorer(t)
	ctx := browser(t)
	tcb, _ := filepath.Abs(testvectors.Path("zkdcap/tcbinfov3_00806f050000.json"))
	junk := filepath.Join(t.TempDir(), "junk.bin")
	os.WriteFile(junk, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, 0o644)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.SetUploadFiles("#file", []string{tcb}),
		chromedp.WaitVisible("#treetitle"),
	))
	what, tree := text(t, ctx, "#what"), text(t, ctx, "#tree")
	verdictHidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("verdict").hidden`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(what, "collateral") || !strings.Contains(tree, "tcb_levels") || !strings.Contains(tree, "00806f050000") || !verdictHidden {
		t.Errorf("collateral: what %q, verdict hidden %v", what, verdictHidden)
	}
	must(t, chromedp.Do(ctx,
		chromedp.SetUploadFiles("#file", []string{junk}),
		chromedp.WaitVisible("#error"),
	))
	errText := text(t, ctx, "#error")
	if !strings.HasPrefix(errText, "not a certificate, quote, report, token, CMW or collateral document") {
		t.Errorf("junk: %q", errText)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// text is the text of an element (its textContent: also what is folded away).
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.TextContent(sel))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return s
}
