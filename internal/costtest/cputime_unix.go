//go:build unix

package costtest

import (
	"syscall"
	"time"
)

// CPUTime returns the CPU time this process has used (user and system),
// which, unlike wall time, does not count time other processes took.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
