package service

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
)

// A claimed session must be finished by its processing deadline: the
// request timeout, plus finishGrace to record the outcome after the request
// has timed out. A session still processing after it, because its replica
// was killed, lost the database or took too long, is failed with a
// processing-timeout problem and its nonce stays redeemed: the client
// starts a new session. Failing is the safe choice: whether the appraisal
// got as far as signing an EAR is unknown, and a session that ends once
// never delivers two verdicts for one nonce.
const finishGrace = 10 * time.Second

// processingDeadline is the deadline of a session claimed at now.
func (s *Server) processingDeadline(now time.Time) time.Time {
	return now.Add(s.cfg.RequestTimeout + finishGrace)
}

// timeoutProblem is the problem recorded in, and answered for, a session
// whose processing deadline passed.
func timeoutProblem(id string) *problemError {
	return problem(http.StatusServiceUnavailable, probProcessingTimeout, "Processing deadline passed",
		"the appraisal of session %s did not finish in time and no EAR was issued; start a new session", id)
}

// timeoutProblemJSON is timeoutProblem as stored by AbandonSessions, which
// fails sessions in bulk: it names no session.
var timeoutProblemJSON, _ = json.Marshal(&problem(http.StatusServiceUnavailable, probProcessingTimeout, "Processing deadline passed",
	"the appraisal did not finish in time and no EAR was issued; start a new session").Problem)

// abandonStuck fails the sessions whose processing deadline has passed.
func (s *Server) abandonStuck(ctx context.Context) (int64, error) {
	return s.st.AbandonSessions(ctx, s.now(), timeoutProblemJSON)
}

// overdue reports whether sess is processing past its deadline.
func (s *Server) overdue(sess *store.Session) bool {
	deadline := sess.Deadline
	if deadline.IsZero() {
		deadline = sess.Expires // claimed by an earlier release
	}
	return sess.Status == store.SessionProcessing && !s.now().Before(deadline)
}

// finishSession records the outcome of a claimed session, with its
// appraisal log entry, in one transaction. The outcome is recorded even if
// the client has gone, hence a context detached from the request's
// cancellation. When the deadline has passed meanwhile, the session has
// failed (or will): the client gets the timeout problem, not the EAR, which
// is not logged either.
func (s *Server) finishSession(r *http.Request, id string, out *store.SessionOutcome) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), finishGrace)
	defer cancel()
	err := s.st.FinishSession(ctx, id, s.now(), out)
	switch {
	case errors.Is(err, store.ErrConflict):
		s.logger.WarnContext(ctx, "session finished after its processing deadline; outcome dropped", "session", id, "err", err)
		if _, err := s.abandonStuck(ctx); err != nil {
			s.logger.WarnContext(ctx, "failing overdue sessions", "err", err)
		}
		return timeoutProblem(id)
	case errors.Is(err, store.ErrNotFound):
		return problem(http.StatusNotFound, probNotFound, "No such session", "session %s was deleted", id)
	}
	return err
}

// failedOutcome is the outcome of a session whose appraisal failed with err.
func failedOutcome(r *http.Request, err error) *store.SessionOutcome {
	var pe *problemError
	doc := api.Problem{Type: api.ProblemTypeBase + probInternal, Title: "Internal error", Status: http.StatusInternalServerError}
	if errors.As(err, &pe) {
		doc = pe.Problem
	}
	doc.Instance = r.URL.Path
	pb, _ := json.Marshal(doc)
	return &store.SessionOutcome{Status: store.SessionFailed, Problem: pb}
}

// currentSession reads a session, first failing it if it is processing
// past its deadline, so that no reader sees a stuck session.
func (s *Server) currentSession(ctx context.Context, id string) (*store.Session, error) {
	sess, err := s.session(ctx, id)
	if err != nil || !s.overdue(sess) {
		return sess, err
	}
	if _, err := s.abandonStuck(ctx); err != nil {
		return nil, err
	}
	return s.session(ctx, id)
}

// deleteSession deletes a session that is not being appraised: one
// processing past its deadline is failed first, one within it is a
// conflict (its outcome would have nowhere to go). Deleting one that does
// not exist is no error, as in Veraison.
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) error {
	id, err := parseSessionID(r.PathValue("id"))
	if err != nil {
		return err
	}
	err = s.st.DeleteSession(r.Context(), id)
	if errors.Is(err, store.ErrConflict) {
		if _, err := s.abandonStuck(r.Context()); err != nil {
			return err
		}
		err = s.st.DeleteSession(r.Context(), id)
	}
	switch {
	case errors.Is(err, store.ErrConflict):
		return problem(http.StatusConflict, probConflict, "Session being appraised",
			"session %s is processing evidence; delete it once it is complete or failed", id)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
