// Package version holds the tool's version, set at build time with
// -ldflags "-X github.com/etcdform/etcdform/internal/version.Version=...".
package version

import (
	"runtime/debug"
)

// Version is the etcdform version.
var Version = "0.1.0-dev"

// EtcdClient returns the version of go.etcd.io/etcd/client/v3 linked in.
func EtcdClient() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "go.etcd.io/etcd/client/v3" {
				return d.Version
			}
		}
	}
	return "unknown"
}
