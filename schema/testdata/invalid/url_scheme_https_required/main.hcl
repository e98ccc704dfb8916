cluster "c" {
  connection {
    agent = true
  }
  tls {
    peer {
      ca_file   = "/pki/ca.pem"
      cert_file = "/pki/${member.name}.pem"
      key_file  = "/pki/${member.name}-key.pem"
    }
  }
  member "etcd-1" {
    host     = "10.0.0.11"
    peer_url = "http://10.0.0.11:2380"
  }
}
