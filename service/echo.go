package service

import (
	"mime"
	"unicode/utf8"

	"github.com/ratls/ratls/service/api"
)

// Bounds of what an answer quotes of a request: enough to recognize it,
// never a way to make answers (or logs) as large as requests.
const (
	maxEcho     = 64   // a client string quoted in a detail
	maxDetail   = 1024 // a problem's detail
	maxInstance = 256  // a problem's instance, the request path
)

// clip returns s, or its first maxEcho bytes and "…".
func clip(s string) string { return cut(s, maxEcho) }

// cut returns s, or its first n bytes (on a rune boundary) and "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// boundEchoes keeps a problem document small whatever the request quoted
// in it: its detail is cut, and an instance (the request path) too long to
// be useful is left out.
func boundEchoes(p *api.Problem) {
	p.Detail = cut(p.Detail, maxDetail)
	if len(p.Instance) > maxInstance {
		p.Instance = ""
	}
}

// baseMediaType is an accepted media type as logged: without parameters
// other than profile, which are the client's to make as long as it likes.
func baseMediaType(mt string) string {
	base, params, err := mime.ParseMediaType(mt)
	if err != nil {
		return clip(mt)
	}
	if p, ok := params["profile"]; ok {
		return mime.FormatMediaType(base, map[string]string{"profile": p})
	}
	return base
}
