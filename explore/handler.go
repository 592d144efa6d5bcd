package explore

import (
	"embed"
	"encoding/json"
	"io"
	"net/http"
)

//go:embed static
var static embed.FS

// Paths the explorer serves besides "/".
const (
	PathAssets  = "/explore/"
	PathAnalyze = "/explore/analyze"
)

// contentSecurity lets the page load only its own script and style and
// talk only to its own origin: nothing a user drops leaves for anywhere
// else.
const contentSecurity = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

// Request is the body of POST /explore/analyze.
type Request struct {
	Name string `json:"name"`
	// Data is the input's bytes (base64 in JSON).
	Data []byte `json:"data"`
}

// Handler serves the page at "/" and its assets under /explore/, and
// answers POST /explore/analyze with an Analysis.
func (cfg *Config) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		serveStatic(w, "static/index.html", "text/html; charset=utf-8")
	})
	mux.HandleFunc("GET /explore/app.js", func(w http.ResponseWriter, r *http.Request) {
		serveStatic(w, "static/app.js", "text/javascript; charset=utf-8")
	})
	mux.HandleFunc("GET /explore/app.css", func(w http.ResponseWriter, r *http.Request) {
		serveStatic(w, "static/app.css", "text/css; charset=utf-8")
	})
	mux.HandleFunc("POST "+PathAnalyze, cfg.serveAnalyze)
	return mux
}

func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurity)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

func serveStatic(w http.ResponseWriter, name, contentType string) {
	b, err := static.ReadFile(name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	securityHeaders(w)
	w.Header().Set("Content-Type", contentType)
	w.Write(b)
}

func (cfg *Config) serveAnalyze(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	w.Header().Set("Content-Type", "application/json")
	// base64 makes the body a third larger than the input.
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxInput*4/3+4096))
	var req Request
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(&Analysis{Error: "request: want {\"name\": …, \"data\": base64}: " + err.Error()})
		return
	}
	if len(req.Data) == 0 {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(&Analysis{Name: req.Name, Error: "empty input: paste or drop something"})
		return
	}
	json.NewEncoder(w).Encode(cfg.Analyze(r.Context(), req.Name, req.Data))
}
