cluster "c" {
  connection {
    agent = true
  }
  member "etcd-1" {
    host = "10.0.0.11"
  }
  auth {
    enabled = true
    user "reader" {
      roles        = []
      password_env = "READER_PW"
    }
  }
}
