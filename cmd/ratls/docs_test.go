package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// docCommand is one command line of a page: its words, the exit status the
// page says it has ("# exit N", default 0), and whether it runs in the
// background ("&").
type docCommand struct {
	line       string
	args       []string
	exit       int
	background bool
}

var exitComment = regexp.MustCompile(`\s+# exit (\d+)$`)

// docBlocks returns the lines of the page's fenced blocks of the language.
func docBlocks(t *testing.T, page, lang string) [][]string {
	t.Helper()
	f, err := os.Open(page)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks [][]string
	var cur []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && line == "```"+lang:
			in, cur = true, nil
		case in && line == "```":
			in = false
			blocks = append(blocks, cur)
		case in:
			cur = append(cur, line)
		}
	}
	return blocks
}

func docCommands(t *testing.T, page string) []docCommand {
	t.Helper()
	var out []docCommand
	for _, b := range docBlocks(t, page, "sh") {
		for _, line := range b {
			c := docCommand{line: line}
			if m := exitComment.FindStringSubmatch(line); m != nil {
				c.exit, _ = strconv.Atoi(m[1])
				line = line[:len(line)-len(m[0])]
			}
			if l, ok := strings.CutSuffix(line, " &"); ok {
				c.background, line = true, l
			}
			c.args = strings.Fields(line)
			out = append(out, c)
		}
	}
	return out
}

// listenAddr is the --listen of a background command.
func listenAddr(args []string) string {
	for i, a := range args {
		if a == "--listen" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// The "first five minutes" pages for operators and reviewers run as
// written: each ratls command, in order, in an empty directory, with the
// exit status the page gives.
func TestFirstFiveMinutesPages(t *testing.T) {
	for _, page := range []string{"operator.md", "reviewer.md"} {
		t.Run(page, func(t *testing.T) {
			path, _ := filepath.Abs(filepath.Join("..", "..", "docs", "start", page))
			cmds := docCommands(t, path)
			if len(cmds) < 3 {
				t.Fatalf("%s: %d commands", page, len(cmds))
			}
			t.Chdir(t.TempDir())
			for _, c := range cmds {
				if c.args[0] != "ratls" {
					t.Fatalf("%q: only ratls commands run here", c.line)
				}
				if c.background {
					ctx, cancel := context.WithCancel(context.Background())
					done := make(chan int, 1)
					go func() { done <- runWith(ctx, c.args[1:], nil, io.Discard, io.Discard) }()
					t.Cleanup(func() {
						cancel()
						select {
						case <-done:
						case <-time.After(e2eTimeout):
							t.Errorf("%q did not stop", c.line)
						}
					})
					waitListening(t, listenAddr(c.args), done)
					continue
				}
				code, stdout, stderr := runBounded(t, c.args[1:]...)
				if code != c.exit {
					t.Fatalf("%q: exit %d, the page says %d\n%s\n%s", c.line, code, c.exit, stdout, stderr)
				}
			}
		})
	}
}

func waitListening(t *testing.T, addr string, done chan int) {
	t.Helper()
	if addr == "" {
		t.Fatal("a background command without --listen")
	}
	for deadline := time.Now().Add(e2eTimeout); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		select {
		case code := <-done:
			t.Fatalf("the server for %s exited with %d", addr, code)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s", addr)
		}
	}
}

// The developer page's program builds against this module and prints
// what the page says it prints.
func TestFirstFiveMinutesDeveloper(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	page, _ := filepath.Abs(filepath.Join("..", "..", "docs", "start", "developer.md"))
	var lines []string
	for _, c := range docCommands(t, page) {
		lines = append(lines, c.line)
	}
	if strings.Join(lines, "\n") != "go get github.com/ratls/ratls\ngo run ." {
		t.Fatalf("the page's commands changed: %q", lines)
	}
	blocks := docBlocks(t, page, "go")
	if len(blocks) != 1 {
		t.Fatalf("%d Go blocks", len(blocks))
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	dir := t.TempDir()
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	// "go get" of the module, made local: a replace directive.
	files := map[string]string{
		"main.go": strings.Join(blocks[0], "\n") + "\n",
		"go.mod":  "module example.com/first\n\ngo 1.26.0\n\nrequire github.com/ratls/ratls v0.0.0\n\nreplace github.com/ratls/ratls => " + root + "\n",
		"go.sum":  string(sum),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	const want = "peer verified: warning (TCB UpToDate); it says: hello from the TEE\n"
	if !strings.HasSuffix(string(out), want) {
		t.Errorf("the program printed %q, the page says %q", out, want)
	}
}
