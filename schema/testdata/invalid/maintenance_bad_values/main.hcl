cluster "c" {
  connection {
    agent = true
  }
  maintenance {
    defrag {
      fragmentation_above = "130%"
      min_reclaimable     = "lots"
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
