//go:build !unix

package intel

import "time"

var start = time.Now()

// cpuTime stands in for the process's CPU time with wall time where
// getrusage is not available.
func cpuTime() time.Duration { return time.Since(start) }
