cluster "c" {
  etcd_version = "3.5.4"
  connection {
    agent = true
  }
  metrics {
    listen_urls = ["http://${member.host}:2379"]
  }
  logging {
    outputs = ["stderr\n"]
  }
  corruption_check {
    initial      = true
    compact_hash = true
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
