// Package bounded keeps caches within a size limit.
package bounded

// MakeRoom deletes an arbitrary entry of m when it holds max entries or
// more, so that one more can be added. Caches here hold verified results
// keyed by the bytes they vouch for: losing any entry only costs a
// re-verification, so no eviction order is needed.
func MakeRoom[K comparable, V any](m map[K]V, max int) {
	if len(m) < max {
		return
	}
	for k := range m {
		delete(m, k)
		return
	}
}
