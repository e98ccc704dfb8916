//go:build tools

// Package etcdbuild pins the etcd server, etcdutl and etcdctl modules that
// the lab builds. etcdutl and etcdctl are main packages of their own
// modules and are built with `go build go.etcd.io/etcd/etcdutl/v3` (and
// etcdctl/v3); etcdctl only for the benchmarks' baselines
// (etcdbin.EnsureEtcdctl).
package etcdbuild

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/etcdutl/v3"
	_ "go.etcd.io/etcd/server/v3/etcdmain"
)
