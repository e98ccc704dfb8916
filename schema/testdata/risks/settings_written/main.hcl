# Risks carried by settings that are written: reported at them.
cluster "written" {
  connection {
    agent            = true
    known_hosts_file = "known_hosts"
  }
  storage {
    quota_backend_bytes = "1GiB"
  }
  compaction {
    mode      = "revision"
    retention = 0
  }
  tls {
    client {
      ca_file   = "/pki/ca.pem"
      cert_file = "/pki/${member.name}.pem"
      key_file  = "/pki/${member.name}-key.pem"
    }
  }
  auth {
    enabled = false
  }
  member "a" {
    host = "10.0.0.1"
  }
}
