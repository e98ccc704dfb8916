cluster "c" {
  connection {
    agent = true
  }
  metrics {
    listen_urls = ["https://${member.host}:2381", "http://127.0.0.1:2381/metrics"]
  }
  member "etcd-1" {
    host = "10.0.0.11"
  }
}
