package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/internal/strictjson"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
)

// roleOpen marks endpoints that need no token; roleVerify those that take
// evidence, and roleSession those that start or read a session, which
// need one as Config.VerifyAuth says.
const (
	roleOpen    = ""
	roleVerify  = "verify"
	roleSession = "session"
)

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	paths := map[string]bool{}
	handle := func(method, path, role string, h handlerFunc) {
		mux.Handle(method+" "+path, s.wrap(method+" "+path, role, h))
		if !paths[path] {
			paths[path] = true
			// Other methods on a known path get a problem document, not
			// the mux's plain-text 405; on Veraison's paths a 404, as
			// Veraison answers.
			mux.Handle(path, s.wrap(path, roleOpen, func(w http.ResponseWriter, r *http.Request) error {
				if veraisonPaths[path] {
					return problem(http.StatusNotFound, probNotFound, "Not found", "no endpoint %s %s", clip(r.Method), clip(r.URL.Path))
				}
				return problem(http.StatusMethodNotAllowed, probMethod, "Method not allowed", "%s is not allowed on %s", clip(r.Method), clip(r.URL.Path))
			}))
		}
	}
	sessionPath := api.PathSession + "{id}"
	handle("POST", api.PathNewSession, roleSession, s.newSession)
	handle("GET", sessionPath, roleSession, s.getSession)
	handle("POST", sessionPath, roleVerify, s.postSession)
	handle("DELETE", sessionPath, roleVerify, s.deleteSession)
	handle("GET", api.PathDiscovery, roleOpen, func(w http.ResponseWriter, r *http.Request) error {
		if !acceptable(r, api.DiscoveryMedia, "application/json") {
			return notAcceptable(api.DiscoveryMedia)
		}
		state := "READY"
		if s.Ready(r.Context()) != nil {
			state = "DOWN"
		}
		s.discoveryCache(w)
		writeJSON(w, http.StatusOK, api.DiscoveryMedia, s.discovery(state))
		return nil
	})
	handle("POST", api.PathAttest, roleVerify, s.attest)
	handle("GET", api.PathKeys, roleOpen, func(w http.ResponseWriter, r *http.Request) error {
		set, err := s.keySet(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, "application/jwk-set+json", set)
		return nil
	})
	for _, d := range []struct{ path, kind string }{{api.PathPolicies, store.KindPolicy}, {api.PathReferences, store.KindReferenceValues}} {
		handle("GET", d.path, store.RoleRead, s.listDocuments(d.kind))
		handle("GET", d.path+"/{name}", store.RoleRead, s.getDocument(d.kind, false))
		handle("POST", d.path+"/{name}", store.RoleWrite, s.putDocument(d.kind, d.path))
		handle("GET", d.path+"/{name}/versions", store.RoleRead, s.listVersions(d.kind))
		handle("GET", d.path+"/{name}/versions/{version}", store.RoleRead, s.getDocument(d.kind, true))
	}
	handle("GET", api.PathAppraisals, store.RoleRead, s.listAppraisals)
	handle("GET", api.PathAudit, store.RoleAdmin, s.listAudit)
	handle("GET", api.PathCollateral, store.RoleRead, s.collateralStatus)
	handle("GET", api.PathTokens, store.RoleAdmin, s.listTokens)
	handle("POST", api.PathTokens, store.RoleAdmin, s.createToken)
	handle("DELETE", api.PathTokens+"/{id}", store.RoleAdmin, s.deleteToken)
	handle("GET", api.PathHealth, roleOpen, func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ok"})
		return nil
	})
	handle("GET", api.PathReady, roleOpen, func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			return s.notReady(r, err)
		}
		writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ready"})
		return nil
	})
	handle("GET", api.PathMetrics, roleOpen, func(w http.ResponseWriter, r *http.Request) error {
		s.metrics.handler.ServeHTTP(w, r)
		return nil
	})
	handle("GET", api.PathOpenAPI, roleOpen, func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(openAPI)
		return nil
	})
	if ex := s.cfg.Explorer; ex != nil {
		serve := func(w http.ResponseWriter, r *http.Request) error { ex.ServeHTTP(w, r); return nil }
		mux.Handle("GET /{$}", s.wrap("GET /", roleOpen, serve))
		mux.Handle("GET /explore/", s.wrap("GET /explore/", roleOpen, serve))
		mux.Handle("POST /explore/analyze", s.wrap("POST /explore/analyze", roleVerify, serve))
	}
	mux.Handle("/", s.wrap("other", roleOpen, func(w http.ResponseWriter, r *http.Request) error {
		return problem(http.StatusNotFound, probNotFound, "Not found", "no endpoint %s; see %s", clip(r.URL.Path), api.PathOpenAPI)
	}))
	return mux
}

// statusWriter records the status code for metrics and logs.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// wrap adds what every endpoint needs: panic recovery, rate limiting, the
// request timeout and body limit, authentication, metrics and logs.
func (s *Server) wrap(route, role string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.metrics.inflight.Add(1)
		w := &statusWriter{ResponseWriter: rw}
		defer func() {
			s.metrics.inflight.Add(-1)
			if p := recover(); p != nil {
				s.logger.Error("panic", "route", route, "panic", fmt.Sprint(p))
				s.writeProblem(w, r, fmt.Errorf("panic: %v", p))
			}
			d := time.Since(start)
			s.metrics.request(route, r.Method, w.code, d)
			if level := slogLevel(w.code); s.logger.Enabled(r.Context(), level) {
				s.logger.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "route", route,
					"status", w.code, "duration_ms", float64(d.Microseconds())/1000, "client", clientAddr(r))
			}
		}()
		if ok, wait := s.limiter.allow(clientAddr(r)); !ok && route != "GET "+api.PathHealth && route != "GET "+api.PathReady {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			s.writeProblem(w, r, problem(http.StatusTooManyRequests, probRateLimited, "Too many requests",
				"more than %g requests per second from %s; retry after %s", s.cfg.Rate, clientAddr(r), wait.Round(time.Millisecond)))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
		var err error
		switch {
		case role == roleOpen:
		case role == roleVerify, role == roleSession:
			if s.cfg.VerifyAuth.covers(role) {
				err = s.authenticateVerify(r)
			}
		default:
			var t *store.Token
			if t, err = s.authenticate(r, role); err == nil {
				r = r.WithContext(context.WithValue(r.Context(), actorKey{}, t.Name))
			}
		}
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			s.writeProblem(w, r, err)
		}
	})
}

// slogLevel logs our failures as errors, the client's as information and
// the rest only when debugging, so that logs stay cheap under load.
func slogLevel(code int) slog.Level {
	switch {
	case code >= 500:
		return slog.LevelError
	case code >= 400:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

type actorKey struct{}

func actor(r *http.Request) string {
	a, _ := r.Context().Value(actorKey{}).(string)
	return a
}

// readBody reads the (size-limited) request body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, problem(http.StatusRequestEntityTooLarge, probTooLarge, "Request too large", "the body exceeds %d bytes", mbe.Limit)
	case err != nil:
		// The error names the connection's addresses: not for the client.
		return nil, problem(http.StatusBadRequest, probBadRequest, "Unreadable body",
			"the request body could not be read: it came too slowly, was cut short or is not valid chunked encoding")
	}
	return b, nil
}

// decodeJSON decodes a JSON body strictly.
func decodeJSON(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if err := strictJSON(b, v); err != nil {
		return problem(http.StatusBadRequest, probBadRequest, "Malformed JSON", "%v", err)
	}
	return nil
}

// strictJSON decodes exactly: keys are case-sensitive, and unknown or
// duplicate keys are errors, so a body cannot say one thing and mean
// another.
func strictJSON(b []byte, v any) error { return strictjson.Decode(b, v) }

// ---- challenge-response sessions ----

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

// ---- native API ----

func (s *Server) attest(w http.ResponseWriter, r *http.Request) error {
	var req api.AttestRequest
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
		if req.MediaType == "" {
			return problem(http.StatusBadRequest, probBadRequest, "Invalid request", "media_type is required")
		}
	} else {
		body, err := readBody(r)
		if err != nil {
			return err
		}
		req.MediaType, req.Evidence, req.Policy = r.Header.Get("Content-Type"), body, r.URL.Query().Get("policy")
		if n := r.URL.Query().Get("nonce"); n != "" {
			if req.Nonce, err = decodeNonceParam(n); err != nil {
				return problem(http.StatusBadRequest, probBadRequest, "Invalid nonce", "nonce: want base64: %v", err)
			}
		}
	}
	if req.Nonce != nil && (len(req.Nonce) < minNonceSize || len(req.Nonce) > maxNonceSize) {
		return problem(http.StatusBadRequest, probBadRequest, "Invalid nonce", "nonce: want %d to %d bytes, got %d", minNonceSize, maxNonceSize, len(req.Nonce))
	}
	out, err := s.appraise(r.Context(), &submission{mediaType: req.MediaType, body: req.Evidence, nonce: req.Nonce,
		policy: req.Policy, client: clientAddr(r)})
	if err != nil {
		return err
	}
	if out.status == ear.StatusContraindicated || out.status == ear.StatusNone {
		p := problem(http.StatusUnprocessableEntity, probRejected, "Evidence rejected by policy",
			"policy %s: %s", out.policyID, appraise.RejectionSummary(out.status, out.reasons))
		p.Reasons, p.EAR = out.reasons, out.token
		if r := appraise.FirstRejection(out.reasons); r != nil {
			p.Check, p.Expected, p.Actual = r.Check, r.Expected, r.Actual
		}
		return p
	}
	writeJSON(w, http.StatusOK, "application/json", &api.AttestResult{EAR: out.token, Status: string(out.status),
		TEE: out.tee, PolicyID: out.policyID, Reasons: nonNil(out.reasons)})
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// decodeBase64 accepts standard or URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) { return api.DecodeBase64(s) }

// decodeNonceParam reads a nonce query parameter as decodeBase64 does; a
// space is a '+' of standard base64 left unescaped in the query.
func decodeNonceParam(s string) ([]byte, error) {
	return api.DecodeBase64(strings.ReplaceAll(s, " ", "+"))
}

// ---- management API ----

func docJSON(d *store.Document, withBody bool) api.Document {
	out := api.Document{Name: d.Name, Version: d.Version, Created: d.Created, Author: d.Author}
	if withBody {
		out.Body = d.Body
	}
	return out
}

func (s *Server) listDocuments(kind string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		docs, err := s.st.Documents(r.Context(), kind)
		if err != nil {
			return err
		}
		out := make([]api.Document, 0, len(docs))
		for _, d := range docs {
			out = append(out, docJSON(d, false))
		}
		writeJSON(w, http.StatusOK, "application/json", map[string]any{"documents": out})
		return nil
	}
}

func (s *Server) listVersions(kind string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		docs, err := s.st.Versions(r.Context(), kind, name)
		if err != nil {
			return err
		}
		if len(docs) == 0 {
			return problem(http.StatusNotFound, probNotFound, "Not found", "no %s named %q", kind, name)
		}
		out := make([]api.Document, 0, len(docs))
		for _, d := range docs {
			out = append(out, docJSON(d, false))
		}
		writeJSON(w, http.StatusOK, "application/json", map[string]any{"documents": out})
		return nil
	}
}

func (s *Server) getDocument(kind string, byVersion bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, version := r.PathValue("name"), 0
		if byVersion {
			v, err := strconv.Atoi(r.PathValue("version"))
			if err != nil || v < 1 {
				return problem(http.StatusBadRequest, probBadRequest, "Invalid version", "version: want an integer from 1, got %q", clip(r.PathValue("version")))
			}
			version = v
		}
		d, err := s.st.Document(r.Context(), kind, name, version)
		if errors.Is(err, store.ErrNotFound) {
			return problem(http.StatusNotFound, probNotFound, "Not found", "no %s named %q (version %d; 0 is the latest)", kind, name, version)
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, "application/json", docJSON(d, true))
		return nil
	}
}

// putDocument stores a new version of a policy or reference value set. It
// is validated first: a stored version always parses.
func (s *Server) putDocument(kind, base string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		if err := checkName(kind+" name", name, maxPolicyName); err != nil {
			return err
		}
		body, err := readBody(r)
		if err != nil {
			return err
		}
		if _, err := parseDocument(kind, body); err != nil {
			return problem(http.StatusUnprocessableEntity, probInvalidPolicy, "Invalid "+kind, "%v", err)
		}
		d, err := s.st.PutDocument(r.Context(), kind, name, body, actor(r), s.now().UTC())
		if err != nil {
			return err
		}
		s.policies.forget(kind, name)
		if err := s.audit(r, kind+".create", fmt.Sprintf("%s/%s@%d", kind, name, d.Version), ""); err != nil {
			return err
		}
		w.Header().Set("Location", fmt.Sprintf("%s/%s/versions/%d", base, name, d.Version))
		writeJSON(w, http.StatusCreated, "application/json", docJSON(d, true))
		return nil
	}
}

func (s *Server) audit(r *http.Request, action, target, detail string) error {
	return s.st.AddAudit(r.Context(), &store.Audit{Time: s.now().UTC(), Actor: actor(r), Action: action, Target: target, Detail: detail})
}

// page reads the before and limit query parameters.
func page(r *http.Request) (before int64, limit int, err error) {
	q := r.URL.Query()
	limit = 100
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			return 0, 0, problem(http.StatusBadRequest, probBadRequest, "Invalid limit", "limit: want 1 to 1000, got %q", clip(v))
		}
	}
	if v := q.Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 1 {
			return 0, 0, problem(http.StatusBadRequest, probBadRequest, "Invalid cursor", "before: want a positive entry ID, got %q", clip(v))
		}
	}
	return before, limit, nil
}

func (s *Server) listAppraisals(w http.ResponseWriter, r *http.Request) error {
	before, limit, err := page(r)
	if err != nil {
		return err
	}
	list, err := s.st.Appraisals(r.Context(), before, limit)
	if err != nil {
		return err
	}
	out := make([]api.Appraisal, 0, len(list))
	for _, a := range list {
		out = append(out, api.Appraisal{ID: a.ID, Time: a.Time, Session: a.SessionID, Client: a.Client, MediaType: a.MediaType,
			TEE: a.TEE, Status: a.Status, PolicyID: a.PolicyID, Reasons: a.Reasons, EvidenceHash: hex.EncodeToString(a.EvidenceHash)})
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"appraisals": out})
	return nil
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	before, limit, err := page(r)
	if err != nil {
		return err
	}
	list, err := s.st.AuditLog(r.Context(), before, limit)
	if err != nil {
		return err
	}
	out := make([]api.Audit, 0, len(list))
	for _, a := range list {
		out = append(out, api.Audit{ID: a.ID, Time: a.Time, Actor: a.Actor, Action: a.Action, Target: a.Target, Detail: a.Detail})
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"audit": out})
	return nil
}

func (s *Server) collateralStatus(w http.ResponseWriter, r *http.Request) error {
	list, err := s.st.CollateralEntries(r.Context())
	if err != nil {
		return err
	}
	now := s.now()
	out := api.CollateralStatus{Entries: make([]api.Collateral, 0, len(list)), Stats: map[string]uint64{}}
	for _, c := range list {
		out.Entries = append(out.Entries, api.Collateral{Key: c.Key, FetchedAt: c.FetchedAt, NextUpdate: c.NextUpdate, Fresh: now.Before(c.NextUpdate)})
	}
	if s.cfg.CollateralStats != nil {
		out.Stats = s.cfg.CollateralStats()
	}
	writeJSON(w, http.StatusOK, "application/json", &out)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	list, err := s.st.Tokens(r.Context())
	if err != nil {
		return err
	}
	out := make([]api.Token, 0, len(list))
	for _, t := range list {
		out = append(out, api.Token{ID: t.ID, Name: t.Name, Role: t.Role, Created: t.Created})
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"tokens": out})
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req api.NewToken
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	t, err := CreateToken(r.Context(), s.st, req.Name, req.Role, actor(r), s.now())
	if err != nil {
		return err
	}
	w.Header().Set("Location", api.PathTokens+"/"+t.ID)
	writeJSON(w, http.StatusCreated, "application/json", t)
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	err := s.st.DeleteToken(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return problem(http.StatusNotFound, probNotFound, "Not found", "no token %q", clip(id))
	}
	if err != nil {
		return err
	}
	if err := s.audit(r, "token.delete", "token/"+id, ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
