package service

import (
	"errors"
	"net/http"
)

// databaseRetryAfter is the Retry-After, in seconds, of an answer given
// because the database is unavailable.
const databaseRetryAfter = 5

// databaseUnavailable is the answer to a request that failed because the
// database is unavailable (store.ErrUnavailable): 503 with Retry-After, as
// the same request may succeed later. The cause names the database (user,
// host, port): it is logged, not returned.
func (s *Server) databaseUnavailable(r *http.Request, err error) *problemError {
	s.logger.WarnContext(r.Context(), "database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	p := problem(http.StatusServiceUnavailable, probUnavailable, "Database unavailable",
		"the service's database is unavailable; retry after %d s", databaseRetryAfter)
	p.RetryAfter = databaseRetryAfter
	return p
}

// notReady is the answer of /readyz when the server is shutting down or its
// database does not answer. /readyz is open: the database error, which
// names the database, its user and address, is logged, not returned.
func (s *Server) notReady(r *http.Request, err error) *problemError {
	if errors.Is(err, errClosed) {
		return problem(http.StatusServiceUnavailable, probUnavailable, "Not ready", "the server is shutting down")
	}
	s.logger.WarnContext(r.Context(), "not ready: the database does not answer", "err", err)
	p := problem(http.StatusServiceUnavailable, probUnavailable, "Not ready", "the service's database does not answer")
	p.RetryAfter = databaseRetryAfter
	return p
}
