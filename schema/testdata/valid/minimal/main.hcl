cluster "min" {
  connection {
    agent = true
  }
  member "etcd-1" {
    host = "10.0.0.1"
  }
}
