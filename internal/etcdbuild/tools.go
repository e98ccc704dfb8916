//go:build tools

// Package etcdbuild pins the etcd server and etcdutl modules that the lab
// builds. etcdutl is a main package of its own module and is built with
// `go build go.etcd.io/etcd/etcdutl/v3`.
package etcdbuild

import (
	_ "go.etcd.io/etcd/etcdutl/v3"
	_ "go.etcd.io/etcd/server/v3/etcdmain"
)
