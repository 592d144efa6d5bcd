package service

import (
	"mime"
	"net/http"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/service/api"
)

func (s *Server) attest(w http.ResponseWriter, r *http.Request) error {
	var req api.AttestRequest
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == api.JSONMedia {
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
	writeJSON(w, http.StatusOK, api.JSONMedia, &api.AttestResult{EAR: out.token, Status: string(out.status),
		TEE: out.tee, PolicyID: out.policyID, Reasons: nonNil(out.reasons)})
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
