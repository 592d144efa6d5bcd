package service_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store"
)

// hookStore runs afterClaim once a session is claimed, while its evidence
// is yet to be appraised.
type hookStore struct {
	store.Store
	afterClaim func(id string)
}

func (h *hookStore) ClaimSession(ctx context.Context, id string, now, deadline time.Time) (*store.Session, error) {
	s, err := h.Store.ClaimSession(ctx, id, now, deadline)
	if err == nil && h.afterClaim != nil {
		h.afterClaim(id)
	}
	return s, err
}

func hookFixture(t *testing.T, afterClaim func(f *fixture, id string)) *fixture {
	var f *fixture
	f = newFixture(t, fixtureOptions{mutate: func(c *service.Config) {
		c.Store = &hookStore{Store: c.Store, afterClaim: func(id string) { afterClaim(f, id) }}
	}})
	return f
}

func sessionID(loc string) string { return strings.TrimPrefix(loc, api.PathSession) }

// sessionEntries counts the appraisal log entries of a session.
func (f *fixture) sessionEntries(id string) int {
	f.t.Helper()
	list, err := f.st.Appraisals(context.Background(), 0, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, a := range list {
		if a.SessionID == id {
			n++
		}
	}
	return n
}

func (f *fixture) getSession(loc string) *api.Session {
	f.t.Helper()
	r := f.do("GET", loc, "", "", nil)
	if r.code != http.StatusOK {
		f.t.Fatalf("GET %s: want 200, got %d: %s", loc, r.code, r.body)
	}
	var s api.Session
	r.json(f.t, &s)
	return &s
}

// A session whose replica died after claiming it (nothing finishes it)
// fails once its processing deadline has passed, instead of staying
// processing for good.
func TestSessionStuckAfterCrash(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	loc, _ := f.newSession("")
	id := sessionID(loc)
	// The replica that claimed it is gone: claimed with the deadline a
	// replica gives, never finished.
	deadline := f.clock().Add(service.DefaultRequestLimit + 10*time.Second)
	if _, err := f.st.ClaimSession(context.Background(), id, f.clock(), deadline); err != nil {
		t.Fatal(err)
	}
	f.advance(service.DefaultRequestLimit)
	if s := f.getSession(loc); s.Status != store.SessionProcessing {
		t.Fatalf("before the deadline: status %q, want processing", s.Status)
	}
	f.advance(10 * time.Second)
	s := f.getSession(loc)
	if s.Status != store.SessionFailed || s.Result != nil || s.Problem == nil {
		t.Fatalf("after the deadline: %+v; want failed with a problem and no result", s)
	}
	if s.Problem.Type != api.ProblemTypeBase+"processing-timeout" || s.Problem.Status != http.StatusServiceUnavailable {
		t.Errorf("problem of a stuck session: %+v; want processing-timeout 503", s.Problem)
	}
	// Its nonce stays redeemed; the session can now be deleted.
	f.do("POST", loc, "", api.MediaDCAPQuote, quote(t, f.sgx, nil)).problem(t, http.StatusConflict, "nonce-redeemed")
	if r := f.do("DELETE", loc, "", "", nil); r.code != http.StatusNoContent {
		t.Fatalf("DELETE of a failed session: want 204, got %d: %s", r.code, r.body)
	}
}

// An appraisal that finishes after the session's deadline delivers no EAR
// and logs nothing: the client is told, and the session is failed.
func TestSessionFinishedTooLate(t *testing.T) {
	f := hookFixture(t, func(f *fixture, id string) {
		f.advance(service.DefaultRequestLimit + 11*time.Second)
	})
	loc, s := f.newSession("")
	r := f.do("POST", loc, "", api.MediaDCAPQuote, quote(t, f.sgx, s.Nonce))
	p := r.problem(t, http.StatusServiceUnavailable, "processing-timeout")
	if p.EAR != "" || strings.Contains(string(r.body), "eyJ") {
		t.Errorf("late answer carries an EAR: %s", r.body)
	}
	got := f.getSession(loc)
	if got.Status != store.SessionFailed || got.Result != nil {
		t.Errorf("session after a late finish: %+v; want failed without a result", got)
	}
	// The evidence goes with the outcome that was dropped.
	if got.Evidence != nil {
		t.Errorf("session after a late finish shows evidence %+v; want none, as no outcome was recorded", got.Evidence)
	}
	if n := f.sessionEntries(sessionID(loc)); n != 0 {
		t.Errorf("appraisal log: %d entries for a session that delivered no EAR, want 0", n)
	}
}

// The log entry of a session is written with its completion, and the
// evidence the session shows is the evidence the entry is about.
func TestSessionLoggedWithCompletion(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	loc, s := f.newSession("")
	q := quote(t, f.sgx, s.Nonce)
	r := f.do("POST", loc, "", api.MediaDCAPQuote, q)
	if r.code != http.StatusOK {
		t.Fatalf("evidence: want 200, got %d: %s", r.code, r.body)
	}
	if n := f.sessionEntries(sessionID(loc)); n != 1 {
		t.Fatalf("appraisal log: %d entries for the session, want 1", n)
	}
	got := f.getSession(loc)
	if got.Evidence == nil || got.Evidence.Type != api.MediaDCAPQuote || !bytes.Equal(got.Evidence.Value, q) {
		t.Fatalf("session evidence: %+v; want the quote posted", got.Evidence)
	}
	list, err := f.st.Appraisals(context.Background(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(got.Evidence.Value)
	for _, a := range list {
		if a.SessionID == sessionID(loc) && !bytes.Equal(a.EvidenceHash, sum[:]) {
			t.Errorf("log entry evidence hash %x; want %x, the hash of the evidence the session shows", a.EvidenceHash, sum)
		}
	}
}

// DELETE of a session whose evidence is being appraised is a conflict; the
// appraisal completes normally.
func TestSessionDeleteDuringAppraisal(t *testing.T) {
	var del *response
	f := hookFixture(t, func(f *fixture, id string) {
		del = f.do("DELETE", api.PathSession+id, "", "", nil)
	})
	loc, s := f.newSession("")
	r := f.do("POST", loc, "", api.MediaDCAPQuote, quote(t, f.sgx, s.Nonce))
	if r.code != http.StatusOK {
		t.Fatalf("evidence with a DELETE during appraisal: want 200, got %d: %s", r.code, r.body)
	}
	p := del.problem(t, http.StatusConflict, "conflict")
	if !strings.Contains(p.Detail, "processing") {
		t.Errorf("conflict detail %q: want it to say the session is processing", p.Detail)
	}
	if got := f.getSession(loc); got.Status != store.SessionComplete {
		t.Errorf("session: status %q, want complete", got.Status)
	}
	if r := f.do("DELETE", loc, "", "", nil); r.code != http.StatusNoContent {
		t.Fatalf("DELETE after the appraisal: want 204, got %d: %s", r.code, r.body)
	}
}
