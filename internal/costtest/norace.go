//go:build !race

package costtest

// Race reports whether the race detector is on: it slows the crypto and
// the allocator tenfold, so large fleets are left out then.
const Race = false
