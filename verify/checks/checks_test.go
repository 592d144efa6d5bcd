package checks

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var errClass = errors.New("class")

func init() { Define(Hardware, "a", "b", "c", "d", "e") }

func TestList(t *testing.T) {
	var l List
	l.Pass("a", "fine")
	l.NotApplicable("b", "nothing to check")
	if l.Err("x") != nil || len(l.Failed()) != 0 {
		t.Fatalf("no failure yet: %v", l.Err("x"))
	}
	cause := errors.New("cause")
	l.Fail("c", errClass, "want %d, got %d", 1, 2)
	l.FailCause("d", errClass, cause, "broken")
	err := l.Err("x")
	if err == nil || err.Error() != "x: c: want 1, got 2; d: broken" {
		t.Fatalf("error: %v", err)
	}
	if !errors.Is(err, errClass) || !errors.Is(err, cause) {
		t.Error("classes and causes not exposed to errors.Is")
	}
	if c, ok := l.Get("b"); !ok || c.OK || !c.NotApplicable {
		t.Errorf("Get(b) = %+v %v", c, ok)
	}
	if c, _ := l.Get("c"); c.Category != Hardware || c.State != Failed {
		t.Errorf("check c: category %s state %s, want hardware failed", c.Category, c.State)
	}
	l.NotRun("e", errClass, "no input")
	if f := l.Failed(); len(f) != 3 || f[2].Name != "e" || f[2].State != NotRun {
		t.Errorf("a check that did not run must count as failed: %+v", f)
	}
	if _, ok := l.Get("z"); ok {
		t.Error("Get of a check that did not run")
	}
	if c, _ := l.Get("c"); c.Err() != errClass || !strings.Contains(c.Detail, "want 1") {
		t.Errorf("check c: %+v", c)
	}
}

func TestWindow(t *testing.T) {
	d := func(day int) time.Time { return time.Date(2026, 1, day, 0, 0, 0, 0, time.UTC) }
	w := Window{}.Intersect(Window{From: d(2), Until: d(20)}).Intersect(Window{From: d(5), Until: d(30)})
	if !w.From.Equal(d(5)) || !w.Until.Equal(d(20)) {
		t.Fatalf("intersection %v", w)
	}
	for day, want := range map[int]bool{4: false, 5: true, 20: true, 21: false} {
		if w.Contains(d(day)) != want {
			t.Errorf("Contains(day %d) = %v", day, !want)
		}
	}
}

func TestUndefinedCheckPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("recording a check without a category did not panic")
		}
	}()
	var l List
	l.Pass("never-defined", "")
}

func TestConflictingDefinitionPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("defining a check in two categories did not panic")
		}
	}()
	Define(Executables, "a")
}
