# The lab cluster of the demo: three runit-supervised members on the lab
# network, plain http. `etcdform lab up` writes its own lab.hcl next to the
# key it generates (private_key_file = "id_ed25519"); this copy uses the
# SSH agent so that no key is committed.

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
