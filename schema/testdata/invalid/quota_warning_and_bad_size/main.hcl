cluster "c" {
  connection {
    agent = true
  }
  storage {
    quota_backend_bytes = "10GiB"
    max_request_bytes   = "1.5XB"
    snapshot_count      = 1.5
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
