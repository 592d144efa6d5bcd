package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratls/ratls/service/store"
)

// Run runs the conformance suite. newDSN returns the data source name of a
// new, empty database for each subtest; SQLite and PostgresDSN do.
func Run(t *testing.T, newDSN func(testing.TB) string) {
	fresh := func(t *testing.T) store.Store { return Open(t, newDSN(t)) }
	t.Run("Sessions", func(t *testing.T) { testSessions(t, fresh(t)) })
	t.Run("SessionExpiry", func(t *testing.T) { testSessionExpiry(t, fresh(t)) })
	t.Run("SessionDeadline", func(t *testing.T) { testSessionDeadline(t, fresh(t)) })
	t.Run("FinishSessionLogsOnce", func(t *testing.T) { testFinishSessionLogsOnce(t, fresh(t)) })
	t.Run("Documents", func(t *testing.T) { testDocuments(t, fresh(t)) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, fresh(t)) })
	t.Run("Appraisals", func(t *testing.T) { testAppraisals(t, fresh(t)) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, fresh(t)) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, fresh(t)) })
	t.Run("Collateral", func(t *testing.T) { testCollateral(t, fresh(t)) })
	t.Run("Ping", func(t *testing.T) {
		if err := fresh(t).Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("Durability", func(t *testing.T) { testDurability(t, newDSN(t)) })
	t.Run("MigrateIdempotent", func(t *testing.T) { testMigrateIdempotent(t, newDSN(t)) })
	t.Run("MigrateConcurrent", func(t *testing.T) { testMigrateConcurrent(t, newDSN(t)) })
	t.Run("NewerSchema", func(t *testing.T) { testNewerSchema(t, newDSN(t)) })
	t.Run("ConcurrentClaims", func(t *testing.T) { testConcurrentClaims(t, newDSN(t)) })
	t.Run("ConcurrentPutDocument", func(t *testing.T) { testConcurrentPutDocument(t, newDSN(t)) })
	t.Run("ConcurrentLoad", func(t *testing.T) { testConcurrentLoad(t, newDSN(t)) })
	t.Run("FinishRacesAbandon", func(t *testing.T) { testFinishRacesAbandon(t, newDSN(t)) })
	t.Run("LegacyProcessingSession", func(t *testing.T) { testLegacyProcessingSession(t, newDSN(t)) })
	t.Run("MigrateSessionEvidence", func(t *testing.T) { testMigrateSessionEvidence(t, newDSN(t)) })
}

// t0 is a time with nanoseconds in a zone other than UTC, to check that
// times come back as UTC with at least millisecond precision.
var t0 = time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("UTC+2", 2*3600))

func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s: location %v, want UTC", what, got.Location())
	}
	if d := got.Sub(want); d <= -time.Millisecond || d >= time.Millisecond {
		t.Errorf("%s: %v, want %v (off by %v)", what, got, want.UTC(), d)
	}
}

func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// checkOtherErr checks for an error that is neither ErrNotFound nor
// ErrConflict, as for invalid arguments.
func checkOtherErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		t.Fatalf("%s: error %v, want a validation error", what, err)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func checkSession(t *testing.T, what string, got, want *store.Session) {
	t.Helper()
	if got.ID != want.ID || !bytes.Equal(got.Nonce, want.Nonce) || !slices.Equal(got.Accept, want.Accept) ||
		got.Status != want.Status || got.Result != want.Result || !bytes.Equal(got.Problem, want.Problem) ||
		got.EvidenceType != want.EvidenceType || !bytes.Equal(got.Evidence, want.Evidence) {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	checkTime(t, what+" Created", got.Created, want.Created)
	checkTime(t, what+" Expires", got.Expires, want.Expires)
	if want.Deadline.IsZero() {
		if !got.Deadline.IsZero() {
			t.Errorf("%s: Deadline %v, want none", what, got.Deadline)
		}
	} else {
		checkTime(t, what+" Deadline", got.Deadline, want.Deadline)
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	s1 := &store.Session{ID: "s1", Nonce: []byte{1, 2, 3}, Accept: []string{"application/eat+cwt", "application/x"},
		Status: store.SessionWaiting, Created: t0, Expires: t0.Add(time.Minute)}
	must(t, "CreateSession", s.CreateSession(ctx, s1))
	got, err := s.Session(ctx, "s1")
	must(t, "Session", err)
	checkSession(t, "Session", got, s1)

	checkErr(t, "CreateSession of an existing ID", s.CreateSession(ctx, &store.Session{ID: "s1", Status: store.SessionWaiting, Expires: t0}), store.ErrConflict)
	_, err = s.Session(ctx, "absent")
	checkErr(t, "Session(absent)", err, store.ErrNotFound)
	checkOtherErr(t, "CreateSession with status bogus", s.CreateSession(ctx, &store.Session{ID: "bad", Status: "bogus"}))
	checkOtherErr(t, "CreateSession with empty ID", s.CreateSession(ctx, &store.Session{Status: store.SessionWaiting}))

	// Claim, once.
	_, err = s.ClaimSession(ctx, "absent", t0, t0.Add(time.Hour))
	checkErr(t, "ClaimSession(absent)", err, store.ErrNotFound)
	got, err = s.ClaimSession(ctx, "s1", t0, t0.Add(time.Hour))
	must(t, "ClaimSession", err)
	want := *s1
	want.Status, want.Deadline = store.SessionProcessing, t0.Add(time.Hour)
	checkSession(t, "ClaimSession", got, &want)
	_, err = s.ClaimSession(ctx, "s1", t0, t0.Add(time.Hour))
	checkErr(t, "second ClaimSession", err, store.ErrConflict)

	// Finish as complete, with the evidence submitted, which the session
	// then shows.
	checkOtherErr(t, "FinishSession with status waiting", s.FinishSession(ctx, "s1", t0, &store.SessionOutcome{Status: store.SessionWaiting}))
	checkErr(t, "FinishSession(absent)", s.FinishSession(ctx, "absent", t0, &store.SessionOutcome{Status: store.SessionComplete, Result: "x"}), store.ErrNotFound)
	must(t, "FinishSession", s.FinishSession(ctx, "s1", t0, &store.SessionOutcome{Status: store.SessionComplete, Result: "eyJ.ear.sig",
		EvidenceType: "application/eat+cwt", Evidence: []byte{9, 8, 7}}))
	got, err = s.Session(ctx, "s1")
	must(t, "Session", err)
	want.Status, want.Result = store.SessionComplete, "eyJ.ear.sig"
	want.EvidenceType, want.Evidence = "application/eat+cwt", []byte{9, 8, 7}
	checkSession(t, "Session after FinishSession", got, &want)
	// A second finish changes nothing, the evidence neither.
	checkErr(t, "second FinishSession", s.FinishSession(ctx, "s1", t0, &store.SessionOutcome{Status: store.SessionFailed, Problem: []byte("{}"),
		EvidenceType: "application/x", Evidence: []byte{1}}), store.ErrConflict)
	got, err = s.Session(ctx, "s1")
	must(t, "Session", err)
	checkSession(t, "Session after a second FinishSession", got, &want)
	_, err = s.ClaimSession(ctx, "s1", t0, t0.Add(time.Hour))
	checkErr(t, "ClaimSession of a complete session", err, store.ErrConflict)

	// An empty status is waiting; a waiting session cannot be finished.
	s2 := &store.Session{ID: "s2", Nonce: []byte{4}, Created: t0, Expires: t0.Add(time.Hour)}
	must(t, "CreateSession", s.CreateSession(ctx, s2))
	got, err = s.Session(ctx, "s2")
	must(t, "Session", err)
	if got.Status != store.SessionWaiting {
		t.Errorf("session created with empty status: status %q, want waiting", got.Status)
	}
	if got.Accept != nil {
		t.Errorf("session created without Accept: Accept %q, want nil", got.Accept)
	}
	checkErr(t, "FinishSession of a waiting session", s.FinishSession(ctx, "s2", t0, &store.SessionOutcome{Status: store.SessionComplete, Result: "x",
		EvidenceType: "application/x", Evidence: []byte{1}}), store.ErrConflict)
	got, err = s.Session(ctx, "s2")
	must(t, "Session", err)
	if got.EvidenceType != "" || got.Evidence != nil {
		t.Errorf("waiting session after a refused FinishSession: evidence %q %x, want none", got.EvidenceType, got.Evidence)
	}

	// Finish as failed.
	_, err = s.ClaimSession(ctx, "s2", t0, t0.Add(time.Hour))
	must(t, "ClaimSession", err)
	problem := []byte(`{"title":"collateral unavailable"}`)
	must(t, "FinishSession", s.FinishSession(ctx, "s2", t0, &store.SessionOutcome{Status: store.SessionFailed, Problem: problem,
		EvidenceType: "application/x", Evidence: []byte{4, 5}}))
	got, err = s.Session(ctx, "s2")
	must(t, "Session", err)
	if got.Status != store.SessionFailed || !bytes.Equal(got.Problem, problem) || got.Result != "" ||
		got.EvidenceType != "application/x" || !bytes.Equal(got.Evidence, []byte{4, 5}) {
		t.Errorf("failed session: status %q, problem %q, result %q, evidence %q %x; want failed, %q, empty, application/x 0405",
			got.Status, got.Problem, got.Result, got.EvidenceType, got.Evidence, problem)
	}

	// Delete.
	must(t, "DeleteSession", s.DeleteSession(ctx, "s2"))
	_, err = s.Session(ctx, "s2")
	checkErr(t, "Session after DeleteSession", err, store.ErrNotFound)
	checkErr(t, "second DeleteSession", s.DeleteSession(ctx, "s2"), store.ErrNotFound)
	_, err = s.ClaimSession(ctx, "s2", t0, t0.Add(time.Hour))
	checkErr(t, "ClaimSession of a deleted session", err, store.ErrNotFound)
}

func testSessionExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, exp := range []time.Duration{time.Minute, time.Minute, 2 * time.Hour} {
		must(t, "CreateSession", s.CreateSession(ctx, &store.Session{ID: fmt.Sprintf("e%d", i), Nonce: []byte{byte(i)},
			Status: store.SessionWaiting, Created: t0, Expires: t0.Add(exp)}))
	}
	// Expiry is exclusive: at the expiry time the session is no longer
	// redeemable. Expired sessions stay waiting.
	_, err := s.ClaimSession(ctx, "e0", t0.Add(time.Minute), t0.Add(2*time.Minute))
	checkErr(t, "ClaimSession at the expiry time", err, store.ErrConflict)
	_, err = s.ClaimSession(ctx, "e0", t0.Add(time.Hour), t0.Add(2*time.Hour))
	checkErr(t, "ClaimSession after expiry", err, store.ErrConflict)
	got, err := s.Session(ctx, "e0")
	must(t, "Session", err)
	if got.Status != store.SessionWaiting {
		t.Errorf("expired session: status %q after claims, want waiting", got.Status)
	}
	_, err = s.ClaimSession(ctx, "e1", t0.Add(time.Minute-time.Millisecond), t0.Add(time.Hour))
	must(t, "ClaimSession 1ms before expiry", err)

	n, err := s.PurgeSessions(ctx, t0.Add(time.Minute))
	must(t, "PurgeSessions", err)
	if n != 0 {
		t.Errorf("PurgeSessions(expiry time) = %d, want 0: only sessions that expired before are purged", n)
	}
	n, err = s.PurgeSessions(ctx, t0.Add(time.Hour))
	must(t, "PurgeSessions", err)
	if n != 2 {
		t.Errorf("PurgeSessions = %d, want 2", n)
	}
	for _, id := range []string{"e0", "e1"} {
		_, err = s.Session(ctx, id)
		checkErr(t, "Session of a purged session", err, store.ErrNotFound)
	}
	_, err = s.Session(ctx, "e2")
	must(t, "Session of a live session after PurgeSessions", err)
	n, err = s.PurgeSessions(ctx, t0.Add(time.Hour))
	must(t, "PurgeSessions", err)
	if n != 0 {
		t.Errorf("second PurgeSessions = %d, want 0", n)
	}
}

// claimed creates session id, expiring at t0+1h, and claims it at t0 with
// the given deadline.
func claimed(t *testing.T, s store.Store, id string, deadline time.Time) {
	t.Helper()
	must(t, "CreateSession", s.CreateSession(t.Context(), &store.Session{ID: id, Nonce: []byte(id),
		Status: store.SessionWaiting, Created: t0, Expires: t0.Add(time.Hour)}))
	_, err := s.ClaimSession(t.Context(), id, t0, deadline)
	must(t, "ClaimSession", err)
}

// appraisalsOf returns the appraisal log entries of session id.
func appraisalsOf(t *testing.T, s store.Store, id string) []*store.Appraisal {
	t.Helper()
	list, err := s.Appraisals(t.Context(), 0, 1000)
	must(t, "Appraisals", err)
	var out []*store.Appraisal
	for _, a := range list {
		if a.SessionID == id {
			out = append(out, a)
		}
	}
	return out
}

func checkStatus(t *testing.T, s store.Store, id, want string) *store.Session {
	t.Helper()
	got, err := s.Session(t.Context(), id)
	must(t, "Session", err)
	if got.Status != want {
		t.Fatalf("session %s: status %q, want %q", id, got.Status, want)
	}
	return got
}

// testSessionDeadline: a processing session cannot be finished at or after
// its deadline; AbandonSessions fails it then and only then; a processing
// session cannot be deleted.
func testSessionDeadline(t *testing.T, s store.Store) {
	ctx := t.Context()
	deadline := t0.Add(30 * time.Second)
	_, err := s.ClaimSession(ctx, "absent", t0, t0)
	checkOtherErr(t, "ClaimSession with a deadline that is not after now", err)
	claimed(t, s, "late", deadline)
	claimed(t, s, "on-time", deadline)
	claimed(t, s, "later", t0.Add(time.Hour))

	checkErr(t, "DeleteSession of a processing session", s.DeleteSession(ctx, "on-time"), store.ErrConflict)
	checkStatus(t, s, "on-time", store.SessionProcessing)

	// Before the deadline nothing is abandoned.
	n, err := s.AbandonSessions(ctx, deadline.Add(-time.Millisecond), []byte(`{"title":"timeout"}`))
	must(t, "AbandonSessions", err)
	if n != 0 {
		t.Errorf("AbandonSessions before the deadline = %d, want 0", n)
	}
	must(t, "FinishSession 1ms before the deadline", s.FinishSession(ctx, "on-time", deadline.Add(-time.Millisecond),
		&store.SessionOutcome{Status: store.SessionComplete, Result: "ear", Appraisal: newAppraisal(1)}))

	// At the deadline the session can no longer be finished, and nothing
	// is logged.
	a := newAppraisal(2)
	a.SessionID = "late"
	err = s.FinishSession(ctx, "late", deadline, &store.SessionOutcome{Status: store.SessionComplete, Result: "ear", Appraisal: a,
		EvidenceType: "application/x", Evidence: []byte{1}})
	checkErr(t, "FinishSession at the deadline", err, store.ErrConflict)
	if !strings.Contains(err.Error(), "deadline") {
		t.Errorf("FinishSession at the deadline: error %q, want it to name the deadline", err)
	}
	if got := appraisalsOf(t, s, "late"); len(got) != 0 {
		t.Errorf("FinishSession at the deadline logged %d entries, want none", len(got))
	}
	if got := checkStatus(t, s, "late", store.SessionProcessing); got.EvidenceType != "" || got.Evidence != nil {
		t.Errorf("FinishSession at the deadline recorded the evidence %q %x, want none", got.EvidenceType, got.Evidence)
	}

	problem := []byte(`{"title":"timeout"}`)
	n, err = s.AbandonSessions(ctx, deadline, problem)
	must(t, "AbandonSessions", err)
	if n != 1 {
		t.Errorf("AbandonSessions at the deadline = %d, want 1 (late)", n)
	}
	got := checkStatus(t, s, "late", store.SessionFailed)
	if !bytes.Equal(got.Problem, problem) || got.Result != "" {
		t.Errorf("abandoned session: problem %q, result %q; want %q, empty", got.Problem, got.Result, problem)
	}
	checkStatus(t, s, "on-time", store.SessionComplete)
	checkStatus(t, s, "later", store.SessionProcessing)
	checkErr(t, "FinishSession of an abandoned session",
		s.FinishSession(ctx, "late", t0, &store.SessionOutcome{Status: store.SessionComplete, Result: "ear"}), store.ErrConflict)
	// Once failed, it can be deleted.
	must(t, "DeleteSession of an abandoned session", s.DeleteSession(ctx, "late"))
	checkOtherErr(t, "FinishSession without an outcome", s.FinishSession(ctx, "later", t0, nil))
}

// testFinishSessionLogsOnce: the log entry is written with the outcome,
// and not when the session cannot be finished.
func testFinishSessionLogsOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	claimed(t, s, "f1", t0.Add(time.Minute))
	a := newAppraisal(1)
	a.SessionID = "f1"
	must(t, "FinishSession", s.FinishSession(ctx, "f1", t0, &store.SessionOutcome{Status: store.SessionComplete, Result: "ear", Appraisal: a}))
	if a.ID <= 0 {
		t.Errorf("FinishSession: appraisal ID %d, want one assigned", a.ID)
	}
	got := appraisalsOf(t, s, "f1")
	if len(got) != 1 {
		t.Fatalf("log entries of f1: %d, want 1", len(got))
	}
	checkAppraisal(t, "logged appraisal", got[0], a)
	b := newAppraisal(2)
	b.SessionID = "f1"
	checkErr(t, "second FinishSession", s.FinishSession(ctx, "f1", t0, &store.SessionOutcome{Status: store.SessionComplete, Result: "ear2", Appraisal: b}), store.ErrConflict)
	if got := appraisalsOf(t, s, "f1"); len(got) != 1 {
		t.Errorf("log entries of f1 after a second FinishSession: %d, want 1", len(got))
	}
	checkErr(t, "FinishSession(absent) with an entry", s.FinishSession(ctx, "absent", t0, &store.SessionOutcome{Status: store.SessionComplete, Appraisal: newAppraisal(3)}), store.ErrNotFound)
	if got := appraisalsOf(t, s, newAppraisal(3).SessionID); len(got) != 0 {
		t.Errorf("FinishSession(absent) logged %d entries", len(got))
	}
	// A failed session may carry an entry too (evidence appraised, EAR not
	// deliverable), or none.
	claimed(t, s, "f2", t0.Add(time.Minute))
	must(t, "FinishSession failed", s.FinishSession(ctx, "f2", t0, &store.SessionOutcome{Status: store.SessionFailed, Problem: []byte(`{}`)}))
	if got := appraisalsOf(t, s, "f2"); len(got) != 0 {
		t.Errorf("failed session without an entry: %d entries logged", len(got))
	}
}

func checkDocument(t *testing.T, what string, got *store.Document, kind, name string, version int, body []byte, author string, created time.Time) {
	t.Helper()
	if got.Kind != kind || got.Name != name || got.Version != version || !bytes.Equal(got.Body, body) || got.Author != author {
		t.Errorf("%s: got %s %q v%d body %q author %q, want %s %q v%d body %q author %q",
			what, got.Kind, got.Name, got.Version, got.Body, got.Author, kind, name, version, body, author)
	}
	checkTime(t, what+" Created", got.Created, created)
}

func testDocuments(t *testing.T, s store.Store) {
	ctx := t.Context()
	const pol, ref = store.KindPolicy, store.KindReferenceValues
	body := func(i int) []byte { return fmt.Appendf(nil, `{"v":%d}`, i) }
	for i := 1; i <= 3; i++ {
		d, err := s.PutDocument(ctx, pol, "default", body(i), "alice", t0.Add(time.Duration(i)*time.Second))
		must(t, "PutDocument", err)
		checkDocument(t, "PutDocument", d, pol, "default", i, body(i), "alice", t0.Add(time.Duration(i)*time.Second))
	}
	d, err := s.Document(ctx, pol, "default", 0)
	must(t, "Document(latest)", err)
	checkDocument(t, "Document(latest)", d, pol, "default", 3, body(3), "alice", t0.Add(3*time.Second))
	d, err = s.Document(ctx, pol, "default", 2)
	must(t, "Document(2)", err)
	checkDocument(t, "Document(2)", d, pol, "default", 2, body(2), "alice", t0.Add(2*time.Second))
	_, err = s.Document(ctx, pol, "default", 4)
	checkErr(t, "Document(absent version)", err, store.ErrNotFound)
	_, err = s.Document(ctx, pol, "absent", 0)
	checkErr(t, "Document(absent name)", err, store.ErrNotFound)
	_, err = s.Document(ctx, ref, "default", 0)
	checkErr(t, "Document of another kind", err, store.ErrNotFound)

	// Kinds are numbered separately.
	d, err = s.PutDocument(ctx, ref, "default", body(9), "bob", t0)
	must(t, "PutDocument", err)
	checkDocument(t, "PutDocument of another kind", d, ref, "default", 1, body(9), "bob", t0)

	// Names are listed in byte order.
	for _, n := range []string{"b", "B", "_z", "a-1", "a"} {
		_, err := s.PutDocument(ctx, pol, n, body(0), "carol", t0)
		must(t, "PutDocument", err)
	}
	list, err := s.Documents(ctx, pol)
	must(t, "Documents", err)
	var names []string
	for _, d := range list {
		names = append(names, fmt.Sprintf("%s@%d", d.Name, d.Version))
		if d.Kind != pol {
			t.Errorf("Documents(policy) lists kind %q", d.Kind)
		}
	}
	if want := []string{"B@1", "_z@1", "a@1", "a-1@1", "b@1", "default@3"}; !slices.Equal(names, want) {
		t.Errorf("Documents = %q, want %q", names, want)
	}
	if !bytes.Equal(list[len(list)-1].Body, body(3)) {
		t.Errorf("Documents: default body %q, want %q", list[len(list)-1].Body, body(3))
	}
	list, err = s.Documents(ctx, ref)
	must(t, "Documents", err)
	if len(list) != 1 || list[0].Name != "default" {
		t.Errorf("Documents(reference-values): %d entries, want default only", len(list))
	}

	vs, err := s.Versions(ctx, pol, "default")
	must(t, "Versions", err)
	if len(vs) != 3 {
		t.Fatalf("Versions: %d, want 3", len(vs))
	}
	for i, d := range vs {
		checkDocument(t, "Versions", d, pol, "default", i+1, body(i+1), "alice", t0.Add(time.Duration(i+1)*time.Second))
	}
	vs, err = s.Versions(ctx, pol, "absent")
	must(t, "Versions(absent)", err)
	if len(vs) != 0 {
		t.Errorf("Versions(absent): %d entries, want none", len(vs))
	}

	_, err = s.PutDocument(ctx, "bogus", "x", body(0), "a", t0)
	checkOtherErr(t, "PutDocument of kind bogus", err)
	_, err = s.PutDocument(ctx, pol, "", body(0), "a", t0)
	checkOtherErr(t, "PutDocument with empty name", err)
	_, err = s.Document(ctx, pol, "default", -1)
	checkOtherErr(t, "Document(-1)", err)
	_, err = s.Documents(ctx, "bogus")
	checkOtherErr(t, "Documents(bogus)", err)
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	h1, h2 := sha256.Sum256([]byte("one")), sha256.Sum256([]byte("two"))
	bob := &store.Token{ID: "id1", Name: "bob", Role: store.RoleWrite, Hash: h1[:], Created: t0}
	alice := &store.Token{ID: "id2", Name: "alice", Role: store.RoleAdmin, Hash: h2[:], Created: t0.Add(time.Second)}
	must(t, "CreateToken", s.CreateToken(ctx, bob))
	must(t, "CreateToken", s.CreateToken(ctx, alice))
	checkToken := func(what string, got, want *store.Token) {
		t.Helper()
		if got.ID != want.ID || got.Name != want.Name || got.Role != want.Role || !bytes.Equal(got.Hash, want.Hash) {
			t.Errorf("%s: got %+v, want %+v", what, got, want)
		}
		checkTime(t, what+" Created", got.Created, want.Created)
	}
	got, err := s.Token(ctx, "id1")
	must(t, "Token", err)
	checkToken("Token", got, bob)
	_, err = s.Token(ctx, "absent")
	checkErr(t, "Token(absent)", err, store.ErrNotFound)

	checkErr(t, "CreateToken with an existing ID", s.CreateToken(ctx, &store.Token{ID: "id1", Name: "other", Role: store.RoleRead, Hash: h1[:]}), store.ErrConflict)
	checkErr(t, "CreateToken with an existing name", s.CreateToken(ctx, &store.Token{ID: "id3", Name: "bob", Role: store.RoleRead, Hash: h1[:]}), store.ErrConflict)
	checkOtherErr(t, "CreateToken with role root", s.CreateToken(ctx, &store.Token{ID: "id4", Name: "x", Role: "root", Hash: h1[:]}))
	checkOtherErr(t, "CreateToken with a short hash", s.CreateToken(ctx, &store.Token{ID: "id4", Name: "x", Role: store.RoleRead, Hash: h1[:31]}))
	checkOtherErr(t, "CreateToken with empty name", s.CreateToken(ctx, &store.Token{ID: "id4", Role: store.RoleRead, Hash: h1[:]}))

	list, err := s.Tokens(ctx)
	must(t, "Tokens", err)
	if len(list) != 2 {
		t.Fatalf("Tokens: %d, want 2", len(list))
	}
	checkToken("Tokens[0]", list[0], alice)
	checkToken("Tokens[1]", list[1], bob)

	must(t, "DeleteToken", s.DeleteToken(ctx, "id1"))
	_, err = s.Token(ctx, "id1")
	checkErr(t, "Token after DeleteToken", err, store.ErrNotFound)
	checkErr(t, "second DeleteToken", s.DeleteToken(ctx, "id1"), store.ErrNotFound)
	// The name is free again.
	must(t, "CreateToken with the name of a deleted token", s.CreateToken(ctx, &store.Token{ID: "id5", Name: "bob", Role: store.RoleRead, Hash: h1[:]}))
}

func newAppraisal(i int) *store.Appraisal {
	h := sha256.Sum256(fmt.Appendf(nil, "evidence %d", i))
	return &store.Appraisal{
		Time: t0.Add(time.Duration(i) * time.Millisecond), SessionID: fmt.Sprintf("sess-%d", i),
		Client: "192.0.2.1:4433", MediaType: "application/eat+cwt", TEE: "tdx", Status: "affirming",
		PolicyID: "default@3", Reasons: fmt.Appendf(nil, `[{"n":%d}]`, i), EvidenceHash: h[:],
	}
}

func checkAppraisal(t *testing.T, what string, got, want *store.Appraisal) {
	t.Helper()
	if got.ID != want.ID || got.SessionID != want.SessionID || got.Client != want.Client || got.MediaType != want.MediaType ||
		got.TEE != want.TEE || got.Status != want.Status || got.PolicyID != want.PolicyID ||
		!bytes.Equal(got.Reasons, want.Reasons) || !bytes.Equal(got.EvidenceHash, want.EvidenceHash) {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	checkTime(t, what+" Time", got.Time, want.Time)
}

func testAppraisals(t *testing.T, s store.Store) {
	ctx := t.Context()
	list, err := s.Appraisals(ctx, 0, 10)
	must(t, "Appraisals", err)
	if len(list) != 0 {
		t.Fatalf("Appraisals of an empty log: %d entries", len(list))
	}
	must(t, "AddAppraisals()", s.AddAppraisals(ctx))
	checkOtherErr(t, "AddAppraisals(nil)", s.AddAppraisals(ctx, newAppraisal(0), nil))

	a := []*store.Appraisal{newAppraisal(1), newAppraisal(2), newAppraisal(3)}
	must(t, "AddAppraisals", s.AddAppraisals(ctx, a...))
	native := newAppraisal(4)
	native.SessionID, native.TEE, native.Status = "", "", "none"
	a = append(a, native)
	must(t, "AddAppraisals", s.AddAppraisals(ctx, native))
	for i, e := range a {
		if e.ID <= 0 || (i > 0 && e.ID <= a[i-1].ID) {
			t.Fatalf("AddAppraisals: IDs %d, %d at %d: want positive, increasing", a[max(i-1, 0)].ID, e.ID, i)
		}
	}

	list, err = s.Appraisals(ctx, 0, 10)
	must(t, "Appraisals", err)
	if len(list) != 4 {
		t.Fatalf("Appraisals: %d entries, want 4", len(list))
	}
	for i, got := range list {
		checkAppraisal(t, fmt.Sprintf("Appraisals[%d]", i), got, a[3-i])
	}
	list, err = s.Appraisals(ctx, a[2].ID, 10)
	must(t, "Appraisals(before)", err)
	if len(list) != 2 || list[0].ID != a[1].ID || list[1].ID != a[0].ID {
		t.Errorf("Appraisals(before %d): %d entries, want IDs %d, %d", a[2].ID, len(list), a[1].ID, a[0].ID)
	}
	for _, limit := range []int{0, -5, 1} {
		list, err = s.Appraisals(ctx, 0, limit)
		must(t, "Appraisals", err)
		if len(list) != 1 || list[0].ID != a[3].ID {
			t.Errorf("Appraisals(limit %d): %d entries, want the newest only", limit, len(list))
		}
	}

	// A batch larger than one statement, and the upper limit.
	var batch []*store.Appraisal
	for i := range 1234 {
		batch = append(batch, newAppraisal(100+i))
	}
	must(t, "AddAppraisals(1234)", s.AddAppraisals(ctx, batch...))
	for i, e := range batch {
		if (i == 0 && e.ID <= a[3].ID) || (i > 0 && e.ID <= batch[i-1].ID) {
			t.Fatalf("AddAppraisals(1234): ID %d at %d not increasing", e.ID, i)
		}
	}
	list, err = s.Appraisals(ctx, 0, 5000)
	must(t, "Appraisals", err)
	if len(list) != 1000 {
		t.Fatalf("Appraisals(limit 5000): %d entries, want 1000", len(list))
	}
	for i, got := range list {
		checkAppraisal(t, fmt.Sprintf("Appraisals[%d]", i), got, batch[len(batch)-1-i])
	}
	list, err = s.Appraisals(ctx, list[999].ID, 1000)
	must(t, "Appraisals", err)
	if len(list) != 238 {
		t.Errorf("second page: %d entries, want 238", len(list))
	}
}

func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	var a []*store.Audit
	for i := range 5 {
		e := &store.Audit{Time: t0.Add(time.Duration(i) * time.Second), Actor: "bootstrap", Action: "policy.create",
			Target: fmt.Sprintf("policy/default@%d", i+1), Detail: fmt.Sprintf("detail %d", i)}
		must(t, "AddAudit", s.AddAudit(ctx, e))
		if e.ID <= 0 || (i > 0 && e.ID <= a[i-1].ID) {
			t.Fatalf("AddAudit: ID %d at %d: want positive, increasing", e.ID, i)
		}
		a = append(a, e)
	}
	checkOtherErr(t, "AddAudit(nil)", s.AddAudit(ctx, nil))
	list, err := s.AuditLog(ctx, 0, 100)
	must(t, "AuditLog", err)
	if len(list) != 5 {
		t.Fatalf("AuditLog: %d entries, want 5", len(list))
	}
	for i, got := range list {
		want := a[4-i]
		if got.ID != want.ID || got.Actor != want.Actor || got.Action != want.Action || got.Target != want.Target || got.Detail != want.Detail {
			t.Errorf("AuditLog[%d]: got %+v, want %+v", i, got, want)
		}
		checkTime(t, "AuditLog Time", got.Time, want.Time)
	}
	list, err = s.AuditLog(ctx, a[3].ID, 2)
	must(t, "AuditLog(before)", err)
	if len(list) != 2 || list[0].ID != a[2].ID || list[1].ID != a[1].ID {
		t.Errorf("AuditLog(before %d, 2): %d entries, want IDs %d, %d", a[3].ID, len(list), a[2].ID, a[1].ID)
	}
	list, err = s.AuditLog(ctx, 0, 0)
	must(t, "AuditLog", err)
	if len(list) != 1 || list[0].ID != a[4].ID {
		t.Errorf("AuditLog(limit 0): %d entries, want the newest only", len(list))
	}
}

func testKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	k2 := &store.Key{ID: "kid-2", JWK: []byte(`{"kty":"EC","n":2}`), Created: t0.Add(time.Second)}
	k1 := &store.Key{ID: "kid-1", JWK: []byte(`{"kty":"EC","n":1}`), Created: t0}
	must(t, "PutKey", s.PutKey(ctx, k2))
	must(t, "PutKey", s.PutKey(ctx, k1))
	must(t, "PutKey of an existing ID", s.PutKey(ctx, &store.Key{ID: "kid-2", JWK: []byte(`{"other":1}`), Created: t0.Add(-time.Hour)}))
	checkOtherErr(t, "PutKey with empty ID", s.PutKey(ctx, &store.Key{JWK: []byte("{}")}))
	list, err := s.Keys(ctx)
	must(t, "Keys", err)
	if len(list) != 2 {
		t.Fatalf("Keys: %d, want 2", len(list))
	}
	for i, want := range []*store.Key{k1, k2} {
		got := list[i]
		if got.ID != want.ID || !bytes.Equal(got.JWK, want.JWK) {
			t.Errorf("Keys[%d]: got %s %s, want %s %s", i, got.ID, got.JWK, want.ID, want.JWK)
		}
		checkTime(t, "Keys Created", got.Created, want.Created)
	}
}

func testCollateral(t *testing.T, s store.Store) {
	ctx := t.Context()
	const key = "intel/sgx/00906ED50000/processor/standard"
	_, err := s.Collateral(ctx, key)
	checkErr(t, "Collateral(absent)", err, store.ErrNotFound)
	check := func(what string, body []byte, fetched, next time.Time) {
		t.Helper()
		got, err := s.Collateral(ctx, key)
		must(t, "Collateral", err)
		if got.Key != key || !bytes.Equal(got.Body, body) {
			t.Errorf("%s: got %q %q, want %q %q", what, got.Key, got.Body, key, body)
		}
		checkTime(t, what+" FetchedAt", got.FetchedAt, fetched)
		checkTime(t, what+" NextUpdate", got.NextUpdate, next)
	}
	next := t0.Add(10 * time.Hour)
	must(t, "PutCollateral", s.PutCollateral(ctx, &store.Collateral{Key: key, Body: []byte("one"), FetchedAt: t0, NextUpdate: next}))
	check("first put", []byte("one"), t0, next)
	must(t, "PutCollateral", s.PutCollateral(ctx, &store.Collateral{Key: key, Body: []byte("older"), FetchedAt: t0.Add(time.Minute), NextUpdate: next.Add(-time.Hour)}))
	check("put of an entry with an earlier NextUpdate", []byte("one"), t0, next)
	must(t, "PutCollateral", s.PutCollateral(ctx, &store.Collateral{Key: key, Body: []byte("same"), FetchedAt: t0.Add(2 * time.Minute), NextUpdate: next}))
	check("put of an entry with the same NextUpdate", []byte("same"), t0.Add(2*time.Minute), next)
	must(t, "PutCollateral", s.PutCollateral(ctx, &store.Collateral{Key: key, Body: []byte("newer"), FetchedAt: t0.Add(3 * time.Minute), NextUpdate: next.Add(time.Hour)}))
	check("put of an entry with a later NextUpdate", []byte("newer"), t0.Add(3*time.Minute), next.Add(time.Hour))
	checkOtherErr(t, "PutCollateral with empty key", s.PutCollateral(ctx, &store.Collateral{Body: []byte("x")}))

	must(t, "PutCollateral", s.PutCollateral(ctx, &store.Collateral{Key: "amd/kds/vcek", Body: []byte("amd"), FetchedAt: t0, NextUpdate: next}))
	list, err := s.CollateralEntries(ctx)
	must(t, "CollateralEntries", err)
	if len(list) != 2 || list[0].Key != "amd/kds/vcek" || list[1].Key != key {
		t.Fatalf("CollateralEntries: %d entries, want amd/kds/vcek and %s", len(list), key)
	}
	for _, c := range list {
		if c.Body != nil {
			t.Errorf("CollateralEntries: %s has a body", c.Key)
		}
	}
	checkTime(t, "CollateralEntries NextUpdate", list[1].NextUpdate, next.Add(time.Hour))
	checkTime(t, "CollateralEntries FetchedAt", list[1].FetchedAt, t0.Add(3*time.Minute))
}

// testDurability writes one of everything, closes the store and reads it
// all back through a new one.
func testDurability(t *testing.T, dsn string) {
	ctx := t.Context()
	s, err := store.Open(ctx, dsn)
	must(t, "Open", err)
	sess := &store.Session{ID: "d1", Nonce: []byte("nonce"), Accept: []string{"a/b"}, Status: store.SessionWaiting, Created: t0, Expires: t0.Add(time.Hour)}
	must(t, "CreateSession", s.CreateSession(ctx, sess))
	_, err = s.ClaimSession(ctx, "d1", t0, t0.Add(time.Hour))
	must(t, "ClaimSession", err)
	must(t, "FinishSession", s.FinishSession(ctx, "d1", t0, &store.SessionOutcome{Status: store.SessionComplete, Result: "ear"}))
	_, err = s.PutDocument(ctx, store.KindPolicy, "p", []byte(`{"a":1}`), "alice", t0)
	must(t, "PutDocument", err)
	_, err = s.PutDocument(ctx, store.KindPolicy, "p", []byte(`{"a":2}`), "alice", t0)
	must(t, "PutDocument", err)
	h := sha256.Sum256([]byte("s"))
	tok := &store.Token{ID: "tid", Name: "ops", Role: store.RoleRead, Hash: h[:], Created: t0}
	must(t, "CreateToken", s.CreateToken(ctx, tok))
	app := newAppraisal(7)
	must(t, "AddAppraisals", s.AddAppraisals(ctx, app))
	aud := &store.Audit{Time: t0, Actor: "ops", Action: "token.create", Target: "token/tid"}
	must(t, "AddAudit", s.AddAudit(ctx, aud))
	must(t, "PutKey", s.PutKey(ctx, &store.Key{ID: "k", JWK: []byte("{}"), Created: t0}))
	must(t, "PutCollateral", s.PutCollateral(ctx, &store.Collateral{Key: "c", Body: []byte("b"), FetchedAt: t0, NextUpdate: t0.Add(time.Hour)}))
	must(t, "Close", s.Close())

	s = Open(t, dsn)
	got, err := s.Session(ctx, "d1")
	must(t, "Session after reopening", err)
	want := *sess
	want.Status, want.Result, want.Deadline = store.SessionComplete, "ear", t0.Add(time.Hour)
	checkSession(t, "Session after reopening", got, &want)
	d, err := s.Document(ctx, store.KindPolicy, "p", 0)
	must(t, "Document after reopening", err)
	checkDocument(t, "Document after reopening", d, store.KindPolicy, "p", 2, []byte(`{"a":2}`), "alice", t0)
	gt, err := s.Token(ctx, "tid")
	must(t, "Token after reopening", err)
	if gt.Name != "ops" || !bytes.Equal(gt.Hash, h[:]) {
		t.Errorf("Token after reopening: %+v", gt)
	}
	as, err := s.Appraisals(ctx, 0, 10)
	must(t, "Appraisals after reopening", err)
	if len(as) != 1 {
		t.Fatalf("Appraisals after reopening: %d entries, want 1", len(as))
	}
	checkAppraisal(t, "Appraisals after reopening", as[0], app)
	au, err := s.AuditLog(ctx, 0, 10)
	must(t, "AuditLog after reopening", err)
	if len(au) != 1 || au[0].ID != aud.ID || au[0].Target != "token/tid" {
		t.Errorf("AuditLog after reopening: %d entries", len(au))
	}
	ks, err := s.Keys(ctx)
	must(t, "Keys after reopening", err)
	if len(ks) != 1 || ks[0].ID != "k" {
		t.Errorf("Keys after reopening: %d entries", len(ks))
	}
	c, err := s.Collateral(ctx, "c")
	must(t, "Collateral after reopening", err)
	if !bytes.Equal(c.Body, []byte("b")) {
		t.Errorf("Collateral after reopening: body %q", c.Body)
	}
	// Numbering goes on after the stored entries.
	d, err = s.PutDocument(ctx, store.KindPolicy, "p", []byte(`{"a":3}`), "alice", t0)
	must(t, "PutDocument after reopening", err)
	if d.Version != 3 {
		t.Errorf("PutDocument after reopening: version %d, want 3", d.Version)
	}
	app2 := newAppraisal(8)
	must(t, "AddAppraisals after reopening", s.AddAppraisals(ctx, app2))
	if app2.ID <= app.ID {
		t.Errorf("AddAppraisals after reopening: ID %d, want above %d", app2.ID, app.ID)
	}
}

// schemaVersions returns the rows of schema_migrations.
func schemaVersions(t *testing.T, dsn string) []int {
	db, _ := rawDB(t, dsn)
	rows, err := db.QueryContext(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	must(t, "read schema_migrations", err)
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		must(t, "scan schema_migrations", rows.Scan(&v))
		vs = append(vs, v)
	}
	must(t, "read schema_migrations", rows.Err())
	return vs
}

func checkVersions(t *testing.T, vs []int) {
	t.Helper()
	if len(vs) == 0 {
		t.Fatal("schema_migrations is empty")
	}
	for i, v := range vs {
		if v != i+1 {
			t.Fatalf("schema_migrations: versions %v, want 1..%d once each", vs, len(vs))
		}
	}
}

func testMigrateIdempotent(t *testing.T, dsn string) {
	ctx := t.Context()
	s1 := Open(t, dsn)
	must(t, "PutKey", s1.PutKey(ctx, &store.Key{ID: "k", JWK: []byte("{}"), Created: t0}))
	before := schemaVersions(t, dsn)
	checkVersions(t, before)
	s2 := Open(t, dsn)
	if after := schemaVersions(t, dsn); !slices.Equal(before, after) {
		t.Errorf("schema_migrations after a second Open: %v, want %v", after, before)
	}
	ks, err := s2.Keys(ctx)
	must(t, "Keys", err)
	if len(ks) != 1 {
		t.Errorf("Keys through the second store: %d, want 1", len(ks))
	}
}

// testMigrateConcurrent opens several stores on a new database at once, as
// replicas starting together do.
func testMigrateConcurrent(t *testing.T, dsn string) {
	const n = 6
	stores := make([]store.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = store.Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("concurrent Open %d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	if t.Failed() {
		return
	}
	checkVersions(t, schemaVersions(t, dsn))
	must(t, "PutKey", stores[0].PutKey(t.Context(), &store.Key{ID: "k", JWK: []byte("{}"), Created: t0}))
	ks, err := stores[n-1].Keys(t.Context())
	must(t, "Keys", err)
	if len(ks) != 1 {
		t.Errorf("Keys through another store: %d, want 1", len(ks))
	}
}

func testNewerSchema(t *testing.T, dsn string) {
	s, err := store.Open(t.Context(), dsn)
	must(t, "Open", err)
	must(t, "Close", s.Close())
	db, sqlite := rawDB(t, dsn)
	q := `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, now())`
	if sqlite {
		q = `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`
	}
	_, err = db.ExecContext(t.Context(), q)
	must(t, "insert version 9999", err)
	s, err = store.Open(t.Context(), dsn)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database with schema version 9999 succeeded")
	}
	if !strings.Contains(err.Error(), "9999") || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a database with schema version 9999: error %q, want one naming the version as newer", err)
	}
}

// testConcurrentClaims claims each session from many goroutines through
// two stores on one database: exactly one claim may win.
func testConcurrentClaims(t *testing.T, dsn string) {
	ctx := t.Context()
	stores := []store.Store{Open(t, dsn), Open(t, dsn)}
	const rounds, claimers = 50, 16
	now := time.Now()
	for r := range rounds {
		id := fmt.Sprintf("c%d", r)
		must(t, "CreateSession", stores[r%2].CreateSession(ctx, &store.Session{ID: id, Nonce: []byte{byte(r)},
			Status: store.SessionWaiting, Created: now, Expires: now.Add(time.Hour)}))
		var (
			wins  atomic.Int32
			wg    sync.WaitGroup
			start = make(chan struct{})
		)
		errs := make(chan error, claimers)
		for i := range claimers {
			wg.Go(func() {
				<-start
				_, err := stores[i%2].ClaimSession(ctx, id, now, now.Add(time.Hour))
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, store.ErrConflict):
					errs <- err
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: ClaimSession: %v, want success or ErrConflict", r, err)
		}
		if w := wins.Load(); w != 1 {
			t.Fatalf("round %d: %d claims succeeded, want exactly 1", r, w)
		}
	}
}

// testFinishRacesAbandon finishes sessions while another store abandons
// them at the deadline: each session ends exactly once, and has a log entry
// exactly when it is complete.
func testFinishRacesAbandon(t *testing.T, dsn string) {
	ctx := t.Context()
	stores := []store.Store{Open(t, dsn), Open(t, dsn)}
	const rounds = 40
	deadline := t0.Add(time.Minute)
	for r := range rounds {
		id := fmt.Sprintf("r%d", r)
		claimed(t, stores[0], id, deadline)
		var (
			wg         sync.WaitGroup
			finishErr  error
			abandoned  int64
			abandonErr error
			start      = make(chan struct{})
			finishAt   = deadline.Add(-time.Millisecond)
			a          = newAppraisal(r)
		)
		a.SessionID = id
		wg.Go(func() {
			<-start
			finishErr = stores[r%2].FinishSession(ctx, id, finishAt, &store.SessionOutcome{Status: store.SessionComplete, Result: "ear", Appraisal: a})
		})
		wg.Go(func() {
			<-start
			// The abandoning replica's clock is ahead.
			abandoned, abandonErr = stores[(r+1)%2].AbandonSessions(ctx, deadline, []byte(`{}`))
		})
		close(start)
		wg.Wait()
		must(t, "AbandonSessions", abandonErr)
		if finishErr != nil && !errors.Is(finishErr, store.ErrConflict) {
			t.Fatalf("round %d: FinishSession: %v, want success or ErrConflict", r, finishErr)
		}
		finished := finishErr == nil
		if finished == (abandoned == 1) {
			t.Fatalf("round %d: finished %v, abandoned %d: want exactly one", r, finished, abandoned)
		}
		got, err := stores[0].Session(ctx, id)
		must(t, "Session", err)
		entries := appraisalsOf(t, stores[1], id)
		switch {
		case finished && (got.Status != store.SessionComplete || len(entries) != 1):
			t.Fatalf("round %d: finished, but status %s with %d log entries; want complete with 1", r, got.Status, len(entries))
		case !finished && (got.Status != store.SessionFailed || len(entries) != 0):
			t.Fatalf("round %d: abandoned, but status %s with %d log entries; want failed with none", r, got.Status, len(entries))
		}
	}
}

// testLegacyProcessingSession: a session claimed before deadlines existed
// (no deadline) is held to its expiry.
func testLegacyProcessingSession(t *testing.T, dsn string) {
	ctx := t.Context()
	s := Open(t, dsn)
	claimed(t, s, "old", t0.Add(time.Hour))
	db, _ := rawDB(t, dsn)
	_, err := db.ExecContext(ctx, `UPDATE sessions SET deadline = NULL WHERE id = 'old'`)
	must(t, "clear the deadline", err)
	got := checkStatus(t, s, "old", store.SessionProcessing)
	if !got.Deadline.IsZero() {
		t.Errorf("session without a deadline: Deadline %v, want zero", got.Deadline)
	}
	n, err := s.AbandonSessions(ctx, got.Expires.Add(-time.Millisecond), []byte(`{}`))
	must(t, "AbandonSessions", err)
	if n != 0 {
		t.Errorf("AbandonSessions before the expiry of a session without a deadline = %d, want 0", n)
	}
	n, err = s.AbandonSessions(ctx, got.Expires, []byte(`{}`))
	must(t, "AbandonSessions", err)
	if n != 1 {
		t.Errorf("AbandonSessions at the expiry of a session without a deadline = %d, want 1", n)
	}
}

// testMigrateSessionEvidence upgrades a database at schema version 2
// (0002_session_deadline, the sessions' processing deadline) with step 3
// (0003_session_evidence): a session claimed before keeps its deadline, has
// no evidence, and can be finished with its evidence.
func testMigrateSessionEvidence(t *testing.T, dsn string) {
	ctx := t.Context()
	s, err := store.Open(ctx, dsn)
	must(t, "Open", err)
	claimed(t, s, "old", t0.Add(time.Hour))
	must(t, "Close", s.Close())
	db, _ := rawDB(t, dsn)
	for _, q := range []string{
		`ALTER TABLE sessions DROP COLUMN evidence`,
		`ALTER TABLE sessions DROP COLUMN evidence_type`,
		`DELETE FROM schema_migrations WHERE version > 2`,
	} {
		_, err := db.ExecContext(ctx, q)
		must(t, "back to schema version 2: "+q, err)
	}
	if vs := schemaVersions(t, dsn); !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("schema_migrations before the upgrade: %v, want [1 2]", vs)
	}

	s = Open(t, dsn)
	if vs := schemaVersions(t, dsn); len(vs) < 3 {
		t.Fatalf("schema_migrations after the upgrade: %v, want step 3 applied", vs)
	}
	checkVersions(t, schemaVersions(t, dsn))
	got := checkStatus(t, s, "old", store.SessionProcessing)
	checkTime(t, "Deadline kept by the upgrade", got.Deadline, t0.Add(time.Hour))
	if got.EvidenceType != "" || got.Evidence != nil {
		t.Errorf("session of schema version 2: evidence %q %x, want none", got.EvidenceType, got.Evidence)
	}
	must(t, "FinishSession", s.FinishSession(ctx, "old", t0, &store.SessionOutcome{Status: store.SessionComplete, Result: "ear",
		EvidenceType: "application/x", Evidence: []byte{7}}))
	got = checkStatus(t, s, "old", store.SessionComplete)
	if got.EvidenceType != "application/x" || !bytes.Equal(got.Evidence, []byte{7}) {
		t.Errorf("upgraded session finished: evidence %q %x, want application/x 07", got.EvidenceType, got.Evidence)
	}
}

// testConcurrentPutDocument puts versions of one document from many
// goroutines through two stores: the versions are distinct and consecutive.
func testConcurrentPutDocument(t *testing.T, dsn string) {
	ctx := t.Context()
	stores := []store.Store{Open(t, dsn), Open(t, dsn)}
	const writers, puts = 16, 5
	var (
		mu       sync.Mutex
		versions []int
		wg       sync.WaitGroup
	)
	for i := range writers {
		wg.Go(func() {
			for j := range puts {
				d, err := stores[i%2].PutDocument(ctx, store.KindPolicy, "shared", fmt.Appendf(nil, `{"w":%d,"p":%d}`, i, j), "w", time.Now())
				if err != nil {
					t.Errorf("PutDocument: %v", err)
					return
				}
				mu.Lock()
				versions = append(versions, d.Version)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	slices.Sort(versions)
	for i, v := range versions {
		if v != i+1 {
			t.Fatalf("versions from concurrent puts: %v, want 1..%d", versions, writers*puts)
		}
	}
	vs, err := stores[0].Versions(ctx, store.KindPolicy, "shared")
	must(t, "Versions", err)
	if len(vs) != writers*puts || vs[len(vs)-1].Version != writers*puts {
		t.Errorf("Versions: %d entries, want %d", len(vs), writers*puts)
	}
}

// testConcurrentLoad runs the hot path from 32 goroutines through two
// stores on one database and expects no error at all (for SQLite: no
// "database is locked").
func testConcurrentLoad(t *testing.T, dsn string) {
	ctx := t.Context()
	stores := []store.Store{Open(t, dsn), Open(t, dsn)}
	const workers, iterations = 32, 10
	now := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			s := stores[w%2]
			for i := range iterations {
				id := fmt.Sprintf("w%d-%d", w, i)
				if err := s.CreateSession(ctx, &store.Session{ID: id, Nonce: []byte(id), Status: store.SessionWaiting, Created: now, Expires: now.Add(time.Hour)}); err != nil {
					t.Errorf("CreateSession: %v", err)
					return
				}
				if _, err := s.ClaimSession(ctx, id, now, now.Add(time.Hour)); err != nil {
					t.Errorf("ClaimSession: %v", err)
					return
				}
				a := newAppraisal(w*1000 + i)
				a.SessionID = id
				batch := []*store.Appraisal{a}
				if i%5 == 0 {
					batch = append(batch, newAppraisal(w*1000+i+500), newAppraisal(w*1000+i+600))
				}
				if err := s.AddAppraisals(ctx, batch...); err != nil {
					t.Errorf("AddAppraisals: %v", err)
					return
				}
				if err := s.FinishSession(ctx, id, now, &store.SessionOutcome{Status: store.SessionComplete, Result: "ear"}); err != nil {
					t.Errorf("FinishSession: %v", err)
					return
				}
				if _, err := s.Appraisals(ctx, 0, 10); err != nil {
					t.Errorf("Appraisals: %v", err)
					return
				}
				if _, err := s.Session(ctx, id); err != nil {
					t.Errorf("Session: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Every entry is there once.
	seen := map[int64]bool{}
	for before := int64(0); ; {
		list, err := stores[1].Appraisals(ctx, before, 1000)
		must(t, "Appraisals", err)
		if len(list) == 0 {
			break
		}
		for _, a := range list {
			if seen[a.ID] {
				t.Fatalf("Appraisals: ID %d listed twice", a.ID)
			}
			seen[a.ID] = true
		}
		before = list[len(list)-1].ID
	}
	if want := workers * iterations * 7 / 5; len(seen) != want {
		t.Errorf("appraisals after the load: %d, want %d", len(seen), want)
	}
}
