# Mutual TLS where etcdform distributes the certificates and CA bundle from
# the pki/ folder next to this file, while each private key is made on its
# host and never leaves it (so only key_file, no key_source). Rotating a
# certificate is a reviewed change: replace the file under pki/, plan (one
# upload per member and side, no restart), apply. See docs/tls.md for the
# three-phase CA rotation.
#
# The certificates here are examples whose keys were thrown away; issue
# your own. etcdform's own client credentials come from the environment in
# CI: ETCDFORM_ETCD_CA, ETCDFORM_ETCD_CERT, ETCDFORM_ETCD_KEY.

cluster "secure" {
  etcd_version = "3.6.16"

  connection {
    user             = "root"
    agent            = true
    known_hosts_file = "known_hosts"
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
      ca_source   = "pki/ca.pem"
      cert_source = "pki/${member.name}.pem"
      key_file    = "/etc/etcd/pki/${member.name}-key.pem"
    }

    peer {
      ca_source   = "pki/ca.pem"
      cert_source = "pki/${member.name}-peer.pem"
      key_file    = "/etc/etcd/pki/${member.name}-peer-key.pem"
    }
  }

  # Authentication off on purpose: this example is about TLS sources; auth and
  # RBAC are in examples/hardened and docs/auth.md.
  accept_risk "auth-off" {
    reason = "an example of TLS sources; see examples/hardened for auth"
  }

  # Host paths default to /etc/etcd/pki/<base name of the source>.
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
