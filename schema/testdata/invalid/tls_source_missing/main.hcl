cluster "c" {
  connection {
    agent = true
  }
  tls {
    client {
      ca_source   = "pki/ca.pem"
      cert_source = "pki/${member.name}.pem"
      key_source  = "pki/${member.name}-key.pem"
    }
  }
  member "etcd-1" {
    host       = "10.0.0.11"
    client_url = "https://10.0.0.11:2379"
  }
}
