# Nothing to warn about.
cluster "hardened" {
  connection {
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
    client {
      ca_file          = "/pki/ca.pem"
      cert_file        = "/pki/${member.name}.pem"
      key_file         = "/pki/${member.name}-key.pem"
      client_cert_auth = true
    }
    peer {
      ca_file          = "/pki/ca.pem"
      cert_file        = "/pki/${member.name}-peer.pem"
      key_file         = "/pki/${member.name}-peer-key.pem"
      client_cert_auth = true
    }
  }
  auth {
    enabled = true
    tool {
      client_cert = true
    }
    user "root" {
      roles        = ["root"]
      password_env = "ETCD_ROOT_PASSWORD"
    }
    user "etcdform" {
      roles       = ["root"]
      no_password = true
    }
  }
  member "a" {
    host = "10.0.0.1"
  }
}
