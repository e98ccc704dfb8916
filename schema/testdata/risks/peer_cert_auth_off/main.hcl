# Peer TLS without client-certificate checks on one member (a member
# override), and a storage block that leaves the quota out.
cluster "peers" {
  connection {
    agent            = true
    known_hosts_file = "known_hosts"
  }
  storage {
    snapshot_count = 5000
  }
  compaction {
    retention = "1h"
  }
  tls {
    client {
      ca_file   = "/pki/ca.pem"
      cert_file = "/pki/${member.name}.pem"
      key_file  = "/pki/${member.name}-key.pem"
    }
    peer {
      ca_file   = "/pki/ca.pem"
      cert_file = "/pki/${member.name}-peer.pem"
      key_file  = "/pki/${member.name}-peer-key.pem"
    }
  }
  accept_risk "auth-off" {
    reason = "only the peer side is tested here"
  }
  member "a" {
    host = "10.0.0.1"
  }
  member "b" {
    host = "10.0.0.2"
    tls {
      peer {
        client_cert_auth = false
      }
    }
  }
  member "c" {
    host = "10.0.0.3"
  }
}
