package service

import (
	"context"
	"net/http"
	"time"

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
		if !acceptable(r, api.DiscoveryMedia, api.JSONMedia) {
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
		writeJSON(w, http.StatusOK, api.KeysMedia, set)
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
		writeJSON(w, http.StatusOK, api.JSONMedia, map[string]string{"status": "ok"})
		return nil
	})
	handle("GET", api.PathReady, roleOpen, func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			return s.notReady(r, err)
		}
		writeJSON(w, http.StatusOK, api.JSONMedia, map[string]string{"status": "ready"})
		return nil
	})
	handle("GET", api.PathMetrics, roleOpen, func(w http.ResponseWriter, r *http.Request) error {
		s.metrics.handler.ServeHTTP(w, r)
		return nil
	})
	handle("GET", api.PathOpenAPI, roleOpen, func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", api.OpenAPIMedia)
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
