cluster "c" {
  connection {
    agent = true
  }
  member "etcd-1" {
    host       = "10.0.0.11"
    client_url = "http://10.0.0.11"
  }
}
