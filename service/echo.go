package service

import "unicode/utf8"

// maxEcho bounds how much of a client's string an answer quotes: enough to
// recognize it, never a way to make answers (or logs) as large as requests.
const maxEcho = 64

// clip returns s, or its first maxEcho bytes (on a rune boundary) and "…".
func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	n := maxEcho
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
