//go:build unix

package rtmr

import (
	"os"
	"syscall"
)

// lock takes an exclusive advisory lock on the log file.
func lock(f *os.File) (func(), error) {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }, nil
}
