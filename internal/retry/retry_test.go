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
