//go:build !race

package pcs

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
