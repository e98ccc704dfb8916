# A three-member cluster supervised by systemd, with mutual TLS on both
# the client and the peer side. The certificates are managed on the hosts
# by something else (cert-manager, Vault agent), so only their paths on the
# host are named here; ${member.name} makes one template serve every member.

cluster "prod" {
  etcd_version = "3.6.16"

  connection {
    user             = "root"
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

  tls {
    min_remaining = "30d"
    client {
      ca_file   = "/etc/etcd/pki/ca.pem"
      cert_file = "/etc/etcd/pki/${member.name}.pem"
      key_file  = "/etc/etcd/pki/${member.name}-key.pem"
    }
    peer {
      ca_file   = "/etc/etcd/pki/ca.pem"
      cert_file = "/etc/etcd/pki/${member.name}-peer.pem"
      key_file  = "/etc/etcd/pki/${member.name}-peer-key.pem"
    }
  }

  # Authentication off on purpose: this example is about TLS on the hosts; auth and
  # RBAC are in examples/hardened and docs/auth.md.
  accept_risk "auth-off" {
    reason = "an example of TLS on the hosts; see examples/hardened for auth"
  }

  # URLs default to https://HOST:2380 (peer) and https://HOST:2379 (client).
  member "etcd-1" {
    host = "10.0.0.11"
  }
  member "etcd-2" {
    host = "10.0.0.12"
  }
  member "etcd-3" {
    host = "10.0.0.13"
  }
}
