package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
)

func (s *Server) newSession(w http.ResponseWriter, r *http.Request) error {
	if !acceptable(r, api.SessionMedia) {
		return notAcceptable(api.SessionMedia)
	}
	q := r.URL.Query()
	var nonce []byte
	switch {
	case q.Has("nonce") && q.Has("nonceSize"):
		return problem(http.StatusBadRequest, probBadRequest, "Invalid session request", "give nonce or nonceSize, not both")
	case q.Has("nonce"):
		var err error
		if nonce, err = decodeNonceParam(q.Get("nonce")); err != nil {
			return problem(http.StatusBadRequest, probBadRequest, "Invalid nonce", "nonce: want base64: %v", err)
		}
	default:
		size := DefaultNonceSize
		if q.Has("nonceSize") {
			var err error
			if size, err = strconv.Atoi(q.Get("nonceSize")); err != nil {
				return problem(http.StatusBadRequest, probBadRequest, "Invalid nonce size", "nonceSize: want an integer, got %q", clip(q.Get("nonceSize")))
			}
		}
		if size < minNonceSize || size > maxNonceSize {
			return problem(http.StatusBadRequest, probBadRequest, "Invalid nonce size", "nonceSize: want %d to %d bytes, got %d", minNonceSize, maxNonceSize, size)
		}
		nonce = make([]byte, size)
		rand.Read(nonce)
	}
	if len(nonce) < minNonceSize || len(nonce) > maxNonceSize {
		return problem(http.StatusBadRequest, probBadRequest, "Invalid nonce", "nonce: want %d to %d bytes, got %d", minNonceSize, maxNonceSize, len(nonce))
	}
	now := s.now().UTC()
	sess := &store.Session{ID: newSessionID(), Nonce: nonce, Accept: api.EvidenceMedia, Status: store.SessionWaiting,
		Created: now, Expires: now.Add(s.cfg.SessionTTL)}
	if err := s.st.CreateSession(r.Context(), sess); err != nil {
		return err
	}
	w.Header().Set("Location", api.SessionLocation(sess.ID))
	writeJSON(w, http.StatusCreated, api.SessionMedia, sessionJSON(sess))
	return nil
}

// newSessionID returns a random UUID (version 4), as Veraison's are.
func newSessionID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func sessionJSON(s *store.Session) *api.Session {
	out := &api.Session{Nonce: s.Nonce, Expiry: s.Expires, Accept: s.Accept, Status: s.Status}
	if s.EvidenceType != "" {
		out.Evidence = &api.SessionEvidence{Type: s.EvidenceType, Value: s.Evidence}
	}
	if s.Result != "" {
		res := s.Result
		out.Result = &res
	}
	if len(s.Problem) > 0 {
		var p api.Problem
		if json.Unmarshal(s.Problem, &p) == nil {
			out.Problem = &p
		}
	}
	return out
}

func (s *Server) session(ctx context.Context, id string) (*store.Session, error) {
	sess, err := s.st.Session(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, problem(http.StatusNotFound, probNotFound, "No such session", "session %q does not exist or was deleted", clip(id))
	}
	return sess, err
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) error {
	if !acceptable(r, api.SessionMedia) {
		return notAcceptable(api.SessionMedia)
	}
	id, err := parseSessionID(r.PathValue("id"))
	if err != nil {
		return err
	}
	sess, err := s.currentSession(r.Context(), id)
	if err != nil {
		return err
	}
	if sess.Status == store.SessionWaiting && !s.now().Before(sess.Expires) {
		return sessionExpired(sess)
	}
	writeJSON(w, http.StatusOK, api.SessionMedia, sessionJSON(sess))
	return nil
}

// postSession appraises evidence against a session's nonce. The session is
// claimed atomically first, so its nonce is redeemed at most once, whichever
// replica the attempts reach.
func (s *Server) postSession(w http.ResponseWriter, r *http.Request) error {
	// Protocol errors first, in Veraison's order; none uses the session.
	if !acceptable(r, api.SessionMedia) {
		return notAcceptable(api.SessionMedia)
	}
	mt := r.Header.Get("Content-Type")
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return problem(http.StatusBadRequest, probBadRequest, "Empty body", "the request body is empty: send the evidence")
	}
	if lookupMedia(mt) == nil {
		return unsupportedMedia(mt)
	}
	id, err := parseSessionID(r.PathValue("id"))
	if err != nil {
		return err
	}
	now := s.now()
	sess, err := s.st.ClaimSession(r.Context(), id, now, s.processingDeadline(now))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return problem(http.StatusNotFound, probNotFound, "No such session", "session %q does not exist or was deleted", clip(id))
	case errors.Is(err, store.ErrConflict):
		cur, gerr := s.currentSession(r.Context(), id)
		if gerr != nil {
			return gerr
		}
		switch {
		case cur.Status == store.SessionWaiting:
			return sessionExpired(cur)
		case resubmitted(cur, mt, body):
			writeJSON(w, http.StatusOK, api.SessionMedia, sessionJSON(cur))
			return nil
		}
		return problem(http.StatusConflict, probNonceRedeemed, "Nonce already redeemed",
			"session %s is %s: its nonce can be used once", id, cur.Status)
	case err != nil:
		return err
	}
	sub := &submission{mediaType: mt, body: body, nonce: sess.Nonce, client: clientAddr(r), session: id}
	out, aerr := s.appraise(r.Context(), sub)
	if pe := (*problemError)(nil); errors.As(aerr, &pe) && isEvidenceProblem(pe) {
		// Evidence that cannot be read gets a result, not an error, as
		// Veraison's clients expect.
		out, aerr = s.unreadable(r.Context(), sub, pe)
	}
	done := &store.SessionOutcome{Status: store.SessionComplete}
	if aerr != nil {
		done = failedOutcome(r, aerr)
	} else {
		done.Result, done.Appraisal = out.token, out.entry
	}
	// The session shows the evidence submitted, written with the outcome
	// it is about.
	done.EvidenceType, done.Evidence = mt, body
	t := time.Now()
	if err := s.finishSession(r, id, done); err != nil {
		return err
	}
	if aerr != nil {
		return aerr
	}
	s.metrics.stage("store", time.Since(t))
	sess.Status, sess.Result, sess.EvidenceType, sess.Evidence = store.SessionComplete, out.token, mt, body
	writeJSON(w, http.StatusOK, api.SessionMedia, sessionJSON(sess))
	return nil
}
