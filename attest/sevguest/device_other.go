//go:build !linux

package sevguest

import (
	"fmt"
	"runtime"
)

// openDevice fails: the SEV guest device exists only on Linux.
func openDevice(path string) (Device, error) {
	return nil, fmt.Errorf("%w: %s needs Linux (running on %s)", ErrUnsupported, path, runtime.GOOS)
}
