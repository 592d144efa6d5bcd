package service

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
)

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
		writeJSON(w, http.StatusOK, api.JSONMedia, map[string]any{"documents": out})
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
		writeJSON(w, http.StatusOK, api.JSONMedia, map[string]any{"documents": out})
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
		writeJSON(w, http.StatusOK, api.JSONMedia, docJSON(d, true))
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
		writeJSON(w, http.StatusCreated, api.JSONMedia, docJSON(d, true))
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
	writeJSON(w, http.StatusOK, api.JSONMedia, map[string]any{"appraisals": out})
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
	writeJSON(w, http.StatusOK, api.JSONMedia, map[string]any{"audit": out})
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
	writeJSON(w, http.StatusOK, api.JSONMedia, &out)
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
	writeJSON(w, http.StatusOK, api.JSONMedia, map[string]any{"tokens": out})
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
	writeJSON(w, http.StatusCreated, api.JSONMedia, t)
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
