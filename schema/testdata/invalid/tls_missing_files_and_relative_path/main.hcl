cluster "c" {
  connection {
    agent = true
  }
  tls {
    client {
      cert_file = "pki/${member.name}.pem"
    }
  }
  member "etcd-1" {
    host = "10.0.0.11"
  }
}
