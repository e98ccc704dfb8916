locals {
  a = local.b
  b = local.a
}
cluster "c" {
  connection {
    agent = true
  }
  etcd_version = local.a
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
