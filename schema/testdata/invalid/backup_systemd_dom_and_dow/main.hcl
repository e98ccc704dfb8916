cluster "c" {
  connection {
    agent = true
  }
  service {
    manager = "systemd"
  }
  backup {
    schedule    = "0 3 1 * mon"
    on          = ["etcd-1"]
    destination = "s3://bucket/etcd"
    encryption {
      recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    }
  }
  member "etcd-1" {
    host = "10.0.0.11"
  }
}
