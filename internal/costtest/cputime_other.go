//go:build !unix

package costtest

import "time"

var start = time.Now()

// CPUTime stands in for the process's CPU time with wall time where
// getrusage is not available.
func CPUTime() time.Duration { return time.Since(start) }
