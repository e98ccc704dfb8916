cluster "c" {
  connection {
    agent = true
  }
  raft {
    heartbeat_interval = "100 parsecs"
  }
  tls {
    min_remaining = "-1h"
    client {
      ca_file   = "/ca"
      cert_file = "/c"
      key_file  = "/k"
    }
  }
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
