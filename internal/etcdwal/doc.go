// Package etcdwal reads the identity an etcd data dir holds without
// starting etcd: the member ID and cluster ID in the metadata record at the
// head of a write-ahead log file (DATA_DIR/member/wal/*.wal). It decodes
// the WAL's framing and its walpb.Record with protowire and the metadata
// with go.etcd.io/etcd/api/v3's etcdserverpb.Metadata, so the etcd server
// module stays out of etcdform's dependencies.
package etcdwal
