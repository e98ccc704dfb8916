cluster "c" {
  connection {
    agent = true
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
  member "etcd-4" {
    host = "10.0.0.14"
  }
  member "etcd-5" {
    host = "10.0.0.15"
  }
  member "etcd-6" {
    host = "10.0.0.16"
  }
  member "etcd-7" {
    host = "10.0.0.17"
  }
  member "etcd-8" {
    host = "10.0.0.18"
  }
  member "etcd-9" {
    host = "10.0.0.19"
  }
  member "etcd-10" {
    host = "10.0.0.20"
  }
}
