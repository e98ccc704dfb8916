# Values come from etcdform.vars (loaded automatically), -var-file,
# -var name=value or ETCDFORM_VAR_<name>, in Terraform's order of
# precedence.

locals {
  peer_port = 2380
}

cluster "vars" {
  connection {
    user             = var.ssh_user
    agent            = true
    known_hosts_file = "known_hosts"
  }

  storage {
    quota_backend_bytes = var.quota
  }

  compaction {
    mode      = "periodic"
    retention = "1h"
  }

  # Plain http on purpose: this example is about variables; TLS is in
  # examples/three-node, examples/tls-sources and examples/hardened. Each
  # accepted risk is listed, with its reason, in every plan of this cluster.
  accept_risk "plaintext-client" {
    reason = "an example of variables; see examples/hardened for TLS"
  }
  accept_risk "plaintext-peer" {
    reason = "an example of variables; see examples/hardened for TLS"
  }

  # Authentication off on purpose: this example is about variables; auth and
  # RBAC are in examples/hardened and docs/auth.md.
  accept_risk "auth-off" {
    reason = "an example of variables; see examples/hardened for auth"
  }

  backup {
    schedule          = "@daily"
    on                = [var.members[0]]
    destination       = "file:///var/backups/etcd"
    keep_last         = 7
    allow_unencrypted = true
  }

  member "etcd-1" {
    host     = cidrhost(var.subnet, 11)
    peer_url = format("http://%s:%d", cidrhost(var.subnet, 11), local.peer_port)
  }
  member "etcd-2" {
    host     = cidrhost(var.subnet, 12)
    peer_url = format("http://%s:%d", cidrhost(var.subnet, 12), local.peer_port)
  }
  member "etcd-3" {
    host     = cidrhost(var.subnet, 13)
    peer_url = format("http://%s:%d", cidrhost(var.subnet, 13), local.peer_port)
  }
}
