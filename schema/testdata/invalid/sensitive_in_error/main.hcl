variable "token" {
  type      = string
  sensitive = true
}
cluster "c" {
  connection {
    agent = true
  }
  etcd_version = "v${var.token}"
  service {
    name = var.token
    manager = var.token
  }
  member "etcd-1" {
    host = "10.0.0.11"
  }
}
