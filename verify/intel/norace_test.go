//go:build !race

package intel

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
