package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressTerminal reports whether w is a terminal that should show
// progress; tests replace it.
var progressTerminal = isTerminal

// progressTick is how often a running fetch's elapsed time is redrawn.
const progressTick = time.Second

// startProgress shows label on a terminal, with the elapsed time redrawn
// every second (fetches that wait out rate limits take minutes), until the
// returned function clears the line. On anything but a terminal it shows
// nothing: logs and pipes get only the summary lines.
func startProgress(w io.Writer, label string) (stop func()) {
	if !progressTerminal(w) {
		return func() {}
	}
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	draw := func() {
		fmt.Fprintf(w, "\r\033[K%s ... %ds", label, int(time.Since(start).Seconds()))
	}
	draw()
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressTick)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				draw()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		fmt.Fprint(w, "\r\033[K")
	}
}
