//go:build !unix

package rtmr

import "os"

// lock is a no-op where there is no flock: only the Extender's own mutex
// orders extensions (measurement registers are a Linux interface anyway).
func lock(*os.File) (func(), error) { return func() {}, nil }
