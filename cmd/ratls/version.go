package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// versionInfo is what "ratls version" reports.
type versionInfo struct {
	// Version is the module version: a release tag such as v1.2.0, a
	// pseudo-version, or "(devel)" for a build from a work tree.
	Version string `json:"version"`
	// Revision is the VCS commit the binary was built from, Time its commit
	// time, Modified whether the work tree had uncommitted changes.
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// readBuildInfo is debug.ReadBuildInfo; tests replace it.
var readBuildInfo = debug.ReadBuildInfo

func buildVersion() versionInfo {
	v := versionInfo{Version: "(devel)"}
	if bi, ok := readBuildInfo(); ok {
		v.Go = bi.GoVersion
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if version != "" { // set with -ldflags -X main.version
		v.Version = version
	}
	if v.Revision == "" && revision != "" { // -ldflags -X main.revision, for builds without VCS stamping
		v.Revision = revision
	}
	return v
}

// revision is the VCS revision given at build time ("make build" sets it)
// when Go recorded none (builds with -buildvcs=false, or from a copy of the
// sources).
var revision = ""

// versionLine is the one line "ratls version" and "ratls --version" print,
// e.g. "ratls v1.2.0 (revision 3a98b36c1f2e, 2026-12-07T10:00:00Z) go1.26.0".
func versionLine() string {
	v := buildVersion()
	var rev []string
	if v.Revision != "" {
		r := v.Revision
		if len(r) > 12 {
			r = r[:12]
		}
		rev = append(rev, "revision "+r)
	} else {
		rev = append(rev, "no VCS revision recorded")
	}
	if v.Time != "" {
		rev = append(rev, v.Time)
	}
	if v.Modified {
		rev = append(rev, "modified")
	}
	return fmt.Sprintf("ratls %s (%s) %s", v.Version, strings.Join(rev, ", "), v.Go)
}
