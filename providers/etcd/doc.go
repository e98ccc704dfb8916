// Package etcd is etcdform's provider for the etcd v3 API (clientv3). It
// observes a cluster (member list, per-endpoint status, alarms, leader),
// changes its membership one safe step at a time (learners, promotion,
// removal, leadership transfer), gates progress on fresh health checks,
// takes and verifies snapshots, compares HashKV across members, and holds
// the apply lock (a concurrency session and mutex). It knows nothing about
// hosts or configuration files; see providers/ssh.
package etcd
