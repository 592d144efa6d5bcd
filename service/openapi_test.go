package service_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
	"github.com/ratls/ratls/service/store/storetest"
)

// The OpenAPI description and the server must not drift apart. The routes
// the server registers are read from the handle(...) calls in routes.go
// (go/ast, with the constants of the service packages), the described ones
// from openapi.yaml (a minimal line parser: go.mod takes no YAML library),
// and both are compared, with the role each operation needs. Then every
// described operation is requested against a running server, which must
// know it, and every other method on a described path must be refused with
// 405.

// yamlOp is one operation of the description.
type yamlOp struct {
	role  string   // x-ratls-role
	media []string // request body media types
}

var (
	reYAMLPath   = regexp.MustCompile(`^  (/\S*):\s*$`)
	reYAMLMethod = regexp.MustCompile(`^    ([a-z]+):\s*$`)
	reYAMLRole   = regexp.MustCompile(`^      x-ratls-role:\s*(\S+)\s*$`)
	reYAMLMedia  = regexp.MustCompile(`^          ('[^']+'|"[^"]+"|[^\s'"]\S*):\s*$`)
	reYAMLProb   = regexp.MustCompile(`^  ([a-z-]+):\s*\{status:\s*(\d+)\s*[,}]`)
)

var httpMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// parseDescription returns the operations under paths: ("METHOD /path")
// and the problem types under x-problem-types: with their status codes. It
// relies on the file's layout: two spaces per level, one key per line.
func parseDescription(doc []byte) (map[string]*yamlOp, map[string]int, error) {
	ops := map[string]*yamlOp{}
	probs := map[string]int{}
	section, path := "", ""
	var op *yamlOp
	inBody := false
	for i, line := range strings.Split(string(doc), "\n") {
		if strings.ContainsRune(line, '\t') {
			return nil, nil, fmt.Errorf("openapi.yaml:%d: tab character", i+1)
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if !strings.HasPrefix(line, " ") {
			section, _, _ = strings.Cut(line, ":")
			continue
		}
		switch section {
		case "x-problem-types":
			if strings.HasPrefix(line, "   ") {
				continue
			}
			m := reYAMLProb.FindStringSubmatch(line)
			if m == nil {
				return nil, nil, fmt.Errorf("openapi.yaml:%d: x-problem-types entry: want `  name: {status: NNN, ...}`, got %q", i+1, line)
			}
			if _, dup := probs[m[1]]; dup {
				return nil, nil, fmt.Errorf("openapi.yaml:%d: problem type %s listed twice", i+1, m[1])
			}
			probs[m[1]], _ = strconv.Atoi(m[2])
		case "paths":
			if m := reYAMLPath.FindStringSubmatch(line); m != nil {
				path, op = m[1], nil
				continue
			}
			if strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") {
				return nil, nil, fmt.Errorf("openapi.yaml:%d: want a path key (`  /...:`), got %q", i+1, line)
			}
			if m := reYAMLMethod.FindStringSubmatch(line); m != nil {
				op = nil
				if method := strings.ToUpper(m[1]); slices.Contains(httpMethods, method) || method == "HEAD" || method == "OPTIONS" || method == "TRACE" {
					key := method + " " + path
					if ops[key] != nil {
						return nil, nil, fmt.Errorf("openapi.yaml:%d: %s described twice", i+1, key)
					}
					op = &yamlOp{}
					ops[key] = op
				}
				continue
			}
			if op == nil {
				continue
			}
			if m := reYAMLRole.FindStringSubmatch(line); m != nil {
				op.role = m[1]
			}
			// Request body media types: keys at depth 5 under
			// requestBody: content:.
			if strings.HasPrefix(line, "      ") && !strings.HasPrefix(line, "       ") {
				inBody = strings.TrimSpace(line) == "requestBody:"
			}
			if m := reYAMLMedia.FindStringSubmatch(line); inBody && m != nil {
				op.media = append(op.media, unquoteYAML(m[1]))
			}
		}
	}
	if len(ops) == 0 {
		return nil, nil, errors.New("openapi.yaml: no operations found under paths:")
	}
	for _, k := range slices.Sorted(maps.Keys(ops)) {
		if ops[k].role == "" {
			return nil, nil, fmt.Errorf("openapi.yaml: %s has no x-ratls-role", k)
		}
	}
	return ops, probs, nil
}

func mustParseDescription(t *testing.T, doc []byte) (map[string]*yamlOp, map[string]int) {
	t.Helper()
	ops, probs, err := parseDescription(doc)
	if err != nil {
		t.Fatal(err)
	}
	return ops, probs
}

// unquoteYAML removes the quotes of a single- or double-quoted key (which
// the description uses without escapes other than ” in single quotes).
func unquoteYAML(s string) string {
	switch {
	case len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'':
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		return s[1 : len(s)-1]
	}
	return s
}

// goConsts returns the string constants declared in the non-test Go files
// of dir, by name, and the trailing comment of each.
func goConsts(t *testing.T, dir string) (values, comments map[string]string) {
	t.Helper()
	values, comments = map[string]string{}, map[string]string{}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						values[n.Name], _ = strconv.Unquote(lit.Value)
						if vs.Comment != nil {
							comments[n.Name] = strings.TrimSpace(vs.Comment.Text())
						}
					}
				}
			}
		}
	}
	return values, comments
}

// routeEval evaluates the string expressions of the routes function.
type routeEval struct {
	t      *testing.T
	fset   *token.FileSet
	consts map[string]string // "name" (package service), "api.Name", "store.Name"
	env    map[string]string // local variables, and "d.field" of range loops
	routes map[string]string // "METHOD /path" -> role
	seen   map[token.Pos]bool
}

func (e *routeEval) str(x ast.Expr) (string, bool) {
	switch x := x.(type) {
	case *ast.BasicLit:
		if x.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(x.Value)
		return s, err == nil
	case *ast.Ident:
		if v, ok := e.env[x.Name]; ok {
			return v, true
		}
		v, ok := e.consts[x.Name]
		return v, ok
	case *ast.SelectorExpr:
		if id, ok := x.X.(*ast.Ident); ok {
			if v, ok := e.env[id.Name+"."+x.Sel.Name]; ok {
				return v, true
			}
			v, ok := e.consts[id.Name+"."+x.Sel.Name]
			return v, ok
		}
	case *ast.BinaryExpr:
		if x.Op == token.ADD {
			a, ok1 := e.str(x.X)
			b, ok2 := e.str(x.Y)
			return a + b, ok1 && ok2
		}
	case *ast.ParenExpr:
		return e.str(x.X)
	}
	return "", false
}

func (e *routeEval) stmts(list []ast.Stmt) {
	for _, s := range list {
		e.stmt(s)
	}
}

func (e *routeEval) stmt(s ast.Stmt) {
	switch s := s.(type) {
	case *ast.BlockStmt:
		e.stmts(s.List)
	case *ast.AssignStmt:
		for i, lhs := range s.Lhs {
			id, ok := lhs.(*ast.Ident)
			if !ok || i >= len(s.Rhs) {
				continue
			}
			if v, ok := e.str(s.Rhs[i]); ok {
				e.env[id.Name] = v
			}
		}
	case *ast.ExprStmt:
		call, ok := s.X.(*ast.CallExpr)
		if !ok {
			return
		}
		if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "handle" {
			return
		}
		if len(call.Args) < 3 {
			e.t.Fatalf("%s: handle call with %d arguments", e.fset.Position(call.Pos()), len(call.Args))
		}
		method, ok1 := e.str(call.Args[0])
		path, ok2 := e.str(call.Args[1])
		role, ok3 := e.str(call.Args[2])
		if !ok1 || !ok2 || !ok3 {
			e.t.Fatalf("%s: cannot evaluate the method, path or role of this handle call; extend routeEval", e.fset.Position(call.Pos()))
		}
		if role == "" {
			role = "open"
		}
		e.routes[method+" "+path] = role
		e.seen[call.Pos()] = true
	case *ast.RangeStmt:
		// for _, d := range []struct{ a, b string }{{...}, ...} { ... }
		lit, ok := s.X.(*ast.CompositeLit)
		v, ok2 := s.Value.(*ast.Ident)
		if !ok || !ok2 {
			return
		}
		arr, ok := lit.Type.(*ast.ArrayType)
		if !ok {
			return
		}
		st, ok := arr.Elt.(*ast.StructType)
		if !ok {
			return
		}
		var fields []string
		for _, f := range st.Fields.List {
			for _, n := range f.Names {
				fields = append(fields, n.Name)
			}
		}
		for _, el := range lit.Elts {
			cl, ok := el.(*ast.CompositeLit)
			if !ok {
				continue
			}
			saved := maps.Clone(e.env)
			for i, x := range cl.Elts {
				if kv, ok := x.(*ast.KeyValueExpr); ok {
					if k, ok := kv.Key.(*ast.Ident); ok {
						if val, ok := e.str(kv.Value); ok {
							e.env[v.Name+"."+k.Name] = val
						}
					}
				} else if i < len(fields) {
					if val, ok := e.str(x); ok {
						e.env[v.Name+"."+fields[i]] = val
					}
				}
			}
			e.stmts(s.Body.List)
			e.env = saved
		}
	}
}

// registeredRoutes returns the routes routes.go registers, with their
// roles ("open", "verify", "read", "write", "admin").
func registeredRoutes(t *testing.T) map[string]string {
	t.Helper()
	e := &routeEval{t: t, fset: token.NewFileSet(), consts: map[string]string{}, env: map[string]string{},
		routes: map[string]string{}, seen: map[token.Pos]bool{}}
	for prefix, dir := range map[string]string{"": ".", "api.": "api", "store.": "store"} {
		vals, _ := goConsts(t, dir)
		for k, v := range vals {
			e.consts[prefix+k] = v
		}
	}
	f, err := parser.ParseFile(e.fset, "routes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var routes *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "routes" {
			routes = fd
		}
	}
	if routes == nil {
		t.Fatal("routes.go: no routes function")
	}
	e.stmts(routes.Body.List)
	// Every handle call must have been evaluated: one hidden in a
	// statement the evaluator skips would go unchecked.
	ast.Inspect(routes.Body, func(n ast.Node) bool {
		if _, ok := n.(*ast.FuncLit); ok {
			return false
		}
		if call, ok := n.(*ast.CallExpr); ok {
			if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "handle" && !e.seen[call.Pos()] {
				t.Errorf("%s: handle call not evaluated; extend routeEval", e.fset.Position(call.Pos()))
			}
		}
		return true
	})
	if len(e.routes) == 0 {
		t.Fatal("routes.go: no routes found")
	}
	return e.routes
}

// probeServer runs a service with a SQLite store and an admin token.
func probeServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	st := storetest.Open(t, storetest.SQLite(t))
	cfg, err := service.Throwaway(service.Config{Store: st, Rate: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := service.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	tok, err := service.CreateToken(context.Background(), st, "admin", store.RoleAdmin, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return hs, tok.Secret
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	hs, _ := probeServer(t)
	served := do(t, hs.URL, "GET", api.PathOpenAPI, "", "", nil)
	file, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if served.code != http.StatusOK || served.hdr.Get("Content-Type") != "application/yaml" || !bytes.Equal(served.body, file) {
		t.Fatalf("GET %s: want 200 application/yaml with openapi.yaml, got %d %q (%d bytes)",
			api.PathOpenAPI, served.code, served.hdr.Get("Content-Type"), len(served.body))
	}
	if !bytes.HasPrefix(file, []byte("openapi: 3.0.3\n")) {
		t.Errorf("openapi.yaml: want it to start with `openapi: 3.0.3`")
	}
	ops, _ := mustParseDescription(t, served.body)
	registered := registeredRoutes(t)

	for _, k := range slices.Sorted(maps.Keys(registered)) {
		op := ops[k]
		if op == nil {
			t.Errorf("%s is registered in routes.go but not described in openapi.yaml", k)
			continue
		}
		if op.role != registered[k] {
			t.Errorf("%s: x-ratls-role: want %s (routes.go), got %s", k, registered[k], op.role)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ops)) {
		if _, ok := registered[k]; !ok {
			t.Errorf("%s is described in openapi.yaml but not registered in routes.go", k)
		}
	}
}

func TestOpenAPIOperationsAnswer(t *testing.T) {
	hs, admin := probeServer(t)
	ops, _ := mustParseDescription(t, do(t, hs.URL, "GET", api.PathOpenAPI, "", "", nil).body)

	// Resources for the path parameters, so that no described operation
	// has a reason to answer 404.
	r := do(t, hs.URL, "POST", api.PathNewSession, "", "", nil)
	if r.code != http.StatusCreated {
		t.Fatalf("newSession: %d %s", r.code, r.body)
	}
	sessionID, _ := api.SessionIDFromLocation(r.hdr.Get("Location"))
	for _, p := range []string{api.PathPolicies, api.PathReferences} {
		if r := do(t, hs.URL, "POST", p+"/probe", admin, "application/json", []byte(`{}`)); r.code != http.StatusCreated {
			t.Fatalf("POST %s/probe: %d %s", p, r.code, r.body)
		}
	}
	r = do(t, hs.URL, "POST", api.PathTokens, admin, "application/json", []byte(`{"name":"probe","role":"read"}`))
	var tok api.Token
	r.json(t, &tok)
	if r.code != http.StatusCreated {
		t.Fatalf("POST %s: %d %s", api.PathTokens, r.code, r.body)
	}
	fill := func(path string) string {
		id := sessionID
		if strings.HasPrefix(path, api.PathTokens) {
			id = tok.ID
		}
		return strings.NewReplacer("{id}", id, "{name}", "probe", "{version}", "1").Replace(path)
	}

	// DELETE last: it removes what the others need.
	keys := slices.SortedFunc(maps.Keys(ops), func(a, b string) int {
		da, db := strings.HasPrefix(a, "DELETE "), strings.HasPrefix(b, "DELETE ")
		if da != db {
			if da {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	paths := map[string]bool{}
	for _, k := range keys {
		method, path, _ := strings.Cut(k, " ")
		paths[path] = true
		r := do(t, hs.URL, method, fill(path), admin, "application/json", []byte(`{}`))
		if r.code == http.StatusNotFound || r.code == http.StatusMethodNotAllowed {
			t.Errorf("%s (as %s %s): the server does not know it: %d %s", k, method, fill(path), r.code, r.body)
		}
	}
	// Every other method on a described path is refused as such: 405, or
	// 404 on Veraison's paths, as Veraison answers.
	veraison := map[string]bool{api.PathNewSession: true, api.PathSession + "{id}": true, api.PathDiscovery: true}
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		code, typ := http.StatusMethodNotAllowed, "method-not-allowed"
		if veraison[path] {
			code, typ = http.StatusNotFound, "not-found"
		}
		for _, method := range httpMethods {
			if ops[method+" "+path] != nil {
				continue
			}
			r := do(t, hs.URL, method, fill(path), admin, "application/json", []byte(`{}`))
			if r.code != code {
				t.Errorf("%s %s is not described, but the server answers %d, not %d: %s", method, path, r.code, code, r.body)
				continue
			}
			r.problem(t, code, typ)
		}
	}
	// The probe tells known from unknown endpoints.
	do(t, hs.URL, "GET", "/v1/nothing-here", admin, "", nil).problem(t, http.StatusNotFound, "not-found")
}

func TestOpenAPIProblemTypes(t *testing.T) {
	file, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, described := mustParseDescription(t, file)
	values, comments := goConsts(t, ".")
	defined := map[string]int{}
	for name, v := range values {
		if !strings.HasPrefix(name, "prob") {
			continue
		}
		status, err := strconv.Atoi(comments[name])
		if err != nil {
			t.Fatalf("problem.go: %s: want a trailing // status comment, got %q", name, comments[name])
		}
		defined[v] = status
	}
	if len(defined) == 0 {
		t.Fatal("problem.go: no problem types found")
	}
	for _, typ := range slices.Sorted(maps.Keys(defined)) {
		got, ok := described[typ]
		switch {
		case !ok:
			t.Errorf("problem type %s (problem.go) is not in x-problem-types", typ)
		case got != defined[typ]:
			t.Errorf("problem type %s: status: want %d (problem.go), got %d", typ, defined[typ], got)
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(described)) {
		if _, ok := defined[typ]; !ok {
			t.Errorf("x-problem-types lists %s, which problem.go does not define", typ)
		}
	}
	if !bytes.Contains(file, []byte(api.ProblemTypeBase)) {
		t.Errorf("openapi.yaml does not name the problem type base %s", api.ProblemTypeBase)
	}
}

func TestOpenAPIEvidenceMedia(t *testing.T) {
	file, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ops, _ := mustParseDescription(t, file)
	for k, extra := range map[string][]string{
		"POST " + api.PathSession + "{id}": nil,
		"POST " + api.PathAttest:           {"application/json"},
	} {
		op := ops[k]
		if op == nil {
			t.Fatalf("%s is not described", k)
		}
		want := slices.Sorted(slices.Values(append(slices.Clone(api.EvidenceMedia), extra...)))
		got := slices.Sorted(slices.Values(op.media))
		if !slices.Equal(got, want) {
			t.Errorf("%s: request body media types:\nwant %q\n got %q", k, want, got)
		}
	}
	// The discovery document offers the same list.
	hs, _ := probeServer(t)
	var d api.Discovery
	do(t, hs.URL, "GET", api.PathDiscovery, "", "", nil).json(t, &d)
	if !slices.Equal(d.MediaTypes, api.EvidenceMedia) {
		t.Errorf("discovery media-types: want %q, got %q", api.EvidenceMedia, d.MediaTypes)
	}
}

// TestOpenAPIParser checks the minimal parser on a small document, and
// that it refuses what it must not silently skip.
func TestOpenAPIParser(t *testing.T) {
	const doc = "openapi: 3.0.3\nx-problem-types:\n  a-b: {status: 418, description: x}\npaths:\n" +
		"  /x/{id}:\n    parameters: []\n    get:\n      x-ratls-role: read\n      requestBody:\n        content:\n" +
		"          'a/b; c=\"d\"':\n            schema: {}\n      responses: {}\n    delete:\n      x-ratls-role: open\ncomponents: {}\n"
	ops, probs, err := parseDescription([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops["GET /x/{id}"] == nil || ops["GET /x/{id}"].role != "read" || ops["DELETE /x/{id}"] == nil || ops["DELETE /x/{id}"].role != "open" {
		t.Fatalf("operations: %v", ops)
	}
	if m := ops["GET /x/{id}"].media; len(m) != 1 || m[0] != `a/b; c="d"` {
		t.Errorf("media types: want [a/b; c=\"d\"], got %q", m)
	}
	if len(probs) != 1 || probs["a-b"] != 418 {
		t.Errorf("problem types: want a-b 418, got %v", probs)
	}
	for _, c := range []struct{ name, doc, want string }{
		{"tab", "paths:\n  /x:\n\tget:\n", "tab"},
		{"no role", "paths:\n  /x:\n    get:\n      summary: x\n", "no x-ratls-role"},
		{"twice", "paths:\n  /x:\n    get:\n      x-ratls-role: open\n    get:\n      x-ratls-role: open\n", "twice"},
		{"not a path", "paths:\n  x:\n    get:\n      x-ratls-role: open\n", "path key"},
		{"no paths", "paths: {}\n", "no operations"},
		{"bad problem", "x-problem-types:\n  a-b: 418\npaths:\n  /x:\n    get:\n      x-ratls-role: open\n", "x-problem-types"},
		{"problem twice", "x-problem-types:\n  a: {status: 400}\n  a: {status: 400}\n", "twice"},
	} {
		if _, _, err := parseDescription([]byte(c.doc)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want an error containing %q, got %v", c.name, c.want, err)
		}
	}
}
