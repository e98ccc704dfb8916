// Package apply carries out a plan: it takes the cluster's apply lock,
// re-observes and refuses a stale plan, snapshots before risky work, runs the
// steps one at a time exactly as planned with a health gate after each, stops
// at the first failure without taking further risky action, and writes an
// audit record. It reaches etcd and hosts only through the small Etcd and
// Host interfaces, which a Connector supplies; the production Connector
// (internal/connect) adapts providers/etcd and providers/ssh to them. Host
// offers typed operations (Preflight, MoveAside, InstallFiles, InstallJob,
// RunJob and the service's), never shell strings.
package apply
