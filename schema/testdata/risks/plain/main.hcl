# etcd's defaults: every risk, reported at the cluster's header.
cluster "plain" {
  connection {
    agent            = true
    known_hosts_file = "known_hosts"
  }
  member "a" {
    host = "10.0.0.1"
  }
}
