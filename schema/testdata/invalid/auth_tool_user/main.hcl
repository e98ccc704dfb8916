cluster "c" {
  connection {
    agent = true
  }
  member "etcd-1" {
    host = "10.0.0.11"
  }
  auth {
    enabled = true
    tool {
      user = "etcdfrom"
    }
    user "root" {
      roles        = []
      password_env = "ROOT_PW"
    }
    user "etcdform" {
      roles        = ["root"]
      no_password  = true
    }
  }
}
cluster "d" {
  connection {
    agent = true
  }
  member "etcd-1" {
    host = "10.0.0.21"
  }
  auth {
    enabled = true
    tool {
      user = "etcdform"
    }
    user "root" {
      roles        = ["root"]
      password_env = "ROOT_PW"
    }
    user "etcdform" {
      roles         = []
      password_file = "/run/secrets/etcdform"
    }
  }
}
