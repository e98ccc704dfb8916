# The lab cluster of the demo: three runit-supervised members on the lab
# network, plain http. `etcdform lab up` writes its own lab.hcl next to the
# key it generates (private_key_file = "id_ed25519"); this copy uses the
# SSH agent so that no key is committed.
#
# Like the lab, it keeps etcd's risky defaults and accepts none of them: a
# 2 GiB quota, no auto compaction, plain http on both sides, no auth.
# `etcdform validate` warns about each, and `etcdform validate --strict
# examples/lab` fails naming each (a test checks it); examples/hardened is
# the same kind of cluster without them.

cluster "lab" {
  connection {
    user             = "root"
    agent            = true
    known_hosts_file = "known_hosts"
  }

  service {
    manager = "runit"
  }

  member "etcd-1" {
    host       = "10.213.0.11"
    peer_url   = "http://10.213.0.11:2380"
    client_url = "http://10.213.0.11:2379"
  }
  member "etcd-2" {
    host       = "10.213.0.12"
    peer_url   = "http://10.213.0.12:2380"
    client_url = "http://10.213.0.12:2379"
  }
  member "etcd-3" {
    host       = "10.213.0.13"
    peer_url   = "http://10.213.0.13:2380"
    client_url = "http://10.213.0.13:2379"
  }
}
