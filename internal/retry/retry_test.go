package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		" 7 ":                           7 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second,
		"Wed, 31 Dec 2025 23:00:00 GMT": 0,
	} {
		if got := After(v, now); got != want {
			t.Errorf("After(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	for n := 1; n < 40; n++ {
		want := min(time.Second<<min(n-1, 16), time.Minute)
		if d := Backoff(n, time.Second, time.Minute); d < want/2 || d > want {
			t.Errorf("Backoff(%d) = %v, want within [%v, %v]", n, d, want/2, want)
		}
	}
}

func TestSleepCancelled(t *testing.T) {
	cause := errors.New("stop")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	if err := Sleep(ctx, time.Hour); !errors.Is(err, cause) {
		t.Fatalf("got %v", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func TestFailures(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFailures[string](2)
	errDown := errors.New("down")
	if f.Active("a", t0) != nil {
		t.Fatal("active before any failure")
	}
	// 5 s, doubling, capped at 5 min.
	now := t0
	for i, want := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second,
		80 * time.Second, 160 * time.Second, 5 * time.Minute, 5 * time.Minute} {
		until := f.Add("a", errDown, 0, now)
		if until.Sub(now) != want {
			t.Fatalf("failure %d: backoff %v, want %v", i+1, until.Sub(now), want)
		}
		if fl := f.Active("a", until.Add(-time.Nanosecond)); fl == nil || fl.Err != errDown {
			t.Fatalf("failure %d: not active just before %v", i+1, until)
		}
		if f.Active("a", until) != nil {
			t.Fatalf("failure %d: still active at %v", i+1, until)
		}
		now = until
	}
	// A longer Retry-After is honoured, up to an hour.
	f.Clear("a")
	if until := f.Add("a", errDown, 7*time.Minute, t0); until.Sub(t0) != 7*time.Minute {
		t.Errorf("Retry-After 7m: backoff %v", until.Sub(t0))
	}
	f.Clear("a")
	if until := f.Add("a", errDown, 48*time.Hour, t0); until.Sub(t0) != time.Hour {
		t.Errorf("Retry-After 48h: backoff %v, want 1h", until.Sub(t0))
	}
	// Cleared by a success; a failure long after the last one starts over.
	f.Clear("a")
	f.Add("a", errDown, 0, t0)
	if until := f.Add("a", errDown, 0, t0.Add(time.Hour)); until.Sub(t0.Add(time.Hour)) != 5*time.Second {
		t.Errorf("a failure an hour later: backoff %v, want 5s", until.Sub(t0.Add(time.Hour)))
	}
	// Bounded.
	f.Add("b", errDown, 0, t0)
	f.Add("c", errDown, 0, t0)
	if f.m.Len() != 2 {
		t.Errorf("%d keys kept, want at most 2", f.m.Len())
	}
}

func TestMark(t *testing.T) {
	class, cause := errors.New("class"), errors.New("dial: refused")
	err := Mark(cause, class)
	if !errors.Is(err, class) || !errors.Is(err, cause) || err.Error() != "dial: refused" {
		t.Errorf("Mark: %v", err)
	}
}
