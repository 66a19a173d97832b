// Package buildinfo says which protostar this binary is: the version and
// source revision stamped in at link time (make build, make image), else
// what the Go toolchain recorded, and the Go version it was built with.
package buildinfo

import (
	"cmp"
	"runtime"
	"runtime/debug"
)

// Set at link time with
//
//	-ldflags "-X github.com/protostar/protostar/internal/buildinfo.version=v1.2.3
//	          -X github.com/protostar/protostar/internal/buildinfo.revision=<commit>"
//
// Never assigned at run time.
var (
	version  string
	revision string
)

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`    // release version, e.g. v1.4.0 or a git describe; "devel" when unknown
	Revision  string `json:"revision"`   // full commit hash of the source, "unknown" when not recorded
	Modified  bool   `json:"modified"`   // built from a tree with uncommitted changes (as far as Go recorded it)
	GoVersion string `json:"go_version"` // e.g. go1.26.8
	Platform  string `json:"platform"`   // GOOS/GOARCH
}

// Read returns the binary's build information: the link-time values
// first, then the module version and VCS stamp of `go build` / `go install`.
func Read() Info {
	info := Info{Version: version, Revision: revision, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; info.Version == "" && v != "" && v != "(devel)" {
			info.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = cmp.Or(info.Revision, s.Value)
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	info.Version = cmp.Or(info.Version, "devel")
	info.Revision = cmp.Or(info.Revision, "unknown")
	return info
}
