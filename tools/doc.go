// Package tools pins the development tools ratls is checked with
// (staticcheck), in a module of its own so that programs depending on
// ratls do not get them in their module graphs. Run them from the
// repository root, for example:
//
//	go tool -modfile=tools/go.mod staticcheck ./...
package tools
