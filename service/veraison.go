package service

import (
	"bytes"
	"encoding/hex"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
)

// What the challenge-response endpoints do as Veraison's verification
// service does (verification/api/handler.go there), so that its clients
// read the answers as they read Veraison's.

// veraisonPaths are the routes of Veraison's API. A method they do not
// take is answered 404, as Veraison's router (gin without
// HandleMethodNotAllowed) answers it.
var veraisonPaths = map[string]bool{
	api.PathNewSession: true, api.PathSession + "{id}": true, api.PathDiscovery: true,
}

// acceptable reports whether an Accept header admits one of the offered
// media types: no Accept, or a media range (type/subtype, type/*, */*)
// that matches one with a q-value above 0. Veraison answers 406 otherwise.
func acceptable(r *http.Request, offered ...string) bool {
	accept := strings.Join(r.Header.Values("Accept"), ",")
	if strings.TrimSpace(accept) == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
				continue
			}
		}
		for _, o := range offered {
			if mt == "*/*" || mt == o || strings.HasSuffix(mt, "/*") && strings.HasPrefix(o, strings.TrimSuffix(mt, "*")) {
				return true
			}
		}
	}
	return false
}

func notAcceptable(offered string) error {
	return problem(http.StatusNotAcceptable, probNotAcceptable, "Not acceptable", "the only supported output format is %s", offered)
}

// discoveryCache lets clients cache the discovery document, with the
// headers Veraison sends (Expires in the HTTP date format).
func (s *Server) discoveryCache(w http.ResponseWriter) {
	age := s.cfg.DiscoveryMaxAge
	w.Header().Set("Cache-Control", "max-age="+strconv.FormatInt(int64(age/time.Second), 10))
	w.Header().Set("Expires", s.now().Add(age).UTC().Format(http.TimeFormat))
}

// parseSessionID reads a session ID as Veraison does (github.com/google/uuid
// Parse: the 36-character form, in braces, with a urn:uuid: prefix, or 32
// hex digits) and returns its canonical form, lowercase with hyphens.
func parseSessionID(s string) (string, error) {
	raw := s
	switch {
	case len(s) == 36+9 && strings.EqualFold(s[:9], "urn:uuid:"):
		s = s[9:]
	case len(s) == 38 && s[0] == '{' && s[37] == '}':
		s = s[1:37]
	}
	if len(s) == 36 {
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			s = "" // not a UUID
		} else {
			s = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
		}
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return "", problem(http.StatusBadRequest, probBadRequest, "Invalid session ID", "session ID %.40q: want a UUID", raw)
	}
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// sessionExpired is the answer about a session that expired unused:
// Veraison's sessions are gone by then, hence 404.
func sessionExpired(sess *store.Session) error {
	return problem(http.StatusNotFound, probStaleNonce, "Stale nonce", "session %s expired at %s; start a new session",
		sess.ID, sess.Expires.UTC().Format("2006-01-02T15:04:05Z07:00"))
}

// resubmitted reports whether a session is complete with exactly this
// evidence: a client's retry, which gets the session again, as Veraison
// answers a second POST with 200 (without appraising again: a nonce is
// redeemed once).
func resubmitted(sess *store.Session, mediaType string, body []byte) bool {
	return sess.Status == store.SessionComplete && sess.EvidenceType == mediaType && bytes.Equal(sess.Evidence, body)
}
