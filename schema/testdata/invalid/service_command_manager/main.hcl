cluster "c" {
  connection {
    agent = true
  }
  service {
    manager      = "command"
    start_command = "sv up etcd"
    binary       = "bin/etcd"
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
