package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
)

// Problem types (RFC 9457), relative to api.ProblemTypeBase. Each names what
// was wrong; docs/service.md lists them.
const (
	probMalformed     = "malformed-evidence"  // 400
	probMediaMismatch = "media-type-mismatch" // 400
	probBadRequest    = "bad-request"         // 400
	probUnauthorized  = "unauthorized"        // 401
	probForbidden     = "forbidden"           // 403
	probNotFound      = "not-found"           // 404
	probMethod        = "method-not-allowed"  // 405
	probNotAcceptable = "not-acceptable"      // 406
	probNonceRedeemed = "nonce-redeemed"      // 409
	probConflict      = "conflict"            // 409
	// An expired session is gone in Veraison: 404.
	probStaleNonce = "stale-nonce"       // 404
	probTooLarge   = "request-too-large" // 413
	// Go's HTTP server refused the request's header fields as too large.
	probHeadersTooLarge  = "request-header-too-large" // 431
	probUnsupportedMedia = "unsupported-media-type"   // 415
	probUnsupported      = "unsupported-evidence"     // 422
	probRejected         = "policy-rejection"         // 422
	probInvalidPolicy    = "invalid-policy"           // 422
	probRateLimited      = "rate-limited"             // 429
	probInternal         = "internal-error"           // 500
	probUnavailable      = "unavailable"              // 503
	// A session whose appraisal did not finish by its deadline.
	probProcessingTimeout = "processing-timeout" // 503
	// api.ProblemCollateralUnavailable
	probCollateralUnavailable = "collateral-unavailable" // 503
)

// problemError is an error that is sent as a problem document.
type problemError struct {
	api.Problem
	accept string // the Accept header of the answer (415: what is taken)
}

func (e *problemError) Error() string { return e.Problem.Error() }

func problem(status int, typ, title, detail string, args ...any) *problemError {
	if len(args) > 0 {
		detail = fmt.Sprintf(detail, args...)
	}
	return &problemError{Problem: api.Problem{Type: api.ProblemTypeBase + typ, Title: title, Status: status, Detail: detail}}
}

// writeProblem sends err as application/problem+json. Errors that are not
// problems are ours: they are logged and answered with a 500 that does not
// leak their text.
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	var pe *problemError
	if errors.Is(err, store.ErrUnavailable) {
		pe = s.databaseUnavailable(r, err)
	} else if !errors.As(err, &pe) {
		s.logger.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		pe = problem(http.StatusInternalServerError, probInternal, "Internal error", "the service failed; the error is logged")
	}
	p := pe.Problem
	p.Instance = r.URL.Path
	boundEchoes(&p)
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ratls"`)
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	if pe.accept != "" {
		w.Header().Set("Accept", pe.accept)
	}
	writeJSON(w, p.Status, api.ProblemMedia, &p)
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding the response failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
