// Package version holds the tool's version, set at build time with
// -ldflags "-X github.com/etcdform/etcdform/internal/version.Version=...".
package version

import (
	etcdversion "go.etcd.io/etcd/api/v3/version"
)

// Version is the etcdform version.
var Version = "0.1.0-dev"

// EtcdClient returns the version of the etcd v3 client libraries linked in
// (go.etcd.io/etcd/api/v3 and client/v3 are released together).
func EtcdClient() string { return "v" + etcdversion.Version }
