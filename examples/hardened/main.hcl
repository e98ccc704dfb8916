# A cluster with none of the defaults the operator guides call dangerous:
# `etcdform validate --strict examples/hardened` passes with no warning and
# no accept_risk block (a test checks it).
#
#   - storage quota above etcd's 2 GiB default (the guides' 8 GiB baseline);
#   - auto compaction on (periodic, 1h);
#   - TLS on the client and the peer side, each requiring a client
#     certificate signed by the CA (client_cert_auth, true by default, is
#     written out here so that a reviewer sees it);
#   - authentication on, with a root user, a read-only role and etcdform
#     authenticating by its client certificate's common name (docs/auth.md).
#
# The certificates are managed on the hosts by something else (cert-manager,
# Vault agent), so only their paths on the host are named; etcdform's own
# client certificate (common name "etcdform") comes from ETCDFORM_ETCD_CA,
# ETCDFORM_ETCD_CERT and ETCDFORM_ETCD_KEY (or a tls.tool block). Passwords
# come from the environment of the process running etcdform, read when
# planning and applying: never from this file, never into a plan.

cluster "hardened" {
  etcd_version    = "3.6.16"
  fault_tolerance = 1

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
      ca_file          = "/etc/etcd/pki/ca.pem"
      cert_file        = "/etc/etcd/pki/${member.name}.pem"
      key_file         = "/etc/etcd/pki/${member.name}-key.pem"
      client_cert_auth = true
    }

    peer {
      ca_file          = "/etc/etcd/pki/ca.pem"
      cert_file        = "/etc/etcd/pki/${member.name}-peer.pem"
      key_file         = "/etc/etcd/pki/${member.name}-peer-key.pem"
      client_cert_auth = true
    }
  }

  auth {
    enabled = true

    tool {
      client_cert = true
    }

    role "app-read" {
      permission {
        type   = "read"
        key    = "/app/"
        prefix = true
      }
    }

    user "root" {
      roles        = ["root"]
      password_env = "ETCD_ROOT_PASSWORD"
    }
    user "etcdform" {
      roles       = ["root"]
      no_password = true
    }
    user "app" {
      roles        = ["app-read"]
      password_env = "ETCD_APP_PASSWORD"
    }
  }

  member "etcd-1" {
    host = "10.0.4.11"
  }
  member "etcd-2" {
    host = "10.0.4.12"
  }
  member "etcd-3" {
    host = "10.0.4.13"
  }
}
