package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"
)

// Output formats of -o.
const (
	formatText = "text"
	formatJSON = "json"
	formatYAML = "yaml"
)

var outputFormats = []string{formatText, formatJSON, formatYAML}

// globalFlags are the flags every command takes.
type globalFlags struct {
	output string
	quiet  bool
	// yamlBuf collects a command's JSON output for -o yaml.
	yamlBuf *bytes.Buffer
}

// addGlobalFlags registers -o and -q on root and makes every command honour
// them: -o json is --json, -o yaml is --json converted to YAML, -q silences
// reports and messages (the exit status and errors remain).
func addGlobalFlags(root *cobra.Command, g *globalFlags) {
	pf := root.PersistentFlags()
	pf.StringVarP(&g.output, "output", "o", formatText, "output format: text, json or yaml")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "print nothing but errors: the exit status says the result")
	registerCompletions(root)
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if !slices.Contains(outputFormats, g.output) {
			return inputErr("-o: want text, json or yaml, got %q", g.output)
		}
		jsonFlag := cmd.Flags().Lookup("json")
		switch {
		case g.output != formatText && jsonFlag == nil:
			if cmd.Flags().Changed("output") {
				return inputErr("-o %s: %q prints no report to format", g.output, cmd.CommandPath())
			}
		case g.output != formatText:
			_ = jsonFlag.Value.Set("true") // a bool flag takes "true"
		case jsonFlag != nil && jsonFlag.Changed && cmd.Flags().Changed("output"):
			return inputErr("--json and -o %s disagree", g.output)
		case jsonFlag != nil && jsonFlag.Changed:
			g.output = formatJSON
		}
		if g.quiet {
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			return nil
		}
		if g.output == formatYAML {
			g.yamlBuf = &bytes.Buffer{}
			cmd.SetOut(g.yamlBuf)
		}
		return nil
	}
}

// runWith executes the command line args and returns the exit status. With
// -o json or --json, errors are JSON too: standard output holds exactly one
// document, the report or {"error": …, "exit_status": N} when the command
// printed none, and standard error a JSON line for the error.
func runWith(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	out := &countingWriter{w: stdout}
	var g globalFlags
	root := newRootCommand(out, stderr)
	addGlobalFlags(root, &g)
	if stdin != nil {
		root.SetIn(stdin)
	}
	root.SetArgs(args)
	_, err := root.ExecuteContextC(ctx)
	if g.yamlBuf != nil && g.yamlBuf.Len() > 0 {
		if y, cerr := jsonToYAML(g.yamlBuf.Bytes()); cerr == nil {
			out.Write(y)
		} else {
			out.Write(g.yamlBuf.Bytes())
		}
	}
	if err == nil {
		return exitOK
	}
	code := exitInput // flag and argument errors
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	switch g.output {
	case formatJSON, formatYAML:
		doc := map[string]any{"error": err.Error(), "exit_status": code}
		line, _ := json.Marshal(doc)
		fmt.Fprintf(stderr, "%s\n", line)
		if out.n == 0 && !g.quiet {
			if g.output == formatYAML {
				y, _ := jsonToYAML(line)
				out.Write(y)
			} else {
				out.Write(append(line, '\n'))
			}
		}
	default:
		fmt.Fprintln(stderr, "ratls:", err)
	}
	return code
}

// countingWriter counts what passes, to know whether a report was printed.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
