//go:build unix

package intel

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time this process has used (user and system),
// which, unlike wall time, does not count time other processes took.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
