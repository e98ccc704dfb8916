# Every risk accepted with a reason: no diagnostic for them, even under
# --strict. An accept_risk for a risk the cluster does not carry is
# reported: it would silently accept that risk when a change brings it.
cluster "accepted" {
  connection {
    agent            = true
    known_hosts_file = "known_hosts"
  }
  accept_risk "default-quota" {
    reason = "a test bed; its data fits in megabytes"
  }
  accept_risk "compaction-off" {
    reason = "the tests read old revisions"
  }
  accept_risk "plaintext-client" {
    reason = "clients reach it over a loopback bridge only"
  }
  accept_risk "plaintext-peer" {
    reason = "peers share a bridge on one machine"
  }
  accept_risk "auth-off" {
    reason = "the tests connect without credentials"
  }
  accept_risk "peer-cert-auth-off" {
    reason = "left from an earlier setup"
  }
  member "a" {
    host = "10.0.0.1"
  }
}
