# Scaling 3 -> 5: examples/scale-3 and examples/scale-5 describe the same
# cluster before and after. Planning scale-5 against a cluster converged on
# scale-3 adds etcd-4 and etcd-5 one at a time (as learners, then promoted),
# keeping fault_tolerance at every step.

cluster "scale" {
  fault_tolerance = 1

  connection {
    agent            = true
    known_hosts_file = "known_hosts"
  }

  service {
    manager = "systemd"
  }

  storage {
    quota_backend_bytes = "8GiB"
  }

  compaction {
    mode      = "periodic"
    retention = "1h"
  }

  # Plain http on purpose: this example is about scaling; TLS is in
  # examples/three-node, examples/tls-sources and examples/hardened. Each
  # accepted risk is listed, with its reason, in every plan of this cluster.
  accept_risk "plaintext-client" {
    reason = "an example of scaling; see examples/hardened for TLS"
  }
  accept_risk "plaintext-peer" {
    reason = "an example of scaling; see examples/hardened for TLS"
  }

  # Authentication off on purpose: this example is about scaling; auth and
  # RBAC are in examples/hardened and docs/auth.md.
  accept_risk "auth-off" {
    reason = "an example of scaling; see examples/hardened for auth"
  }

  member "etcd-1" {
    host       = "10.0.1.11"
    peer_url   = "http://10.0.1.11:2380"
    client_url = "http://10.0.1.11:2379"
  }
  member "etcd-2" {
    host       = "10.0.1.12"
    peer_url   = "http://10.0.1.12:2380"
    client_url = "http://10.0.1.12:2379"
  }
  member "etcd-3" {
    host       = "10.0.1.13"
    peer_url   = "http://10.0.1.13:2380"
    client_url = "http://10.0.1.13:2379"
  }
  member "etcd-4" {
    host       = "10.0.1.14"
    peer_url   = "http://10.0.1.14:2380"
    client_url = "http://10.0.1.14:2379"
  }
  member "etcd-5" {
    host       = "10.0.1.15"
    peer_url   = "http://10.0.1.15:2380"
    client_url = "http://10.0.1.15:2379"
  }
}
