cluster "c" {
  connection {
    agent = true
    user  = format("%999999999s", "x")
  }
  member "etcd-1" {
    host = "10.0.0.11"
  }
}
