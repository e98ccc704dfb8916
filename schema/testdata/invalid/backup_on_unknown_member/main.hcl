cluster "c" {
  connection {
    agent = true
  }
  backup {
    schedule    = "@daily"
    on          = ["etcd-l"]
    destination = "s3://bucket/etcd"
    encryption {
      recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    }
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
