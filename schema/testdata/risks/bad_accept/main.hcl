# accept_risk blocks that are refused: an unknown risk, one accepted
# twice, an empty reason and a missing one.
cluster "bad" {
  connection {
    agent            = true
    known_hosts_file = "known_hosts"
  }
  storage {
    quota_backend_bytes = "8GiB"
  }
  compaction {
    retention = "1h"
  }
  accept_risk "plaintext" {
    reason = "no TLS"
  }
  accept_risk "plaintext-client" {
    reason = "clients on loopback"
  }
  accept_risk "plaintext-client" {
    reason = "again"
  }
  accept_risk "plaintext-peer" {
    reason = "  "
  }
  accept_risk "default-quota" {
  }
  member "a" {
    host = "10.0.0.1"
  }
}
