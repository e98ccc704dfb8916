cluster "c" {
  connection {
    agent = true
  }
  metrics {
    listen_urls = ["http://${member.name}:2381"]
    level       = "verbose"
  }
  logging {
    level   = "trace"
    outputs = ["stderr", "etcd.log"]
  }
  corruption_check {
    compact_hash_period = "1m"
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
