# A cluster with a snapshot every six hours, taken on etcd-1's host,
# encrypted to an age public key and uploaded to an S3-compatible store.
# Only the public key is here; the secret key never enters a plan.

cluster "backed-up" {
  connection {
    agent            = true
    known_hosts_file = "known_hosts"
  }

  storage {
    quota_backend_bytes = "8GiB"
  }

  compaction {
    mode      = "periodic"
    retention = "1h"
  }

  # Plain http on purpose: this example is about the backup job; TLS is in
  # examples/three-node, examples/tls-sources and examples/hardened. Each
  # accepted risk is listed, with its reason, in every plan of this cluster.
  accept_risk "plaintext-client" {
    reason = "an example of the backup job; see examples/hardened for TLS"
  }
  accept_risk "plaintext-peer" {
    reason = "an example of the backup job; see examples/hardened for TLS"
  }

  # Authentication off on purpose: this example is about the backup job; auth and
  # RBAC are in examples/hardened and docs/auth.md.
  accept_risk "auth-off" {
    reason = "an example of the backup job; see examples/hardened for auth"
  }

  backup {
    schedule    = "0 */6 * * *"
    on          = ["etcd-1"]
    destination = "s3://etcd-backups/backed-up"
    keep_last   = 28
    max_age     = "30d"

    encryption {
      recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    }

    s3 {
      endpoint   = "https://s3.eu-west-1.amazonaws.com"
      region     = "eu-west-1"
      path_style = false
      # The S3 keys the job uses on the host: a local env file
      # (AWS_ACCESS_KEY_ID=..., AWS_SECRET_ACCESS_KEY=...) that apply
      # uploads to /etc/etcdform/backup.env (0600). Only its hash is in a
      # plan. Without it, provision that file on the host yourself.
      # credentials_source = "secrets/backup.env"
    }
  }

  member "etcd-1" {
    host = "10.0.2.11"
  }
  member "etcd-2" {
    host = "10.0.2.12"
  }
  member "etcd-3" {
    host = "10.0.2.13"
  }
}
