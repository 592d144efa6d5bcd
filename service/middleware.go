package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
)

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
