cluster "c" {
  connection {
    agent = true
  }
  member "etcd-1" {
    host = "10.0.0.11"
    tls {
      client {
        cert_file = "/x.pem"
      }
    }
  }
}
